"""The M:N dispatcher: runs actors on an elastic pool of worker threads.

* A *task* is anything with ``run()``; for actors it is the actor's cell, submitted when its
  mailbox goes from idle to non-empty. The cell processes up to ``throughput`` messages per turn
  and resubmits itself if more are queued and another task waits (fairness); the mailbox's
  scheduled flag guarantees an actor is never run by two threads at once.
* Workers are daemon threads named ``papyra-worker-N``, created on demand (only when no idle
  worker can take the task) up to ``max_workers``, and retired after ``keep_alive`` idle seconds.
* **Parked workers**: an idle worker waits on a lock of its own (acquired when it parks, held by
  nobody else), pushed on a stack. ``submit`` pops the most recently parked worker, hands it the
  task and releases its lock: one wake-up, and the worker runs the task without taking the
  dispatcher lock again. Last in, first out keeps the busy set small, so surplus workers reach
  ``keep_alive`` and retire.
* **Compensation**: a worker blocked inside ``ask`` (or a blocking put) calls
  :meth:`begin_blocking`/:meth:`end_blocking`; blocked workers do not count against
  ``max_workers``, so a chain of nested asks deeper than the pool still makes progress. The
  excess threads retire once the blocked ones resume and the queue is empty.

Cost: one dispatcher-lock section per submit (plus a lock release to wake a parked worker, or a
thread start when the pool grows); a worker takes the dispatcher lock once per task it dequeues
or before it parks.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from _thread import allocate_lock
from collections import deque
from typing import Protocol

from papyra._locks import check_unlocked, new_lock

__all__ = ["Dispatcher", "Task", "current_worker_dispatcher"]

logger = logging.getLogger("papyra")

_thread_ids = itertools.count(1)


class _Local(threading.local):
    dispatcher: Dispatcher | None = None


_tls = _Local()


class Task(Protocol):
    def run(self) -> None:
        """Run one turn of the task on a worker thread."""


def current_worker_dispatcher() -> Dispatcher | None:
    """The dispatcher whose worker is the calling thread, or None."""
    return _tls.dispatcher


class _Parking:
    """A worker's parking spot: ``wake`` is held while the worker is parked (a plain signal, not a
    Papyra lock: released by the submitter that hands over ``task``; ``None`` means exit)."""

    __slots__ = ("task", "wake")

    def __init__(self) -> None:
        self.wake = allocate_lock()
        self.wake.acquire()
        self.task: Task | None = None


class Dispatcher:
    """Elastic worker pool (see the module docstring)."""

    def __init__(self, *, max_workers: int, keep_alive: float = 60.0, name: str = "papyra-worker") -> None:
        if max_workers < 1:
            raise ValueError("max_workers must be >= 1")
        self.max_workers = max_workers
        self.keep_alive = keep_alive
        self._name = name
        self._lock = new_lock()
        self._queue: deque[Task] = deque()
        self._parked: list[_Parking] = []  # idle workers, most recently parked last
        self._threads: list[threading.Thread] = []
        self._alive = 0  # worker threads that have not exited
        self._blocked = 0  # workers inside begin_blocking/end_blocking
        self._shutdown = False
        self.peak_threads = 0
        self.dropped: list[Task] = []  # queued tasks a shutdown took away (never run)

    # ------------------------------------------------------------------ submitting

    def submit(self, task: Task) -> bool:
        """Hand ``task`` to a parked worker, or queue it (starting a worker, bounded by
        ``max_workers``, when none is idle). False when it was refused: after :meth:`shutdown`
        (the caller then owns the task; workers still busy finish their current task only).
        O(1) under the dispatcher lock (plus a thread start, after the lock, when the pool
        grows)."""
        thread = spot = None
        accepted = True
        lock = self._lock
        lock.acquire()
        try:
            if self._parked:
                spot = self._parked.pop()
                spot.task = task
            elif not self._shutdown:
                self._queue.append(task)
                if self._alive - self._blocked < self.max_workers:
                    thread = self._new_worker_locked()
            else:
                accepted = False
        finally:
            lock.release()
        if spot is not None:
            spot.wake.release()  # after the lock: the worker wakes to no contention
        elif thread is not None:
            self._start(thread)
        return accepted

    def _new_worker_locked(self) -> threading.Thread | None:
        """A new worker, counted as alive; the caller starts it once the lock is released."""
        if self._shutdown:
            return None
        self._threads = [t for t in self._threads if t.is_alive() or t.ident is None]
        thread = threading.Thread(
            target=self._worker, name=f"{self._name}-{next(_thread_ids)}", daemon=True
        )
        self._alive += 1
        self._threads.append(thread)
        self.peak_threads = max(self.peak_threads, self._alive)
        return thread

    @staticmethod
    def _start(thread: threading.Thread) -> None:
        check_unlocked("worker thread start")
        thread.start()

    # ------------------------------------------------------------------ compensation

    def begin_blocking(self) -> None:
        """The calling worker is about to block; start a replacement if work is waiting (a
        queued task means no worker is parked). O(1) under the dispatcher lock, plus a thread
        start after it when one is needed."""
        thread = None
        with self._lock:
            self._blocked += 1
            if self._queue and self._alive - self._blocked < self.max_workers:
                thread = self._new_worker_locked()
        if thread is not None:
            self._start(thread)

    def end_blocking(self) -> None:
        """The calling worker resumed after :meth:`begin_blocking`. O(1) under the dispatcher lock."""
        with self._lock:
            self._blocked -= 1

    # ------------------------------------------------------------------ workers

    def _worker(self) -> None:
        _tls.dispatcher = self
        spot = _Parking()
        retired = False
        try:
            while True:
                task = self._next_task(spot)
                if task is None:
                    retired = True
                    return
                try:
                    task.run()
                except BaseException:  # a task must never kill its worker
                    logger.exception("papyra: dispatcher task raised")
                task = None  # drop the reference while parked
        finally:
            if not retired:
                with self._lock:
                    self._alive -= 1

    def _next_task(self, spot: _Parking) -> Task | None:
        """The next task of the calling worker: a queued one, or one handed over while parked.
        ``None`` once the worker left the pool (shutdown, surplus, or idle for ``keep_alive``);
        it is then no longer counted, under the same lock that saw nothing to do, so a
        concurrent submit never counts on it."""
        lock = self._lock
        lock.acquire()
        try:
            if self._queue:
                return self._queue.popleft()
            if self._shutdown or self._alive - self._blocked > self.max_workers:
                self._alive -= 1
                return None
            self._parked.append(spot)
        finally:
            lock.release()
        if not spot.wake.acquire(True, self.keep_alive):
            with self._lock:
                if spot in self._parked:  # idle for keep_alive: retire
                    self._parked.remove(spot)
                    self._alive -= 1
                    return None
            spot.wake.acquire()  # a submitter took this spot: its task is being handed over
        task, spot.task = spot.task, None
        if task is None:  # shutdown
            with self._lock:
                self._alive -= 1
        return task

    # ------------------------------------------------------------------ introspection / shutdown

    @property
    def thread_count(self) -> int:
        """Live worker threads. O(1), no lock."""
        return self._alive

    @property
    def queued(self) -> int:
        """Tasks waiting for a worker. O(1), no lock."""
        return len(self._queue)

    def shutdown(self, timeout: float | None = None) -> bool:
        """Stop accepting work, let workers finish their current task, and join them.

        Returns False if some worker was still busy (e.g. stuck in user code) at the deadline;
        those are daemon threads and exit when their task returns. Tasks still queued are not run:
        they are moved to :attr:`dropped` for the caller to dispose of.
        Blocks up to ``timeout`` joining the workers.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            self._shutdown = True
            self.dropped.extend(self._queue)
            self._queue.clear()
            for spot in self._parked:
                spot.wake.release()  # no task: the worker exits
            self._parked.clear()
            threads = list(self._threads)
        me = threading.current_thread()
        ok = True
        for thread in threads:
            if thread is me or thread.ident is None:  # not started yet: it exits at once
                continue
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            thread.join(remaining)
            ok = ok and not thread.is_alive()
        return ok
