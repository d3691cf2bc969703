"""Actor mailboxes: a bounded user lane plus an unbounded control lane, one lock, one condition.

* **User lane** — ``(message, reply_slot)`` envelopes, strictly FIFO. ``capacity=None`` is
  unbounded; a positive int bounds it; anything else is a ``ConfigurationError`` (a
  ``ValueError``), as are an unknown overflow policy and a negative ``put_timeout``. What a full lane does
  to a sender is the :class:`OverflowPolicy`.
* **Control lane** — start, immediate-stop wake-ups and escalated failures; always served before
  the user lane and never bounded. The STOP sentinel and ``ActorTerminated`` notices go to the
  user lane (FIFO with user messages) but bypass capacity, so a stop can never deadlock on a full
  mailbox.

**Depth and capacity count the worker's batch.** A worker takes up to 32 envelopes at once
(:meth:`Mailbox.take`) and reports, per envelope, that it starts processing it
(:meth:`Mailbox.started`). ``len(mailbox)`` — and the capacity bound — count the envelopes still
queued *plus* the ones taken but not yet started, so a bound of ``N`` really means at most ``N``
accepted-but-unstarted messages (the message being processed right now is not counted).

The mailbox also carries the actor's *scheduled* flag: a put on an idle mailbox returns
``SCHEDULE`` and the caller submits the actor to the dispatcher; the worker clears the flag
atomically when it finds the mailbox empty. Every operation is O(1) under one lock; only a
blocking put on a full lane waits (on the condition).
"""

from __future__ import annotations

import enum
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from papyra._locks import new_lock
from papyra.conf.validation import check_choice, check_int, check_number

__all__ = ["Mailbox", "OverflowPolicy", "PutResult"]

_RECHECK = 0.25  # seconds: upper bound of one wait of a blocked sender before it re-checks


class OverflowPolicy(str, enum.Enum):
    """What ``tell``/``ask`` do when the target's bounded mailbox is full.

    * ``BLOCK`` (default) — wait for space: ``tell`` up to the spawn's ``put_timeout`` (``None`` =
      forever), ``ask`` up to its own ``timeout``. On expiry: ``MailboxFull`` (``tell``) or
      ``AskTimeout`` (``ask``), plus a dead letter.
    * ``FAIL`` — raise ``MailboxFull`` at once, plus a dead letter.
    * ``DROP`` — drop the *incoming* message as a dead letter; ``tell`` returns normally (an ``ask``
      raises ``MailboxFull``, since it can never be answered).
    """

    BLOCK = "block"
    FAIL = "fail"
    DROP = "drop"


class PutResult(enum.IntEnum):
    ACCEPTED = 0
    SCHEDULE = 1  # accepted, and the caller must submit the actor to the dispatcher
    FULL = 2  # overflow FAIL/DROP, or a blocking put timed out
    CLOSED = 3


