"""The pipeline's exceptions, named by what the caller should do about them.

Every class carries the exit code of the contract (docs: README, exit codes):
1 a later retry may fix it, 2 usage or configuration (found before any work),
3 no retry fixes it until someone changes something.

    PipelineError                 root: every failure the jobs expect and report (1)
    ├── ConfigError               bad flags or environment; nothing written (2)
    ├── RetriableError            a later retry may succeed (1)
    │   ├── RetriableApiError     timeouts, 429, 5xx after the last attempt, bad bodies
    │   │   └── ThrottledApiError the API asks the client to slow down (429)
    │   └── RetriableStorageError object store unreachable, throttled, 5xx
    ├── PermanentError            nothing succeeds until someone changes something (3)
    │   ├── FatalApiError         401, 403, 400, a wrong URL, an inconsistent API
    │   │   └── TokenRejectedError 401, 403: the same for every date, so a range stops at once
    │   ├── FatalStorageError     access denied, bucket missing, wrong credentials
    │   ├── PartitionError        a partition is missing, partial or altered
    │   └── DataError             the data itself is unacceptable (too many invalid records)
    └── ApiError                  the sales API could not be read (base of both API errors)

Only each job's ``main()`` turns these into exit codes and one-line messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

LISTED_ITEMS = 5
"""How many items an error message names before it only counts the rest."""

EXIT_OK = 0
EXIT_RETRY = 1
EXIT_USAGE = 2
EXIT_PERMANENT = 3
EXIT_SIGINT = 130
EXIT_SIGTERM = 143


class PipelineError(Exception):
    """Root of every expected failure; its message is meant for the operator."""

    exit_code: ClassVar[int] = EXIT_RETRY


class ConfigError(PipelineError):
    """The command line or the environment is wrong; the run must not start."""

    exit_code: ClassVar[int] = EXIT_USAGE


class RetriableError(PipelineError):
    """A transient failure: a later attempt or run may succeed."""

    exit_code: ClassVar[int] = EXIT_RETRY


class PermanentError(PipelineError):
    """Retrying cannot help until someone changes something (a token, a partition, the data)."""

    exit_code: ClassVar[int] = EXIT_PERMANENT


class ApiError(PipelineError):
    """The sales API could not be read."""


class RetriableApiError(ApiError, RetriableError):
    """A transient API failure: another attempt may succeed.

    ``retry_after`` is the delay in seconds the server asked for, if any.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ThrottledApiError(RetriableApiError):
    """The API asks the client to slow down (429): an instruction to every worker, not a failure of the page."""


class FatalApiError(ApiError, PermanentError):
    """An API failure another attempt cannot fix."""


class TokenRejectedError(FatalApiError):
    """The API refuses the token (401, 403): no other date can succeed either."""


class StorageError(PipelineError):
    """The data zones' storage (a folder or an object store) could not be used."""


class RetriableStorageError(StorageError, RetriableError):
    """The store is unreachable, throttling or failing for now."""


class FatalStorageError(StorageError, PermanentError):
    """The store refuses us: wrong credentials, access denied, no such bucket."""


class PartitionError(PermanentError):
    """A partition is missing, incomplete or does not match its manifest."""


class DataError(PermanentError):
    """The records themselves are unacceptable."""


def name_a_few(items: Sequence[str], limit: int = LISTED_ITEMS) -> str:
    """``a, b, c`` or, past ``limit`` items, ``a, b, c, d, e and 95 more``: an error line stays one readable line."""
    shown = ", ".join(items[:limit])
    return f"{shown} and {len(items) - limit} more" if len(items) > limit else shown
