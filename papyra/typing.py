"""Typing helpers for actors (synchronous protocols)."""

from __future__ import annotations

from typing import Any, Protocol, TypeVar, runtime_checkable

__all__ = ["Receives", "ReceivesAny"]

MessageT = TypeVar("MessageT", contravariant=True)
ReturnT = TypeVar("ReturnT", covariant=True)


@runtime_checkable
class Receives(Protocol[MessageT, ReturnT]):
    """Something whose ``receive(message)`` takes ``MessageT`` and returns ``ReturnT``."""

    def receive(self, message: MessageT) -> ReturnT: ...


@runtime_checkable
class ReceivesAny(Protocol):
    """Something with ``receive(message: Any) -> Any``."""

    def receive(self, message: Any) -> Any: ...
