"""Papyra: a synchronous, threaded actor runtime with durable persistence and operator tooling."""

from __future__ import annotations

from papyra.exceptions import (
    ActorStopped,
    AskDeadlock,
    AskTimeout,
    MailboxClosed,
    MailboxFull,
    PapyraError,
)

__version__ = "0.4.0"

__all__ = [
    "ActorStopped",
    "AskDeadlock",
    "AskTimeout",
    "MailboxClosed",
    "MailboxFull",
    "PapyraError",
    "__version__",
]
