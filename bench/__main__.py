"""``python -m bench``: measure extract and convert side by side and print a markdown report.

Run from the repository root, e.g. ``.venv/bin/python -m bench`` after
``scripts/test`` has made the virtualenv. Progress goes to stderr, the report to
stdout. Targets are reported, never enforced: the exit code is 0 whenever every
contender ran and produced the right output, 1 when one failed, 2 for bad usage.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from bench import machine
from bench.convert_bench import run_convert
from bench.extract_bench import run_extract
from bench.harness import BenchError, note
from bench.inputs import default_cache_dir
from bench.profiles import PROFILES, Profile
from bench.report import Results, render
from bench.revision import WORKING_TREE, checked_out
from bench.targets import judge


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark the extract and convert jobs against classic homework baselines, on this machine.",
        epilog="full: 5 runs of each one-date extract and 3 of the rest, 60 pages x 50 ms, a 10-date backfill, "
        "convert 10 dates x 100k in pages of 1000 and one date at 10k/100k/1M records in pages of 100 and 1000 "
        "(about 10 minutes on 2 CPUs, twice the convert part with --against). "
        "quick: 1 run (2 for a day), a 3-date backfill, 4 dates x 100k, no 1M (about 1 minute). "
        "smoke: tiny sizes, seconds, for tests. --against REV adds REV's jobs to the convert tables "
        "(the extract half measures the working tree only). See docs/benchmarks.md.",
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", dest="profile", action="store_const", const="quick", help="a shorter look")
    size.add_argument(
        "--smoke",
        dest="profile",
        action="store_const",
        const="smoke",
        help="tiny sizes, one run: checks the benchmark works, figures mean nothing",
    )
    parser.set_defaults(profile="full")
    parser.add_argument("--reps", type=int, metavar="N", help="runs of each contender (default: the profile's)")
    parser.add_argument("--only", choices=("extract", "convert"), help="run one half only")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=default_cache_dir(),
        metavar="PATH",
        help="where generated convert inputs are kept between runs (default %(default)s)",
    )
    parser.add_argument(
        "--against",
        metavar="REV",
        help="also run the jobs of git revision REV (any commit-ish, e.g. main or HEAD~1), checked out in a "
        "temporary worktree, interleaved with the working tree's, and report both side by side",
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write every figure as JSON here")
    parser.add_argument("--markdown", type=Path, metavar="PATH", help="also write the report here")
    return parser


def run(profile: Profile, only: str | None, cache: Path, command: str, against: str | None = None) -> Results:
    """Measure everything ``profile`` asks for; scratch files are removed, cached inputs kept."""
    started = time.perf_counter()
    results = Results(command=command, profile=profile, machine=machine.describe())
    scratch = Path(tempfile.mkdtemp(prefix="sales-bench-"))
    try:
        with contextlib.ExitStack() as stack:
            trees = [WORKING_TREE]
            if against is not None:
                trees.append(stack.enter_context(checked_out(against, scratch)))
                results.machine["compared with"] = f"revision {trees[1].suffix[1:]} ({against})"
            if only in (None, "extract"):
                results.extract = run_extract(profile, scratch)
            if only in (None, "convert"):
                cache.mkdir(parents=True, exist_ok=True)
                results.convert_set, results.sweep, results.ceiling = run_convert(profile, cache, scratch, trees)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    results.machine["load average at end (1, 5, 15 min)"] = machine.load_average()
    results.machine["parallel capacity at end"] = machine.describe_capacity()
    results.verdicts = judge(results.extract, results.convert_set, results.sweep, results.ceiling)
    results.elapsed_s = time.perf_counter() - started
    return results


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    profile = PROFILES[args.profile]
    if args.reps is not None:
        if args.reps < 1:
            print("python -m bench: error: --reps must be at least 1", file=sys.stderr)
            return 2
        profile = replace(profile, reps=args.reps, extract=replace(profile.extract, one_date_reps=args.reps))
    command = shlex.join(["python", "-m", "bench", *(sys.argv[1:] if argv is None else argv)])
    try:
        results = run(profile, args.only, args.cache_dir, command, args.against)
    except BenchError as exc:
        print(f"python -m bench: error: {exc}", file=sys.stderr)
        return 1
    report = render(results)
    print(report)
    if args.markdown:
        args.markdown.write_text(report, encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps(results.as_json(), indent=2), encoding="utf-8")
    note(f"done in {results.elapsed_s:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
