"""The system's persistence recorder: one background thread that hands records to the backend.

Actors never do persistence I/O: they append ``(method, record)`` to a bounded in-memory queue
(O(1), one lock) and go on. The thread ``papyra-recorder-<system_id>`` calls
``backend.record_event/record_audit/record_dead_letter`` in FIFO order. Every exception is logged
on the ``papyra`` logger and counted (``failures``); a record offered while the queue is full, or
after close, is dropped and counted (``drops``). After waking up, the thread lingers ~2 ms
to batch what arrives meanwhile (fewer wake-ups); ``flush()`` and ``close()`` cut that short.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Any

__all__ = ["Recorder"]

logger = logging.getLogger("papyra")


class Recorder:
    """Bounded FIFO + one thread (see the module docstring)."""

    def __init__(
        self, backend: Any, *, system_id: str, capacity: int = 65_536, linger: float = 0.002
    ) -> None:
        self._backend = backend
        self._capacity = capacity
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._queue: deque[tuple[str, Any]] = deque()
        self._submitted = 0
        self._completed = 0
        self._closing = False
        self._linger = linger
        self._flushers = 0
        self.failures = 0
        self.drops = 0
        self._thread = threading.Thread(
            target=self._run, name=f"papyra-recorder-{system_id}", daemon=True
        )
        self._thread.start()

    @property
    def depth(self) -> int:
        return len(self._queue)

    def submit(self, method: str, record: Any) -> bool:
        """Queue ``backend.<method>(record)``; False (counted as a drop) if full or closed."""
        with self._lock:
            if self._closing or len(self._queue) >= self._capacity:
                self.drops += 1
                dropped = True
            else:
                self._queue.append((method, record))
                self._submitted += 1
                if len(self._queue) == 1:
                    self._cond.notify_all()
                dropped = False
        if dropped:
            logger.warning("papyra: persistence recorder dropped a %s record (queue full or closed)", method)
        return not dropped

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._queue:
                    if self._closing:
                        return
                    self._cond.wait()
                if self._linger and not self._closing and not self._flushers and len(self._queue) < 1024:
                    # Let a few more records arrive: fewer wake-ups, bigger batches. flush() and
                    # close() cut the wait short.
                    self._cond.wait(self._linger)
                batch = list(self._queue)
                self._queue.clear()
            for method, record in batch:
                try:
                    getattr(self._backend, method)(record)
                except Exception:
                    with self._lock:
                        self.failures += 1
                        count = self.failures
                    logger.warning(
                        "papyra: persistence %s failed (failure #%d); record skipped",
                        method,
                        count,
                        exc_info=count <= 10,
                    )
            with self._lock:
                self._completed += len(batch)
                self._cond.notify_all()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything submitted before this call was handed to the backend."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            target = self._submitted
            self._flushers += 1
            self._cond.notify_all()
            try:
                while self._completed < target and self._thread.is_alive():
                    if deadline is None:
                        self._cond.wait()
                    else:
                        remaining = deadline - time.monotonic()
                        if remaining <= 0:
                            return False
                        self._cond.wait(remaining)
                return self._completed >= target
            finally:
                self._flushers -= 1

    def close(self, timeout: float | None = None) -> bool:
        """Drain the queue, stop the thread and join it. Idempotent."""
        with self._lock:
            self._closing = True
            self._cond.notify_all()
        if self._thread is threading.current_thread():
            return False
        self._thread.join(timeout)
        return not self._thread.is_alive()
