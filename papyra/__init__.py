"""Papyra: a synchronous, threaded actor runtime with durable persistence and operator tooling."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from papyra.exceptions import (
    ActorError,
    ActorStopped,
    AskDeadlock,
    AskTimeout,
    BackendUnavailable,
    BackPressureError,
    ConfigurationError,
    CorruptionError,
    DurabilityError,
    EncodingError,
    LockTimeout,
    MailboxClosed,
    MailboxFull,
    PapyraError,
    PersistenceError,
    PersistenceStartupError,
)

if TYPE_CHECKING:
    from papyra._envelope import ActorTerminated, DeadLetter
    from papyra.actor import Actor
    from papyra.address import ActorAddress
    from papyra.audit import ActorInfo, AuditReport
    from papyra.context import ActorContext
    from papyra.events import ActorCrashed, ActorEvent, ActorRestarted, ActorStarted
    from papyra.hooks import DefaultHooks, FailureInfo, SystemHooks
    from papyra.mailbox import OverflowPolicy
    from papyra.ref import ActorProxy, ActorRef
    from papyra.supervision import Strategy, SupervisionPolicy
    from papyra.supervisor import SupervisorDecision
    from papyra.system import STOP, ActorSystem, DeadLetterMailbox
    from papyra.typing import Receives, ReceivesAny


# Runtime names are imported lazily (PEP 562) so that ``import papyra`` (e.g. by the CLI) does
# not pull in the runtime or the persistence layer until they are used.
_LAZY: dict[str, str] = {
    "ActorTerminated": "papyra._envelope",
    "DeadLetter": "papyra._envelope",
    "Actor": "papyra.actor",
    "ActorAddress": "papyra.address",
    "ActorInfo": "papyra.audit",
    "AuditReport": "papyra.audit",
    "ActorContext": "papyra.context",
    "ActorCrashed": "papyra.events",
    "ActorEvent": "papyra.events",
    "ActorRestarted": "papyra.events",
    "ActorStarted": "papyra.events",
    "DefaultHooks": "papyra.hooks",
    "FailureInfo": "papyra.hooks",
    "SystemHooks": "papyra.hooks",
    "OverflowPolicy": "papyra.mailbox",
    "ActorProxy": "papyra.ref",
    "ActorRef": "papyra.ref",
    "Strategy": "papyra.supervision",
    "SupervisionPolicy": "papyra.supervision",
    "SupervisorDecision": "papyra.supervisor",
    "STOP": "papyra.system",
    "ActorSystem": "papyra.system",
    "DeadLetterMailbox": "papyra.system",
    "Receives": "papyra.typing",
    "ReceivesAny": "papyra.typing",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'papyra' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__version__ = "0.4.0"

# Library logging etiquette: the "papyra" logger gets a NullHandler and the library never
# configures the root logger; applications decide where records go.
logging.getLogger("papyra").addHandler(logging.NullHandler())

# The lifecycle *event* ActorStopped lives in papyra.events (the name ActorStopped here is the
# exception); import it as ``from papyra.events import ActorStopped``.
__all__ = [
    "STOP",
    "Actor",
    "ActorAddress",
    "ActorContext",
    "ActorCrashed",
    "ActorError",
    "ActorEvent",
    "ActorInfo",
    "ActorProxy",
    "ActorRef",
    "ActorRestarted",
    "ActorStarted",
    "ActorStopped",
    "ActorSystem",
    "ActorTerminated",
    "AskDeadlock",
    "AskTimeout",
    "AuditReport",
    "BackPressureError",
    "BackendUnavailable",
    "ConfigurationError",
    "CorruptionError",
    "DeadLetter",
    "DeadLetterMailbox",
    "DefaultHooks",
    "DurabilityError",
    "EncodingError",
    "FailureInfo",
    "LockTimeout",
    "MailboxClosed",
    "MailboxFull",
    "OverflowPolicy",
    "PapyraError",
    "PersistenceError",
    "PersistenceStartupError",
    "Receives",
    "ReceivesAny",
    "Strategy",
    "SupervisionPolicy",
    "SupervisorDecision",
    "SystemHooks",
    "__version__",
]
