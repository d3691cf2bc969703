"""The one path from the runtime to the persistence backend (internal).

Every lifecycle event, audit and dead letter the kernel produces goes through
:meth:`RecordPath.record`. There is **one bounded queue** between an actor and the store:

* a backend that declares ``capabilities.write_behind`` (every built-in one: its ``record_*``
  only encodes and queues for its own writer thread, or appends in memory) is called directly on
  the producing thread. Its queue is the bound; its overflow policy is the one policy: block
  briefly (the backend's back-pressure timeout), then refuse with
  :class:`~papyra.exceptions.BackPressureError`, which is counted here as a drop and logged once
  per burst;
* any other backend (a third-party one whose ``record_*`` may do I/O) is reached through the
  :class:`~papyra._recorder.Recorder` adapter thread, whose bounded queue drops and counts when
  full.

``flush`` and ``close`` have one protocol each, whichever way records travel: drain the adapter
(if any), then ``backend.flush``/``backend.close`` with the time left, then report losses since
the last report as :class:`~papyra.exceptions.DurabilityError`.

Failures never reach the actor: a ``record_*`` that raises is counted (``failures``) and logged
on the ``papyra`` logger (with the traceback for the first ten).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from papyra._describe import describe_error
from papyra._locks import check_unlocked, new_lock
from papyra._recorder import Recorder, log_record_failure
from papyra.exceptions import BackPressureError, DurabilityError
from papyra.persistence.base import PersistenceBackend, backend_capabilities

__all__ = ["RecordPath", "as_durability_error", "time_left"]

logger = logging.getLogger("papyra")


def as_durability_error(what: str, exc: Exception) -> DurabilityError:
    """A backend's failure as a DurabilityError (itself when it is one), keeping the cause."""
    if isinstance(exc, DurabilityError):
        return exc
    error = DurabilityError(f"persistence {what} failed: {describe_error(exc)}")
    error.__cause__ = exc
    return error


