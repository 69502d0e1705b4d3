"""Runs inside each measured process: calls one ``main(argv)`` and reports its own time and peak memory.

    python -m bench.probe REPORT.json [--root DIR] package.module:main [ARG ...]

``--root DIR`` runs the code of another checkout (``bench.revision``): DIR goes
first on ``sys.path`` before the target is imported, and the report names the
file the target came from, so the harness can check which code ran.

Measuring from inside the process gives its own peak RSS (and, through
``RUSAGE_CHILDREN``, that of the worker processes it waited for), which the
harness could only get mixed with every other child of its own. Start-up of the
interpreter is left out of ``run_s``; the harness measures the whole process too.
"""

from __future__ import annotations

import importlib
import json
import resource
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


def load(target: str) -> Callable[[list[str]], int | None]:
    """``package.module:function`` to the function."""
    module_name, _, function = target.partition(":")
    if not function:
        raise SystemExit(f"bench.probe: expected MODULE:FUNCTION, got {target!r}")
    return getattr(importlib.import_module(module_name), function)


def call(main: Callable[[list[str]], int | None], argv: list[str]) -> int:
    """Run ``main`` the way ``python -m`` would, turning ``SystemExit`` into an exit code."""
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return int(code or 0)


def peak_rss_kib() -> int:
    """This process's peak resident set in KiB.

    ``VmHWM`` rather than ``ru_maxrss``: Linux carries ``ru_maxrss`` over
    ``exec``, so a process started by a large parent would report the
    parent's peak as its own.
    """
    try:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def cpu_seconds() -> float:
    """User plus system CPU time of this process and the workers it waited for, start-up included."""
    own, workers = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime


def measure(target: str, argv: list[str], root: str | None = None) -> dict[str, Any]:
    if root is not None:
        sys.path.insert(0, root)
    started = time.perf_counter()
    main = load(target)
    imported, cpu_at_start = time.perf_counter(), cpu_seconds()
    exit_code = call(main, argv)
    finished, cpu_at_end = time.perf_counter(), cpu_seconds()
    return {
        "target": target,
        "target_file": getattr(sys.modules.get(main.__module__), "__file__", None),
        "exit_code": exit_code,
        "import_s": imported - started,
        "run_s": finished - imported,
        "cpu_s": cpu_at_end,
        # The CPU the job itself used, inside main(): the fair figure on a shared machine, where
        # run_s also counts the time spent waiting for a CPU that others hold.
        "job_cpu_s": cpu_at_end - cpu_at_start,
        "maxrss_kib": peak_rss_kib(),
        # Worker processes are forked, not exec'd, so their ru_maxrss is their own (KiB on Linux).
        "children_maxrss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    report_path, rest = Path(args[0]), args[1:]
    root = None
    if rest[0] == "--root" and len(rest) >= 3:
        root, rest = rest[1], rest[2:]
    target, rest = rest[0], rest[1:]
    report = measure(target, rest, root)
    report_path.write_text(json.dumps(report), encoding="utf-8")
    return report["exit_code"]


if __name__ == "__main__":
    sys.exit(main())
