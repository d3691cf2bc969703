"""Papyra's error hierarchy.

One root, :class:`PapyraError`, and three families:

* actor errors (:class:`ActorError`): stopped actors, ask timeouts, full or closed mailboxes,
  ask deadlocks;
* persistence errors (:class:`PersistenceError`): corruption, durability (failed write or fsync),
  back-pressure, unavailable backends, lock timeouts, startup checks;
* configuration errors (:class:`ConfigurationError`).

Where a builtin exception fits, the family also subclasses it (``AskTimeout`` is a
``TimeoutError``, ``ConfigurationError`` a ``ValueError``, ``DurabilityError`` an ``OSError``…),
so callers that already catch the builtin keep working. Library-internal errors (``OSError``,
redis errors) are mapped to these at the boundary, with the original kept as ``__cause__``.
"""

from __future__ import annotations

__all__ = [
    "ActorError",
    "ActorStopped",
    "AskDeadlock",
    "AskTimeout",
    "BackPressureError",
    "BackendUnavailable",
    "ConfigurationError",
    "CorruptionError",
    "DurabilityError",
    "EncodingError",
    "LockTimeout",
    "MailboxClosed",
    "MailboxFull",
    "MissingDependencyError",
    "PapyraError",
    "PersistenceClosedError",
    "PersistenceError",
    "PersistenceStartupError",
    "QuarantineError",
    "UnsafeFileError",
]


class PapyraError(Exception):
    """Root of every error Papyra raises on purpose."""


# --------------------------------------------------------------------------- actor errors


class ActorError(PapyraError):
    """Family of errors raised by the actor runtime."""


class ActorStopped(ActorError):
    """The actor (or the whole system) is not running; the message was not accepted.

    ``reason`` is a short machine-readable cause (``"shutdown"`` for system-level refusals,
    ``None`` for an ordinary stopped actor).
    """

    def __init__(self, message: str = "Actor stopped", *, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason


class AskTimeout(ActorError, TimeoutError):
    """``ask()`` got no reply (or no mailbox space) within its timeout."""


class MailboxClosed(ActorError):
    """The mailbox no longer accepts messages."""


class MailboxFull(ActorError):
    """A bounded mailbox is full and its overflow policy is ``fail`` (or the wait timed out)."""


class AskDeadlock(ActorError, RuntimeError):
    """An ask can never be answered: an actor asked itself, or asks form a cycle."""


# --------------------------------------------------------------------------- configuration


class ConfigurationError(PapyraError, ValueError):
    """A setting, argument or environment variable has an invalid value."""


class MissingDependencyError(PapyraError, ImportError):
    """An optional dependency is not installed; the message names the pip extra to install."""


# --------------------------------------------------------------------------- persistence


class PersistenceError(PapyraError):
    """Family of errors raised by persistence backends."""


class PersistenceClosedError(PersistenceError, RuntimeError):
    """The backend has been closed; it accepts no more records."""


class BackPressureError(PersistenceError):
    """The writer queue (or Redis outage buffer) is full; the record was *not* accepted."""


class DurabilityError(PersistenceError, OSError):
    """A write or fsync failed. The backend is fail-stop: it refuses writes until reopened."""


class CorruptionError(PersistenceError, ValueError):
    """Stored data could not be decoded where a valid record was required."""


class EncodingError(PersistenceError, ValueError):
    """A record could not be encoded within the record grammar (a cyclic or too deeply nested
    payload, keys that collide once made strings, a line over the size limit, a non-finite
    timestamp); it was *not* accepted. Counted in the ``encoding_errors`` metric."""


class BackendUnavailable(PersistenceError, ConnectionError):
    """The storage backend (e.g. Redis) cannot be reached."""


class LockTimeout(PersistenceError, TimeoutError):
    """The cross-process store lock was not acquired within the configured timeout."""


class QuarantineError(PersistenceError, PermissionError):
    """The quarantine directory is unsafe (a symlink, or writable by other users)."""


class PersistenceStartupError(PersistenceError, RuntimeError):
    """The startup check refused to start the system (anomalies found or left after recovery)."""


class UnsafeFileError(PersistenceError, PermissionError):
    """A file at a store's path (store, member, lock, commit marker, temp) cannot be trusted: it
    is not a regular file, or — in a directory other users can write — it belongs to another
    non-root user or is writable by group/others while ``file_mode`` is not. ``path`` names the
    file and ``reason`` says why; the file is left untouched."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"refusing {path}: {reason}")
        self.path = path
        self.reason = reason

    def __reduce__(self) -> tuple[type[UnsafeFileError], tuple[str, str]]:
        return (type(self), (self.path, self.reason))