class RecordPath:
    """Records from the kernel to ``backend`` (see the module docstring). Thread-safe."""

    def __init__(self, backend: Any, *, system_id: str, recorder_capacity: int) -> None:
        self.backend = backend
        self._lock = new_lock()
        self._failures = 0
        self._drops = 0
        self._dropping = False  # inside a burst of drops (logged once per burst)
        self._reported = 0  # losses already raised by flush/close
        self._system_id = system_id
        self._capacity = recorder_capacity
        self._direct = bool(getattr(backend_capabilities(backend), "write_behind", False))
        self._open = False
        self._closed = False
        self.adapter: Recorder | None = None

    def open(self) -> None:
        """Start accepting records (and the adapter thread, for a backend without
        ``write_behind``). Called by ``ActorSystem.start`` without any Papyra lock held. After
        :meth:`close` (a system closed while it was starting) it does nothing: an adapter
        started meanwhile is closed again at once."""
        with self._lock:
            if self._closed:
                return
        adapter = None
        if not self._direct:
            adapter = Recorder(self.backend, system_id=self._system_id, capacity=self._capacity)
        with self._lock:
            late = self._closed
            if not late:
                self.adapter = adapter
                self._open = True
        if late and adapter is not None:
            adapter.close(None)

    def after_fork(self) -> None:
        """In a forked child: the adapter thread does not exist here; records are ignored."""
        self._open = False
        self.adapter = None
        self._lock = new_lock()

    # ------------------------------------------------------------------ counters

    @property
    def failures(self) -> int:
        """Records the backend refused with an error (not back-pressure). O(1)."""
        adapter = self.adapter
        return self._failures + (adapter.failures if adapter is not None else 0)

    @property
    def drops(self) -> int:
        """Records dropped because the one bounded queue stayed full, or the adapter was
        abandoned at close. O(1)."""
        adapter = self.adapter
        return self._drops + (adapter.drops if adapter is not None else 0)

    @property
    def depth(self) -> int:
        """Records queued in the adapter (0 when records go directly to the backend). O(1)."""
        adapter = self.adapter
        return adapter.depth if adapter is not None else 0

    # ------------------------------------------------------------------ records

    def record(self, method: str, build: Callable[[], Any]) -> None:
        """Build a record and hand it to ``backend.<method>`` (directly or through the adapter).

        Never raises: a failing ``build`` is logged, a refused record counted; before ``open``
        and after ``close`` (or a fork) records are ignored. Cost: the build
        (O(payload)) plus, directly, the backend's ``record_*`` (an encode and an O(1) enqueue;
        it blocks only while the backend's bounded queue is full, up to its back-pressure
        timeout), or, through the adapter, one O(1) enqueue under its lock."""
        if not self._open:
            return
        try:
            record = build()
        except Exception:
            logger.warning("papyra: could not build a %s record", method, exc_info=True)
            return
        adapter = self.adapter
        if adapter is not None:
            adapter.submit(method, record)
            return
        try:
            getattr(self.backend, method)(record)
        except BackPressureError:
            with self._lock:
                self._drops += 1
                first = not self._dropping
                self._dropping = True
            if first:
                logger.warning(
                    "papyra: the persistence queue is full; %s records are dropped and counted "
                    "(recorder_drops_total) until it drains", method
                )
            return
        except Exception:
            with self._lock:
                self._failures += 1
                count = self._failures
            log_record_failure(method, count)
            return
        if self._dropping:
            with self._lock:
                self._dropping = False

    # ------------------------------------------------------------------ flush / close

    def flush(self, timeout: float | None) -> bool:
        """Every record produced before the call is stored (per the backend's fsync policy):
        True; False when ``timeout`` (seconds, ``None``: the backend's own bound) ran out.
        Raises ``DurabilityError`` when the store failed, or once per loss when records never
        reached it since the last report. Blocks up to ``timeout``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        drained = True if self.adapter is None else self.adapter.flush(timeout)
        try:
            finished, result = self._bounded("flush", self.backend.flush, time_left(deadline))
        except Exception as exc:
            raise as_durability_error("flush", exc) from exc
        stored = finished and _stored(result, "flush") and drained
        self.raise_if_lost("flush", self.failures + self.drops)
        return stored

    def close(self, timeout: float | None) -> tuple[bool, DurabilityError | None]:
        """Drain the adapter, then close the backend with the time left: (everything stored?,
        the store's failure or the records lost since the last report). Past the deadline the
        adapter is abandoned and closes the backend itself once its blocked call returns.
        Never raises. Blocks up to ``timeout`` (plus the backend's own bound when ``None``)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            self._closed = True
            self._open = False
            adapter = self.adapter
        if adapter is not None and not adapter.close(timeout, on_abandon=self._close_backend):
            logger.warning("papyra: close() timed out before every record reached persistence")
            return False, None
        stored, error = self._close_backend(time_left(deadline))
        if error is None:
            abandoned = adapter.abandoned if adapter is not None else 0
            try:  # records refused or dropped (drops at an abandoned close are a timeout)
                self.raise_if_lost("close", self.failures + self.drops - abandoned)
            except DurabilityError as exc:
                error = exc
        return stored, error

    def _close_backend(self, timeout: float | None = None) -> tuple[bool, DurabilityError | None]:
        try:
            finished, stored = self._bounded("close", self._close_now, timeout)
        except Exception as exc:
            logger.warning("papyra: persistence close failed", exc_info=True)
            return False, as_durability_error("close", exc)
        if not finished:
            logger.warning("papyra: the persistence backend did not close within %s s; it finishes on "
                           "its own thread", timeout)
            return False, None
        backend = self.backend
        failed = backend.failed if isinstance(backend, PersistenceBackend) else None
        if failed is None:
            return bool(stored), None
        error = DurabilityError(f"persistence failed, records were lost: {describe_error(failed)}")
        error.__cause__ = failed
        return False, error

    def _close_now(self, timeout: float | None) -> bool:
        backend = self.backend
        if isinstance(backend, PersistenceBackend):
            return _stored(backend.close(timeout), "close")
        stored = _stored(backend.flush(timeout), "flush")  # a duck-typed backend: flush, then close
        backend.close()
        return stored

    def _bounded(
        self, what: str, call: Callable[[float | None], Any], timeout: float | None
    ) -> tuple[bool, Any]:
        """``call(timeout)`` within ``timeout``: (finished?, its result); its error is raised.

        The backends of this package bound their own waits and are called on this thread. Any
        other backend may block for ever, so with a ``timeout`` it is called on a daemon thread
        (``papyra-backend-<what>``) that is left to finish on its own when the time runs out.
        Cost: one thread start per call for such a backend."""
        if timeout is None or type(self.backend).__module__.startswith("papyra."):
            return True, call(timeout)
        outcome: list[Any] = []

        def run() -> None:
            try:
                outcome.append((True, call(timeout)))
            except BaseException as exc:
                outcome.append((False, exc))

        thread = threading.Thread(target=run, name=f"papyra-backend-{what}-{self._system_id}", daemon=True)
        check_unlocked("backend call thread start")
        thread.start()
        thread.join(timeout)
        if not outcome:
            return False, None
        ok, value = outcome[0]
        if not ok:
            raise value
        return True, value

    def raise_if_lost(self, what: str, lost: int) -> None:
        """Raise once for ``lost`` (a running total) records lost since the last report."""
        with self._lock:
            new, self._reported = lost - self._reported, max(lost, self._reported)
        if new > 0:
            raise DurabilityError(
                f"{what}: {new} records never reached persistence (the backend refused them or the "
                "queue was full; recorder_failures_total / recorder_drops_total, papyra log)"
            )


def _stored(result: object, what: str) -> bool:
    """A backend's flush/close answer: True (or None, from an older duck-typed backend) means
    stored, False not; anything else is logged and counts as not stored."""
    if result is True or result is None:
        return True
    if result is not False:
        logger.warning("papyra: persistence %s returned %r, not True/False; counted as not stored",
                       what, result)
    return False


def time_left(deadline: float | None) -> float | None:
    """Seconds left until ``deadline`` (``time.monotonic()``), never negative; None for None."""
    return None if deadline is None else max(0.0, deadline - time.monotonic())
