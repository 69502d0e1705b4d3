"""Wrong paths never delete data: every output folder is checked before any work.

Each case builds a real folder layout, runs the job as a process and compares
every file under the test's folder byte for byte before and after. A refusal is
exit 2 with one line naming what is in the way; a state left by an older or
killed run (a file where a folder belongs, a temporary holding foreign files)
is repaired or named, never stuck.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from sales_api_sim.server import RunningSimulator
from shared.manifest import verify_partition
from shared.quarantine import rejected_records

from .support import (
    CONVERT,
    DAY,
    EXTRACT,
    Result,
    assert_clean_failure,
    assert_success,
    data_snapshot,
    extract_env,
    hidden_entries,
    page_name,
    run_job,
    snapshot,
    write_raw_partition,
)

OTHER_DAY = "2022-08-08"
THESIS = b"four years of work"
SALE = b'{"client": "Bo", "purchase_date": "2022-08-09", "product": "TV", "price": 3}'


def assert_refused(result: Result, tool: str, *needles: str) -> None:
    assert result.code == 2, f"expected exit 2, got {result.code}\n{result.stderr}"
    assert "Traceback" not in result.stderr
    lines = result.error_lines(tool)
    assert len(lines) == 1 and lines[0].startswith(f"{tool}: error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def assert_extract_refuses_raw_dir(
    sales_api: Callable[..., RunningSimulator],
    tmp_path: Path,
    layout: Callable[[Path], None],
    raw_dir: str,
    *needles: str,
) -> None:
    """``extract --raw-dir raw_dir`` over ``layout``: exit 2, one line with ``needles``, no request, nothing changed."""
    sim = sales_api(pages=2, records_per_page=3)
    layout(tmp_path)
    before = snapshot(tmp_path)

    result = run_job(EXTRACT, ["--date", DAY, "--raw-dir", raw_dir], extract_env(sim, tmp_path / "data"), tmp_path)

    assert_refused(result, EXTRACT, *needles)
    assert snapshot(tmp_path) == before
    assert sim.stats.requests_total == 0, "refused before any request"


def foreign_folder(path: Path) -> None:
    """A folder of somebody's own files."""
    (path / "sub").mkdir(parents=True)
    (path / "thesis.txt").write_bytes(THESIS)
    (path / "sub" / "notes.md").write_bytes(b"# notes")


def raw_partition(path: Path, day: str = DAY) -> None:
    write_raw_partition(path, {page_name(1, day): b'[{"client": "Ann"}]'}, day=day)


@pytest.mark.parametrize(
    ("layout", "raw_dir", "needles"),
    [
        pytest.param(
            lambda root: raw_partition(root / "data" / "raw" / "sales" / OTHER_DAY, OTHER_DAY),
            "data/raw/sales",
            [f"{OTHER_DAY}/", "did not write"],
            id="the-dataset-folder-instead-of-the-date",
        ),
        pytest.param(lambda root: foreign_folder(root / "home"), "home", ["sub/, thesis.txt"], id="a-folder-of-files"),
        pytest.param(
            lambda root: (root / "home").mkdir() or (root / "home" / "x.json").write_bytes(b"[]"),
            "home",
            ["x.json"],
            id="a-json-file-that-is-not-a-page",
        ),
        pytest.param(
            lambda root: (root / "file").write_bytes(THESIS),
            "file",
            ["is a file, not a folder; remove it"],
            id="a-file",
        ),
    ],
)
def test_extract_refuses_a_raw_dir_it_did_not_write(
    sales_api: Callable[..., RunningSimulator],
    tmp_path: Path,
    layout: Callable[[Path], None],
    raw_dir: str,
    needles: list[str],
) -> None:
    assert_extract_refuses_raw_dir(sales_api, tmp_path, layout, raw_dir, "--raw-dir", *needles)


