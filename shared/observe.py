"""What a run tells the platform around it: one seam, fed from the manifests the jobs already write.

A job's CLI wraps its loop over dates in ``watching(observer, describe)``; the
``Watch`` turns each date's ``Outcome`` into calls on a ``RunObserver``:

    done     -> date_completed(report)        skipped, not attempted -> nothing
    failed   -> date_failed(report, error)    interrupted mid-date   -> date_aborted(report)
    the run's end (exit code known, or an interrupt) -> run_finished(summary)

``describe`` is the job's own knowledge (which datasets a date reads and writes);
it builds a ``DateReport`` from the manifests the date committed, which
``attempt`` collects (``collecting``) as the jobs commit them (``committed``).
So every fact sent out is one a manifest holds: the run id, records, bytes,
files, rejects.

The observers are told about a date once its outcome is known, in the job's main
process: a date that turns out to be skipped (already up to date) must send
nothing, and convert's dates run in worker processes. A lineage START therefore
leaves together with its COMPLETE, carrying the time the date's work began.

Observers never change a run's result: ``Observers`` (the composite) turns an
observer's exception into one warning and carries on.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol
from urllib.parse import urlsplit

from shared import redaction
from shared.errors import EXIT_RETRY, EXIT_SIGINT, ConfigError
from shared.manifest import new_run_id, utc_now
from shared.outcomes import Outcome, Status
from shared.settings import Number, PathKind, Switch, Text, setting
from shared.urls import http_url, public_url

log = logging.getLogger(__name__)

OBSERVABILITY_GROUP = "lineage and metrics"


def parent_id(name: str) -> Callable[[str], str]:
    """A validator: ``<namespace>/<job name>/<run id>``, as Airflow's ``lineage_parent_id`` macro renders it."""

    def check(text: str) -> str:
        parse_parent_id(text, name)
        return text

    return check


@dataclass(frozen=True)
class ParentRun:
    namespace: str
    job: str
    run_id: str


def parse_parent_id(text: str, name: str = "OPENLINEAGE_PARENT_ID") -> ParentRun:
    """Split ``<namespace>/<job name>/<run id>``; a job name may hold ``/``, the run id must be a UUID."""
    namespace, _, rest = text.strip().partition("/")
    job, _, run_id = rest.rpartition("/")
    try:
        canonical = str(uuid.UUID(run_id))
    except ValueError:
        canonical = ""
    if not (namespace and job and canonical):
        raise ConfigError(f"{name}={text!r} is not <namespace>/<job name>/<run id> with a UUID run id")
    return ParentRun(namespace, job, canonical)


