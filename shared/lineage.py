"""OpenLineage events for every date a job runs, through the ``openlineage-python`` client (docs/lineage.md).

Per date: START, then COMPLETE, FAIL (with the error message facet) or ABORT
(interrupted); a skipped date sends nothing. The run id is the one the date's
manifests carry; the job is ``<OPENLINEAGE_NAMESPACE>/<extract|convert>``; the
datasets are the zone tables (``shared.observe.Zones``) with the date and
run in their version facet, so a date's partition links to the run that wrote it.

Configured the client's standard way, from the job's settings (so a ``.env``
counts): ``OPENLINEAGE_CONFIG`` or a ``./openlineage.yml`` naming any transport
the client has, else ``OPENLINEAGE_URL`` (with ``OPENLINEAGE_API_KEY``) for
HTTP; ``OPENLINEAGE_DISABLED`` wins over both. Nothing configured: no observer,
the client is not even imported, nothing is sent (the client itself would print
the events on the console).

An endpoint that is down, slow or failing never fails or stalls a job: events
leave from one background thread, in order; HTTP gets a short timeout and no
retries; at the run's end the thread gets ``FLUSH_SECONDS`` to finish, and one
warning says how many events were not sent.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attr
import yaml
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.generated import parent_run
from openlineage.client.generated.base import OutputDatasetFacet, RunFacet
from openlineage.client.generated.dataset_version_dataset import DatasetVersionDatasetFacet
from openlineage.client.generated.error_message_run import ErrorMessageRunFacet
from openlineage.client.generated.input_statistics_input_dataset import InputStatisticsInputDatasetFacet
from openlineage.client.generated.job_type_job import JobTypeJobFacet
from openlineage.client.generated.nominal_time_run import NominalTimeRunFacet
from openlineage.client.generated.output_statistics_output_dataset import OutputStatisticsOutputDatasetFacet
from openlineage.client.generated.processing_engine_run import ProcessingEngineRunFacet
from openlineage.client.generated.schema_dataset import SchemaDatasetFacet, SchemaDatasetFacetFields
from openlineage.client.transport import get_default_factory
from openlineage.client.transport.http import ApiKeyTokenProvider, HttpConfig, HttpTransport, TokenProvider

from shared import redaction
from shared.errors import ConfigError
from shared.manifest import tool_version, utc_now
from shared.observe import (
    Dataset,
    DateReport,
    ObservabilitySettings,
    ParentRun,
    RunObserver,
    RunSummary,
    nominal_day,
    parse_parent_id,
)

log = logging.getLogger(__name__)

HTTP_TIMEOUT_SECONDS = 5.0
FLUSH_SECONDS = 10.0
MAX_QUEUED = 10_000
NO_RETRIES = {"total": 0, "connect": 0, "read": 0, "backoff_factor": 0, "status_forcelist": []}
PRODUCER = "urn:sales-pipeline"
QUALITY_FACET = "salesPipeline_dataQuality"
QUALITY_SCHEMA = "urn:sales-pipeline:facets:SalesPipelineDataQualityFacet:1-0-0"
"""The custom facet's schema: docs/lineage.md, "Facets" (no public URL hosts it)."""


def observer(settings: ObservabilitySettings, job: str, config_file: Path | None) -> RunObserver:
    """The ``LineageObserver`` the settings ask for (``shared.observe.lineage_config`` says whether they do)."""
    if settings.openlineage_api_key:
        redaction.register(settings.openlineage_api_key, "OPENLINEAGE_API_KEY")
    client, target = _client(settings, config_file)
    return LineageObserver(
        client,
        target,
        namespace=settings.openlineage_namespace,
        job=job,
        parent=parse_parent_id(settings.openlineage_parent_id) if settings.openlineage_parent_id else None,
        root=(
            parse_parent_id(settings.openlineage_root_parent_id, "OPENLINEAGE_ROOT_PARENT_ID")
            if settings.openlineage_root_parent_id
            else None
        ),
    )


