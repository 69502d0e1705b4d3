"""A real Airflow deployment runs a 3-day backfill: scheduler + LocalExecutor on PostgreSQL, DAG processor, API server.

``airflow dags test`` (test_dag_run.py) runs tasks in-process and ignores pools. Here
every component runs as in production, from ``.venv-airflow``:

* PostgreSQL from Debian's ``postgresql`` package (initdb + pg_ctl in a temporary folder,
  on a free 127.0.0.1 port, as the ``postgres`` user when the test runs as root): with
  SQLite, Airflow runs one task at a time and the pool check below would pass trivially;
* ``airflow api-server`` on a free 127.0.0.1 port (the tasks talk to its execution API),
  ``airflow scheduler`` with the LocalExecutor and ``airflow dag-processor``;
* ``airflow backfill create`` over 3 days with the data root on an object store (SeaweedFS
  on the test's Docker network, no data volume mounted), then the test polls the metadata
  database until the runs are finished (no fixed sleeps) and checks that every task
  instance succeeded, that no more extract tasks ran at once than the ``sales_api`` pool
  has slots (from the task instances' start and end times), that all 3 dates' partitions
  are complete in the store, and that neither the token nor the store's secret is in any log.

Skipped without PostgreSQL's binaries unless ``REQUIRE_AIRFLOW=1`` (CI), where that fails;
without Docker as the other Airflow tests are.
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ..container.store_zones import read_partition
from .conftest import (
    DAGS,
    PAGES,
    QUICK_TIMEOUT,
    ROOT,
    Stack,
    Store,
    describe,
    partitions,
    run,
    without_airflow_settings,
)

pytestmark = [pytest.mark.airflow, pytest.mark.container]

BACKFILL_DATES = ("2022-09-05", "2022-09-06", "2022-09-07")
POOL_SLOTS = 2
# Safety nets only: the test waits for what Airflow records, these bound a hung deployment.
START_TIMEOUT = 300
RUNS_TIMEOUT = 900
POLL_SECONDS = 1.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def postgres_bin() -> Path | None:
    """The bin folder of the newest PostgreSQL that Debian's packages installed, if any."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda path: int(path.parts[-3]))
    return found[-1].parent if found else None


def require_postgres() -> Path:
    """PostgreSQL's bin folder, or a skip (a failure under REQUIRE_AIRFLOW=1) naming what is missing."""
    bin_dir = postgres_bin()
    problem = None if bin_dir else "PostgreSQL is not installed (apt-get install postgresql)"
    if bin_dir and os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            problem = "running as root, and there is no postgres user to run the server as"
    if problem is None and bin_dir is not None:
        return bin_dir
    if os.environ.get("REQUIRE_AIRFLOW") == "1":
        pytest.fail(f"REQUIRE_AIRFLOW=1 but the scheduler test cannot run: {problem}", pytrace=False)
    pytest.skip(f"the scheduler test needs PostgreSQL ({problem}); set REQUIRE_AIRFLOW=1 to make this an error")


