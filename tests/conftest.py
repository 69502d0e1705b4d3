"""Fixtures for every test: a clean logging state, and the sales API simulator on a free localhost port."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """The jobs' ``configure_logging`` replaces the root handlers; put them back after each test.

    Without this, a handler bound to one test's captured stderr would outlive it.
    """
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    urllib3_level = logging.getLogger("urllib3").level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger("urllib3").setLevel(urllib3_level)


@pytest.fixture
def simulator() -> Iterator[Callable[..., Any]]:
    """Factory: ``simulator(pages=3, latency=0.2, ...)`` starts a simulator on 127.0.0.1 and a free port.

    Keyword arguments are ``SimulatorConfig`` fields. The returned handle has
    ``url`` (the sales endpoint is ``url + "/sales"``), ``config`` and ``stats``.
    Every simulator started in a test stops when the test ends.
    """
    from sales_api_sim.config import SimulatorConfig
    from sales_api_sim.server import running

    with contextlib.ExitStack() as stack:

        def start(**knobs: Any) -> Any:
            return stack.enter_context(running(SimulatorConfig(**knobs), host="127.0.0.1", port=0))

        yield start
