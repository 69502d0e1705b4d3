"""OpenLineage events of real runs, received by a real HTTP endpoint on 127.0.0.1 (``receivers.LineageReceiver``).

An extract and a convert over two dates against the simulator; the events are
checked field by field against the spec and against the manifests the runs wrote.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.objectstore.seaweed import SeaweedFS
from tests.objectstore.support import reader

from .receivers import DATES, LineageReceiver, Pushgateway, free_port, job_env, run_job, sim_settings

DATA_NAMESPACE = "file://sales-pipeline"
SPEC = "https://openlineage.io/spec/"


def manifest(base: Path, zone: str, day: str) -> dict[str, Any]:
    return dict(json.loads((base / zone / "sales" / day / "_SUCCESS").read_text()))


def runs(events: list[dict[str, Any]], job: str) -> dict[str, list[dict[str, Any]]]:
    """The events of ``job`` by run id, in the order received."""
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        if event["job"]["name"] == job:
            grouped[event["run"]["runId"]].append(event)
    return dict(grouped)


def dataset(datasets: list[dict[str, Any]], name: str) -> dict[str, Any]:
    (found,) = [d for d in datasets if d["name"] == name]
    return found


def run_pipeline(tmp_path: Path, sim: Any, **settings: str) -> tuple[Path, dict[str, str]]:
    base = tmp_path / "data"
    env = job_env(**sim_settings(sim, base), CONVERT_MAX_INVALID_RATIO="0.5", **settings)
    extract = run_job("extract_job", tmp_path, env, "--start", DATES[0], "--end", DATES[-1])
    assert extract.code == 0, extract.stderr
    convert = run_job("convert_job", tmp_path, env, "--start", DATES[0], "--end", DATES[-1])
    assert convert.code == 0, convert.stderr
    assert "not sent" not in extract.stderr + convert.stderr
    return base, env


def assert_spec_fields(event: dict[str, Any]) -> None:
    """The fields the OpenLineage RunEvent schema requires, in the forms it requires."""
    assert event["eventType"] in ("START", "COMPLETE", "FAIL", "ABORT")
    assert datetime.fromisoformat(event["eventTime"].replace("Z", "+00:00")).tzinfo is not None
    assert str(uuid.UUID(event["run"]["runId"])) == event["run"]["runId"], "a canonical UUID"
    assert event["job"]["namespace"] == "sales-pipeline"
    assert urlsplit(event["producer"]).scheme, "producer is a URI"
    assert event["schemaURL"].startswith(f"{SPEC}2-0-2/OpenLineage.json#/$defs/RunEvent")
    for facet in [*event["run"]["facets"].values(), *event["job"]["facets"].values()]:
        assert urlsplit(facet["_producer"]).scheme and urlsplit(facet["_schemaURL"]).scheme, facet
    for item in [*event["inputs"], *event["outputs"]]:
        assert set(item) >= {"namespace", "name", "facets"}


def test_each_date_sends_start_then_complete_with_what_its_manifests_hold(
    tmp_path: Path, simulated: Any, lineage_receiver: LineageReceiver
) -> None:
    base, _ = run_pipeline(tmp_path, simulated, OPENLINEAGE_URL=lineage_receiver.url)
    events = lineage_receiver.events
    assert set(lineage_receiver.paths) == {"/api/v1/lineage"}
    assert len(events) == 8, "START and COMPLETE per date and job"
    for event in events:
        assert_spec_fields(event)
        assert simulated.config.token not in json.dumps(event)

    extract = runs(events, "extract")
    raw = {day: manifest(base, "raw", day) for day in DATES}
    assert set(extract) == {raw[day]["run_id"] for day in DATES}, "the run ids the manifests hold"
    for day in DATES:
        start, complete = extract[raw[day]["run_id"]]
        assert (start["eventType"], complete["eventType"]) == ("START", "COMPLETE")
        assert start["eventTime"] <= complete["eventTime"]
        assert complete["run"]["facets"]["nominalTime"]["nominalStartTime"] == f"{day}T00:00:00.000Z"
        (api,) = complete["inputs"]
        assert (api["namespace"], api["name"]) == (simulated.url, "/sales")
        (written,) = complete["outputs"]
        assert (written["namespace"], written["name"]) == (DATA_NAMESPACE, "raw/sales")
        assert written["facets"]["version"]["datasetVersion"] == f"{day}/{raw[day]['run_id']}"
        statistics = written["outputFacets"]["outputStatistics"]
        assert statistics["rowCount"] == raw[day]["records"]
        assert (statistics["size"], statistics["fileCount"]) == (raw[day]["bytes"], raw[day]["pages"])
        assert "outputStatistics" not in start["outputs"][0].get("outputFacets", {}), "START knows no figures yet"

    convert = runs(events, "convert")
    stg = {day: manifest(base, "stg", day) for day in DATES}
    assert set(convert) == {stg[day]["run_id"] for day in DATES}
    for day in DATES:
        start, complete = convert[stg[day]["run_id"]]
        assert (start["eventType"], complete["eventType"]) == ("START", "COMPLETE")
        (read,) = complete["inputs"]
        assert (read["namespace"], read["name"]) == (DATA_NAMESPACE, "raw/sales")
        assert read["facets"]["version"]["datasetVersion"] == f"{day}/{raw[day]['run_id']}", "joins extract's output"
        assert read["inputFacets"]["inputStatistics"]["rowCount"] == raw[day]["records"]
        staging = dataset(complete["outputs"], "stg/sales")
        assert staging["namespace"] == DATA_NAMESPACE
        assert staging["facets"]["version"]["datasetVersion"] == f"{day}/{stg[day]['run_id']}"
        assert staging["outputFacets"]["outputStatistics"] == {
            "_producer": complete["producer"],
            "_schemaURL": staging["outputFacets"]["outputStatistics"]["_schemaURL"],
            "rowCount": stg[day]["records_written"],
            "size": stg[day]["files"][0]["bytes"],
            "fileCount": 1,
        }
        fields = [(f["name"], f["type"]) for f in staging["facets"]["schema"]["fields"]]
        assert fields == [("client", "string"), ("purchase_date", "date"), ("product", "string"), ("price", "long")]
        rejects = dataset(complete["outputs"], "quarantine/sales")
        assert rejects["outputFacets"]["outputStatistics"]["rowCount"] == stg[day]["records_rejected"]
        quality = rejects["outputFacets"]["salesPipeline_dataQuality"]
        assert quality["rejectedCount"] == stg[day]["records_rejected"]
        assert quality["recordsRead"] == stg[day]["records_read"]
        assert quality["invalidShare"] == pytest.approx(stg[day]["records_rejected"] / stg[day]["records_read"])
    assert sum(stg[day]["records_rejected"] for day in DATES) > 0, "the simulator made some records invalid"

    again = run_job("convert_job", tmp_path, job_env(**sim_settings(simulated, base)), "--date", DATES[0])
    assert again.code == 0
    skipped = run_job(
        "convert_job", tmp_path, job_env(**sim_settings(simulated, base), OPENLINEAGE_URL=lineage_receiver.url)
    )
    assert skipped.code == 0, skipped.stderr
    assert len(lineage_receiver.events) == 8, "a date skipped as up to date sends nothing"


def test_a_failing_date_sends_fail_with_its_error(
    tmp_path: Path, simulated: Any, lineage_receiver: LineageReceiver
) -> None:
    base = tmp_path / "data"
    env = job_env(**sim_settings(simulated, base), OPENLINEAGE_URL=lineage_receiver.url)
    assert run_job("extract_job", tmp_path, env, "--start", DATES[0], "--end", DATES[-1]).code == 0
    page = base / "raw" / "sales" / DATES[1] / f"sales_{DATES[1]}_1.json"
    page.write_bytes(page.read_bytes().replace(b"[", b"[ ", 1))  # altered after extract wrote it
    lineage_receiver.events.clear()

    result = run_job(
        "convert_job", tmp_path, {**env, "CONVERT_MAX_INVALID_RATIO": "0.5"}, "--start", DATES[0], "--end", DATES[1]
    )
    assert result.code == 3, result.stderr
    by_state = {
        tuple(e["eventType"] for e in events): events for events in runs(lineage_receiver.events, "convert").values()
    }
    assert set(by_state) == {("START", "COMPLETE"), ("START", "FAIL")}
    _, fail = by_state[("START", "FAIL")]
    assert_spec_fields(fail)
    assert fail["run"]["facets"]["nominalTime"]["nominalStartTime"].startswith(DATES[1])
    error = fail["run"]["facets"]["errorMessage"]
    assert "altered" in error["message"] and error["programmingLanguage"] == "python"
    assert [d["name"] for d in fail["inputs"]] == ["raw/sales"]
    assert "outputStatistics" not in dataset(fail["outputs"], "stg/sales").get("outputFacets", {}), "nothing written"


def test_the_parent_run_facet_and_a_dotenv_file(tmp_path: Path, simulated: Any, lineage_receiver: LineageReceiver):
    """Settings in ``.env`` count like the environment; the parent ids come as Airflow's macros render them."""
    task_run, dag_run = str(uuid.uuid4()), str(uuid.uuid4())
    (tmp_path / ".env").write_text(
        f"OPENLINEAGE_URL={lineage_receiver.url}\n"
        "OPENLINEAGE_API_KEY=lineage-key-9b2f7c41\n"
        "OPENLINEAGE_NAMESPACE=sales-pipeline\n"
        f"OPENLINEAGE_PARENT_ID=airflow/sales_pipeline.extract/{task_run}\n"
        f"OPENLINEAGE_ROOT_PARENT_ID=airflow/sales_pipeline/{dag_run}\n",
        encoding="utf-8",
    )
    base = tmp_path / "data"
    result = run_job("extract_job", tmp_path, job_env(**sim_settings(simulated, base)), "--date", DATES[0])
    assert result.code == 0, result.stderr
    assert [e["eventType"] for e in lineage_receiver.events] == ["START", "COMPLETE"]
    for event, headers in zip(lineage_receiver.events, lineage_receiver.headers, strict=True):
        parent = event["run"]["facets"]["parent"]
        assert parent["run"]["runId"] == task_run
        assert (parent["job"]["namespace"], parent["job"]["name"]) == ("airflow", "sales_pipeline.extract")
        assert parent["root"]["run"]["runId"] == dag_run
        assert (parent["root"]["job"]["namespace"], parent["root"]["job"]["name"]) == ("airflow", "sales_pipeline")
        assert headers["Authorization"] == "Bearer lineage-key-9b2f7c41"
        assert "lineage-key-9b2f7c41" not in json.dumps(event)
    assert "lineage-key-9b2f7c41" not in result.stderr