class Mailbox:
    """Deque-based mailbox (see the module docstring). Thread-safe; every operation is O(1) under
    the mailbox's own lock (``close``/``unpop``: O(items)); only a blocking put waits."""

    __slots__ = (
        "_closed",
        "_control",
        "_cursor",
        "_lock",
        "_not_full",
        "_putters",
        "_scheduled",
        "_taken",
        "_user",
        "capacity",
        "overflow",
        "put_timeout",
    )

    def __init__(
        self,
        capacity: int | None = 1024,
        *,
        overflow: OverflowPolicy | str = OverflowPolicy.BLOCK,
        put_timeout: float | None = None,
    ) -> None:
        self.capacity = None if capacity is None else check_int("mailbox_capacity", capacity)
        self.overflow = check_choice("overflow", overflow, OverflowPolicy)
        self.put_timeout = None if put_timeout is None else check_number("put_timeout", put_timeout)
        self._lock = new_lock()
        # Made by the first sender that has to wait (most mailboxes never need one: spawn cost).
        self._not_full: threading.Condition | None = None
        self._user: deque[tuple[Any, Any]] = deque()
        self._control: deque[Any] = deque()
        self._closed = False
        self._scheduled = False
        self._putters = 0
        self._taken = 0  # user envelopes in the worker's current batch
        self._cursor = 0  # ... of which the worker has started this many

    def __len__(self) -> int:
        """User messages accepted and not yet started: queued plus taken by the worker's current
        batch but not yet handed to ``receive``. O(1), a racy read (no lock)."""
        return len(self._user) + self._taken - self._cursor

    def _occupancy(self) -> int:
        return len(self._user) + self._taken - self._cursor

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran. O(1), no lock."""
        return self._closed

    def put(
        self,
        envelope: tuple[Any, Any],
        *,
        bypass: bool = False,
        block: bool | None = None,
        timeout: float | None = None,
        on_block: Callable[[bool], None] | None = None,
    ) -> PutResult:
        """Append a user envelope.

        ``bypass`` ignores capacity (stop sentinel, termination notices, self-tells). When the
        lane is full, ``block`` (default: policy is BLOCK) waits up to ``timeout`` seconds
        (``None`` = forever), calling ``on_block(True)`` before and ``on_block(False)`` after the
        wait (the dispatcher's compensation hook), both without the mailbox lock.

        Cost: O(1) under the mailbox lock; blocks only when the lane is full and ``block``.
        """
        blocked = False
        try:
            with self._lock:
                if self._closed:
                    return PutResult.CLOSED
                cap = self.capacity
                if not bypass and cap is not None and self._occupancy() >= cap:
                    if block is None:
                        block = self.overflow is OverflowPolicy.BLOCK
                    if not block:
                        return PutResult.FULL
                    blocked = on_block is not None
                    if not self._wait_for_space(cap, timeout, on_block):
                        return PutResult.CLOSED if self._closed else PutResult.FULL
                self._user.append(envelope)
                if self._scheduled:
                    return PutResult.ACCEPTED
                self._scheduled = True
                return PutResult.SCHEDULE
        finally:
            if blocked:
                on_block(False)  # type: ignore[misc]  # blocked implies on_block

    def offer(self, envelope: tuple[Any, Any]) -> PutResult:
        """Non-blocking put (the ``tell`` fast path): ``FULL`` instead of applying the policy.
        O(1) under the mailbox lock."""
        with self._lock:
            if self._closed:
                return PutResult.CLOSED
            cap = self.capacity
            if cap is not None and self._occupancy() >= cap:
                return PutResult.FULL
            self._user.append(envelope)
            if self._scheduled:
                return PutResult.ACCEPTED
            self._scheduled = True
            return PutResult.SCHEDULE

    def _wait_for_space(
        self, cap: int, timeout: float | None, on_block: Callable[[bool], None] | None
    ) -> bool:
        # Called with the lock held; returns True when there is space and the mailbox is open.
        deadline = None if timeout is None else time.monotonic() + timeout
        not_full = self._not_full
        if not_full is None:
            not_full = self._not_full = threading.Condition(self._lock)
        self._putters += 1
        try:
            if on_block is not None:
                self._unlocked(on_block, True)
            while self._occupancy() >= cap and not self._closed:
                # Space is freed by started() without this lock; it notifies when it sees a
                # waiting putter. The bounded wait is a safety net should that read be stale.
                if deadline is None:
                    not_full.wait(_RECHECK)
                else:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return False
                    not_full.wait(min(remaining, _RECHECK))
            return not self._closed
        finally:
            self._putters -= 1

    def _unlocked(self, on_block: Callable[[bool], None], blocking: bool) -> None:
        # The compensation hook may start a worker thread: never under the mailbox lock. The
        # wait loop re-checks space and closure once the lock is taken again.
        self._lock.release()
        try:
            on_block(blocking)
        finally:
            self._lock.acquire()

    def put_control(self, item: Any) -> PutResult:
        """Append a control item (never bounded). ``CLOSED`` if the mailbox is closed.
        O(1) under the mailbox lock; never blocks."""
        with self._lock:
            if self._closed:
                return PutResult.CLOSED
            self._control.append(item)
            if self._scheduled:
                return PutResult.ACCEPTED
            self._scheduled = True
            return PutResult.SCHEDULE

    def pop(self) -> Any:
        """Next item (control lane first) or ``None``; ``None`` also clears the scheduled flag.
        O(1) under the mailbox lock (tests and tools; the runtime uses :meth:`take`)."""
        with self._lock:
            if self._control:
                return self._control.popleft()
            if self._user:
                item = self._user.popleft()
                self._notify_putter()
                return item
            self._scheduled = False
            return None

    def take(self, limit: int) -> list[Any] | None:
        """Up to ``limit`` items: one control item if any, else user envelopes in FIFO order.
        ``None`` (and the scheduled flag cleared) when empty. Only the consumer calls this; the
        envelopes taken keep counting towards depth and capacity until :meth:`started`.
        O(limit) under the mailbox lock."""
        with self._lock:
            if self._control:
                return [self._control.popleft()]
            user = self._user
            n = len(user)
            if not n:
                self._scheduled = False
                return None
            if n > limit:
                n = limit
            popleft = user.popleft
            batch = [popleft() for _ in range(n)]
            self._taken = n
            self._cursor = 0
            return batch

    def started(self, count: int) -> None:
        """The consumer started the ``count``-th envelope of its current batch (1-based): it no
        longer counts towards depth or capacity. O(1) and lock-free, unless a sender waits for
        space (then one lock acquire and a notify)."""
        self._cursor = count
        if self._putters:
            with self._lock:
                self._notify_putter()

    def _notify_putter(self) -> None:
        # Under the lock. A waiting putter made the condition before counting itself.
        not_full = self._not_full
        if self._putters and not_full is not None:
            not_full.notify()

    def unpop(self, items: list[Any]) -> None:
        """Give back envelopes taken but not processed (they return to the front, in order).
        Only the consumer calls this, and never after closing. O(len(items)) under the mailbox lock."""
        if items:
            with self._lock:
                self._user.extendleft(reversed(items))
                self._taken -= len(items)

    @property
    def has_control(self) -> bool:
        """A control item is waiting (racy read; no lock)."""
        return bool(self._control)

    def reschedule(self) -> bool:
        """After a fairness quantum: True (stay scheduled) if items remain, else go idle.
        O(1) under the mailbox lock."""
        with self._lock:
            if self._control or self._user:
                return True
            self._scheduled = False
            return False

    def close(self) -> list[tuple[Any, Any]]:
        """Refuse further puts, wake blocked senders, and return the user envelopes left (the
        control items are dropped). O(queued) under the mailbox lock."""
        return self.close_all()[0]

    def close_all(self) -> tuple[list[tuple[Any, Any]], list[Any]]:
        """:meth:`close`, returning the user envelopes and the control items left.
        O(queued) under the mailbox lock."""
        with self._lock:
            self._closed = True
            leftovers = list(self._user)
            control = list(self._control)
            self._user.clear()
            self._control.clear()
            self._taken = self._cursor = 0
            if self._not_full is not None:
                self._not_full.notify_all()
            return leftovers, control