@pytest.mark.parametrize(
    "prepare",
    [
        pytest.param(lambda path: None, id="missing"),
        pytest.param(lambda path: path.mkdir(), id="empty"),
        pytest.param(raw_partition, id="a-previous-partition"),
    ],
)
def test_extract_takes_a_missing_empty_or_own_raw_dir(
    sales_api: Callable[..., RunningSimulator], tmp_path: Path, prepare: Callable[[Path], None]
) -> None:
    sim = sales_api(pages=2, records_per_page=3)
    prepare(tmp_path / "out")

    result = run_job(EXTRACT, ["--date", DAY, "--raw-dir", "out"], extract_env(sim, tmp_path / "data"), tmp_path)

    assert_success(result)
    assert verify_partition(tmp_path / "out")["pages"] == 2


@pytest.mark.parametrize(
    ("layout", "raw_dir", "needles"),
    [
        pytest.param(
            lambda root: None,
            f"data/raw/sales/{OTHER_DAY}",
            [f"--date {DAY} disagrees with --raw-dir", f"whose name is the date {OTHER_DAY}"],
            id="a-new-folder-named-by-another-date",
        ),
        pytest.param(
            lambda root: raw_partition(root / "data" / "raw" / "sales" / OTHER_DAY, OTHER_DAY),
            f"data/raw/sales/{OTHER_DAY}",
            [f"whose name is the date {OTHER_DAY}"],
            id="another-dates-own-partition",
        ),
        pytest.param(
            lambda root: raw_partition(root / "out", OTHER_DAY),
            "out",
            [f"--date {DAY} disagrees with", f"out, whose manifest says {OTHER_DAY}"],
            id="a-folder-holding-another-dates-partition",
        ),
    ],
)
def test_extract_refuses_a_raw_dir_of_another_date(
    sales_api: Callable[..., RunningSimulator],
    tmp_path: Path,
    layout: Callable[[Path], None],
    raw_dir: str,
    needles: list[str],
) -> None:
    """The reported bug: ``--date 2022-08-01 --raw-dir data/raw/sales/2022-09-01`` replaced 09-01 with 08-01's sales."""
    assert_extract_refuses_raw_dir(sales_api, tmp_path, layout, raw_dir, *needles)


def test_convert_refuses_a_raw_partition_of_another_date_at_the_dates_place(base: Path, tmp_path: Path) -> None:
    """A partition misplaced (or its manifest altered) must not become the staging partition of the wrong date."""
    raw_partition(base / "raw" / "sales" / DAY, OTHER_DAY)

    result = run_job(CONVERT, ["--date", DAY], {"BASE_DIR": str(base)}, tmp_path)

    assert_clean_failure(result, CONVERT, f"{DAY}: the date {DAY} disagrees with", f"says {OTHER_DAY}", code=3)
    assert sorted(p.name for p in base.iterdir()) == ["raw"]


def test_missing_only_extracts_again_a_partition_of_another_date(
    sales_api: Callable[..., RunningSimulator], base: Path, tmp_path: Path
) -> None:
    sim = sales_api(pages=2, records_per_page=3)
    raw_partition(base / "raw" / "sales" / DAY, OTHER_DAY)

    result = run_job(EXTRACT, ["--date", DAY, "--missing-only"], extract_env(sim, base), tmp_path)

    assert_success(result)
    assert "1 done, 0 skipped" in result.stderr
    assert verify_partition(base / "raw" / "sales" / DAY)["date"] == DAY


def test_a_fresh_base_dir_is_fine(sales_api: Callable[..., RunningSimulator], tmp_path: Path) -> None:
    sim = sales_api(pages=1, records_per_page=3)
    assert_success(run_job(EXTRACT, ["--date", DAY], extract_env(sim, tmp_path / "new" / "data"), tmp_path))
    verify_partition(tmp_path / "new" / "data" / "raw" / "sales" / DAY)