def _client(settings: ObservabilitySettings, config_file: Path | None) -> tuple[OpenLineageClient, str]:
    """The client and a description of where it sends, for messages: the config file wins, as in the client."""

    # No git metadata in the events: the origin URL of a checkout may hold credentials.
    defaults: dict[str, Any] = {"facets": {"source_code_location": {"disabled": True}}}
    if config_file is None:
        url = str(settings.openlineage_url)
        key = settings.openlineage_api_key
        transport = HttpTransport(
            HttpConfig(
                url=url,
                timeout=HTTP_TIMEOUT_SECONDS,
                auth=ApiKeyTokenProvider({"api_key": key}) if key else TokenProvider({}),
                retry=dict(NO_RETRIES),
            )
        )
        return OpenLineageClient(transport=transport, config=defaults), url
    config = _read_config(config_file)
    transport_config = dict(config["transport"])
    if transport_config.get("type") == "http":
        transport_config.setdefault("timeout", HTTP_TIMEOUT_SECONDS)
        transport_config.setdefault("retry", dict(NO_RETRIES))
        auth = transport_config.get("auth")
        secret = auth.get("apiKey") or auth.get("api_key") if isinstance(auth, Mapping) else None
        if secret:
            redaction.register(str(secret), f"{config_file} (transport.auth.apiKey)")
    try:
        configured = get_default_factory().create(transport_config)
    except Exception as exc:
        raise ConfigError(f"{config_file}: the OpenLineage client cannot make its transport: {exc}") from None
    merged = {**defaults, **config, "facets": {**defaults["facets"], **(config.get("facets") or {})}}
    return OpenLineageClient(transport=configured, config=merged), f"{transport_config['type']} transport"


def _read_config(path: Path) -> dict[str, Any]:

    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read the OpenLineage config {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"the OpenLineage config {path} is not valid YAML: {exc}") from None
    transport = config.get("transport") if isinstance(config, dict) else None
    if not isinstance(transport, dict) or not transport.get("type"):
        raise ConfigError(f"the OpenLineage config {path} names no transport (transport: type: http, file, ...)")
    return dict(config)


class _Sender:
    """Emits events one after another from a daemon thread, so that a slow endpoint never holds the job up."""

    def __init__(self, client: OpenLineageClient) -> None:
        self._client = client
        self._queue: queue.Queue[RunEvent | None] = queue.Queue(maxsize=MAX_QUEUED)
        self.events = 0
        """Every event handed over, including any dropped because too many were waiting."""
        self.sent = 0
        self.first_error: str | None = None
        self.flushed = True
        self._thread = threading.Thread(target=self._run, name="openlineage-sender", daemon=True)
        self._thread.start()

    def emit(self, event: RunEvent) -> None:
        self.events += 1
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self.first_error = self.first_error or f"more than {MAX_QUEUED} events waiting"

    def _run(self) -> None:
        while (event := self._queue.get()) is not None:
            try:
                self._client.emit(event)
                self.sent += 1
            except Exception as exc:
                self.first_error = self.first_error or redaction.redact(f"{type(exc).__name__}: {exc}")
        try:
            self.flushed = bool(self._client.close(timeout=FLUSH_SECONDS))
        except Exception as exc:
            self.flushed = False
            self.first_error = self.first_error or redaction.redact(f"{type(exc).__name__}: {exc}")

    def close(self, seconds: float) -> bool:
        """Let the queued events go, for at most ``seconds``; whether all went."""
        deadline = time.monotonic() + seconds
        try:
            self._queue.put(None, timeout=seconds)
        except queue.Full:
            return False
        self._thread.join(max(0.0, deadline - time.monotonic()))
        return not self._thread.is_alive() and self.sent == self.events and self.flushed


