"""Lifecycle events.

Every event is a frozen, slotted dataclass of **plain data** (safe to log, persist or ship),
except :attr:`ActorCrashed.error`, the live exception object:

* ``address`` — ``{"system": str, "actor_id": int}``, plain data for serialisation (so
  ``event.address == ref.address`` is always False: compare ``event.actor_address`` instead);
* ``actor_address`` (property) — the same address as an :class:`~papyra.address.ActorAddress`,
  comparable with ``ActorRef.address``;
* ``timestamp`` — epoch seconds from the system's ``time_fn``;
* ``payload`` (property) — every other field as a dict of plain JSON values (what is persisted).

Events:

* :class:`ActorStarted` — the first instance's ``on_start`` returned successfully.
* :class:`ActorCrashed` — ``receive``/``on_start`` raised (also emitted for a parent handling an
  escalated failure). ``error`` is the exception object (with its ``__traceback__``, so
  ``isinstance(event.error, KeyError)`` works); ``reason`` is a ``"Type: message"`` string. The
  payload (and so the persisted record) holds both as text:
  ``{"error": "KeyError: 'nope'", "reason": ...}``. For an ``on_start`` failure ``error`` is the
  original error, not the ``RuntimeError`` wrapper the hooks and asks see, and
  ``reason="on_start failed: KeyError: 'nope'"``. For a fatal error (not an ``Exception``:
  ``SystemExit``, ``KeyboardInterrupt``…) ``reason`` is ``"fatal: SystemExit"``.
* :class:`ActorRestarted` — a fresh instance's ``on_start`` succeeded; ``reason`` is the failure
  that caused the restart (the crash's ``reason``: ``"Type: message"``, or
  ``"on_start failed: Type: message"``).
* :class:`ActorStopped` — the actor terminated (after ``on_stop``). ``reason`` is one of
  ``"stopped"`` (a stop request), ``"shutdown"`` (``ActorSystem.close``), ``"supervisor"``
  (STOP by policy or decision), ``"restart-limit"``, ``"escalated"``, ``"parent-stopped"``,
  ``"fatal: <Type>"`` (a non-``Exception`` error such as ``SystemExit``; never supervised).

This ``ActorStopped`` (an event) is not the exception ``papyra.exceptions.ActorStopped``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from papyra._describe import describe_error
from papyra.address import ActorAddress

__all__ = ["ActorCrashed", "ActorEvent", "ActorRestarted", "ActorStarted", "ActorStopped", "describe_error"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ActorEvent:
    """Base of all lifecycle events."""

    address: dict[str, Any]
    timestamp: float = 0.0

    @property
    def actor_address(self) -> ActorAddress:
        """``address`` as an :class:`~papyra.address.ActorAddress` (``== ref.address`` works).
        Builds a new object on each call (O(1))."""
        return ActorAddress.from_dict(self.address)

    @property
    def event_type(self) -> str:
        """The class name (``"ActorStarted"``…), as persisted in ``PersistedEvent.event_type``. O(1)."""
        return type(self).__name__

    @property
    def payload(self) -> dict[str, Any]:
        """Every field except ``address`` and ``timestamp``, as plain data.
        Builds a new dict on each call (O(fields))."""
        return {
            f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("address", "timestamp")
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class ActorStarted(ActorEvent):
    """The actor's first ``on_start`` succeeded."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ActorStopped(ActorEvent):
    """The actor terminated; ``reason`` says why (see the module docstring)."""

    reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ActorCrashed(ActorEvent):
    """``receive``/``on_start`` raised: ``error`` is the exception object, ``reason`` a
    ``"Type: message"`` text (see the module docstring)."""

    error: BaseException | None = None
    reason: str | None = None

    @property
    def payload(self) -> dict[str, Any]:
        """``{"error": "Type: message", "reason": ...}`` (the error as text, total and bounded
        by :func:`describe_error`). Builds a new dict on each call (O(1))."""
        error = None if self.error is None else describe_error(self.error)
        return {"error": error, "reason": self.reason}


@dataclass(frozen=True, slots=True, kw_only=True)
class ActorRestarted(ActorEvent):
    """A new instance replaced a failed one; ``reason`` is the failure (``"Type: message"``)."""

    reason: str | None = None
