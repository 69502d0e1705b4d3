"""``bench.callgrind_driver`` runs what the instruction counts of docs/benchmarks.md measure: one job
convert, one ceiling encode or one classic-loop run of a real raw partition, in its own process."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from bench.inputs import ensure_partition

REPO_ROOT = Path(__file__).resolve().parents[2]
RECORDS, PER_PAGE = 300, 100


@pytest.mark.parametrize("what", ["job", "ceiling", "baseline"])
def test_each_run_handles_every_record_of_the_partition(tmp_path: Path, what: str) -> None:
    raw = ensure_partition(tmp_path / "inputs", date(2024, 1, 1), RECORDS, PER_PAGE)

    done = subprocess.run(
        [sys.executable, "-m", "bench.callgrind_driver", what, str(raw), "--times", "2"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"what": what, "codec": "deflate", "records_per_run": [RECORDS, RECORDS]}
