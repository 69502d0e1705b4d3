"""Real receivers on 127.0.0.1 for what the jobs send out (an OpenLineage endpoint, a Pushgateway), and job runs.

Both jobs run as subprocesses (``python -m extract_job`` / ``convert_job``) with
an environment holding none of the pipeline's settings but those a test gives,
against the bundled simulator.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from shared import settings_doc

REPO = Path(__file__).resolve().parents[2]
DECLARED = {spec.env for program in settings_doc.PROGRAMS for spec in settings_doc.program_specs(program) if spec.env}


def job_env(**settings: str) -> dict[str, str]:
    """This process's environment without any pipeline setting, proxy or ``.env``, plus ``settings``."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in DECLARED
        and not name.lower().endswith("_proxy")
        and not name.startswith(("OPENLINEAGE", "PIPELINE_TEST"))
        and name != "ENV_FILE"
    }
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["NO_PROXY"] = "127.0.0.1,localhost"
    return {**env, **settings}


@dataclass
class Run:
    code: int
    stderr: str
    stdout: str


def run_job(tool: str, cwd: Path, env: dict[str, str], *args: str) -> Run:
    """``python -m <tool> *args`` in ``cwd`` (where a ``.env`` or ``openlineage.yml`` may be), to its end."""
    done = subprocess.run(
        [sys.executable, "-m", tool, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    return Run(done.returncode, done.stderr, done.stdout)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class LineageReceiver:
    """An OpenLineage HTTP endpoint: every event POSTed to ``/api/v1/lineage`` is kept, with its headers."""

    url: str
    events: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    status: int = 200
    """What it answers; 500 plays an endpoint that is up but failing."""


@pytest.fixture
def lineage_receiver() -> Iterator[LineageReceiver]:
    """A tiny threaded HTTP server on 127.0.0.1 and a free port, stopped when the test ends."""
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                receiver.paths.append(self.path)
                receiver.headers.append(dict(self.headers.items()))
                receiver.events.append(json.loads(body))
                status = receiver.status
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = LineageReceiver(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Pushgateway:
    url: str

    def metrics(self) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        """Its ``/metrics``: (name, labels) -> value, for the samples of the pipeline's own metrics."""
        from prometheus_client.parser import text_string_to_metric_families

        with urllib.request.urlopen(f"{self.url}/metrics", timeout=10) as answer:
            text = answer.read().decode("utf-8")
        return {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name.startswith("sales_pipeline_")
        }

    def value(self, name: str, job: str, instance: str = "sales-pipeline", **labels: str) -> float | None:
        key = frozenset({"job": job, "instance": instance, **labels}.items())
        return self.metrics().get((name, key))


@pytest.fixture
def pushgateway(tmp_path: Path) -> Iterator[Pushgateway]:
    """Debian's ``prometheus-pushgateway`` on 127.0.0.1 and a free port, its state in ``tmp_path``."""
    binary = shutil.which("prometheus-pushgateway")
    if binary is None:
        if os.environ.get("REQUIRE_PUSHGATEWAY"):
            pytest.fail("REQUIRE_PUSHGATEWAY is set but prometheus-pushgateway is not installed")
        pytest.skip("prometheus-pushgateway is not installed (apt-get install prometheus-pushgateway)")
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            f"--web.listen-address=127.0.0.1:{port}",
            f"--persistence.file={tmp_path / 'pushgateway.data'}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60  # a safety net only: ready is usually a fraction of a second
        while True:
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=5) as answer:
                    if answer.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError):
                pass
            if process.poll() is not None:
                pytest.fail(f"the Pushgateway exited: {process.stderr.read() if process.stderr else ''}")
            if time.monotonic() > deadline:
                pytest.fail("the Pushgateway did not become ready within 60 s")
            time.sleep(0.05)
        yield Pushgateway(url)
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture
def simulated(simulator: Callable[..., Any]) -> Any:
    """The simulator with a few invalid records, so convert has rejects to report."""
    return simulator(pages=2, records_per_page=20, invalid_rate=0.05)


DATES = ("2022-08-09", "2022-08-10")


def sim_settings(sim: Any, base: Path) -> dict[str, str]:
    return {"SALES_API_URL": f"{sim.url}/sales", "AUTH_TOKEN": sim.config.token, "BASE_DIR": str(base)}
