"""The persisted records of a running actor system: how the runtime's lifecycle events, dead
letters and audits become :mod:`papyra.persistence.models` records.

The runtime builds every record through these three functions, so the record an actor system
writes and the record format the persistence package reads are defined in one package: addresses
go through :func:`~papyra.persistence.plain.normalize_address` (the ``"system:actor_id"``
string), payloads through :func:`~papyra._describe.describe_payload` (plain JSON values, every
string bounded, total: a user object whose ``__repr__`` raises still gives a record).

The arguments are duck-typed (an event has ``address``, ``payload``, ``timestamp`` and a class
name; a report has the :class:`~papyra.audit.AuditReport` counts), so this package does not
import the runtime. Cost: O(size of the payload) plus the payload objects' own
``__repr__``/``__str__``; no I/O, no lock.
"""

from __future__ import annotations

from typing import Any

from papyra._describe import describe_payload
from papyra.persistence.models import PersistedAudit, PersistedDeadLetter, PersistedEvent
from papyra.persistence.plain import normalize_address

__all__ = ["audit_record", "dead_letter_record", "event_record"]


def event_record(system_id: str, event: Any) -> PersistedEvent:
    """A :class:`PersistedEvent` for a lifecycle event (``papyra.events.ActorEvent``): its class
    name as ``event_type``, its ``payload`` as plain data (``ActorCrashed.error`` as its
    ``"Type: message"`` text), its own ``timestamp`` (epoch seconds)."""
    return PersistedEvent(
        system_id=system_id,
        actor_address=normalize_address(event.address),
        event_type=type(event).__name__,
        payload=describe_payload(event.payload),
        timestamp=event.timestamp,
    )


def dead_letter_record(system_id: str, target: Any, message: Any, timestamp: float) -> PersistedDeadLetter:
    """A :class:`PersistedDeadLetter` for ``message`` that never reached ``target`` (an address or
    anything with one, e.g. an ``ActorRef``): the message's class name and its plain-data form."""
    return PersistedDeadLetter(
        system_id=system_id,
        target=normalize_address(target),
        message_type=type(message).__name__,
        payload=describe_payload(message),
        timestamp=timestamp,
    )


def audit_record(report: Any, timestamp: float) -> PersistedAudit:
    """A :class:`PersistedAudit` with the counts of an ``AuditReport`` (no actor details)."""
    return PersistedAudit(
        system_id=report.system_id,
        timestamp=timestamp,
        total_actors=report.total_actors,
        alive_actors=report.alive_actors,
        stopping_actors=report.stopping_actors,
        restarting_actors=report.restarting_actors,
        registry_size=report.registry_size,
        registry_orphans=tuple(report.registry_orphans),
        registry_dead=tuple(report.registry_dead),
        dead_letters_count=report.dead_letters_count,
    )