def test_a_foreign_file_in_a_base_dir_partition_is_refused(
    sales_api: Callable[..., RunningSimulator], base: Path, tmp_path: Path
) -> None:
    sim = sales_api(pages=1, records_per_page=3)
    partition = base / "raw" / "sales" / DAY
    raw_partition(partition)
    (partition / "README.txt").write_bytes(b"what this folder is")
    before = data_snapshot(base)

    result = run_job(EXTRACT, ["--date", DAY], extract_env(sim, base), tmp_path)

    assert_refused(result, EXTRACT, "BASE_DIR", "README.txt")
    assert data_snapshot(base) == before


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    """A complete raw partition to convert, at ``tmp_path/raw``."""
    path = tmp_path / "raw"
    raw_partition(path)
    return path


@pytest.mark.parametrize(
    ("args", "layout", "needles"),
    [
        pytest.param(
            ["--stg-dir", "raw", "--quarantine-dir", "q"],
            None,
            ["--raw-dir and --stg-dir must be separate folders"],
            id="raw-is-staging",
        ),
        pytest.param(
            ["--stg-dir", "raw/stg", "--quarantine-dir", "q"],
            None,
            ["neither inside the other"],
            id="staging-inside-raw",
        ),
        pytest.param(
            ["--stg-dir", "stg", "--quarantine-dir", "stg"], None, ["--stg-dir and --quarantine-dir"], id="same-output"
        ),
        pytest.param(
            ["--stg-dir", "home", "--quarantine-dir", "q"],
            foreign_folder,
            ["--stg-dir", "thesis.txt"],
            id="staging-foreign",
        ),
        pytest.param(
            ["--stg-dir", "stg", "--quarantine-dir", "home"],
            foreign_folder,
            ["--quarantine-dir", "thesis.txt"],
            id="quarantine-foreign",
        ),
        pytest.param(
            ["--stg-dir", "home", "--quarantine-dir", "q"],
            lambda path: path.write_bytes(THESIS),
            ["--stg-dir", "is a file, not a folder; remove it"],
            id="staging-is-a-file",
        ),
    ],
)
def test_convert_refuses_outputs_it_did_not_write(
    raw: Path, tmp_path: Path, args: list[str], layout: Callable[[Path], None] | None, needles: list[str]
) -> None:
    if layout:
        layout(tmp_path / "home")
    before = snapshot(tmp_path)

    result = run_job(CONVERT, ["--raw-dir", "raw", *args], {"BASE_DIR": str(tmp_path / "data")}, tmp_path)

    assert_refused(result, CONVERT, *needles)
    assert snapshot(tmp_path) == before


def test_convert_refuses_a_date_its_raw_dir_disagrees_with(raw: Path, tmp_path: Path) -> None:
    args = ["--date", OTHER_DAY, "--raw-dir", "raw", "--stg-dir", "stg", "--quarantine-dir", "q"]
    before = snapshot(tmp_path)

    result = run_job(CONVERT, args, {"BASE_DIR": str(tmp_path / "data")}, tmp_path)

    assert_refused(result, CONVERT, f"--date {OTHER_DAY} disagrees with", f"raw, whose manifest says {DAY}")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(
    ("args", "missing"),
    [
        pytest.param(["--raw-dir", "raw", "--stg-dir", "stg"], "missing --quarantine-dir", id="no-quarantine-dir"),
        pytest.param(["--raw-dir", "raw", "--quarantine-dir", "q"], "missing --stg-dir", id="no-stg-dir"),
        pytest.param(["--stg-dir", "stg", "--quarantine-dir", "q"], "missing --raw-dir", id="no-raw-dir"),
        pytest.param(["--quarantine-dir", "q"], "missing --raw-dir and --stg-dir", id="only-quarantine-dir"),
    ],
)
def test_a_partition_by_path_takes_all_three_folders(raw: Path, tmp_path: Path, args: list[str], missing: str) -> None:
    """An output left to BASE_DIR would pair a side conversion with the real zone's staging or quarantine."""
    before = snapshot(tmp_path)

    result = run_job(CONVERT, ["--date", DAY, *args], {"BASE_DIR": str(tmp_path / "data")}, tmp_path)

    assert_refused(result, CONVERT, "--raw-dir, --stg-dir and --quarantine-dir go together", missing)
    assert snapshot(tmp_path) == before


