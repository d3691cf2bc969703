"""The background writer thread: a bounded queue, group commit and the fsync policy.

``record_*`` on a durable backend encodes the record and calls :meth:`BackgroundWriter.submit`,
which only appends to an in-memory queue (O(1), no I/O). One daemon thread per backend takes
everything queued (up to ``max_batch``) and hands it to the backend's :class:`WriterSink` in one
call — one lock acquisition, one ``write`` and at most one ``fsync`` per batch (group commit).

Fsync policy:

* ``"always"`` — each batch is fsynced (inside the sink, under its store lock) before it counts
  as written; :meth:`flush` therefore acknowledges only durable records.
* ``"interval"`` — fsync at most every ``fsync_interval`` seconds; ``flush()`` forces one.
* ``"never"`` — OS buffers only; ``flush()`` waits for the write, not for the disk.

Failures: a sink raising :class:`TransientWriteError` (e.g. Redis unreachable) keeps the batch at
the head of the queue and retries with back-off — nothing is lost while the queue is within
``max_pending``. Any other exception is fail-stop: the writer stops, the error is kept, every
waiting and later :meth:`flush`/:meth:`submit` raises :class:`~papyra.exceptions.DurabilityError`
(chained to the cause) and queued records are counted in ``records_dropped``. An fsync is never
retried blindly.

Lifecycle: the thread holds the sink, never the backend, so a backend that is dropped without
``close()`` can be garbage-collected; its finaliser calls :meth:`BackgroundWriter.close_soon`
(non-blocking), the thread writes what is queued, closes the sink and exits. At interpreter exit
every writer still running is closed (``close(EXIT_TIMEOUT)``), so pending records are written.
After ``os.fork()`` the child has no writer thread: an inherited writer refuses everything with
:class:`~papyra.exceptions.PersistenceClosedError` (open a new backend in the child), drops the
parent's queued records (the parent writes them) and closes its copies of the sink's handles
without releasing the parent's lock.
"""

from __future__ import annotations

import atexit
import collections
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from typing import Protocol

from papyra.conf.validation import FsyncPolicy, check_fsync, check_timeout
from papyra.exceptions import BackPressureError, DurabilityError, PersistenceClosedError
from papyra.persistence.metrics import PersistenceMetrics

__all__ = ["BackgroundWriter", "TransientWriteError", "WriterSink"]

logger = logging.getLogger("papyra")

#: Longest wait (seconds) after ``close(timeout)``'s timeout for a write in progress to return.
MAX_GRACE = 0.5
#: Bound (seconds) on writing what is still queued at interpreter exit, per writer.
EXIT_TIMEOUT = 10.0
#: An idle writer re-checks for a close request this often (a finaliser cannot always notify).
_IDLE_WAKE = 1.0

_live_writers: weakref.WeakSet[BackgroundWriter] = weakref.WeakSet()


class TransientWriteError(Exception):
    """Raised by a sink when the batch could not be written *yet* and may be retried."""


class WriterSink(Protocol):
    """Where a :class:`BackgroundWriter` puts its batches."""

    def write_batch(self, items: list[bytes], *, sync: bool) -> None:
        """Append ``items`` atomically as one batch; when ``sync`` make them durable first.

        Must either write the whole batch or nothing (truncate a partial write) before raising.
        """

    def sync(self) -> None:
        """Make everything written so far durable (interval policy)."""

    def close(self) -> None:
        """Release the sink's handles (called once, by the writer thread as it exits)."""

    def after_fork_in_child(self) -> None:
        """In a forked child: drop the inherited handles without touching the parent's state
        (a file sink must not release the store lock the parent holds)."""


