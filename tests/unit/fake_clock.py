"""A clock that only moves when told, or when code under test sleeps on it: timing tests without waiting."""

from __future__ import annotations


class FakeClock:
    """``clock()`` reads it; ``sleep(s)`` records the wait and moves time on by ``s``; ``advance`` moves it."""

    def __init__(self, start: float = 1000.0, sleeps: list[float] | None = None) -> None:
        self.now = start
        self.sleeps: list[float] = [] if sleeps is None else sleeps

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Sleeps(list[float]):
    """The waits code asked for, as a list, with the fake clock those waits move on (``clock``)."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock(sleeps=self)
