"""The pipeline's exceptions, named by what the caller should do about them.

    PipelineError                 root: every failure the jobs expect and report
    ├── ConfigError               bad flags or environment; exit 2, nothing written
    ├── ApiError                  the sales API could not be read
    │   ├── RetriableApiError     worth another attempt (timeouts, 429, 5xx, bad bodies)
    │   └── FatalApiError         retrying cannot help (400, 401, 403, a wrong URL)
    ├── PartitionError            a partition on disk is missing, partial or altered
    └── DataError                 the data itself is unacceptable (too many invalid records)

Only each job's ``main()`` turns these into exit codes and one-line messages.
"""

from __future__ import annotations


class PipelineError(Exception):
    """Root of every expected failure; its message is meant for the operator."""


class ConfigError(PipelineError):
    """The command line or the environment is wrong; the run must not start."""


class ApiError(PipelineError):
    """The sales API could not be read."""


class RetriableApiError(ApiError):
    """A transient failure: another attempt may succeed.

    ``retry_after`` is the delay in seconds the server asked for, if any.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class FatalApiError(ApiError):
    """A failure another attempt cannot fix."""


class PartitionError(PipelineError):
    """A partition on disk is missing, incomplete or does not match its manifest."""


class DataError(PipelineError):
    """The records themselves are unacceptable."""
