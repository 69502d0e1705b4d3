"""``RateController`` on a fake clock: the shared pause, AIMD on the in-flight limit, the bucket."""

from __future__ import annotations

import pytest

from extract_job.ratecontrol import MIN_RPS, RateController
from tests.unit.fake_clock import FakeClock


def take_turn(control: RateController, clock: FakeClock) -> float:
    """Wait (on the fake clock) for a turn, as a worker does; returns how long that took."""
    started = clock()
    while (turn := control.claim()) is None:
        clock.advance(control.paused_for())
    clock.advance(turn)
    return clock() - started


def answered(control: RateController, clock: FakeClock, count: int, every: float = 0.0) -> None:
    """``count`` requests sent (each when its turn comes) and answered ``every`` seconds later."""
    for _ in range(count):
        take_turn(control, clock)
        clock.advance(every)
        control.succeeded()


def test_until_the_first_throttle_every_slot_of_the_concurrency_is_used() -> None:
    clock = FakeClock()
    control = RateController(concurrency=16, clock=clock)
    assert control.limit == 16, "no slow start"
    answered(control, clock, 100)
    assert control.limit == 16, "never above --concurrency"


def test_the_limit_never_exceeds_a_small_concurrency() -> None:
    clock = FakeClock()
    control = RateController(concurrency=1, clock=clock)
    answered(control, clock, 50)
    assert control.limit == 1


def test_a_throttle_pauses_everyone_until_the_announced_time() -> None:
    clock = FakeClock()
    control = RateController(concurrency=4, clock=clock)
    sent = clock()
    control.throttled(sent, pause=2.0)
    assert control.reserve() == pytest.approx(2.0)
    clock.advance(1.5)
    assert control.reserve() == pytest.approx(0.5), "every worker waits for the same moment"
    clock.advance(0.5)
    assert control.reserve() == 0.0


def test_a_later_shorter_pause_does_not_shorten_the_pause() -> None:
    clock = FakeClock()
    control = RateController(concurrency=4, clock=clock)
    control.throttled(clock(), pause=5.0)
    control.throttled(clock(), pause=1.0)
    assert control.reserve() == pytest.approx(5.0)


def test_multiplicative_decrease_once_per_episode_then_additive_increase() -> None:
    clock = FakeClock()
    control = RateController(concurrency=16, clock=clock)
    assert control.limit == 16
    sent = clock()
    clock.advance(0.01)
    for _ in range(5):  # five requests of the same burst come back 429
        control.throttled(sent, pause=0.0)
    assert control.limit == 8, "halved once, not once per answer of the same burst"
    assert control.throttles == 5
    answered(control, clock, 8)  # one round at 8 in flight
    assert control.limit == 9, "after a throttle: one more per round"
    answered(control, clock, 8)  # not yet a round at 9 in flight
    assert control.limit == 9


def test_the_limit_never_falls_below_one() -> None:
    clock = FakeClock()
    control = RateController(concurrency=4, clock=clock)
    for _ in range(5):
        clock.advance(0.1)
        control.throttled(clock(), pause=0.0)
    assert control.limit == 1


def test_a_throttle_sets_the_bucket_just_under_the_admitted_rate() -> None:
    clock = FakeClock()
    control = RateController(concurrency=16, clock=clock)
    answered(control, clock, 20, every=0.05)  # 20 answers in the last second
    assert control.rate is None, "no client-side rate before the API asks for one"
    control.throttled(clock(), pause=1.0)
    assert control.rate == pytest.approx(19.0)
    clock.advance(1.0)
    assert take_turn(control, clock) == 0.0, "the first request after the pause goes at once"
    waits = [take_turn(control, clock) for _ in range(19)]
    assert waits == pytest.approx([1 / 19.0] * 19), "then one request per 1/19 s: no burst after the pause"


def test_a_throttle_without_a_measured_rate_leaves_the_bucket_off() -> None:
    clock = FakeClock()
    control = RateController(concurrency=4, clock=clock)
    control.throttled(clock(), pause=0.5)
    assert control.rate is None
    assert control.limit == 2, "the limit is halved all the same"


def test_the_rate_probes_upwards_slowly_and_stops_at_max_rps() -> None:
    clock = FakeClock()
    control = RateController(concurrency=8, max_rps=10.0, clock=clock)
    assert control.rate == 10.0, "--max-rps is a bucket from the start"
    answered(control, clock, 10, every=0.1)
    control.throttled(clock(), pause=0.0)
    assert control.rate == pytest.approx(9.5)
    answered(control, clock, 10, every=0.1)
    assert 9.5 < (control.rate or 0) < 9.7, "about 1% a second"
    answered(control, clock, 1000, every=0.0)
    assert control.rate == 10.0, "never above --max-rps"


def test_max_rps_spaces_requests() -> None:
    clock = FakeClock()
    control = RateController(concurrency=8, max_rps=4.0, clock=clock)
    assert control.reserve() == 0.0
    assert control.reserve() == pytest.approx(0.25), "the second turn is claimed, due in 0.25 s"
    assert control.reserve() == pytest.approx(0.5), "each waiting worker has a turn of its own"
    clock.advance(0.5)
    assert control.reserve() == pytest.approx(0.25)


def test_the_bucket_never_stops_a_run() -> None:
    clock = FakeClock()
    control = RateController(concurrency=2, clock=clock)
    answered(control, clock, 4, every=0.25)
    for _ in range(20):
        clock.advance(0.01)
        control.throttled(clock(), pause=0.0)
        answered(control, clock, 4, every=0.25)
    assert (control.rate or 0) >= MIN_RPS
