"""Actor mailboxes: a bounded user lane plus an unbounded control lane, one lock.

* **User lane** — ``(message, reply_slot)`` envelopes, strictly FIFO. ``capacity=None`` is
  unbounded; a positive int bounds it; anything else is a ``ConfigurationError`` (a
  ``ValueError``), as are an unknown overflow policy and a negative ``put_timeout``. What a full lane does
  to a sender is the :class:`OverflowPolicy`.
* **Control lane** — start, immediate-stop wake-ups and escalated failures; always served before
  the user lane and never bounded. The STOP sentinel and ``ActorTerminated`` notices go to the
  user lane (FIFO with user messages) but bypass capacity, so a stop can never deadlock on a full
  mailbox.

**One producer protocol, one consumer.** Senders append under the mailbox lock (closed check,
capacity check, append and the *scheduled* flag in one O(1) section). The one consumer — the
worker running the actor — pops from :attr:`Mailbox.control_lane` and :attr:`Mailbox.user_lane`
directly, without the lock (a ``deque`` pop is atomic), and takes the lock only to go idle
(:meth:`Mailbox.idle`) or to wake a blocked sender (:meth:`Mailbox.wake_sender`). A message is
popped right before it is handed to ``receive``, so ``len(mailbox)`` — and the capacity bound —
count exactly the accepted messages not yet started: a bound of ``N`` means at most ``N`` of them.

The *scheduled* flag: a put on an idle mailbox returns ``SCHEDULE`` and the caller submits the
actor to the dispatcher; the consumer clears the flag under the lock only when it sees both lanes
empty there. A sender that must wait for space (overflow BLOCK) parks on a lock of its own, queued
in :attr:`Mailbox.blocked_senders`; the consumer releases one per message it pops while any
waits, so a full mailbox costs one wake-up per blocked sender, not one per message.
"""

from __future__ import annotations

import enum
import time
from _thread import allocate_lock
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


_ACCEPTED = PutResult.ACCEPTED
_SCHEDULE = PutResult.SCHEDULE
_FULL = PutResult.FULL
_CLOSED = PutResult.CLOSED