def test_any_transport_from_an_openlineage_yml(tmp_path: Path, simulated: Any) -> None:
    (tmp_path / "openlineage.yml").write_text(
        f"transport:\n  type: file\n  log_file_path: {tmp_path / 'events.jsonl'}\n  append: true\n", encoding="utf-8"
    )
    base = tmp_path / "data"
    result = run_job("extract_job", tmp_path, job_env(**sim_settings(simulated, base)), "--date", DATES[0])
    assert result.code == 0, result.stderr
    assert "not sent" not in result.stderr
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
    assert {e["run"]["runId"] for e in events} == {manifest(base, "raw", DATES[0])["run_id"]}


@pytest.mark.parametrize("endpoint", ["answers-500", "nobody-listens"])
def test_an_endpoint_down_or_failing_fails_nothing(
    tmp_path: Path, simulated: Any, lineage_receiver: LineageReceiver, endpoint: str
) -> None:
    lineage_receiver.status = 500
    url = lineage_receiver.url if endpoint == "answers-500" else f"http://127.0.0.1:{free_port()}"
    base = tmp_path / "data"
    env = job_env(**sim_settings(simulated, base), OPENLINEAGE_URL=url)
    result = run_job("extract_job", tmp_path, env, "--start", DATES[0], "--end", DATES[-1])
    assert result.code == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "OpenLineage events not sent" in line]
    assert len(warnings) == 1, result.stderr
    assert " WARNING " in warnings[0] and "4 of 4" in warnings[0] and url in warnings[0]
    assert all((base / "raw" / "sales" / day / "_SUCCESS").is_file() for day in DATES)
    assert len(lineage_receiver.events) == (4 if endpoint == "answers-500" else 0), "tried once each, no retries"


