"""``PageEstimate``: which page numbers are worth asking for ahead of need, from the dates already seen."""

from __future__ import annotations

from extract_job.estimate import PageEstimate


def seen(*counts: int) -> PageEstimate:
    estimate = PageEstimate()
    for count in counts:
        estimate.observe_date(count)
    return estimate


def test_nothing_is_known_before_two_dates() -> None:
    assert PageEstimate().likely_needed(5, known=0) is None
    assert seen(7).likely_needed(5, known=0) is None


def test_pages_most_dates_reached_are_likely() -> None:
    estimate = seen(3, 4, 5, 6, 7, 8, 9, 10, 11, 12)
    assert estimate.likely_needed(4, known=0), "page 4 (or the end after 3) is needed by every date"
    assert estimate.likely_needed(8, known=0), "6 of 10 dates have 7 pages or more"
    assert not estimate.likely_needed(10, known=0), "only 4 of 10 reach page 9"


def test_what_a_date_already_has_narrows_the_comparison() -> None:
    estimate = seen(3, 4, 5, 6, 7, 8, 9, 10, 11, 12)
    assert not estimate.likely_needed(11, known=0)
    assert estimate.likely_needed(11, known=9), "3 of the 4 dates with 9 pages or more reach page 10"


def test_a_date_longer_than_any_seen_is_unknown_ground() -> None:
    estimate = seen(3, 4, 5)
    assert estimate.likely_needed(40, known=30) is None


def test_a_short_page_is_likely_the_last() -> None:
    estimate = PageEstimate()
    estimate.observe_page(100)
    assert estimate.is_short(37)
    assert not estimate.is_short(100)
    assert not estimate.is_short(0)