class BackgroundWriter:
    """One writer thread feeding a :class:`WriterSink` (see module docs for guarantees)."""

    def __init__(
        self,
        sink: WriterSink,
        *,
        name: str,
        metrics: PersistenceMetrics,
        fsync: FsyncPolicy = "always",
        fsync_interval: float = 0.05,
        max_pending: int = 100_000,
        put_timeout: float = 1.0,
        max_batch: int = 10_000,
        retry_initial: float = 0.05,
        retry_max: float = 2.0,
        close_grace: float = 1.0,
        interrupt: Callable[[], None] | None = None,
        log_extra: Mapping[str, str] | None = None,
    ) -> None:
        if max_pending <= 0:
            raise ValueError(f"max_pending must be positive, got {max_pending!r}")
        if fsync_interval <= 0:
            raise ValueError(f"fsync_interval must be positive, got {fsync_interval!r}")
        self._sink = sink
        self._metrics = metrics
        self._fsync: FsyncPolicy = check_fsync(fsync)
        self._interval = fsync_interval
        self._max_pending = max_pending
        self._put_timeout = put_timeout
        self._max_batch = max_batch
        self._retry_initial = retry_initial
        self._retry_max = retry_max
        self._close_grace = close_grace
        self._interrupt = interrupt  # aborts a backend call in progress (close gave up waiting)
        # Structured fields on every log record (backend, path or stream key; never credentials).
        self._log_extra: dict[str, str] = {"papyra_backend": metrics.backend, **(log_extra or {})}
        self._cond = threading.Condition(threading.Lock())
        self._queue: collections.deque[tuple[bytes, float]] = collections.deque()
        self._inflight = 0  # items taken from the queue, not yet written
        self._written = 0  # items handed to the sink successfully
        self._synced = 0  # items known durable
        self._sync_requested = False
        self._last_sync = time.monotonic()
        self._failed: BaseException | None = None
        self._closing = False
        self._closed = False
        self._retrying = False
        self._write_started: float | None = None  # monotonic start of the sink call in progress
        self._waiting = False  # the writer thread is (about to be) asleep on the condition
        self._exited = False
        self._abandoned = 0  # records given up at close (counted in records_dropped)
        self._forked_from: int | None = None  # the parent's pid, in a forked child
        self._thread = threading.Thread(target=self._run, name=f"papyra-writer-{name}", daemon=True)
        _live_writers.add(self)
        self._thread.start()

    # ------------------------------------------------------------------ producer side

    @property
    def failed(self) -> BaseException | None:
        """The error that stopped the writer, or None."""
        return self._failed

    @property
    def pending(self) -> int:
        """Records accepted but not yet written, the batch being written included."""
        with self._cond:
            return len(self._queue) + self._inflight

    @property
    def thread_alive(self) -> bool:
        """True while the writer thread runs (False once ``close()`` has joined it)."""
        return self._thread.is_alive()

    @property
    def write_elapsed(self) -> float:
        """Seconds the batch being written has been inside the sink (0.0 when no write runs).
        Lets a backend call a hung server unreachable before the client's own retries end."""
        started = self._write_started
        return 0.0 if started is None else time.monotonic() - started

    @property
    def retrying(self) -> bool:
        """True while the sink reports a transient failure (e.g. Redis down)."""
        return self._retrying

    def submit(self, item: bytes) -> None:
        """Queue one encoded record. O(1); never touches the disk.

        Blocks up to ``put_timeout`` while ``max_pending`` records are queued, then raises
        :class:`BackPressureError`. Raises :class:`DurabilityError` after a fail-stop and
        :class:`PersistenceClosedError` after close.

        The common case takes no lock (``deque.append`` is atomic): producers only lock to wake
        a sleeping writer thread, to wait for queue space, or around close/fail-stop, so several
        producer threads do not convoy on the writer's lock.
        """
        if self._failed is not None or self._closing or self._closed:
            with self._cond:
                self._check_usable()
        queue = self._queue
        entry = (item, time.monotonic())
        if len(queue) >= self._max_pending:
            with self._cond:
                deadline = time.monotonic() + self._put_timeout
                while len(queue) >= self._max_pending:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        self._metrics.incr("backpressure_rejections")
                        raise BackPressureError(
                            f"writer queue is full ({self._max_pending} records pending); "
                            "record not accepted"
                        )
                    self._cond.wait(remaining)
                    self._check_usable()
                queue.append(entry)
                self._cond.notify_all()
            depth = len(queue)
        else:
            queue.append(entry)
            depth = len(queue)
            if self._waiting:
                with self._cond:
                    self._cond.notify_all()
            if self._failed is not None or self._closing:
                self._withdraw_if_orphaned(entry)
        if depth == 1 or not depth & 255:
            # also refreshed after every batch; not per record (the metrics lock is a hot spot)
            self._metrics.set_gauge("queue_depth", depth)

    def _withdraw_if_orphaned(self, entry: tuple[bytes, float]) -> None:
        """A close or fail-stop raced with a lock-free append: if no writer will ever take the
        entry, take it back and raise instead of reporting success."""
        with self._cond:
            if not (self._exited or self._failed is not None):
                return  # the writer is still draining: the entry will be written
            try:
                self._queue.remove(entry)
            except ValueError:
                return  # already taken (and written or counted as dropped)
            if self._failed is not None:
                self._metrics.incr("records_dropped")
            self._check_usable()
            raise PersistenceClosedError("backend is closed; record not accepted")

    def _check_usable(self) -> None:
        if self._forked_from is not None:
            raise PersistenceClosedError(
                f"this backend was opened by process {self._forked_from}, which forked this one "
                "after opening it; its writer does not exist here. Open a new backend after fork()"
            )
        if self._failed is not None:
            raise DurabilityError(f"writer stopped after an I/O error: {self._failed}") from self._failed
        if self._closing or self._closed:
            raise PersistenceClosedError("backend is closed; record not accepted")

    def accepted(self) -> int:
        """A mark for :meth:`flush` (``target=``): the number of records accepted so far."""
        with self._cond:
            return self._written + self._inflight + len(self._queue)

    def flush(self, timeout: float | None = None, *, durable: bool = True, target: int | None = None) -> bool:
        """Wait until every record submitted before this call is written (and fsynced, when
        ``durable`` and the policy is not ``"never"``). ``target`` (from :meth:`accepted`) waits
        for the records accepted before that mark instead (a caller waiting in slices).

        Returns True when done, False on timeout (or when ``close`` gave up on records). Raises
        :class:`DurabilityError` once the writer has failed — also when the fail-stop already
        emptied the queue, so a dropped record is never acknowledged.
        """
        timeout = check_timeout(timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            if self._forked_from is not None:
                self._check_usable()
            if target is None:
                target = self._written + self._inflight + len(self._queue)
            need_sync = durable and self._fsync != "never"
            while True:
                # Failure first: a fail-stop empties the queue, so ``target`` alone could be met
                # by records that were dropped, not stored.
                if self._failed is not None:
                    raise DurabilityError(
                        f"writer stopped after an I/O error: {self._failed}"
                    ) from self._failed
                if self._abandoned:
                    return False  # close() gave up on records: they will never be stored
                done = self._synced if need_sync else self._written
                if done >= target:
                    return True
                if self._closed:
                    return False
                if need_sync and self._written >= target:
                    self._sync_requested = True
                    self._cond.notify_all()
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining if remaining is not None else 0.5)

    def close(self, timeout: float | None = None) -> bool:
        """Write what is queued (best effort within ``timeout``), stop and join the thread.

        When ``timeout`` runs out first (e.g. Redis is down and the writer is retrying), the
        writer is marked closed and woken: it starts no new write, leaves its retry back-off at
        once, and on exit counts every record it did not write in ``records_dropped`` and logs
        them. A write in progress is aborted with the ``interrupt`` callback when one was given
        (Redis: shut the sockets down; file stores: cancel the wait for another process's store
        lock), and ``close`` joins the thread for ``close_grace`` more seconds — at most
        :data:`MAX_GRACE` when a ``timeout`` was given, so ``close`` returns within ``timeout``
        plus that constant. A thread still inside such a call after that (e.g. a DNS lookup
        nothing can interrupt) is logged; it exits (and counts) as soon as the call returns.

        Idempotent. Returns True only when every accepted record was written. Cost: blocks up
        to ``timeout`` + grace (``None``: until the queue is written).
        """
        with self._cond:
            if self._forked_from is not None:
                return True  # nothing was accepted in this process
            if self._closed:
                return self._all_written()
            self._closing = True
            self._sync_requested = True
            self._cond.notify_all()
        timeout = check_timeout(timeout)
        self._thread.join(timeout)
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        grace = self._close_grace if timeout is None else min(self._close_grace, MAX_GRACE)
        grace_end = time.monotonic() + grace
        while self._thread.is_alive():
            remaining = grace_end - time.monotonic()
            if remaining <= 0:
                break
            if self._interrupt is not None:
                # repeated: a client that re-dials once after an error would block again
                try:
                    self._interrupt()
                except Exception as exc:  # best effort: the grace join still bounds close()
                    logger.warning("papyra writer: interrupt failed: %s", exc, extra=self._log_extra)
            self._thread.join(min(remaining, 0.05) if self._interrupt is not None else remaining)
        with self._cond:
            if self._thread.is_alive():
                logger.error(
                    "papyra writer: still inside a backend call %g s after close gave up; "
                    "%d records not written yet (counted as dropped unless that call succeeds)",
                    grace,
                    len(self._queue) + self._inflight,
                    extra=self._log_extra,
                )
            return self._all_written()

    def close_soon(self) -> None:
        """Ask the thread to write what is queued, close the sink and exit — without waiting
        and without blocking on the writer's lock (safe in a garbage-collection finaliser, which
        may run on any thread). Idempotent."""
        self._closing = True
        self._sync_requested = True
        if self._cond.acquire(blocking=False):
            try:
                self._cond.notify_all()
            finally:
                self._cond.release()
        # else: the lock's holder re-checks _closing before it waits (or the idle wake-up does)

    def _after_fork_in_child(self, parent: int) -> None:
        """Only the forking thread survives a fork: no writer thread here, and the condition may
        be held by a thread that no longer exists. Refuse work from now on (module docs)."""
        self._cond = threading.Condition(threading.Lock())
        self._forked_from = parent
        self._queue.clear()  # the parent's records: the parent writes them
        self._inflight = 0
        self._closing = self._closed = self._exited = True
        try:
            self._sink.after_fork_in_child()
        except Exception:  # best effort: the child only loses its copies of the handles
            logger.warning("papyra writer: releasing inherited handles after fork failed", exc_info=True)

    def _all_written(self) -> bool:
        return (
            not self._queue
            and not self._inflight
            and self._failed is None
            and not self._abandoned
            and self._exited
        )

    # ------------------------------------------------------------------ writer thread

    def _take_batch(self) -> list[tuple[bytes, float]]:
        n = min(len(self._queue), self._max_batch)
        self._inflight = n
        return [self._queue.popleft() for _ in range(n)]

    def _run(self) -> None:
        try:
            self._run_loop()
        finally:
            self._release_sink()
            with self._cond:
                self._exited = True
                self._waiting = False
                # close() gave up on these (the queue is already empty after a fail-stop)
                lost = len(self._queue) + self._inflight
                self._queue.clear()
                self._inflight = 0
                self._abandoned += lost
                self._cond.notify_all()
            if lost:
                self._metrics.incr("records_dropped", lost)
                self._metrics.set_gauge("queue_depth", 0)
                logger.warning(
                    "papyra writer: closed with %d records not written (the backend was unavailable "
                    "until close timed out); counted in records_dropped",
                    lost,
                    extra=self._log_extra,
                )

    def _release_sink(self) -> None:
        try:
            self._sink.close()
        except Exception:  # the handles are gone either way; nothing is lost here
            logger.warning("papyra writer: closing the backend's handles failed", exc_info=True)

    def _run_loop(self) -> None:
        backoff = self._retry_initial
        while self._failed is None:
            with self._cond:
                while True:
                    self._waiting = True  # set before looking, so a producer's append is never missed
                    if self._queue:
                        break
                    dirty = self._written > self._synced
                    if dirty and (
                        self._sync_requested
                        or self._closing
                        or time.monotonic() - self._last_sync >= self._interval
                    ):
                        break
                    if self._closing:
                        self._sync_requested = False
                        return
                    self._cond.wait(self._interval if dirty else _IDLE_WAKE)
                self._waiting = False
                if self._closed:
                    return  # close() gave up waiting: start no new write (_run counts the rest)
                batch = self._take_batch()
            if batch:
                if not self._write(batch):
                    if self._failed is not None:
                        return
                    # transient failure: back off (interruptible by close)
                    with self._cond:
                        if self._closed:
                            return  # close() gave up waiting for the backend
                        self._cond.wait(backoff)
                    backoff = min(backoff * 2, self._retry_max)
                    continue
                backoff = self._retry_initial
            if self._fsync == "interval":
                self._maybe_sync()
            elif self._fsync == "never":
                with self._cond:
                    self._synced = self._written
                    self._cond.notify_all()

    def _write(self, batch: list[tuple[bytes, float]]) -> bool:
        items = [item for item, _ in batch]
        sync = self._fsync == "always"
        started = self._write_started = time.monotonic()
        try:
            self._sink.write_batch(items, sync=sync)
        except TransientWriteError as exc:
            with self._cond:
                self._inflight = 0
                self._queue.extendleft(reversed(batch))
                if not self._retrying:
                    logger.warning(
                        "papyra writer: backend unavailable, buffering: %s", exc, extra=self._log_extra
                    )
                self._retrying = True
            self._metrics.incr("write_errors")
            return False
        except Exception as exc:
            if not self._closed:
                return self._fail_stop(batch, exc)
            # close() gave up and interrupted this write: not an I/O failure of the backend;
            # the batch goes back so that _run counts it as dropped
            with self._cond:
                self._inflight = 0
                self._queue.extendleft(reversed(batch))
            return False
        except BaseException as exc:
            return self._fail_stop(batch, exc)
        finally:
            self._write_started = None
        finished = time.monotonic()
        nbytes = sum(len(item) for item in items)
        self._metrics.add_many(records_written=len(items), bytes_written=nbytes)
        if sync:
            self._metrics.incr("fsyncs")
        self._metrics.observe("batch_size", len(items))
        # one observation per batch: the oldest record's enqueue -> batch written (its worst latency)
        self._metrics.observe("write_seconds", finished - batch[0][1])
        if sync:  # the whole durable append: lock wait + write + fsync
            self._metrics.observe("fsync_seconds", finished - started)
        with self._cond:
            if self._retrying:
                logger.warning(
                    "papyra writer: backend reachable again, buffer draining", extra=self._log_extra
                )
            self._retrying = False
            self._inflight = 0
            self._written += len(items)
            if sync:
                self._synced = self._written
                self._last_sync = finished
            depth = len(self._queue)
            self._cond.notify_all()
        self._metrics.set_gauge("queue_depth", depth)
        return True

    def _fail_stop(self, batch: list[tuple[bytes, float]], exc: BaseException) -> bool:
        """A non-transient write error: stop for good, count what can no longer be written."""
        with self._cond:
            self._failed = exc
            self._inflight = 0
            dropped = len(batch) + len(self._queue)
            self._queue.clear()
            self._cond.notify_all()
        self._metrics.add_many(write_errors=1, records_dropped=dropped)
        self._metrics.set_gauge("failed", 1)
        self._metrics.set_gauge("queue_depth", 0)
        logger.error(
            "papyra writer: write failed, backend is now fail-stop (%d records not written): %s",
            dropped,
            exc,
            extra=self._log_extra,
        )
        return False

    def _maybe_sync(self) -> None:
        with self._cond:
            dirty = self._written > self._synced
            due = (
                self._sync_requested
                or self._closing
                or time.monotonic() - self._last_sync >= self._interval
            )
            if not (dirty and due):
                if not dirty:
                    self._sync_requested = False
                return
            target = self._written
            self._sync_requested = False
        started = time.monotonic()
        try:
            self._sink.sync()
        except BaseException as exc:
            with self._cond:
                self._failed = exc
                self._cond.notify_all()
            self._metrics.add_many(write_errors=1)
            self._metrics.set_gauge("failed", 1)
            logger.error(
                "papyra writer: fsync failed, backend is now fail-stop: %s", exc, extra=self._log_extra
            )
            return
        finished = time.monotonic()
        self._metrics.incr("fsyncs")
        self._metrics.observe("fsync_seconds", finished - started)
        with self._cond:
            self._synced = max(self._synced, target)
            self._last_sync = finished
            self._cond.notify_all()


def _after_fork_in_child() -> None:
    for writer in list(_live_writers):
        writer._after_fork_in_child(os.getppid())


def _close_all_at_exit() -> None:
    """Interpreter exit: write what every running writer still holds (bounded per writer)."""
    for writer in list(_live_writers):
        if writer.thread_alive and writer._thread is not threading.current_thread():
            writer.close(EXIT_TIMEOUT)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_close_all_at_exit)