AUDIT = """\
import atexit, json, os, socket, sys
_seen = []
def _hook(event, args):
    if event == "socket.connect" and isinstance(args[1], tuple):
        _seen.append(list(args[1][:2]))
sys.addaudithook(_hook)
@atexit.register
def _report():
    loaded = sorted(name for name in ("openlineage", "prometheus_client") if name in sys.modules)
    with open(os.environ["AUDIT_REPORT"], "w") as out:
        json.dump({"connects": _seen, "loaded": loaded}, out)
"""


def test_with_nothing_configured_nothing_is_sent_and_no_connection_made(tmp_path: Path, simulated: Any) -> None:
    """Every socket the jobs open goes to the simulator; neither client is even loaded; nothing on stdout."""
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(AUDIT, encoding="utf-8")
    base = tmp_path / "data"
    env = job_env(**sim_settings(simulated, base), CONVERT_MAX_INVALID_RATIO="0.5")
    for tool in ("extract_job", "convert_job"):
        report = tmp_path / f"{tool}.audit.json"
        run_env = {**env, "PYTHONPATH": f"{hooks}:{env['PYTHONPATH']}", "AUDIT_REPORT": str(report)}
        result = run_job(tool, tmp_path, run_env, "--start", DATES[0], "--end", DATES[-1])
        assert result.code == 0, result.stderr
        audit = json.loads(report.read_text())
        port = urlsplit(simulated.url).port
        assert all(address == ["127.0.0.1", port] for address in audit["connects"]), audit
        assert audit["loaded"] == []
        assert "OpenLineage" not in result.stderr and "Pushgateway" not in result.stderr
        assert result.stdout == "", "the client's fallback would print the events here"