class Mailbox:
    """Deque-based mailbox (see the module docstring). Thread-safe for any number of senders and
    one consumer; every put is O(1) under the mailbox's own lock, the consumer's pops take no
    lock; only a blocking put on a full lane waits.

    ``user_lane`` / ``control_lane``: the two ``deque`` lanes. Only the consumer pops from them
    (``popleft``, no lock) and only while the mailbox is scheduled; everything else goes through
    the methods. ``blocked_senders``: the wake-up locks of senders waiting for space (truthy while
    one waits; a racy read).
    """

    __slots__ = (
        "_closed",
        "_lock",
        "_putters",
        "_scheduled",
        "blocked_senders",
        "capacity",
        "control_lane",
        "overflow",
        "put_timeout",
        "user_lane",
    )

    def __init__(
        self,
        capacity: int | None = 1024,
        *,
        overflow: OverflowPolicy | str = OverflowPolicy.BLOCK,
        put_timeout: float | None = None,
    ) -> None:
        # Spawn cost: the defaults (an int capacity, the BLOCK member) skip the general checks.
        if capacity is not None and (type(capacity) is not int or capacity < 1):
            capacity = check_int("mailbox_capacity", capacity)
        self.capacity = capacity
        if overflow is not OverflowPolicy.BLOCK:
            overflow = check_choice("overflow", overflow, OverflowPolicy)
        self.overflow: OverflowPolicy = overflow
        self.put_timeout = None if put_timeout is None else check_number("put_timeout", put_timeout)
        self._lock = new_lock()
        self.user_lane: deque[tuple[Any, Any]] = deque()
        self.control_lane: deque[Any] = deque()
        self.blocked_senders: deque[Any] = deque()
        self._closed = False
        self._scheduled = False
        self._putters = 0  # senders inside a blocking put (introspection and tests)

    def __len__(self) -> int:
        """User messages accepted and not yet started. O(1), a racy read (no lock)."""
        return len(self.user_lane)

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran. O(1), no lock."""
        return self._closed

    # ------------------------------------------------------------------ senders

    def offer(self, envelope: tuple[Any, Any]) -> PutResult:
        """Non-blocking put (the ``tell``/``ask`` fast path): ``FULL`` instead of applying the
        overflow policy. O(1) under the mailbox lock."""
        lock = self._lock
        lock.acquire()
        try:
            if self._closed:
                return _CLOSED
            cap = self.capacity
            if cap is not None and len(self.user_lane) >= cap:
                return _FULL
            self.user_lane.append(envelope)  # _append_locked, inlined: one call less per tell
            if self._scheduled:
                return _ACCEPTED
            self._scheduled = True
            return _SCHEDULE
        finally:
            lock.release()

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
        if not bypass:
            result = self.offer(envelope)
            if result is not _FULL:
                return result
            if block is None:
                block = self.overflow is OverflowPolicy.BLOCK
            if not block:
                return _FULL
        blocked = False
        lock = self._lock
        lock.acquire()
        try:
            if not bypass:  # the lane was full (so bounded) a moment ago: wait for a place
                blocked = on_block is not None
                if not self._wait_for_space(self.capacity, timeout, on_block):  # type: ignore[arg-type]
                    return _CLOSED if self._closed else _FULL
            elif self._closed:
                return _CLOSED
            return self._append_locked(self.user_lane, envelope)
        finally:
            lock.release()
            if blocked:
                on_block(False)  # type: ignore[misc]  # blocked implies on_block

    def _append_locked(self, lane: deque[Any], item: Any) -> PutResult:
        # Under the lock, the mailbox open: append, and claim the scheduled flag if idle.
        lane.append(item)
        if self._scheduled:
            return _ACCEPTED
        self._scheduled = True
        return _SCHEDULE

    def _wait_for_space(
        self, cap: int, timeout: float | None, on_block: Callable[[bool], None] | None
    ) -> bool:
        # Called with the lock held; returns (lock held) True when there is space and the
        # mailbox is open (at once if there is by now), False on timeout or closure.
        deadline = None if timeout is None else time.monotonic() + timeout
        wake = allocate_lock()  # a plain signal, never a Papyra lock: released by the consumer
        wake.acquire()
        senders = self.blocked_senders
        self._putters += 1
        try:
            if on_block is not None:
                self._unlocked(on_block, True)
            while True:
                # Registered before the check: the consumer pops without the lock, then looks
                # at blocked_senders; a pop after this check therefore sees (and wakes) us.
                senders.append(wake)
                if self._closed or len(self.user_lane) < cap:
                    self._unregister(wake)
                    return not self._closed
                wait = _RECHECK  # a safety net: a wake-up is never expected to be missed
                if deadline is not None:
                    wait = min(deadline - time.monotonic(), wait)
                    if wait <= 0:
                        self._unregister(wake)
                        return False
                self._lock.release()
                try:
                    woken = wake.acquire(True, wait)
                finally:
                    self._lock.acquire()
                if not woken:
                    self._unregister(wake)
        finally:
            self._putters -= 1

    def _unregister(self, wake: Any) -> None:
        # Under the lock: take ``wake`` out of the queue, or, when a consumer already popped and
        # released it (also under the lock), consume that release so the lock is armed again.
        try:
            self.blocked_senders.remove(wake)
        except ValueError:
            wake.acquire()

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
        lock = self._lock
        lock.acquire()
        try:
            return _CLOSED if self._closed else self._append_locked(self.control_lane, item)
        finally:
            lock.release()

    # ------------------------------------------------------------------ the consumer

    def idle(self, *, suspended: bool = False) -> bool:
        """The consumer found nothing to do: True (and the scheduled flag cleared) if that still
        holds under the lock, False (stay scheduled, pop again) if an item arrived meanwhile.
        ``suspended``: the actor waits for a supervision decision and takes only control items,
        so queued user messages do not keep it scheduled (the next put schedules it again).
        O(1) under the mailbox lock."""
        lock = self._lock
        lock.acquire()
        try:
            if self.control_lane or (self.user_lane and not suspended):
                return False
            self._scheduled = False
            return True
        finally:
            lock.release()

    def wake_sender(self) -> None:
        """The consumer freed a place: wake the longest-waiting blocked sender (if one is still
        queued). Called after a pop when :attr:`blocked_senders` is non-empty. O(1) under the
        mailbox lock."""
        lock = self._lock
        lock.acquire()
        try:
            if self.blocked_senders:
                self.blocked_senders.popleft().release()
        finally:
            lock.release()

    def pop(self) -> Any:
        """Next item (control lane first) or ``None``; ``None`` also clears the scheduled flag.
        Consumer side, O(1) (tests and tools; the runtime pops the lanes itself)."""
        while True:
            if self.control_lane:
                return self.control_lane.popleft()
            if self.user_lane:
                item = self.user_lane.popleft()
                if self.blocked_senders:
                    self.wake_sender()
                return item
            if self.idle():
                return None

    def close(self) -> list[tuple[Any, Any]]:
        """Refuse further puts, wake blocked senders, and return the user envelopes left (the
        control items are dropped). O(queued) under the mailbox lock."""
        return self.close_all()[0]

    def close_all(self) -> tuple[list[tuple[Any, Any]], list[Any]]:
        """:meth:`close`, returning the user envelopes and the control items left. Consumer
        side (the lanes are drained). O(queued) under the mailbox lock."""
        lock = self._lock
        lock.acquire()
        try:
            self._closed = True
            leftovers = list(self.user_lane)
            control = list(self.control_lane)
            self.user_lane.clear()
            self.control_lane.clear()
            senders = self.blocked_senders
            while senders:
                senders.popleft().release()
            return leftovers, control
        finally:
            lock.release()
