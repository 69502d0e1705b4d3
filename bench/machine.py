"""What the figures were measured on: they mean little without the CPU, Python and library versions."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from bench.harness import REPO_ROOT

LIBRARIES = ("requests", "urllib3", "fastavro", "python-dotenv")
_SPIN = "for _ in range(8_000_000): pass"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> str:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return "unknown"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _git_revision() -> str:
    """The commit measured, marked when the work tree differs from it (read-only git calls)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        changes = subprocess.run(
            ["git", "--no-optional-locks", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head} (with uncommitted changes)" if changes.strip() else head


def _spin_wall(processes: int) -> float:
    """Wall time for ``processes`` copies of a fixed busy loop run at once."""
    started = time.perf_counter()
    running = [subprocess.Popen([sys.executable, "-c", _SPIN]) for _ in range(processes)]
    for process in running:
        process.wait()
    return time.perf_counter() - started


def parallel_capacity() -> float:
    """How many CPUs' worth of work two busy processes got at once (2.0 on an idle 2-CPU machine).

    On a shared machine the CPU count overstates what worker processes get;
    this says how much the multi-process convert could gain at that moment.
    """
    workers = min(os.cpu_count() or 1, 2)
    one = _spin_wall(1)
    many = _spin_wall(workers)
    return workers * one / many


def describe_capacity() -> str:
    return f"{parallel_capacity():.2f} CPUs (two busy processes at once vs one)"


def load_average() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def describe() -> dict[str, str]:
    """Machine, interpreter, libraries and time of the run, as label -> value."""
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "CPUs": f"{os.cpu_count()} x {_cpu_model()}",
        "memory": _memory_gib(),
        "OS": platform.platform(),
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
        "libraries": ", ".join(f"{name} {_version(name)}" for name in LIBRARIES),
        "commit": _git_revision(),
        "load average at start (1, 5, 15 min)": load_average(),
        "parallel capacity at start": describe_capacity(),
    }