@dataclass(frozen=True, kw_only=True)
class ObservabilitySettings:
    """Where a job sends lineage events and run metrics; both jobs include these. Unset: nothing is sent."""

    openlineage_url: str | None = setting(
        env="OPENLINEAGE_URL",
        default=None,
        kind=Text(http_url("OPENLINEAGE_URL"), "absolute http(s) URL"),
        group=OBSERVABILITY_GROUP,
        help="OpenLineage endpoint (e.g. Marquez, http://marquez:5000); events are POSTed to <url>/api/v1/lineage",
    )
    openlineage_api_key: str | None = setting(
        env="OPENLINEAGE_API_KEY",
        default=None,
        kind=Text(lambda key: redaction.check_secret(key, "OPENLINEAGE_API_KEY")),
        secret=True,
        group=OBSERVABILITY_GROUP,
        help="sent to OPENLINEAGE_URL as 'Authorization: Bearer <key>'",
    )
    openlineage_config: Path | None = setting(
        env="OPENLINEAGE_CONFIG",
        default=None,
        kind=PathKind(),
        default_text="./openlineage.yml when it exists",
        group=OBSERVABILITY_GROUP,
        help="an openlineage.yml naming any transport the OpenLineage client supports (http, console, file, kafka...)",
    )
    openlineage_namespace: str = setting(
        env="OPENLINEAGE_NAMESPACE",
        default="sales-pipeline",
        kind=Text(),
        group=OBSERVABILITY_GROUP,
        help="namespace of the OpenLineage jobs 'extract' and 'convert'",
    )
    openlineage_disabled: bool = setting(
        env="OPENLINEAGE_DISABLED",
        default=False,
        kind=Switch(),
        group=OBSERVABILITY_GROUP,
        help="send no OpenLineage events, whatever else is configured",
    )
    openlineage_parent_id: str | None = setting(
        env="OPENLINEAGE_PARENT_ID",
        default=None,
        kind=Text(parent_id("OPENLINEAGE_PARENT_ID"), "<namespace>/<job name>/<run id>"),
        group=OBSERVABILITY_GROUP,
        help="the run that started this one (Airflow: the lineage_parent_id macro); adds the parent run facet",
    )
    openlineage_root_parent_id: str | None = setting(
        env="OPENLINEAGE_ROOT_PARENT_ID",
        default=None,
        kind=Text(parent_id("OPENLINEAGE_ROOT_PARENT_ID"), "<namespace>/<job name>/<run id>"),
        group=OBSERVABILITY_GROUP,
        help="the root of the runs that started this one (Airflow: the lineage_root_parent_id macro)",
    )
    lineage_data_namespace: str = setting(
        env="LINEAGE_DATA_NAMESPACE",
        default="file://sales-pipeline",
        kind=Text(),
        group=OBSERVABILITY_GROUP,
        help="OpenLineage namespace of the data zones under BASE_DIR (datasets raw/sales, stg/sales, "
        "quarantine/sales); the same in every container, so extract's output and convert's input join",
    )
    pushgateway_url: str | None = setting(
        env="PUSHGATEWAY_URL",
        default=None,
        kind=Text(http_url("PUSHGATEWAY_URL"), "absolute http(s) URL"),
        group=OBSERVABILITY_GROUP,
        help="Prometheus Pushgateway (e.g. http://pushgateway:9091) the run's metrics are pushed to (push-add)",
    )
    pushgateway_timeout: float = setting(
        env="PUSHGATEWAY_TIMEOUT",
        default=5.0,
        kind=Number(above=0, maximum=300),
        group=OBSERVABILITY_GROUP,
        help="seconds the push may take; a Pushgateway that is down or slow only costs a warning",
    )
    metrics_instance: str = setting(
        env="METRICS_INSTANCE",
        default="sales-pipeline",
        kind=Text(),
        group=OBSERVABILITY_GROUP,
        help="the 'instance' grouping key of the pushed metrics: which deployment of the pipeline they are of",
    )


# --- the facts -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SchemaField:
    name: str
    type: str
    description: str | None = None


@dataclass(frozen=True)
class Quality:
    """What validation found in a date's records: the rejects, their share, fields the schema does not have."""

    read: int
    rejected: int
    unknown_fields: Mapping[str, int] = field(default_factory=dict)

    @property
    def invalid_share(self) -> float:
        return self.rejected / self.read if self.read else 0.0


@dataclass(frozen=True)
class Dataset:
    """One zone table (or the API) a date read or wrote, with what its manifest says of this date's part."""

    namespace: str
    name: str
    version: str | None = None
    """``<date>/<run id>`` of the partition written or read; None when nothing was."""
    rows: int | None = None
    bytes: int | None = None
    files: int | None = None
    schema: tuple[SchemaField, ...] = ()
    quality: Quality | None = None


@dataclass(frozen=True)
class DateReport:
    """One date's run as the observers see it."""

    day: date
    run_id: str
    started_at: str
    finished_at: str
    inputs: tuple[Dataset, ...] = ()
    outputs: tuple[Dataset, ...] = ()
    counts: Mapping[str, int] = field(default_factory=dict)
    """What the metrics add up over a run: ``records``, ``bytes``, ``pages``, ``rejected`` as the job has them."""


@dataclass(frozen=True)
class RunSummary:
    """A whole run: what happened to its dates, and how it ended."""

    exit_code: int
    dates: Mapping[str, int]
    """Dates by what happened to them: ``done``, ``skipped``, ``failed``, ``not_attempted``, ``aborted``."""
    counts: Mapping[str, int]
    """The done dates' ``DateReport.counts``, added up."""
    duration_seconds: float
    finished: float
    """Unix time the run ended."""

    @property
    def succeeded(self) -> bool:
        return self.exit_code == 0


class RunObserver(Protocol):
    """Told what happens to a run's dates, and the run's end; must never fail the run (see ``Observers``)."""

    def date_completed(self, report: DateReport) -> None: ...

    def date_failed(self, report: DateReport, error: str) -> None: ...

    def date_aborted(self, report: DateReport) -> None: ...

    def run_finished(self, summary: RunSummary) -> None: ...