@dataclass(frozen=True)
class Postgres:
    """One throwaway PostgreSQL server holding the database ``airflow`` (user ``airflow``, trust on 127.0.0.1)."""

    bin_dir: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://airflow@127.0.0.1:{self.port}/airflow"

    def query(self, sql: str) -> list[list[str]]:
        """Rows of ``sql`` as text fields (psql's unaligned, tab-separated output)."""
        command = [
            str(self.bin_dir / "psql"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "airflow",
            "-d",
            "airflow",
        ]
        result = run([*command, "-X", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql], QUICK_TIMEOUT)
        assert result.returncode == 0, describe(result)
        return [line.split("\t") for line in result.stdout.splitlines() if line]


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    bin_dir = require_postgres()
    # Not under pytest's tmp_path: the server runs as another user, who must be able to reach its folder.
    base = Path(tempfile.mkdtemp(prefix="salespipe-pg-"))
    as_server_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(base, user="postgres")
        as_server_user = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    data = base / "data"
    server_options = f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={base} -c fsync=off"
    steps = [
        [str(bin_dir / "initdb"), "-D", str(data), "--auth=trust", "-U", "airflow", "-E", "UTF8", "--no-sync"],
        [
            str(bin_dir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(base / "server.log"),
            "-w",
            "-t",
            "120",
            "-o",
            server_options,
            "start",
        ],
        [str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "airflow", "airflow"],
    ]
    try:
        for step in steps:
            result = run([*as_server_user, *step], START_TIMEOUT)
            assert result.returncode == 0, describe(result) + (base / "server.log").read_text(errors="replace")[-3000:]
        yield Postgres(bin_dir, port)
    finally:
        run([*as_server_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"], START_TIMEOUT)
        shutil.rmtree(base, ignore_errors=True)


@dataclass
class Deployment:
    """Airflow's long-running components on one metadata database, each a process of this test."""

    python: Path
    home: Path
    postgres: Postgres
    settings: Mapping[str, str]
    api_port: int = field(default_factory=free_port)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    environment: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.environment = self.env()

    def env(self) -> dict[str, str]:
        api = f"http://127.0.0.1:{self.api_port}"
        return without_airflow_settings(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                "AIRFLOW__CORE__PARALLELISM": "8",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.postgres.url,
                "AIRFLOW__API__BASE_URL": api,
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api}/execution/",
                # The scheduler signs the tasks' tokens, the API server checks them: one key for both.
                "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(64),
                "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
                # Generous bounds for a loaded 2-core machine: parsing, and the tasks' calls to the API server.
                "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
                "AIRFLOW__DAG_PROCESSOR__DAG_FILE_PROCESSOR_TIMEOUT": "180",
                "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "120",
                **self.settings,
            }
        )

    def airflow(self, *args: str, timeout: float = START_TIMEOUT) -> subprocess.CompletedProcess:
        return run([str(self.python.parent / "airflow"), *args], timeout, cwd=ROOT, env=self.environment)

    def start(self) -> None:
        for command in (["db", "migrate"], ["pools", "set", "sales_api", str(POOL_SLOTS), "Sales API"]):
            result = self.airflow(*command)
            assert result.returncode == 0, describe(result)
        components = {
            "api-server": ["api-server", "--host", "127.0.0.1", "--port", str(self.api_port), "--workers", "1"],
            # No log server: it would listen on every interface; the task logs are files in AIRFLOW_HOME.
            "scheduler": ["scheduler", "--skip-serve-logs"],
            "dag-processor": ["dag-processor"],
        }
        for name, args in components.items():
            with (self.home / f"{name}.out").open("wb") as output:
                self.processes[name] = subprocess.Popen(
                    [str(self.python.parent / "airflow"), *args],
                    cwd=ROOT,
                    env=self.environment,
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                )

    def stop(self) -> None:
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=QUICK_TIMEOUT)

    def check_alive(self) -> None:
        dead = {name: process.returncode for name, process in self.processes.items() if process.poll() is not None}
        assert not dead, f"Airflow components exited: {dead}\n{self.outputs()}"

    def outputs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-6000:]}" for path in sorted(self.home.glob("*.out"))
        )

    def wait_for(self, what: str, done: Callable[[], bool], timeout: float) -> None:
        """Poll ``done()`` until true, while every component stays up; fail after ``timeout``."""
        deadline = time.monotonic() + timeout
        while not done():
            self.check_alive()
            if time.monotonic() > deadline:
                pytest.fail(f"{what} within {timeout:g}s\n{self.outputs()}")
            time.sleep(POLL_SECONDS)


def overlap(intervals: list[tuple[float, float]]) -> int:
    """The largest number of intervals open at one instant (an end at the same instant as a start does not count)."""
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    open_now = peak = 0
    for _, change in events:
        open_now += change
        peak = max(peak, open_now)
    return peak


def test_overlap_counts_what_runs_at_the_same_time() -> None:
    at = [float(hour) for hour in range(6)]
    assert overlap([(at[0], at[1]), (at[1], at[2]), (at[2], at[3])]) == 1
    assert overlap([(at[0], at[3]), (at[1], at[2]), (at[1], at[4])]) == 3
    assert overlap([]) == 0


