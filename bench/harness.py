"""Running and measuring: each contender in its own process, the simulator in another, runs interleaved.

Every measured run is a fresh ``python -m bench.probe`` process, so no contender
inherits another's warm caches or heap, and the simulator's threads never
compete with the measured code for its GIL.
"""

from __future__ import annotations

import compileall
import contextlib
import functools
import json
import os
import re
import shutil
import signal
import site
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, TypeVar

REPO_ROOT = Path(__file__).resolve().parent.parent
RUN_TIMEOUT_S = 600.0
SIMULATOR_START_TIMEOUT_S = 15.0
_LISTENING = re.compile(r"listening on (http://\S+)")
# Settings the jobs read from the environment: a developer's shell must not change what is measured.
_JOB_VARIABLES = re.compile(
    r"^(BASE_DIR|DATE|ENV_FILE|SALES_API_URL|AUTH_TOKEN.*|EXTRACT_.*|CONVERT_.*|LOG_.*|SIM_.*)$"
)

T = TypeVar("T")


class BenchError(Exception):
    """A contender failed or produced the wrong output: its figures would mean nothing."""


def note(message: str) -> None:
    """Progress on stderr, so stdout stays the markdown report."""
    print(f"bench: {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Sample:
    """One measured process. Times in seconds, memory in KiB."""

    wall_s: float  # spawn to exit, interpreter start-up included
    run_s: float  # inside main(), after imports
    import_s: float
    cpu_s: float  # user + system, the process and its workers
    job_cpu_s: float  # the same, inside main() only (start-up and imports excluded)
    maxrss_kib: float  # the process itself (a float once it is a median)
    children_maxrss_kib: float  # the largest worker process it waited for (0 without workers)


def median_sample(samples: Sequence[Sample]) -> Sample:
    """Field-by-field median of repeated runs."""
    if not samples:
        raise ValueError("no samples")
    values = {f.name: statistics.median(getattr(s, f.name) for s in samples) for f in fields(Sample)}
    return Sample(**values)


def spread(values: Sequence[float]) -> float:
    """Half the range of repeated runs relative to their median: 0.05 means the runs lay within about +-5%."""
    middle = statistics.median(values)
    return (max(values) - min(values)) / 2 / middle if middle else 0.0


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a measured process: this one's, minus job settings, with the repo importable."""
    env = {k: v for k, v in os.environ.items() if not _JOB_VARIABLES.match(k)}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    env.update(extra or {})
    return env


def _tail(path: Path, limit: int = 2000) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[-limit:]
    except OSError:
        return ""


@functools.cache
def compiled(root: Path) -> None:
    """Compile the bytecode of ``root``'s code and of the interpreter's libraries, once per bench run.

    An installed environment (a wheel install, the images) has bytecode; a shell
    with ``PYTHONDONTWRITEBYTECODE`` set never writes it, and every measured run
    would then compile each module it imports lazily (boto3's some 250) inside
    ``main()``.
    """
    compileall.compile_dir(root, quiet=2, workers=0, rx=re.compile(r"/(\.git|\.venv[^/]*)/"))
    for libraries in (sysconfig.get_path("stdlib"), *site.getsitepackages()):
        compileall.compile_dir(libraries, quiet=2, workers=0)


def run_probe(
    target: str, argv: Sequence[str], workdir: Path, env: Mapping[str, str], root: Path = REPO_ROOT
) -> Sample:
    """Run ``target`` (``module:function``) with ``argv`` in a fresh process under ``bench.probe``.

    ``workdir`` is the process's working directory (no ``.env`` there) and holds
    its report and logs. ``root``: the checkout whose code runs (``bench.revision``;
    default this one). Raises ``BenchError`` if it exits non-zero or ran other code.
    """
    compiled(root)
    workdir.mkdir(parents=True, exist_ok=True)
    report = workdir / "probe.json"
    stderr_path = workdir / "stderr.log"
    command = [sys.executable, "-m", "bench.probe", str(report), "--root", str(root), target, *argv]
    with open(workdir / "stdout.log", "wb") as out, open(stderr_path, "wb") as err:
        started = time.perf_counter()
        try:
            code = subprocess.run(
                command, cwd=workdir, env=dict(env), stdout=out, stderr=err, timeout=RUN_TIMEOUT_S, check=False
            ).returncode
        except subprocess.TimeoutExpired:
            raise BenchError(f"{target} {' '.join(argv)}: still running after {RUN_TIMEOUT_S:.0f}s") from None
        wall = time.perf_counter() - started
    if code != 0:
        raise BenchError(f"{target} {' '.join(argv)} exited {code}:\n{_tail(stderr_path)}")
    data = json.loads(report.read_text(encoding="utf-8"))
    ran = Path(data["target_file"] or "/").resolve()
    if not ran.is_relative_to(root.resolve()):
        raise BenchError(f"{target} ran {ran}, not the code under {root}")
    return Sample(
        wall_s=wall,
        run_s=data["run_s"],
        import_s=data["import_s"],
        cpu_s=data["cpu_s"],
        job_cpu_s=data["job_cpu_s"],
        maxrss_kib=data["maxrss_kib"],
        children_maxrss_kib=data["children_maxrss_kib"],
    )


def run_json(module: str, argv: Sequence[str], workdir: Path, env: Mapping[str, str]) -> dict[str, Any]:
    """Run ``python -m module argv`` and parse the JSON object it prints."""
    workdir.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [sys.executable, "-m", module, *argv],
        cwd=workdir,
        env=dict(env),
        capture_output=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    if result.returncode != 0:
        raise BenchError(f"{module} exited {result.returncode}:\n{result.stderr.decode(errors='replace')[-2000:]}")
    return json.loads(result.stdout)


@contextlib.contextmanager
def simulator(knobs: Mapping[str, object], workdir: Path) -> Iterator[str]:
    """Serve ``python -m sales_api_sim`` with ``knobs`` on 127.0.0.1 and a free port; yields its base URL."""
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / "simulator.log"
    command = [sys.executable, "-m", "sales_api_sim", "--host", "127.0.0.1", "--port", "0", "--log-level", "INFO"]
    for name, value in knobs.items():
        command += [f"--{name.replace('_', '-')}", str(value)]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=workdir, env=child_env(), stdout=log, stderr=log)
    try:
        yield _wait_for_url(process, log_path)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for_url(process: subprocess.Popen[bytes], log_path: Path) -> str:
    deadline = time.monotonic() + SIMULATOR_START_TIMEOUT_S
    while time.monotonic() < deadline:
        match = _LISTENING.search(_tail(log_path, 100_000))
        if match:
            return match.group(1)
        if process.poll() is not None:
            raise BenchError(f"the simulator exited {process.returncode}:\n{_tail(log_path)}")
        time.sleep(0.02)
    raise BenchError(f"the simulator did not start within {SIMULATOR_START_TIMEOUT_S:.0f}s:\n{_tail(log_path)}")


def interleave(labels: Sequence[str], reps: int, run: Callable[[str], T], phase: str) -> dict[str, list[T]]:
    """Run every label ``reps`` times, one of each per round, the order rotated each round.

    Interleaving spreads slow spells of a shared machine over all contenders
    instead of charging them to whichever ran at that moment.
    """
    results: dict[str, list[T]] = {label: [] for label in labels}
    for rep in range(reps):
        shift = rep % len(labels)
        for label in [*labels[shift:], *labels[:shift]]:
            started = time.perf_counter()
            results[label].append(run(label))
            note(f"{phase} round {rep + 1}/{reps}: {label} ({time.perf_counter() - started:.2f}s)")
    return results


@contextlib.contextmanager
def scratch_dir(parent: Path, name: str) -> Iterator[Path]:
    """A fresh folder removed afterwards, so outputs of one run never fill the disk or feed the next."""
    path = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=parent))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        # Write back what this run left dirty (the baselines never fsync) before the next run starts,
        # so the kernel's flushing is not charged to whichever contender comes next.
        os.sync()