class Observers:
    """The composite: every observer told in turn; one that raises is reported once and left out from then on."""

    def __init__(self, observers: Iterable[RunObserver]) -> None:
        self._observers = list(observers)

    def _each(self, call: Callable[[RunObserver], None]) -> None:
        for observer in list(self._observers):
            try:
                call(observer)
            except Exception as exc:
                log.warning(
                    "%s failed (%s: %s); the run goes on without it", type(observer).__name__, type(exc).__name__, exc
                )
                self._observers.remove(observer)

    def date_completed(self, report: DateReport) -> None:
        self._each(lambda o: o.date_completed(report))

    def date_failed(self, report: DateReport, error: str) -> None:
        self._each(lambda o: o.date_failed(report, error))

    def date_aborted(self, report: DateReport) -> None:
        self._each(lambda o: o.date_aborted(report))

    def run_finished(self, summary: RunSummary) -> None:
        self._each(lambda o: o.run_finished(summary))


DEFAULT_LINEAGE_CONFIG = Path("openlineage.yml")
"""Read from the working directory when ``OPENLINEAGE_CONFIG`` is unset, as the OpenLineage client does."""


def lineage_config(settings: ObservabilitySettings) -> tuple[bool, Path | None]:
    """Whether lineage is asked for, and the config file naming its transport (None: ``OPENLINEAGE_URL``)."""
    config = settings.openlineage_config or (DEFAULT_LINEAGE_CONFIG if DEFAULT_LINEAGE_CONFIG.is_file() else None)
    return (not settings.openlineage_disabled and bool(config or settings.openlineage_url), config)


def observers_for(settings: ObservabilitySettings, job: str) -> Observers:
    """The observers the settings ask for: lineage when configured, metrics when ``PUSHGATEWAY_URL`` is set.

    Their clients are imported only then: with nothing configured nothing is loaded, and nothing sent.
    """
    chosen: list[RunObserver] = []
    wanted, config = lineage_config(settings)
    if wanted:
        from shared import lineage

        chosen.append(lineage.observer(settings, job, config))
    if settings.pushgateway_url:
        from shared import metrics

        chosen.append(
            metrics.MetricsObserver(
                settings.pushgateway_url, job, settings.metrics_instance, settings.pushgateway_timeout
            )
        )
    return Observers(chosen)


# --- collecting what a date committed ------------------------------------------------------------------------------

_committed: ContextVar[list[dict[str, Any]] | None] = ContextVar("committed_manifests", default=None)


def committed(manifest: Mapping[str, Any] | None) -> None:
    """Note a manifest a partition was just committed with: the jobs call this after each ``commit``.

    At the jobs' call sites rather than in a storage backend, so that every backend reports alike.
    """
    notes = _committed.get()
    if notes is not None and manifest is not None:
        notes.append(dict(manifest))


@contextlib.contextmanager
def collecting() -> Iterator[list[dict[str, Any]]]:
    """The manifests committed inside the block, in order (one date's work in ``attempt``)."""
    notes: list[dict[str, Any]] = []
    token = _committed.set(notes)
    try:
        yield notes
    finally:
        _committed.reset(token)


def manifest_of(outcome: Outcome, zone: str) -> dict[str, Any] | None:
    """The last manifest ``outcome``'s date committed in ``zone``, or None."""
    found = [m for m in outcome.manifests if m.get("zone") == zone]
    return found[-1] if found else None


def nominal_day(day: date) -> tuple[str, str]:
    """The date as a UTC interval, ``[day 00:00, next day 00:00)``, for nominal-time facets."""
    start = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    end = datetime.fromordinal(day.toordinal() + 1).replace(tzinfo=timezone.utc)
    return (_iso(start), _iso(end))


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Zones:
    """How lineage names the zone tables under one data root, per the OpenLineage naming spec.

    An object store is its ``scheme://bucket``, each table the key prefix below it
    (``s3://bucket`` + ``prefix/raw/sales``). A local folder's spec name,
    ``file://<host>``, differs per container, so a local root takes the configured
    ``LINEAGE_DATA_NAMESPACE`` and the tables are named relative to it (``raw/sales``):
    the same in every container that mounts the volume.
    """

    namespace: str
    prefix: str = ""

    @classmethod
    def of(cls, base: object, local_namespace: str) -> Zones:
        """The naming of data root ``base`` (``BASE_DIR``: a path, or a store location such as ``s3://b/p``)."""
        parts = urlsplit(str(base))
        if parts.scheme and parts.netloc:
            return cls(f"{parts.scheme}://{parts.netloc}", parts.path.strip("/"))
        return cls(local_namespace)

    def dataset(self, zone: str, table: str = "sales") -> tuple[str, str]:
        """The namespace and name of table ``table`` of ``zone``."""
        return (self.namespace, "/".join(part for part in (self.prefix, zone, table) if part))


