"""The benchmark keeps working: a smoke-size ``python -m bench --smoke --against HEAD`` yields every table
and contender, the checked-out revision's job beside the working tree's.

Figures at smoke sizes mean nothing and the machine is shared, so nothing here
asserts a timing or a target: only that each contender ran, was checked, and
produced positive numbers.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
EXTRACT_CONTENDERS = ["baseline", "extract_job c=1", "extract_job c=4", "extract_job c=8", "extract_job c=16"]
ZERO_ALLOWED = ("run_spread", "worker_rss_mib")


def head() -> str:
    """The short commit id of HEAD, or a skip when this checkout has no git history to compare with."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: --against needs one")
    return done.stdout.strip()


def convert_contenders(commit: str) -> list[str]:
    """The working tree's job, HEAD's job, the baseline, and polars when the bench extra is installed."""
    references = ["baseline"] + (["polars"] if importlib.util.find_spec("polars") else [])
    return [
        *(f"convert_job{tree} {codec}" for tree in ("", f"@{commit}") for codec in ("deflate", "null")),
        *(f"{kind} {codec}" for kind in references for codec in ("deflate", "null")),
    ]


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    """(markdown report, JSON figures) of one smoke run, shared by the tests below."""
    commit = head()
    out = tmp_path_factory.mktemp("bench")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--smoke",
            "--against",
            commit,
            "--json",
            str(out / "results.json"),
            "--cache-dir",
            str(out / "cache"),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    figures = json.loads((out / "results.json").read_text(encoding="utf-8"))
    figures["commit"] = commit
    return result.stdout, figures


def test_report_has_machine_every_table_and_targets(smoke: tuple[str, dict[str, Any]]) -> None:
    report, _ = smoke
    for heading in (
        "### Extract",
        "### Convert: several dates",
        "### Convert: one date",
        "### fastavro encode-only ceiling",
        "### Targets",
    ):
        assert heading in report
    for detail in ("| CPUs |", "| Python |", "| libraries |", "| date |"):
        assert detail in report


def test_every_extract_contender_has_a_row_in_each_scenario(smoke: tuple[str, dict[str, Any]]) -> None:
    report, figures = smoke
    scenarios = {row["scenario"] for row in figures["extract"]}
    assert len(scenarios) == 2
    for scenario in scenarios:
        contenders = [row["contender"] for row in figures["extract"] if row["scenario"] == scenario]
        assert contenders == EXTRACT_CONTENDERS
        for contender in EXTRACT_CONTENDERS:
            assert f"| {scenario} | {contender} |" in report


def test_every_convert_contender_has_a_row(smoke: tuple[str, dict[str, Any]]) -> None:
    report, figures = smoke
    contenders = convert_contenders(figures["commit"])
    assert [row["contender"] for row in figures["convert_set"]] == contenders
    plan = figures["profile"]["convert"]
    inputs = {(row["records"], row["records_per_page"]) for row in figures["sweep"]}
    assert inputs == {(n, p) for n in plan["sweep_records"] for p in plan["sweep_page_sizes"]}
    assert {row["contender"] for row in figures["sweep"]} == {
        name for name in contenders if name.endswith(" deflate") and not name.startswith("baseline")
    } | {"baseline null"}
    assert [row["codec"] for row in figures["ceiling"]] == ["deflate", "null"]
    for contender in contenders:
        assert f"| {contender} |" in report


def test_the_other_revision_is_compared_and_its_worktree_removed(smoke: tuple[str, dict[str, Any]]) -> None:
    report, figures = smoke
    assert f"revision {figures['commit']}" in report
    assert any(row["revision"] == f"@{figures['commit']}" for row in figures["convert_set"])
    worktrees = subprocess.run(
        ["git", "worktree", "list", "--porcelain"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert f"revision-{figures['commit']}" not in worktrees


@pytest.mark.parametrize("table", ["extract", "convert_set", "sweep", "ceiling"])
def test_figures_are_positive_numbers(smoke: tuple[str, dict[str, Any]], table: str) -> None:
    _, figures = smoke
    rows = figures[table]
    assert rows
    for row in rows:
        # A spread is 0 for a single run; a worker's memory is 0 when there is no worker (checked below).
        numbers = {k: v for k, v in row.items() if isinstance(v, (int, float)) and k not in ZERO_ALLOWED}
        assert numbers
        assert all(value > 0 for value in numbers.values()), row
        assert all(row[k] >= 0 for k in ZERO_ALLOWED if k in row), row


def test_multi_process_convert_reports_its_workers_memory(smoke: tuple[str, dict[str, Any]]) -> None:
    _, figures = smoke
    for row in figures["convert_set"] + figures["sweep"]:
        assert (row["worker_rss_mib"] > 0) == (row["workers"] > 1), row


def test_every_target_is_judged(smoke: tuple[str, dict[str, Any]]) -> None:
    _, figures = smoke
    targets = " / ".join(v["target"] for v in figures["verdicts"])
    for fragment in (
        "latency floor",
        "faster than the baseline",
        "peak RSS independent",
        "the baseline's records/s",
        "encode-only rate per CPU second",
        "convert peak RSS",
    ):
        assert fragment in targets
