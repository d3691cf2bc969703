"""The system's persistence recorder: one background thread that hands records to the backend.

Actors never do persistence I/O: they append ``(method, record)`` to a bounded in-memory queue
(O(1), one lock) and go on. The thread ``papyra-recorder-<system_id>`` calls
``backend.record_event/record_audit/record_dead_letter`` in FIFO order. Every exception is logged
on the ``papyra`` logger and counted (``failures``); a record offered while the queue is full, or
after close, is dropped and counted (``drops``). After waking up, the thread lingers ~2 ms
to batch what arrives meanwhile (fewer wake-ups); ``flush()`` and ``close()`` cut that short.

``close(timeout)`` drains the queue and joins the thread. If the backend is still busy at the
deadline (a ``record_*`` call that blocks), the recorder is *abandoned*: the records still queued
are dropped and counted in ``drops``, the thread drops the rest of its batch as soon as the
current backend call returns, runs the ``on_abandon`` callback (the system closes the backend
there) and exits. It is a daemon thread, so it never keeps the interpreter alive.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from papyra._locks import check_unlocked, new_lock

__all__ = ["Recorder", "log_record_failure"]

logger = logging.getLogger("papyra")


def log_record_failure(method: str, count: int) -> None:
    """Log the ``count``-th record a backend refused (with the traceback for the first ten);
    called from inside the ``except`` clause."""
    logger.warning("papyra: persistence %s failed (failure #%d); record skipped", method, count,
                   exc_info=count <= 10)


class Recorder:
    """Bounded FIFO + one thread (see the module docstring)."""

    def __init__(
        self, backend: Any, *, system_id: str, capacity: int = 65_536, linger: float = 0.002
    ) -> None:
        self._backend = backend
        self._capacity = capacity
        self._lock = new_lock()
        self._cond = threading.Condition(self._lock)
        self._queue: deque[tuple[str, Any]] = deque()
        self._submitted = 0
        self._completed = 0
        self._closing = False
        self._linger = linger
        self._flushers = 0
        self._abandoned = False
        self._finished = False
        self._on_abandon: Callable[[], object] | None = None
        self.failures = 0
        self.drops = 0  # queue full, closed, or abandoned at close
        self.abandoned = 0  # of which abandoned by a close that ran out of time
        self._dropping = False  # inside a burst of drops (logged once per burst)
        self._thread = threading.Thread(
            target=self._run, name=f"papyra-recorder-{system_id}", daemon=True
        )
        check_unlocked("recorder thread start")
        self._thread.start()

    @property
    def depth(self) -> int:
        """Records queued, not yet taken by the thread (racy read, O(1))."""
        return len(self._queue)

    def submit(self, method: str, record: Any) -> bool:
        """Queue ``backend.<method>(record)``; False (counted as a drop) if full or closed. The
        first drop of a burst is logged (WARNING), the rest only counted until a record is
        queued again. O(1) under the recorder's lock."""
        with self._lock:
            dropped = self._closing or len(self._queue) >= self._capacity
            first = dropped and not self._dropping
            self._dropping = dropped
            if dropped:
                self.drops += 1
            else:
                self._queue.append((method, record))
                self._submitted += 1
                if len(self._queue) == 1:
                    self._cond.notify_all()
        if first:
            logger.warning(
                "papyra: the persistence recorder queue is full or closed; %s records are dropped and "
                "counted (recorder_drops_total) until it drains", method,
            )
        return not dropped

    def _run(self) -> None:
        try:
            self._loop()
        finally:
            with self._lock:
                self._finished = True
                callback = self._on_abandon if self._abandoned else None
                self._cond.notify_all()
            if callback is not None:
                try:
                    callback()
                except Exception:
                    logger.warning("papyra: cleanup after an abandoned close failed", exc_info=True)

    def _loop(self) -> None:
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
            for index, (method, record) in enumerate(batch):
                if self._abandoned:
                    with self._lock:
                        self.drops += len(batch) - index
                        self.abandoned += len(batch) - index
                    break
                try:
                    getattr(self._backend, method)(record)
                except Exception:
                    with self._lock:
                        self.failures += 1
                        count = self.failures
                    log_record_failure(method, count)
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

    def close(self, timeout: float | None = None, *, on_abandon: Callable[[], object] | None = None) -> bool:
        """Drain the queue, stop the thread and join it (up to ``timeout``). True when every
        record was handed to the backend in time. Otherwise the recorder is abandoned (see the
        module docstring): ``on_abandon`` will run on the recorder thread once its current
        backend call returns, and False is returned. Idempotent. Blocks up to ``timeout``."""
        with self._lock:
            self._closing = True
            self._cond.notify_all()
        if self._thread is threading.current_thread():
            return False
        self._thread.join(timeout)
        with self._lock:
            if self._finished:
                return True
            self._abandoned = True
            self._on_abandon = on_abandon
            dropped = len(self._queue)
            self._queue.clear()
            self.drops += dropped
            self.abandoned += dropped
            self._cond.notify_all()
        logger.warning(
            "papyra: persistence recorder still busy after %s s; %d queued records abandoned "
            "(recorder_drops_total), the rest of the current batch will be dropped too",
            timeout,
            dropped,
        )
        return False

    @property
    def thread(self) -> threading.Thread:
        """The ``papyra-recorder-<system_id>`` thread."""
        return self._thread
