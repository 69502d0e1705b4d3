"""``shared.cli``: per-date outcomes and exit codes."""

from __future__ import annotations

import logging
import os
import signal
from datetime import date

import pytest

from shared.cli import Outcome, Status, attempt, report, run_main, worst
from shared.errors import (
    EXIT_OK,
    EXIT_PERMANENT,
    EXIT_RETRY,
    EXIT_SIGINT,
    EXIT_SIGTERM,
    EXIT_USAGE,
    ConfigError,
    DataError,
    FatalApiError,
    PartitionError,
    RetriableApiError,
    RetriableStorageError,
)
from shared.signals import Terminated

DAY = date(2026, 11, 24)
log = logging.getLogger("test.cli")


def raises(exc: BaseException):
    """A callable taking any arguments that raises ``exc``."""

    def work(*_: object) -> Status:
        raise exc

    return work


def failed(error: str, code: int) -> Outcome:
    return Outcome(DAY, Status.FAILED, error, code)


@pytest.mark.parametrize(
    ("work", "expected"),
    [
        pytest.param(lambda d: Status.DONE, Outcome(DAY, Status.DONE), id="done"),
        pytest.param(lambda d: Status.SKIPPED, Outcome(DAY, Status.SKIPPED), id="skipped"),
        pytest.param(raises(RetriableApiError("page 2: gave up")), failed("page 2: gave up", 1), id="gave-up"),
        pytest.param(raises(RetriableStorageError("unreachable")), failed("unreachable", 1), id="store-unreachable"),
        pytest.param(raises(FatalApiError("token (401)")), failed("token (401)", 3), id="token-rejected"),
        pytest.param(raises(PartitionError("altered")), failed("altered", 3), id="partition-altered"),
        pytest.param(raises(DataError("too many invalid")), failed("too many invalid", 3), id="too-many-invalid"),
        pytest.param(
            raises(OSError(28, "No space left on device", "/data/raw/x.json")),
            failed("No space left on device: /data/raw/x.json", 1),
            id="disk-full-with-path",
        ),
        pytest.param(
            raises(PermissionError(13, "Permission denied")), failed("Permission denied", 1), id="permission-no-path"
        ),
        pytest.param(raises(KeyError("x")), failed("unexpected KeyError: 'x'", 1), id="unexpected"),
    ],
)
def test_attempt(work, expected: Outcome) -> None:
    assert attempt(DAY, work, log) == expected


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt(), Terminated()], ids=["sigint", "sigterm"])
def test_attempt_lets_interrupts_through(interrupt: BaseException) -> None:
    with pytest.raises(KeyboardInterrupt):
        attempt(DAY, raises(interrupt), log)


@pytest.mark.parametrize(
    ("outcome", "code"),
    [
        pytest.param(Outcome(DAY, Status.DONE), EXIT_OK, id="done"),
        pytest.param(Outcome(DAY, Status.SKIPPED), EXIT_OK, id="skipped"),
        pytest.param(Outcome(DAY, Status.NOT_ATTEMPTED), EXIT_RETRY, id="not-attempted"),
        pytest.param(failed("x", EXIT_PERMANENT), EXIT_PERMANENT, id="failed-permanently"),
        pytest.param(failed("x", EXIT_RETRY), EXIT_RETRY, id="failed-retry-may-fix"),
    ],
)
def test_each_outcome_carries_its_exit_code(outcome: Outcome, code: int) -> None:
    assert outcome.exit_code == code


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        pytest.param([], EXIT_OK, id="nothing"),
        pytest.param([0, 0], EXIT_OK, id="all-ok"),
        pytest.param([0, 1, 0], EXIT_RETRY, id="one-retriable"),
        pytest.param([1, 3, 1], EXIT_PERMANENT, id="permanent-beats-retriable"),
        pytest.param([3, 0, 1], EXIT_PERMANENT, id="permanent-first"),
        pytest.param([3, EXIT_SIGTERM, 1], EXIT_SIGTERM, id="interrupted-beats-permanent"),
        pytest.param([EXIT_SIGTERM, EXIT_SIGINT], EXIT_SIGINT, id="sigint-and-sigterm"),
        pytest.param([0, 99], EXIT_RETRY, id="unknown-code-counts-as-1"),
    ],
)
def test_in_a_range_the_most_serious_code_wins(codes: list[int], expected: int) -> None:
    assert worst(codes) == expected


@pytest.mark.parametrize(
    ("outcomes", "code", "stderr_lines"),
    [
        pytest.param([], EXIT_OK, [], id="no-dates"),
        pytest.param([Status.DONE, Status.SKIPPED], EXIT_OK, [], id="done-and-skipped"),
        pytest.param(
            [Status.DONE, ("boom 1", EXIT_RETRY), ("boom 2", EXIT_RETRY)],
            EXIT_RETRY,
            ["tool: 2026-11-25: boom 1", "tool: 2026-11-26: boom 2"],
            id="two-failed",
        ),
        pytest.param(
            [("boom 0", EXIT_RETRY), ("boom 1", EXIT_PERMANENT), Status.DONE],
            EXIT_PERMANENT,
            ["tool: 2026-11-24: boom 0", "tool: 2026-11-25: boom 1"],
            id="retriable-and-permanent",
        ),
        pytest.param([Status.DONE, Status.NOT_ATTEMPTED], EXIT_RETRY, [], id="not-attempted"),
    ],
)
def test_report(outcomes: list, code: int, stderr_lines: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    results = []
    for i, spec in enumerate(outcomes):
        day = date(2026, 11, 24 + i)
        results.append(Outcome(day, Status.FAILED, *spec) if isinstance(spec, tuple) else Outcome(day, spec))
    assert report("tool", results, log) == code
    assert capsys.readouterr().err.splitlines() == stderr_lines


@pytest.mark.parametrize(
    ("body", "code", "stderr"),
    [
        pytest.param(lambda: 0, EXIT_OK, "", id="ok"),
        pytest.param(lambda: 3, EXIT_PERMANENT, "", id="failed"),
        pytest.param(raises(ConfigError("bad flag")), EXIT_USAGE, "tool: error: bad flag\n", id="config-error"),
        pytest.param(raises(KeyboardInterrupt()), EXIT_SIGINT, "tool: interrupted\n", id="sigint"),
        pytest.param(raises(Terminated()), EXIT_SIGTERM, "tool: stopped (SIGTERM)\n", id="sigterm"),
    ],
)
def test_run_main(body, code: int, stderr: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_main("tool", body) == code
    assert capsys.readouterr().err == stderr


def test_run_main_turns_a_real_sigterm_into_143(capsys: pytest.CaptureFixture[str]) -> None:
    def terminate_self() -> int:
        os.kill(os.getpid(), signal.SIGTERM)
        return 0

    previous = signal.getsignal(signal.SIGTERM)
    try:
        assert run_main("tool", terminate_self) == EXIT_SIGTERM
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert capsys.readouterr().err == "tool: stopped (SIGTERM)\n"
