"""The bounded dead-letter ring (``ActorSystem.dead_letters``)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from papyra._envelope import DeadLetter
from papyra._locks import new_lock
from papyra.conf.validation import check_int
from papyra.hooks import run_callback

__all__ = ["DeadLetterMailbox"]


class DeadLetterMailbox:
    """Keeps the newest ``capacity`` dead letters; older ones are evicted and counted.

    ``push`` is O(1) under one lock, then calls ``on_dead_letter`` (outside the lock; exceptions
    logged and swallowed).
    """

    def __init__(
        self, *, capacity: int = 10_000, on_dead_letter: Callable[[DeadLetter], object] | None = None
    ) -> None:
        self.capacity = check_int("dead_letter_capacity", capacity)
        if on_dead_letter is not None and not callable(on_dead_letter):
            raise TypeError(f"on_dead_letter must be a callable or None, got {on_dead_letter!r}")
        self._lock = new_lock()
        self._ring: deque[DeadLetter] = deque(maxlen=capacity)
        self._dropped = 0
        self._total = 0
        self._on_dead_letter = on_dead_letter

    @property
    def messages(self) -> tuple[DeadLetter, ...]:
        """Snapshot of the retained dead letters, oldest first. O(capacity) copy under the ring's lock."""
        with self._lock:
            return tuple(self._ring)

    @property
    def dropped(self) -> int:
        """How many dead letters were evicted from the ring because it was full. O(1), no lock."""
        return self._dropped

    @property
    def total(self) -> int:
        """Every dead letter ever pushed (retained + dropped). O(1), no lock."""
        return self._total

    def __len__(self) -> int:
        """Dead letters currently retained. O(1), no lock."""
        return len(self._ring)

    def after_fork(self) -> None:
        """In a forked child: a fresh lock (the parent's may have been held by a thread that
        does not exist here)."""
        self._lock = new_lock()

    def push(self, dead_letter: DeadLetter) -> None:
        """Record one dead letter, then call the ``on_dead_letter`` callback.
        O(1) under the ring's lock; the callback runs outside it, on the caller's thread."""
        with self._lock:
            if len(self._ring) == self.capacity:
                self._dropped += 1
            self._ring.append(dead_letter)
            self._total += 1
        callback = self._on_dead_letter
        if callback is not None:
            run_callback("on_dead_letter callback", callback, dead_letter)