class LineageObserver:
    """Sends a date's START and its outcome once the outcome is known (``shared.observe``)."""

    def __init__(
        self,
        client: OpenLineageClient,
        target: str,
        *,
        namespace: str,
        job: str,
        parent: ParentRun | None = None,
        root: ParentRun | None = None,
    ) -> None:
        self.target = target
        self.namespace = namespace
        self.job = job
        self.parent = parent
        self.root = root or parent
        self.producer = f"{PRODUCER}:{job}:{tool_version()}"
        self._sender = _Sender(client)

    def date_completed(self, report: DateReport) -> None:
        self._send("START", report.started_at, report)
        self._send("COMPLETE", report.finished_at, report)

    def date_failed(self, report: DateReport, error: str) -> None:

        self._send("START", report.started_at, report)
        message = ErrorMessageRunFacet(
            message=redaction.redact(error), programmingLanguage="python", producer=self.producer
        )
        self._send("FAIL", report.finished_at or utc_now(), report, {"errorMessage": message})

    def date_aborted(self, report: DateReport) -> None:
        self._send("START", report.started_at or utc_now(), report)
        self._send("ABORT", utc_now(), report)

    def run_finished(self, summary: RunSummary) -> None:
        if not self._sender.close(FLUSH_SECONDS):
            log.warning(
                "lineage: %d of %d OpenLineage events not sent to %s (%s); the run's result is unchanged",
                self._sender.events - self._sender.sent,
                self._sender.events,
                self.target,
                self._sender.first_error or f"not done within {FLUSH_SECONDS:g} s",
            )

    def _send(self, state: str, when: str, report: DateReport, extra: Mapping[str, RunFacet] | None = None) -> None:

        start, end = nominal_day(report.day)
        facets: dict[str, RunFacet] = {
            "nominalTime": NominalTimeRunFacet(nominalStartTime=start, nominalEndTime=end, producer=self.producer),
            "processing_engine": ProcessingEngineRunFacet(
                version=tool_version(), name="sales-pipeline", producer=self.producer
            ),
            **(extra or {}),
        }
        if self.parent is not None:
            facets["parent"] = self._parent_facet(self.parent, self.root or self.parent)
        final = state != "START"
        event = RunEvent(
            eventType=RunState(state),
            eventTime=when,
            producer=self.producer,
            run=Run(runId=report.run_id, facets=facets),
            job=Job(
                namespace=self.namespace,
                name=self.job,
                facets={
                    "jobType": JobTypeJobFacet(
                        processingType="BATCH", integration="SALES_PIPELINE", jobType="JOB", producer=self.producer
                    )
                },
            ),
            inputs=[self._input(d, final) for d in report.inputs],
            outputs=[self._output(d, final) for d in report.outputs],
        )
        self._sender.emit(event)

    def _parent_facet(self, parent: ParentRun, root: ParentRun) -> RunFacet:

        return parent_run.ParentRunFacet(
            run=parent_run.Run(runId=parent.run_id),
            job=parent_run.Job(namespace=parent.namespace, name=parent.job),
            root=parent_run.Root(
                run=parent_run.RootRun(runId=root.run_id),
                job=parent_run.RootJob(namespace=root.namespace, name=root.job),
            ),
            producer=self.producer,
        )

    def _dataset_facets(self, dataset: Dataset) -> dict[str, Any]:

        facets: dict[str, Any] = {}
        if dataset.version:
            facets["version"] = DatasetVersionDatasetFacet(datasetVersion=dataset.version, producer=self.producer)
        if dataset.schema:
            fields = [
                SchemaDatasetFacetFields(name=f.name, type=f.type, description=f.description) for f in dataset.schema
            ]
            facets["schema"] = SchemaDatasetFacet(fields=fields, producer=self.producer)
        return facets

    def _input(self, dataset: Dataset, final: bool) -> InputDataset:

        facets: dict[str, Any] = {}
        if final and dataset.rows is not None:
            facets["inputStatistics"] = InputStatisticsInputDatasetFacet(
                rowCount=dataset.rows, size=dataset.bytes, fileCount=dataset.files, producer=self.producer
            )
        return InputDataset(dataset.namespace, dataset.name, facets=self._dataset_facets(dataset), inputFacets=facets)

    def _output(self, dataset: Dataset, final: bool) -> OutputDataset:

        facets: dict[str, Any] = {}
        if final and dataset.rows is not None:
            facets["outputStatistics"] = OutputStatisticsOutputDatasetFacet(
                rowCount=dataset.rows, size=dataset.bytes, fileCount=dataset.files, producer=self.producer
            )
        if final and dataset.quality is not None:
            facets[QUALITY_FACET] = _quality_facet(dataset, self.producer)
        return OutputDataset(dataset.namespace, dataset.name, facets=self._dataset_facets(dataset), outputFacets=facets)


@attr.define
class SalesPipelineDataQualityFacet(OutputDatasetFacet):
    """What validation found in the date's records (docs/lineage.md, "Facets")."""

    recordsRead: int
    rejectedCount: int
    invalidShare: float
    unknownFields: dict[str, int]

    @staticmethod
    def _get_schema() -> str:
        return QUALITY_SCHEMA


def _quality_facet(dataset: Dataset, producer: str) -> SalesPipelineDataQualityFacet:
    quality = dataset.quality
    assert quality is not None
    return SalesPipelineDataQualityFacet(
        recordsRead=quality.read,
        rejectedCount=quality.rejected,
        invalidShare=round(quality.invalid_share, 6),
        unknownFields=dict(quality.unknown_fields),
        producer=producer,
    )
