"""Deterministic sample records for backend tests: record ``n`` has timestamp ``n`` (unless
``ts`` is given), so ordering and window assertions read naturally."""

from __future__ import annotations

from typing import Any

from papyra.persistence.models import PersistedAudit, PersistedDeadLetter, PersistedEvent

__all__ = ["sample_audit", "sample_dead_letter", "sample_event"]


def sample_event(n: int, ts: float | None = None, **fields: Any) -> PersistedEvent:
    """Event ``n``: actor ``local:n``, type ``ActorStarted``, payload ``{"n": n}`` (overridable
    by keyword)."""
    return PersistedEvent(
        system_id=fields.pop("system_id", "local"),
        actor_address=fields.pop("actor_address", f"local:{n}"),
        event_type=fields.pop("event_type", "ActorStarted"),
        payload=fields.pop("payload", {"n": n}),
        timestamp=float(n) if ts is None else ts,
    )


def sample_audit(n: int, ts: float | None = None) -> PersistedAudit:
    """Audit ``n`` with every field set (lists included)."""
    return PersistedAudit(
        timestamp=float(n) if ts is None else ts,
        total_actors=n,
        alive_actors=n,
        registry_orphans=("a",),
        registry_dead=("b", "c"),
        dead_letters_count=1,
    )


def sample_dead_letter(n: int, ts: float | None = None) -> PersistedDeadLetter:
    """Dead letter ``n`` to ``local:n`` holding the string ``msg-n``."""
    return PersistedDeadLetter(
        target=f"local:{n}", message_type="str", payload=f"msg-{n}", timestamp=float(n) if ts is None else ts
    )
