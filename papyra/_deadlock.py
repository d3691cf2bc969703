"""Ask-deadlock detection: the current actor of each worker thread, and a wait-for graph.

* A worker sets :func:`current_cell` around every user callback it runs, so an actor asking its
  own ref is detected at once.
* Before an actor blocks in ``ask``, it registers ``caller → (reply slot, target)``; the chain
  from the target is walked (edges whose reply already arrived are ignored) and if it comes back
  to the caller, :class:`~papyra.exceptions.AskDeadlock` is raised instead of blocking. The graph
  is process-wide (cycles may span systems); one small lock, taken only by asks made from inside
  actors.
"""

from __future__ import annotations

import threading
from typing import Any

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
        self._lock = threading.Lock()
        self._waits: dict[Any, tuple[Any, Any]] = {}

    def enter(self, caller: Any, target: Any, slot: Any) -> None:
        """Register the wait or raise ``AskDeadlock`` if it would close a cycle."""
        with self._lock:
            node = target
            hops = 0
            while True:
                if node is caller:
                    raise AskDeadlock(
                        f"ask() from {caller.address} to {target.address} would deadlock: "
                        "the target is (transitively) waiting for the caller. Use tell() or break the cycle."
                    )
                entry = self._waits.get(node)
                if entry is None or entry[0].done:
                    break
                node = entry[1]
                hops += 1
                if hops > 10_000:  # defensive: never loop forever on a corrupted graph
                    break
            self._waits[caller] = (slot, target)

    def leave(self, caller: Any) -> None:
        with self._lock:
            self._waits.pop(caller, None)


WAITS = WaitGraph()
