"""Deadlines and stops for requests in flight: a socket is shut down when its request's time is up.

``requests`` applies its timeouts to each read, so a server trickling a byte a
second keeps one request going for ever. The ``Watchdog`` bounds a whole
request instead: the client announces a deadline for the thread about to send
one (``watch``); the connection, when it starts reading the answer, registers
its socket under that deadline; one watchdog thread shuts the socket down when
the deadline passes, which wakes the blocked read at once. ``stop()`` does the
same for every socket in flight, from any thread: how a signal stops fetching
threads that are blocked in a read.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool


@dataclass(eq=False)  # compared and hashed by identity: one per request in flight
class _Request:
    deadline: float
    sockets: list[socket.socket] = field(default_factory=list)
    expired: bool = False


class Watchdog:
    """Shuts down the sockets of requests past their deadline, or all of them on ``stop()``."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._local = threading.local()
        self._requests: set[_Request] = set()
        self._changed = threading.Condition()
        self.stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="request-watchdog", daemon=True)
        self._thread.start()

    @contextlib.contextmanager
    def watch(self, seconds: float) -> Iterator[_Request]:
        """Bound the request this thread sends inside the block to ``seconds`` from now."""
        request = _Request(self._clock() + seconds)
        self._local.request = request
        with self._changed:
            self._requests.add(request)
            self._changed.notify()
        try:
            yield request
        finally:
            self._local.request = None
            with self._changed:
                self._requests.discard(request)

    def attach(self, sock: socket.socket | None) -> None:
        """Called by a connection about to read an answer: its socket now belongs to this thread's request."""
        request: _Request | None = getattr(self._local, "request", None)
        if request is None or sock is None:
            return
        with self._changed:
            request.sockets.append(sock)
            if self.stopped.is_set() or request.expired:
                _shut(sock)

    def stop(self) -> None:
        """Wake every request in flight (their reads fail at once) and refuse new ones."""
        self.stopped.set()
        with self._changed:
            for request in self._requests:
                for sock in request.sockets:
                    _shut(sock)
            self._changed.notify()

    def _run(self) -> None:
        with self._changed:
            while True:
                now = self._clock()
                pending = [r for r in self._requests if not r.expired]
                for request in pending:
                    if request.deadline <= now:
                        request.expired = True
                        for sock in request.sockets:
                            _shut(sock)
                upcoming = [r.deadline for r in pending if r.deadline > now]
                self._changed.wait(timeout=min(upcoming) - now if upcoming else None)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def watched_adapter(watchdog: Watchdog, **kwargs: Any) -> HTTPAdapter:
    """An ``HTTPAdapter`` whose connections register their sockets with ``watchdog`` before each answer."""

    class Connection(HTTPConnection):
        def getresponse(self) -> Any:
            watchdog.attach(self.sock)
            return super().getresponse()

    class SecureConnection(HTTPSConnection):
        def getresponse(self) -> Any:
            watchdog.attach(self.sock)
            return super().getresponse()

    class Pool(HTTPConnectionPool):
        ConnectionCls = Connection

    class SecurePool(HTTPSConnectionPool):
        ConnectionCls = SecureConnection

    class Adapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **pool_kwargs: Any) -> None:
            super().init_poolmanager(*args, **pool_kwargs)
            self.poolmanager.pool_classes_by_scheme = {"http": Pool, "https": SecurePool}

    return Adapter(**kwargs)