def wait_for_pause(folder: Path, process: subprocess.Popen[str], timeout: float = 120) -> None:
    """Until the job (or one of its workers) has reached its test pause (``shared.testhook``)."""
    deadline = time.monotonic() + timeout  # a safety net only: the pause comes within seconds
    while not any(folder.iterdir()):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the job never reached its pause"
        time.sleep(0.05)


@pytest.mark.parametrize(
    ("tool", "pause", "args"),
    [
        pytest.param("extract_job", "extract.before-commit#2", [], id="extract-between-dates"),
        pytest.param("convert_job", "convert.page", ["--workers", "2"], id="convert-in-workers"),
    ],
)
def test_an_interrupted_run_aborts_the_dates_under_way(
    tmp_path: Path,
    simulated: Any,
    lineage_receiver: LineageReceiver,
    pushgateway: Pushgateway,
    tool: str,
    pause: str,
    args: list[str],
) -> None:
    base = tmp_path / "data"
    env = job_env(**sim_settings(simulated, base), CONVERT_MAX_INVALID_RATIO="0.5")
    if tool == "convert_job":
        assert run_job("extract_job", tmp_path, env, "--start", DATES[0], "--end", DATES[-1]).code == 0
    paused = tmp_path / "paused"
    paused.mkdir()
    observed = {
        **env,
        "OPENLINEAGE_URL": lineage_receiver.url,
        "PUSHGATEWAY_URL": pushgateway.url,
        "PIPELINE_TEST_PAUSE": pause,
        "PIPELINE_TEST_PAUSE_DIR": str(paused),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", tool, "--start", DATES[0], "--end", DATES[-1], *args],
        cwd=tmp_path,
        env=observed,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for_pause(paused, process)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 143, stderr

    job = tool.removesuffix("_job")
    sequences = sorted(tuple(e["eventType"] for e in events) for events in runs(lineage_receiver.events, job).values())
    aborted = [events for events in runs(lineage_receiver.events, job).values() if events[-1]["eventType"] == "ABORT"]
    assert aborted, sequences
    for events in aborted:
        assert [e["eventType"] for e in events] == ["START", "ABORT"]
        assert_spec_fields(events[-1])
    assert set(sequences) <= {("START", "COMPLETE"), ("START", "ABORT")}
    assert len(sequences) == len(DATES)
    assert pushgateway.value("sales_pipeline_dates", job, status="aborted") == len(aborted)
    assert pushgateway.value("sales_pipeline_exit_code", job) == 143
    assert pushgateway.value("sales_pipeline_last_success_timestamp_seconds", job) is None


@pytest.mark.parametrize(
    ("settings", "config", "message"),
    [
        pytest.param(
            {"OPENLINEAGE_PARENT_ID": "sales_pipeline.extract"},
            None,
            "is not <namespace>/<job name>/<run id>",
            id="parent",
        ),
        pytest.param(
            {"OPENLINEAGE_URL": "http://user:secret-pw@127.0.0.1:5000"},
            None,
            "must not hold credentials",
            id="url-credentials",
        ),
        pytest.param({}, "transport: {}\n", "names no transport", id="yml-without-transport"),
        pytest.param({}, "transport: [unclosed\n", "is not valid YAML", id="yml-broken"),
        pytest.param(
            {"PUSHGATEWAY_URL": "pushgateway:9091"}, None, "PUSHGATEWAY_URL must be an http", id="pushgateway-url"
        ),
    ],
)
def test_a_bad_lineage_or_metrics_setting_is_exit_2_before_any_work(
    tmp_path: Path, simulated: Any, settings: dict[str, str], config: str | None, message: str
) -> None:
    if config is not None:
        (tmp_path / "openlineage.yml").write_text(config, encoding="utf-8")
    base = tmp_path / "data"
    result = run_job("extract_job", tmp_path, job_env(**sim_settings(simulated, base), **settings), "--date", DATES[0])
    assert result.code == 2, result.stderr
    assert message in result.stderr
    assert "secret-pw" not in result.stderr
    assert not (base / "raw" / "sales" / DATES[0]).exists(), "nothing written"


def test_on_an_object_store_the_datasets_are_named_after_the_bucket(
    tmp_path: Path, simulated: Any, lineage_receiver: LineageReceiver, seaweedfs: SeaweedFS
) -> None:
    """The naming spec's form for a store: namespace ``s3://<bucket>``, the key prefix in the names."""
    bucket = seaweedfs.new_bucket()
    env = {
        **job_env(**sim_settings(simulated, tmp_path / "unused"), CONVERT_MAX_INVALID_RATIO="0.5"),
        **seaweedfs.env(f"s3://{bucket}/lake"),
        "OPENLINEAGE_URL": lineage_receiver.url,
    }
    assert run_job("extract_job", tmp_path, env, "--date", DATES[0]).code == 0
    converted = run_job("convert_job", tmp_path, env, "--date", DATES[0])
    assert converted.code == 0, converted.stderr

    raw = reader(seaweedfs, bucket, "lake", "raw", "sales", DATES[0]).verify()
    stg = reader(seaweedfs, bucket, "lake", "stg", "sales", DATES[0]).verify()
    (extract,) = runs(lineage_receiver.events, "extract").values()
    (convert,) = runs(lineage_receiver.events, "convert").values()
    assert {e["run"]["runId"] for e in extract} == {raw["run_id"]}
    assert {e["run"]["runId"] for e in convert} == {stg["run_id"]}
    (written,) = extract[-1]["outputs"]
    assert (written["namespace"], written["name"]) == (f"s3://{bucket}", "lake/raw/sales")
    assert written["outputFacets"]["outputStatistics"]["rowCount"] == raw["records"]
    (read,) = convert[-1]["inputs"]
    assert (read["namespace"], read["name"]) == (f"s3://{bucket}", "lake/raw/sales")
    assert read["facets"]["version"]["datasetVersion"] == f"{DATES[0]}/{raw['run_id']}", "joins extract's output"
    names = {(d["namespace"], d["name"]) for d in convert[-1]["outputs"]}
    assert names == {(f"s3://{bucket}", "lake/stg/sales"), (f"s3://{bucket}", "lake/quarantine/sales")}
    staging = dataset(convert[-1]["outputs"], "lake/stg/sales")
    assert staging["outputFacets"]["outputStatistics"]["rowCount"] == stg["records_written"]
    assert seaweedfs.secret_key not in json.dumps(lineage_receiver.events)
