"""Bounded waiting for tests: never spin forever on a condition another thread must make true."""

from __future__ import annotations

import threading
from collections.abc import Callable

__all__ = ["wait_until"]

_pause = threading.Event()  # never set: ``wait`` is a sleep that needs no ``time`` import


def wait_until(condition: Callable[[], object], *, timeout: float = 60.0, what: str = "condition") -> None:
    """Poll ``condition`` (every millisecond) until it is truthy; fail the test after ``timeout``
    seconds instead of hanging (a hang guard, not a timing assumption: keep it generous). Prefer
    an event set by the actor itself when one exists."""
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        _pause.wait(0.001)