def url_dataset(url: str) -> tuple[str, str]:
    """An HTTP endpoint as a dataset: namespace ``scheme://host[:port]``, name its path. No credentials, no query."""
    parts = urlsplit(public_url(url))
    return (f"{parts.scheme}://{parts.netloc}", parts.path or "/")


Describe = Callable[[Outcome, str], DateReport]
"""A job's description of one date: the outcome, and the run id to use (the manifests', or a new one)."""


class Watch:
    """One run's observation: turns outcomes into observer calls, and an interrupt into ABORTs (see module doc)."""

    def __init__(self, observer: RunObserver, describe: Describe) -> None:
        self._observer = observer
        self._describe = describe
        self._clock = time.monotonic()
        self._dates: Counter[str] = Counter()
        self._counts: Counter[str] = Counter()
        self._in_flight: dict[date, str] = {}
        self._finished = False

    def attempt(self, day: date, work: Callable[[date], Outcome]) -> Outcome:
        """Run one date in this process: ``work`` is the job's ``shared.cli.attempt`` of it."""
        self._in_flight[day] = utc_now()
        outcome = work(day)
        del self._in_flight[day]
        return self.record(outcome)

    def running(self, days: Iterable[date]) -> None:
        """Dates under way elsewhere (in worker processes); an interrupt from here on aborts them."""
        for day in days:
            self._in_flight.setdefault(day, utc_now())

    def record(self, outcome: Outcome) -> Outcome:
        """Tell the observers what happened to one date; returns ``outcome``."""
        self._in_flight.pop(outcome.day, None)
        self._dates[outcome.status.name.lower()] += 1
        if outcome.status not in (Status.DONE, Status.FAILED):
            return outcome
        report = self._report(outcome)
        if report is None:
            return outcome
        if outcome.status is Status.DONE:
            self._counts.update(report.counts)
            self._observer.date_completed(report)
        else:
            self._observer.date_failed(report, outcome.error or "failed")
        return outcome

    def _report(self, outcome: Outcome) -> DateReport | None:
        try:
            return self._describe(outcome, outcome.run_id or new_run_id())
        except Exception as exc:  # a manifest without a field a report needs: nothing to tell, the run goes on
            log.warning("%s: cannot describe the date for lineage and metrics: %s", outcome.day, exc)
            return None

    def finished(self, exit_code: int) -> None:
        """The run ended with ``exit_code``: dates still under way are aborted, then ``run_finished``."""
        if self._finished:
            return
        self._finished = True
        for day, started in sorted(self._in_flight.items()):
            report = self._report(Outcome(day, Status.NOT_ATTEMPTED, "interrupted", started_at=started))
            self._dates["aborted"] += 1
            if report is not None:
                self._observer.date_aborted(report)
        self._in_flight.clear()
        summary = RunSummary(
            exit_code=exit_code,
            dates={name: self._dates[name] for name in (*(s.name.lower() for s in Status), "aborted")},
            counts=dict(self._counts),
            duration_seconds=round(time.monotonic() - self._clock, 3),
            finished=time.time(),
        )
        self._observer.run_finished(summary)

    def __enter__(self) -> Watch:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """An interrupt, or an error that escaped the job, ends the run here; a clean exit called ``finished``."""
        if isinstance(exc, KeyboardInterrupt):
            self.finished(getattr(exc, "exit_code", EXIT_SIGINT))
        elif exc is not None:
            self.finished(EXIT_RETRY)


def watching(observer: RunObserver, describe: Describe) -> Watch:
    """``with watching(observers, describe) as watch:`` around a run's loop; call ``watch.finished(code)`` last."""
    return Watch(observer, describe)
