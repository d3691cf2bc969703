"""The bounded dead-letter ring (``ActorSystem.dead_letters``)."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable

from papyra._envelope import DeadLetter
from papyra._locks import check_unlocked, new_lock
from papyra.conf.validation import check_int

__all__ = ["DeadLetterMailbox"]

logger = logging.getLogger("papyra")


class DeadLetterMailbox:
    """Keeps the newest ``capacity`` dead letters; older ones are evicted and counted.

    ``push`` is O(1) under one lock, then calls ``on_dead_letter`` (outside the lock; exceptions
    logged and swallowed).
    """

    def __init__(
        self, *, capacity: int = 10_000, on_dead_letter: Callable[[DeadLetter], object] | None = None
    ) -> None:
        self.capacity = check_int("dead_letter_capacity", capacity)
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
            check_unlocked("on_dead_letter callback")
            try:
                callback(dead_letter)
            except Exception:
                logger.warning("papyra: on_dead_letter callback raised; ignored", exc_info=True)
