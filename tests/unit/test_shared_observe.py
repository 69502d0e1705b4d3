"""``shared.observe``: parent ids as Airflow renders them, and observers that can never fail a run."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import pytest

from shared.errors import ConfigError
from shared.observe import DateReport, Observers, ParentRun, RunSummary, Zones, parse_parent_id, url_dataset

RUN = "01932c5e-7b1e-7a4e-9a55-5b3f0c8f2d10"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            f"default/sales_pipeline.extract/{RUN}", ParentRun("default", "sales_pipeline.extract", RUN), id="airflow"
        ),
        pytest.param(f"ns/a/b/c/{RUN.upper()}", ParentRun("ns", "a/b/c", RUN), id="slashes-in-job"),
    ],
)
def test_a_parent_id_is_namespace_job_and_uuid(text: str, expected: ParentRun) -> None:
    assert parse_parent_id(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("default/sales_pipeline.extract", id="no-run-id"),
        pytest.param(f"/job/{RUN}", id="no-namespace"),
        pytest.param(f"ns//{RUN}", id="no-job"),
        pytest.param("ns/job/not-a-uuid", id="run-id-not-a-uuid"),
    ],
)
def test_a_malformed_parent_id_is_a_configuration_error_naming_the_variable(text: str) -> None:
    with pytest.raises(ConfigError, match=r"OPENLINEAGE_PARENT_ID=.* is not <namespace>/<job name>/<run id>"):
        parse_parent_id(text)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param("http://sales-api:8081/sales", ("http://sales-api:8081", "/sales"), id="port"),
        pytest.param("https://api.example.com/v1/sales", ("https://api.example.com", "/v1/sales"), id="path"),
        pytest.param(
            "https://user:pw@api.example.com/sales?key=x", ("https://api.example.com", "/sales"), id="no-secrets"
        ),
    ],
)
def test_an_endpoint_is_a_dataset_without_credentials_or_query(url: str, expected: tuple[str, str]) -> None:
    assert url_dataset(url) == expected


class Recording:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def date_completed(self, report: DateReport) -> None:
        self.calls.append(f"completed {report.day}")

    def date_failed(self, report: DateReport, error: str) -> None:
        self.calls.append(f"failed {report.day}: {error}")

    def date_aborted(self, report: DateReport) -> None:
        self.calls.append(f"aborted {report.day}")

    def run_finished(self, summary: RunSummary) -> None:
        self.calls.append(f"finished {summary.exit_code}")


class Broken(Recording):
    def date_completed(self, report: DateReport) -> None:
        raise RuntimeError("the endpoint's client broke")


def test_an_observer_that_raises_is_reported_once_and_the_others_go_on(caplog: pytest.LogCaptureFixture) -> None:
    broken, recording = Broken(), Recording()
    observers = Observers([broken, recording])
    report = DateReport(date(2022, 8, 9), RUN, "2022-08-10T00:00:00.000Z", "2022-08-10T00:00:01.000Z")
    with caplog.at_level(logging.WARNING):
        observers.date_completed(report)
        observers.date_failed(report, "token (401)")
        observers.run_finished(RunSummary(3, {}, {}, 1.0, 0.0))
    assert recording.calls == ["completed 2022-08-09", "failed 2022-08-09: token (401)", "finished 3"]
    assert broken.calls == [], "left out after its failure"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["Broken failed (RuntimeError: the endpoint's client broke); the run goes on without it"]


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        pytest.param(Path("/data"), ("file://sales-pipeline", "raw/sales"), id="volume"),
        pytest.param(Path("./data"), ("file://sales-pipeline", "raw/sales"), id="relative"),
        pytest.param(
            "s3://lake/sales-pipeline/prod", ("s3://lake", "sales-pipeline/prod/raw/sales"), id="store-prefix"
        ),
        pytest.param("s3://lake", ("s3://lake", "raw/sales"), id="store-bucket"),
    ],
)
def test_zone_tables_are_named_after_their_data_root(base: object, expected: tuple[str, str]) -> None:
    assert Zones.of(base, "file://sales-pipeline").dataset("raw") == expected
