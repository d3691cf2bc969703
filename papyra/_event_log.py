"""The in-memory lifecycle event log of an :class:`~papyra.system.ActorSystem` (internal).

A bounded ring (``event_log_capacity``, default 100,000): once full, the oldest event is dropped
for every new one and counted (``dropped``). Persistence is not affected — every event is still
handed to the backend.

**Indices are absolute**: event *i* is the *i*-th event the system ever emitted (0-based), whether
or not it is still retained. ``next_index`` is the index the next event will get (the total
emitted so far), so ``wait_for(..., start_index=log.next_index)`` waits for a future event.
``first_index`` is the index of the oldest retained event (``next_index - len(retained)``). A
``start_index`` older than ``first_index`` starts at ``first_index`` (the dropped events cannot
be matched any more).

Cost: ``append`` is O(1) under the log's own condition lock (never the system lock);
``snapshot`` is O(retained); ``wait_for`` blocks on the condition and scans each new event once.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Callable

from papyra._locks import new_lock
from papyra.conf.validation import check_int
from papyra.events import ActorEvent

__all__ = ["EventLog"]


class EventLog:
    """Bounded, absolutely indexed event ring (see the module docstring). Thread-safe."""

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = check_int("event_log_capacity", capacity)
        self._ring: deque[ActorEvent] = deque(maxlen=capacity)
        self._next = 0
        self._cond = threading.Condition(new_lock())

    @property
    def next_index(self) -> int:
        """Absolute index of the next event (= events emitted so far). O(1), no lock."""
        return self._next

    @property
    def first_index(self) -> int:
        """Absolute index of the oldest retained event. O(1), takes the log lock."""
        with self._cond:
            return self._next - len(self._ring)

    @property
    def dropped(self) -> int:
        """Events evicted from the ring because it was full. O(1), takes the log lock."""
        with self._cond:
            return self._next - len(self._ring)

    def __len__(self) -> int:
        return len(self._ring)

    def after_fork(self) -> None:
        """In a forked child: a fresh condition (the parent's lock may have been held by a
        thread that does not exist here)."""
        self._cond = threading.Condition(new_lock())

    def append(self, event: ActorEvent) -> None:
        """Add one event (evicting the oldest when full) and wake waiters. O(1)."""
        with self._cond:
            self._ring.append(event)
            self._next += 1
            self._cond.notify_all()

    def snapshot(self) -> tuple[ActorEvent, ...]:
        """The retained events, oldest first. O(retained) under the log lock."""
        with self._cond:
            return tuple(self._ring)

    def wait_for(
        self, pred: Callable[[ActorEvent], bool], *, timeout: float | None, start_index: int
    ) -> ActorEvent:
        """First event with absolute index >= ``start_index`` matching ``pred``; waits up to
        ``timeout`` (``None``: forever), then ``TimeoutError``. ``pred`` runs outside the lock."""
        deadline = None if timeout is None else time.monotonic() + timeout
        index = max(0, start_index)
        while True:
            with self._cond:
                while self._next <= index:
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        raise TimeoutError(f"no matching event within {timeout} seconds")
                    self._cond.wait(left)
                first = self._next - len(self._ring)
                index = max(index, first)
                fresh = list(itertools.islice(self._ring, index - first, None))
            index += len(fresh)
            for event in fresh:
                if pred(event):
                    return event
