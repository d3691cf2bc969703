"""The M:N dispatcher: runs actors on an elastic pool of worker threads.

* A *task* is anything with ``run()``; for actors it is the actor's cell, submitted when its
  mailbox goes from idle to non-empty. The cell processes up to ``throughput`` messages per turn
  and resubmits itself if more are queued (fairness); the mailbox's scheduled flag guarantees an
  actor is never run by two threads at once.
* Workers are daemon threads named ``papyra-worker-N``, created on demand (only when no idle
  worker can take the task) up to ``max_workers``, and retired after ``keep_alive`` idle seconds.
* **Compensation**: a worker blocked inside ``ask`` (or a blocking put) calls
  :meth:`begin_blocking`/:meth:`end_blocking`; blocked workers do not count against
  ``max_workers``, so a chain of nested asks deeper than the pool still makes progress. The
  excess threads retire once the blocked ones resume and the queue is empty.

Cost: one lock acquire per submit (plus a notify or a thread start when needed); workers wait on
a condition when idle.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
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


class Dispatcher:
    """Elastic worker pool (see the module docstring)."""

    def __init__(self, *, max_workers: int, keep_alive: float = 60.0, name: str = "papyra-worker") -> None:
        if max_workers < 1:
            raise ValueError("max_workers must be >= 1")
        self.max_workers = max_workers
        self.keep_alive = keep_alive
        self._name = name
        self._lock = new_lock()
        self._cond = threading.Condition(self._lock)
        self._queue: deque[Task] = deque()
        self._threads: list[threading.Thread] = []
        self._alive = 0  # worker threads that have not exited
        self._idle = 0  # workers waiting for a task
        self._blocked = 0  # workers inside begin_blocking/end_blocking
        self._shutdown = False
        self.peak_threads = 0

    # ------------------------------------------------------------------ submitting

    def submit(self, task: Task) -> None:
        """Queue ``task``; wake an idle worker or start one (bounded by ``max_workers``).
        O(1) under the dispatcher lock (plus a thread start, after the lock, when the pool grows)."""
        thread = None
        with self._lock:
            if self._shutdown and not self._alive:
                return
            self._queue.append(task)
            if self._idle:
                self._cond.notify()
            if len(self._queue) > self._idle and self._alive - self._blocked < self.max_workers:
                thread = self._new_worker_locked()
        if thread is not None:
            self._start(thread)

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
        """The calling worker is about to block; start a replacement if work is waiting."""
        thread = None
        with self._lock:
            self._blocked += 1
            starved = self._queue and self._idle < len(self._queue)
            if starved and self._alive - self._blocked < self.max_workers:
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
        lock = self._lock
        queue = self._queue
        retired = False
        try:
            while True:
                with lock:
                    while not queue:
                        if self._shutdown or self._alive - self._blocked > self.max_workers:
                            retired = True
                        else:
                            self._idle += 1
                            notified = self._cond.wait(self.keep_alive)
                            self._idle -= 1
                            retired = not notified and not queue  # idle for keep_alive
                        if retired:
                            # Leave the pool under the same lock that saw the empty queue, so a
                            # concurrent submit never counts on this thread.
                            self._alive -= 1
                            return
                    task = queue.popleft()
                try:
                    task.run()
                except BaseException:  # a task must never kill its worker
                    logger.exception("papyra: dispatcher task raised")
        finally:
            if not retired:
                with lock:
                    self._alive -= 1

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
        those are daemon threads and exit when their task returns.
        Blocks up to ``timeout`` joining the workers.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            self._shutdown = True
            self._queue.clear()
            self._cond.notify_all()
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