@pytest.fixture
def deployment(
    airflow_python: Path, postgres: Postgres, stack: Stack, store: Store, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    variables = {
        "sales_extract_image": stack.images["extract"],
        "sales_convert_image": stack.images["convert"],
        "sales_api_url": stack.api_url,
        "sales_docker_network": stack.network,
        "sales_data_volume": stack.volume,
        "sales_base_dir": store.base_dir,
        # Far ahead: unpausing the DAG schedules nothing of its own, only the backfill runs.
        "sales_start_date": "2099-01-01",
        "sales_retries": "0",
    }
    settings = {f"AIRFLOW_VAR_{name.upper()}": value for name, value in variables.items()}
    settings["AIRFLOW_CONN_SALES_API"] = json.dumps({"conn_type": "http", "password": stack.token})
    settings["AIRFLOW_CONN_SALES_STORE"] = store.connection()
    deployment = Deployment(airflow_python, tmp_path_factory.mktemp("airflow-home"), postgres, settings)
    try:
        deployment.start()
        yield deployment
    finally:
        deployment.stop()


def test_a_backfill_of_three_days_runs_under_the_scheduler_within_the_pool(
    deployment: Deployment, postgres: Postgres, stack: Stack, store: Store
) -> None:
    # The DAG processor parses the DAG folder and stores the DAG; only then can a backfill be created.
    deployment.wait_for(
        "the DAG processor did not store sales_pipeline",
        lambda: postgres.query("SELECT count(*) FROM serialized_dag WHERE dag_id = 'sales_pipeline'") != [["0"]],
        START_TIMEOUT,
    )
    # Backfill runs wait while their DAG is paused, as new DAGs are.
    for command in (
        ["dags", "unpause", "sales_pipeline"],
        [
            "backfill",
            "create",
            "--dag-id",
            "sales_pipeline",
            "--from-date",
            BACKFILL_DATES[0],
            "--to-date",
            BACKFILL_DATES[-1],
            "--max-active-runs",
            str(len(BACKFILL_DATES)),
        ],
    ):
        result = deployment.airflow(*command)
        assert result.returncode == 0, describe(result)

    finished = "SELECT count(*) FROM dag_run WHERE dag_id = 'sales_pipeline' AND state IN ('success', 'failed')"
    deployment.wait_for(
        "the backfill's runs did not finish",
        lambda: postgres.query(finished) == [[str(len(BACKFILL_DATES))]],
        RUNS_TIMEOUT,
    )

    rows = postgres.query(
        "SELECT to_char(dr.logical_date AT TIME ZONE 'UTC', 'YYYY-MM-DD'), dr.run_type, ti.task_id, ti.state,"
        " ti.pool, extract(epoch FROM ti.start_date), extract(epoch FROM ti.end_date)"
        " FROM task_instance ti JOIN dag_run dr ON ti.dag_id = dr.dag_id AND ti.run_id = dr.run_id"
        " WHERE dr.dag_id = 'sales_pipeline'"
    )
    states = {(day, task): state for day, _, task, state, *_ in rows}
    assert states == {(day, task): "success" for day in BACKFILL_DATES for task in ("extract", "convert")}, (
        deployment.outputs()
    )
    assert {run_type for _, run_type, *_ in rows} == {"backfill"}
    extracts = [(float(start), float(end)) for _, _, task, _, pool, start, end in rows if task == "extract"]
    assert {pool for _, _, task, _, pool, *_ in rows if task == "extract"} == {"sales_api"}
    assert len(extracts) == len(BACKFILL_DATES)
    peak = overlap(extracts)
    everything = overlap([(float(row[5]), float(row[6])) for row in rows])
    print(f"extract tasks at once: at most {peak} (pool: {POOL_SLOTS}); any tasks at once: at most {everything}")
    assert peak <= POOL_SLOTS

    for day in BACKFILL_DATES:
        raw = read_partition(store.env(), store.base_dir, "raw", day)
        assert [name.rsplit("/", 1)[-1] for name in raw] == [f"sales_{day}_{page}.json" for page in range(1, PAGES + 1)]
        [avro_name] = read_partition(store.env(), store.base_dir, "stg", day)
        assert avro_name.rsplit("/", 1)[-1] == f"sales_{day}.avro"
        assert partitions(stack, day) == {}  # the data volume was never mounted

    # The token and the store's secret reached the containers through private_environment only.
    logs = [path for path in deployment.home.rglob("*") if path.is_file() and path.suffix in (".log", ".out")]
    assert any(path.suffix == ".log" for path in logs)
    for secret in (stack.token, store.secret):
        assert [str(path) for path in logs if secret in path.read_text(errors="replace")] == []
