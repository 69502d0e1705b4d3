"""Both jobs as an operator runs them: simulator on 127.0.0.1 -> ``python -m extract_job`` -> ``python -m convert_job``.

Every job runs as a subprocess of ``sys.executable`` with its settings in the
environment, on real files under ``tmp_path``. What the simulator served (and
which records it made invalid) comes from ``sales_api_sim.data``, the pure
functions the server itself uses.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import avro.datafile
import avro.io
import pytest

from convert_job.validation import validate
from sales_api_sim import data
from sales_api_sim.config import SimulatorConfig
from sales_api_sim.server import running
from shared.manifest import file_entries, verify_partition
from shared.quarantine import FAILED, rejected_records, run_ids, run_status

from ..support.avro import avro_records as read_fastavro
from ..support.jobs import Result, run_job

DATES = ["2022-08-09", "2022-08-10", "2022-08-11"]
INVALID_RATE = 0.05


def run(tool: str, base: Path, *args: str, sim: Any = None) -> Result:
    """A job as a subprocess; cwd is the data root, so no .env file of the repository or the shell leaks in."""
    env = {"BASE_DIR": str(base)}
    if sim is not None:
        env |= {"SALES_API_URL": f"{sim.url}/sales", "AUTH_TOKEN": sim.config.token}
    return run_job(tool, args, env, cwd=base, timeout=120)


def raw_pages(base: Path, day: str) -> list[tuple[str, list[Any]]]:
    """(file name, records) of a raw partition, in manifest order, read back from disk."""
    partition = base / "raw" / "sales" / day
    manifest = verify_partition(partition)
    return [(e.name, json.loads((partition / e.name).read_bytes())) for e in file_entries(manifest)]


def in_avro(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "client": record["client"],
        "purchase_date": date.fromisoformat(record["purchase_date"]),
        "product": record["product"],
        "price": record["price"],
    }


def avro_path(base: Path, day: str) -> Path:
    return base / "stg" / "sales" / day / f"sales_{day}.avro"


def read_apache_avro(path: Path) -> list[dict[str, Any]]:
    with path.open("rb") as handle, avro.datafile.DataFileReader(handle, avro.io.DatumReader()) as reader:
        records: list[Any] = list(reader)  # the avro package's reader yields untyped datums
    return records


def expected_rejects(config: SimulatorConfig, day: str) -> list[tuple[str, int, Any]]:
    """(source_file, index, record) of every record the simulator made invalid, in the order served."""
    return [
        (f"sales_{day}_{page}.json", index, record)
        for page in range(1, data.pages_for_date(config, day) + 1)
        for index, (record, valid) in enumerate(data.generate_page(config, day, page))
        if not valid
    ]


def read_quarantine(base: Path, day: str) -> list[dict[str, Any]]:
    """The rejects paired with the date's staging partition, found from its manifest."""
    return rejected_records(base / "quarantine" / "sales" / day, verify_partition(base / "stg" / "sales" / day))


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, SimulatorConfig]]:
    """Raw partitions of DATES extracted once, with INVALID_RATE of the records made invalid.

    Module-scoped (so it starts its own simulator rather than the per-test
    ``simulator`` fixture): tests copy the raw zone and never write here.
    """
    base = tmp_path_factory.mktemp("extracted")
    config = SimulatorConfig(invalid_rate=INVALID_RATE)
    with running(config, host="127.0.0.1", port=0) as sim:
        result = run("extract_job", base, "--start", DATES[0], "--end", DATES[-1], sim=sim)
    assert result.code == 0, result.stderr
    yield base, config


@pytest.fixture
def base(tmp_path: Path, extracted: tuple[Path, SimulatorConfig]) -> Path:
    """A data root holding a private copy of the extracted raw zone."""
    shutil.copytree(extracted[0] / "raw", tmp_path / "raw")
    return tmp_path


def test_extract_then_convert_gives_the_raw_records_in_avro(simulator: Any, tmp_path: Path) -> None:
    sim = simulator()

    extract = run("extract_job", tmp_path, "--start", DATES[0], "--end", DATES[-1], sim=sim)
    convert = run("convert_job", tmp_path, "--start", DATES[0], "--end", DATES[-1])

    assert extract.code == 0, extract.stderr
    assert convert.code == 0, convert.stderr
    assert sorted(p.name for p in (tmp_path / "stg" / "sales").iterdir()) == DATES
    for day in DATES:
        pages = raw_pages(tmp_path, day)
        assert [records for _, records in pages] == [
            data.page_records(sim.config, day, n) for n in range(1, len(pages) + 1)
        ], "the raw zone holds what the API served"
        expected = [in_avro(record) for _, records in pages for record in records]
        manifest = verify_partition(tmp_path / "stg" / "sales" / day)
        assert read_fastavro(avro_path(tmp_path, day)) == expected
        assert read_apache_avro(avro_path(tmp_path, day)) == expected
        assert manifest["records_written"] == manifest["records_read"] == len(expected) > 0
        assert manifest["records_rejected"] == 0
        assert manifest["codec"] == "deflate"
        assert read_quarantine(tmp_path, day) == []


