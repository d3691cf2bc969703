"""Papyra's locks, and the rule they obey: **no user code, hook or thread start runs while a
Papyra lock is held** (internal).

Every lock of the runtime is made here (:func:`new_lock`, :func:`new_rlock`). Normally they are
the plain :mod:`threading` locks, at no cost. With the environment variable
``PAPYRA_DEBUG_LOCKS=1`` at import time (the test suite sets it), they count, per thread, how
many Papyra locks the thread holds, and :func:`check_unlocked` — called right before Papyra runs
user code (actor hooks, factories, system hooks, callbacks) or starts a thread — records a
violation (:data:`VIOLATIONS`, and an ERROR log line) when that count is not zero.

The lock order is written once, at the top of :mod:`papyra._kernel`.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

__all__ = ["DEBUG_LOCKS", "VIOLATIONS", "check_unlocked", "new_lock", "new_rlock"]

logger = logging.getLogger("papyra")

#: True when ``PAPYRA_DEBUG_LOCKS=1`` was set when Papyra was imported.
DEBUG_LOCKS = os.environ.get("PAPYRA_DEBUG_LOCKS") == "1"
#: What ran under a Papyra lock (debug mode only), in order; tests assert it stays empty.
VIOLATIONS: list[str] = []


class _Held(threading.local):
    depth = 0


_held = _Held()


class _TrackedLock:
    """A lock that counts the Papyra locks the current thread holds (debug mode)."""

    __slots__ = ("_inner",)

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        got: bool = self._inner.acquire(blocking, timeout)
        if got:
            _held.depth += 1
        return got

    def release(self) -> None:
        self._inner.release()
        _held.depth -= 1

    def locked(self) -> bool:
        return bool(self._inner.locked())

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


class _TrackedRLock(_TrackedLock):
    """The re-entrant variant, usable by ``threading.Condition`` (it saves and restores the
    recursion count around a wait)."""

    __slots__ = ()

    def locked(self) -> bool:
        return bool(self._inner._is_owned())

    def _is_owned(self) -> bool:
        return bool(self._inner._is_owned())

    def _release_save(self) -> Any:
        state = self._inner._release_save()
        _held.depth -= state[0]
        return state

    def _acquire_restore(self, state: Any) -> None:
        self._inner._acquire_restore(state)
        _held.depth += state[0]


def new_lock() -> Any:
    """A ``threading.Lock`` (tracked in debug mode)."""
    return _TrackedLock(threading.Lock()) if DEBUG_LOCKS else threading.Lock()


def new_rlock() -> Any:
    """A ``threading.RLock`` (tracked in debug mode)."""
    return _TrackedRLock(threading.RLock()) if DEBUG_LOCKS else threading.RLock()


def check_unlocked(what: str) -> None:
    """Debug mode: record a violation if the calling thread holds a Papyra lock while about to
    run ``what`` (user code, a hook, a thread start). O(1); a no-op otherwise."""
    if DEBUG_LOCKS and _held.depth:
        message = f"{what} ran while {_held.depth} Papyra lock(s) were held"
        VIOLATIONS.append(message)
        logger.error("papyra: %s", message, stack_info=True)
