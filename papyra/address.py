"""Actor addresses: ``ActorAddress(system, actor_id)``, written as ``"system:actor_id"``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["ActorAddress"]


@dataclass(frozen=True, slots=True)
class ActorAddress:
    """Where an actor lives: the owning system's id and the actor's numeric id (its rid).

    Hashable and equal by both fields. ``str()`` is ``"system:actor_id"``; :meth:`parse` reads it
    back, splitting on the *last* colon so system ids that contain ``":"`` round-trip.
    """

    system: str
    actor_id: int

    def __post_init__(self) -> None:
        if not isinstance(self.system, str) or not self.system:
            raise TypeError(f"ActorAddress.system must be a non-empty str, got {self.system!r}")
        if isinstance(self.actor_id, bool) or not isinstance(self.actor_id, int) or self.actor_id < 0:
            raise TypeError(f"ActorAddress.actor_id must be a non-negative int, got {self.actor_id!r}")

    def __str__(self) -> str:
        return f"{self.system}:{self.actor_id}"

    @classmethod
    def parse(cls, raw: str) -> ActorAddress:
        """Parse ``"system:actor_id"``; raise ``ValueError`` on malformed input. O(len(text))."""
        if not isinstance(raw, str) or ":" not in raw:
            raise ValueError("Invalid address format. Expected '<system>:<actor_id>'.")
        system, _, actor_id = raw.rpartition(":")
        system = system.strip()
        if not system:
            raise ValueError("Invalid address format. Missing system id.")
        try:
            rid = int(actor_id.strip())
        except ValueError:
            raise ValueError("Invalid address format. actor_id must be an int.") from None
        if rid < 0:
            raise ValueError("Invalid address format. actor_id must not be negative.")
        return cls(system, rid)

    def to_dict(self) -> dict[str, Any]:
        """``{"system": str, "actor_id": int}`` (plain data). O(1)."""
        return {"system": self.system, "actor_id": self.actor_id}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ActorAddress:
        """Inverse of :meth:`to_dict` (values coerced with ``str()`` and ``int()``). O(1)."""
        return cls(str(data["system"]), int(data["actor_id"]))