def test_invalid_records_are_quarantined_exactly(base: Path, extracted: tuple[Path, SimulatorConfig]) -> None:
    config = extracted[1]

    result = run("convert_job", base, "--start", DATES[0], "--end", DATES[-1], "--max-invalid-ratio", "0.2")

    assert result.code == 0, result.stderr
    for day in DATES:
        rejects = expected_rejects(config, day)
        lines = read_quarantine(base, day)
        assert rejects, f"the simulator made no record of {day} invalid; pick another seed or rate"
        assert [(line["source_file"], line["index"], line["record"]) for line in lines] == rejects
        assert all(line["reason"] for line in lines)
        expected = [in_avro(r) for _, records in raw_pages(base, day) for r in records if isinstance(validate(r), dict)]
        assert expected == [in_avro(r) for r, valid in data.date_records(config, day) if valid]
        assert read_fastavro(avro_path(base, day)) == expected
        assert read_apache_avro(avro_path(base, day)) == expected
        manifest = verify_partition(base / "stg" / "sales" / day)
        assert manifest["records_rejected"] == len(rejects)
        assert manifest["records_written"] == len(expected)


def test_too_many_invalid_records_fail_every_date_and_write_no_staging(base: Path) -> None:
    result = run("convert_job", base, "--start", DATES[0], "--end", DATES[-1])  # default ratio 0.01

    assert result.code == 3
    lines = result.error_lines("convert_job")
    assert [line.split(": ")[1] for line in lines] == DATES
    assert all("--max-invalid-ratio" in line for line in lines)
    assert not (base / "stg" / "sales").exists() or not any((base / "stg" / "sales").iterdir())
    for day in DATES:
        [run_id] = run_ids(base / "quarantine" / "sales" / day)
        assert run_status(base / "quarantine" / "sales" / day, run_id) == FAILED
        assert f"run={run_id}" in next(line for line in lines if f": {day}: " in line)


def test_a_second_run_skips_up_to_date_dates(base: Path) -> None:
    first = run("convert_job", base, "--start", DATES[0], "--end", DATES[-1], "--max-invalid-ratio", "0.2")
    before = {day: avro_path(base, day).stat().st_mtime_ns for day in DATES}

    second = run("convert_job", base, "--start", DATES[0], "--end", DATES[-1], "--max-invalid-ratio", "0.2")

    assert (first.code, second.code) == (0, 0)
    assert "3 skipped" in second.stderr
    assert {day: avro_path(base, day).stat().st_mtime_ns for day in DATES} == before


def test_a_missing_raw_partition_fails_that_date_only(base: Path) -> None:
    shutil.rmtree(base / "raw" / "sales" / DATES[1])

    result = run("convert_job", base, "--start", DATES[0], "--end", DATES[-1], "--max-invalid-ratio", "0.2")

    assert result.code == 3
    [line] = result.error_lines("convert_job")
    assert line.startswith(f"convert_job: {DATES[1]}: ")
    assert str(base / "raw" / "sales" / DATES[1]) in line
    assert sorted(p.name for p in (base / "stg" / "sales").iterdir()) == [DATES[0], DATES[2]]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--date", "2022-02-30"], "invalid date '2022-02-30'", id="impossible-date"),
        pytest.param(["--date", "2022-8-9"], "expected YYYY-MM-DD", id="loose-date"),
        pytest.param(["--start", DATES[2], "--end", DATES[0]], "before it starts", id="reversed-range"),
        pytest.param(["--date", DATES[0], "--codec", "nope"], "codec 'nope' is not available", id="unknown-codec"),
        pytest.param(["--date", DATES[0], "--max-invalid-ratio", "1.5"], "between 0 and 1", id="ratio-above-1"),
        pytest.param(["--date", DATES[0], "--workers", "0"], "--workers must be at least 1", id="zero-workers"),
        pytest.param(["--start", DATES[0]], "--start and --end go together", id="start-without-end"),
    ],
)
def test_usage_errors_exit_2_and_write_nothing(base: Path, args: list[str], message: str) -> None:
    result = run("convert_job", base, *args)

    assert result.code == 2
    assert message in result.stderr
    assert sorted(p.name for p in base.iterdir()) == ["raw"]


def test_two_workers_convert_a_range(base: Path, extracted: tuple[Path, SimulatorConfig]) -> None:
    config = extracted[1]

    result = run(
        "convert_job", base, "--start", DATES[0], "--end", DATES[-1], "--workers", "2", "--max-invalid-ratio", "0.2"
    )

    assert result.code == 0, result.stderr
    assert "with 2 worker(s)" in result.stderr
    for day in DATES:
        expected = [in_avro(r) for r, valid in data.date_records(config, day) if valid]
        assert read_fastavro(avro_path(base, day)) == expected
        assert verify_partition(base / "stg" / "sales" / day)["records_rejected"] == len(expected_rejects(config, day))


def test_raw_dir_and_stg_dir_convert_one_partition_by_path(base: Path, tmp_path: Path) -> None:
    raw = base / "raw" / "sales" / DATES[1]
    stg = tmp_path / "elsewhere" / "out"
    rejects = tmp_path / "elsewhere" / "rejects"

    result = run(
        "convert_job",
        base,
        "--raw-dir",
        str(raw),
        "--stg-dir",
        str(stg),
        "--quarantine-dir",
        str(rejects),
        "--max-invalid-ratio",
        "0.2",
        "--codec",
        "null",
    )

    assert result.code == 0, result.stderr
    manifest = verify_partition(stg)
    assert manifest["date"] == DATES[1]
    assert manifest["codec"] == "null"
    assert [p.name for p in stg.iterdir() if p.suffix == ".avro"] == [f"sales_{DATES[1]}.avro"]
    assert rejected_records(rejects, manifest) != []
    assert not (base / "stg").exists()
    assert not (base / "quarantine").exists()


def test_help_documents_the_environment_and_the_ratio(tmp_path: Path) -> None:
    result = run("convert_job", tmp_path, "--help")

    assert result.code == 0
    assert "BASE_DIR" in result.stdout
    assert "--max-invalid-ratio" in result.stdout
    assert "exit codes" in result.stdout
