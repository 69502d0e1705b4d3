"""Run metrics pushed to a Prometheus Pushgateway, the way Prometheus recommends for batch jobs.

One group per job and pipeline instance (``job=<extract|convert>``,
``instance=METRICS_INSTANCE``), pushed once at the end of each run, never per
date: the Pushgateway keeps every group until it is deleted, so a group per date
would grow without end. The push is a push-add (HTTP POST): it replaces only the
metrics it carries, so a run that did not succeed, which carries no
``sales_pipeline_last_success_timestamp_seconds``, leaves the last success in
place for the alert on "no success for N hours".

Metrics (gauges, each the value of the last run):

- ``sales_pipeline_dates{status}``: dates done, skipped, failed, not attempted, aborted
- ``sales_pipeline_records``, ``sales_pipeline_bytes``, ``sales_pipeline_pages`` (extract; 0 for convert),
  ``sales_pipeline_rejected_records`` (convert; 0 for extract): the done dates' manifests, added up
- ``sales_pipeline_duration_seconds``, ``sales_pipeline_exit_code``, ``sales_pipeline_last_run_timestamp_seconds``
- ``sales_pipeline_last_success_timestamp_seconds``: only pushed by a run that exited 0

A Pushgateway that is down or slow costs one warning; the run's result stays what it was.
"""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, Gauge, pushadd_to_gateway

from shared.observe import DateReport, RunSummary

log = logging.getLogger(__name__)

PREFIX = "sales_pipeline"
COUNTS = {
    "records": ("records", "records the run's done dates wrote"),
    "bytes": ("bytes", "bytes the run's done dates wrote"),
    "pages": ("pages", "API pages the run's done dates fetched"),
    "rejected": ("rejected_records", "records the run's done dates rejected into the quarantine"),
}
"""``DateReport.counts`` key -> metric name (after the prefix) and help."""


class MetricsObserver:
    """Pushes one group of run metrics at the end of the run (``run_finished``); per date it only listens."""

    def __init__(self, url: str, job: str, instance: str, timeout: float) -> None:
        self.url = url
        self.job = job
        self.instance = instance
        self.timeout = timeout

    def date_completed(self, report: DateReport) -> None:
        """The counts arrive added up in the run's summary."""

    def date_failed(self, report: DateReport, error: str) -> None:
        """Counted in the summary's dates."""

    def date_aborted(self, report: DateReport) -> None:
        """Counted in the summary's dates."""

    def run_finished(self, summary: RunSummary) -> None:
        registry = CollectorRegistry()
        dates = Gauge(
            f"{PREFIX}_dates", "dates of the last run, by what happened to them", ["status"], registry=registry
        )
        for status, count in summary.dates.items():
            dates.labels(status=status).set(count)
        for key, (name, help_text) in COUNTS.items():
            # Every one, 0 included (convert fetches no pages): a metric left out would keep an older run's value.
            Gauge(f"{PREFIX}_{name}", f"{help_text} (last run)", registry=registry).set(summary.counts.get(key, 0))
        Gauge(f"{PREFIX}_duration_seconds", "how long the last run took", registry=registry).set(
            summary.duration_seconds
        )
        Gauge(f"{PREFIX}_exit_code", "the last run's exit code", registry=registry).set(summary.exit_code)
        Gauge(f"{PREFIX}_last_run_timestamp_seconds", "when the last run ended", registry=registry).set(
            summary.finished
        )
        if summary.succeeded:
            Gauge(
                f"{PREFIX}_last_success_timestamp_seconds", "when the last successful run ended", registry=registry
            ).set(summary.finished)
        try:
            pushadd_to_gateway(
                self.url,
                job=self.job,
                registry=registry,
                grouping_key={"instance": self.instance},
                timeout=self.timeout,
            )
        except Exception as exc:  # down, slow, refusing: the run's own result stands
            log.warning(
                "metrics not pushed to the Pushgateway %s: %s: %s; the run's result is unchanged",
                self.url,
                type(exc).__name__,
                exc,
            )
            return
        log.info("metrics pushed to the Pushgateway %s (job %s, instance %s)", self.url, self.job, self.instance)