def test_converting_a_partition_aside_leaves_the_real_zones_alone(base: Path, tmp_path: Path) -> None:
    """The reported bug: a side conversion settled BASE_DIR's quarantine, deleting the rejects real staging names."""
    raw = base / "raw" / "sales" / DAY
    write_raw_partition(raw, {page_name(1): b'[{"client": "Ann"}, ' + SALE + b"]"})
    env = {"BASE_DIR": str(base), "CONVERT_MAX_INVALID_RATIO": "0.9"}
    assert_success(run_job(CONVERT, ["--date", DAY], env, tmp_path))
    real = {zone: snapshot(base / zone) for zone in ("stg", "quarantine")}

    aside = ["--raw-dir", str(raw), "--stg-dir", "side/stg"]
    assert_refused(run_job(CONVERT, aside, env, tmp_path), CONVERT, "missing --quarantine-dir")
    assert_success(run_job(CONVERT, [*aside, "--quarantine-dir", "side/quarantine"], env, tmp_path))
    again = run_job(CONVERT, ["--date", DAY], env, tmp_path)

    assert_success(again)
    assert "up to date" in again.stderr
    assert {zone: snapshot(base / zone) for zone in ("stg", "quarantine")} == real
    assert rejected_records(base / "quarantine" / "sales" / DAY, verify_partition(base / "stg" / "sales" / DAY))
    assert rejected_records(tmp_path / "side" / "quarantine", verify_partition(tmp_path / "side" / "stg"))


def test_convert_without_rejects_keeps_a_quarantine_dir_of_other_files(raw: Path, tmp_path: Path) -> None:
    """The reported bug: no rejects removed the whole --quarantine-dir."""
    foreign_folder(tmp_path / "q")
    result = run_job(
        CONVERT, ["--raw-dir", "raw", "--stg-dir", "stg", "--quarantine-dir", "q"], {"BASE_DIR": "data"}, tmp_path
    )
    assert result.code == 2
    assert snapshot(tmp_path / "q") == {"sub/notes.md": b"# notes", "thesis.txt": THESIS}


@pytest.mark.parametrize("tool", [EXTRACT, CONVERT])
def test_a_file_left_as_a_temporary_by_an_older_run_is_repaired(
    sales_api: Callable[..., RunningSimulator], base: Path, tmp_path: Path, tool: str
) -> None:
    """Older versions swapped a file found at the partition path into a hidden temporary; every later run failed."""
    sim = sales_api(pages=1, records_per_page=3)
    assert_success(run_job(EXTRACT, ["--date", DAY], extract_env(sim, base), tmp_path))
    zone = "raw" if tool == EXTRACT else "stg"
    stuck = base / zone / "sales" / f".{DAY}.tmp-0123456789abcdef0123456789abcdef"
    stuck.parent.mkdir(parents=True, exist_ok=True)
    stuck.write_bytes(b"was a file at the partition path")

    result = run_job(
        tool, ["--date", DAY, "--force"] if tool == CONVERT else ["--date", DAY], extract_env(sim, base), tmp_path
    )

    assert_success(result)
    assert hidden_entries(base / zone / "sales") == []
    verify_partition(base / zone / "sales" / DAY)


def test_a_foreign_temporary_is_kept_and_named_but_does_not_block(
    sales_api: Callable[..., RunningSimulator], base: Path, tmp_path: Path
) -> None:
    sim = sales_api(pages=1, records_per_page=3)
    leftover = base / "raw" / "sales" / f".{DAY}.tmp-0123456789abcdef0123456789abcdef"
    foreign_folder(leftover)

    result = run_job(EXTRACT, ["--date", DAY], extract_env(sim, base), tmp_path)

    assert_success(result)
    verify_partition(base / "raw" / "sales" / DAY)
    assert snapshot(leftover) == {"sub/notes.md": b"# notes", "thesis.txt": THESIS}
    assert f"left {leftover} in place: it holds files the pipeline did not write (sub, thesis.txt)" in result.stderr
