"""Ask-deadlock detection: the current actor of each worker thread, and a wait-for graph.

* A worker sets :func:`current_cell` around every user callback it runs, so an actor asking its
  own ref is detected at once.
* Before an actor blocks in ``ask``, it registers ``caller → (reply slot, target)``; the chain
  from the target is walked (edges whose reply already arrived are ignored) and if it comes back
  to the caller, :class:`~papyra.exceptions.AskDeadlock` is raised instead of blocking. An actor
  about to block on another's full mailbox registers the same kind of edge (a ``tell`` that would
  close a cycle is accepted beyond the capacity instead of blocking), and a failed child suspended
  for its parent's decision registers ``child → parent``: a cycle through such a supervision wait
  is broken by cancelling the wait (the child's own policy applies). The graph is process-wide
  (cycles may span systems); one small lock, taken only by actors about to wait.
"""

from __future__ import annotations

import threading
from typing import Any

from papyra._locks import new_lock
from papyra.exceptions import AskDeadlock

__all__ = ["WAITS", "WaitGraph", "current_cell", "set_current_cell"]

class _Local(threading.local):
    cell: Any = None  # class default: reading an unset attribute costs no exception


_tls = _Local()


def current_cell() -> Any:
    """The actor cell running on this thread, or None outside actors."""
    return _tls.cell


def set_current_cell(cell: Any) -> Any:
    """Set the running cell; returns the previous one (to restore)."""
    prev = _tls.cell
    _tls.cell = cell
    return prev


class WaitGraph:
    """``caller cell → (slot, target cell)`` for actors blocked in ``ask``."""

    def __init__(self) -> None:
        self._lock = new_lock()
        self._waits: dict[Any, tuple[Any, Any]] = {}

    def enter(self, caller: Any, target: Any, slot: Any) -> None:
        """Register the wait or raise ``AskDeadlock`` if it would close a cycle. A cycle that
        runs through a child waiting for its parent's supervision decision is broken instead:
        that wait is cancelled (the child's own policy applies, after this lock is released)
        and the ask proceeds."""
        if not self.enter_blocking(caller, target, slot):
            raise AskDeadlock(
                f"ask() from {caller.address} to {target.address} would deadlock: "
                "the target is (transitively) waiting for the caller. Use tell() or break the cycle."
            )

    def enter_blocking(self, caller: Any, target: Any, slot: Any) -> bool:
        """Register ``caller`` waiting on ``target`` (an ask's reply, or space in its full
        mailbox); False (not registered) when that would close a cycle no supervision wait can
        break. A cycle through a supervision wait is broken by cancelling that wait."""
        with self._lock:
            found, decision = self._reaches(target, caller)
            if found and decision is None:
                return False
            self._waits[caller] = (slot, target)
        if decision is not None:
            decision.set(None)  # outside the lock: it wakes the child (mailbox, dispatcher)
        return True

    def enter_supervision(self, child: Any, parent: Any, slot: Any) -> bool:
        """Register a failed ``child`` suspended until ``parent``'s decision in ``slot``; False
        (not registered) when the parent is (transitively) waiting for the child — in an ask,
        or blocked on the child's full mailbox — so it could never decide."""
        with self._lock:
            if self._reaches(parent, child)[0]:
                return False
            self._waits[child] = (slot, parent)
            return True

    def _reaches(self, start: Any, goal: Any) -> tuple[bool, Any]:
        """Whether the chain of live waits from ``start`` reaches ``goal``, and the first
        supervision decision slot on it (or None). Under the lock."""
        node = start
        decision = None
        for _ in range(10_000):  # defensive: never loop forever on a corrupted graph
            if node is goal:
                return True, decision
            entry = self._waits.get(node)
            if entry is None or entry[0].done:
                break
            if decision is None and entry[0].supervision:
                decision = entry[0]
            node = entry[1]
        return False, None

    def leave(self, caller: Any) -> None:
        with self._lock:
            self._waits.pop(caller, None)


WAITS = WaitGraph()
