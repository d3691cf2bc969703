"""Persisted record types, reports and configs (msgspec Structs).

The three record kinds are what an actor system writes; each is a frozen ``msgspec.Struct``
tagged with ``kind`` (``"event"``, ``"audit"``, ``"dead_letter"``), so encoding produces the
NDJSON line format shared with the earlier implementation and decoding is a typed, tagged union
(the line grammar itself — limits, accepted styles, required fields — is
:mod:`papyra.persistence.grammar`). Typed decoding refuses unknown keys, so lines holding them
take the grammar's checking path. Addresses are stored as the string ``"system:actor_id"``.
"""

from __future__ import annotations

import enum
from typing import Any, TypeVar, Union

import msgspec

from papyra.exceptions import ConfigurationError

__all__ = [
    "RECORD_KINDS",
    "CompactionReport",
    "PersistedAudit",
    "PersistedDeadLetter",
    "PersistedEvent",
    "PersistedRecord",
    "PersistenceAnomaly",
    "PersistenceAnomalyType",
    "PersistenceRecoveryConfig",
    "PersistenceRecoveryMode",
    "PersistenceRecoveryReport",
    "PersistenceScanReport",
]


class PersistedEvent(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag_field="kind", tag="event"
):
    """A lifecycle event (``ActorStarted``, ``ActorCrashed``…) of one actor."""

    system_id: str = "local"
    actor_address: str | None = None
    event_type: str = ""
    payload: Any = msgspec.field(default_factory=dict)
    timestamp: float


class PersistedAudit(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag_field="kind", tag="audit"
):
    """A point-in-time audit of an actor system (counts only, no actor details)."""

    system_id: str = "local"
    timestamp: float
    total_actors: int = 0
    alive_actors: int = 0
    stopping_actors: int = 0
    restarting_actors: int = 0
    registry_size: int = 0
    registry_orphans: tuple[str, ...] = ()
    registry_dead: tuple[str, ...] = ()
    dead_letters_count: int = 0


class PersistedDeadLetter(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag_field="kind",
    tag="dead_letter",
):
    """A message that could not be delivered. ``target`` is the target's address string."""

    system_id: str = "local"
    target: str | None = None
    message_type: str = ""
    payload: Any = None
    timestamp: float


PersistedRecord = Union[PersistedEvent, PersistedAudit, PersistedDeadLetter]  # noqa: UP007

#: Map from the ``kind`` discriminator to the record type.
RECORD_KINDS: dict[str, type[PersistedEvent] | type[PersistedAudit] | type[PersistedDeadLetter]] = {
    "event": PersistedEvent,
    "audit": PersistedAudit,
    "dead_letter": PersistedDeadLetter,
}


# --------------------------------------------------------------------------- reports


class CompactionReport(msgspec.Struct, frozen=True, kw_only=True):
    """What a ``compact()`` did. Byte figures are ``None`` where the backend cannot tell."""

    backend: str
    before_records: int
    after_records: int
    before_bytes: int | None = None
    after_bytes: int | None = None
    quarantined_records: int = 0
    quarantine_path: str | None = None
    #: Records kept regardless of ``max_age_seconds`` because their timestamp is not epoch time
    #: (before 2001-09-09, e.g. the earlier release's monotonic clock).
    relative_timestamp_records: int = 0

    @property
    def removed_records(self) -> int:
        return self.before_records - self.after_records

    @property
    def reclaimed_bytes(self) -> int | None:
        if self.before_bytes is None or self.after_bytes is None:
            return None
        return self.before_bytes - self.after_bytes

    def __getitem__(self, key: str) -> Any:
        """Mapping-style access (``report["backend"]``), kept for ported code."""
        try:
            return getattr(self, key)
        except AttributeError:
            raise KeyError(key) from None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = msgspec.structs.asdict(self)
        d["removed_records"] = self.removed_records
        d["reclaimed_bytes"] = self.reclaimed_bytes
        return d


class PersistenceAnomalyType(str, enum.Enum):
    """Kinds of damage ``scan()`` reports. Values are the readable names."""

    TRUNCATED_LINE = "TRUNCATED_LINE"
    PARTIAL_WRITE = "PARTIAL_WRITE"
    CORRUPTED_LINE = "CORRUPTED_LINE"
    ORPHANED_ROTATED_FILE = "ORPHANED_ROTATED_FILE"
    UNEXPECTED_FILE = "UNEXPECTED_FILE"

    def __str__(self) -> str:
        return self.value


class PersistenceAnomaly(msgspec.Struct, frozen=True, kw_only=True):
    """One problem found by a scan. ``line`` is 1-based; ``offset`` is the byte offset."""

    type: PersistenceAnomalyType
    path: str
    detail: str | None = None
    line: int | None = None
    offset: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type.value,
            "path": self.path,
            "detail": self.detail,
            "line": self.line,
            "offset": self.offset,
        }


class PersistenceScanReport(msgspec.Struct, frozen=True, kw_only=True):
    """Result of a read-only ``scan()``."""

    backend: str
    anomalies: tuple[PersistenceAnomaly, ...] = ()

    @property
    def has_anomalies(self) -> bool:
        return bool(self.anomalies)

    def to_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "has_anomalies": self.has_anomalies,
            "anomalies": [a.to_dict() for a in self.anomalies],
        }


E = TypeVar("E", bound=enum.Enum)


def parse_choice(cls: type[E], value: object, what: str) -> E:
    """Parse a string-valued enum member from a member or its value, case-insensitively
    (``-`` accepted for ``_``); raise :class:`~papyra.exceptions.ConfigurationError` (a
    ``ValueError``) listing the choices otherwise."""
    if isinstance(value, cls):
        return value
    if isinstance(value, str):
        key = value.strip().lower().replace("-", "_")
        for member in cls:
            if member.value == key:
                return member
    choices = ", ".join(str(m.value) for m in cls)
    raise ConfigurationError(f"Unknown {what} {value!r}; expected one of: {choices}")


class PersistenceRecoveryMode(str, enum.Enum):
    """What ``recover()`` does with damage: report only, repair, or repair and keep originals."""

    IGNORE = "ignore"
    REPAIR = "repair"
    QUARANTINE = "quarantine"

    @classmethod
    def parse(cls, value: str | PersistenceRecoveryMode) -> PersistenceRecoveryMode:
        """Accept a member or its value, case-insensitively; raise
        :class:`~papyra.exceptions.ConfigurationError` (a ``ValueError``) otherwise."""
        return parse_choice(cls, value, "recovery mode")


class PersistenceRecoveryConfig(msgspec.Struct, frozen=True, kw_only=True):
    """How ``recover()`` should act. ``quarantine_dir`` defaults to the store's directory."""

    mode: PersistenceRecoveryMode = PersistenceRecoveryMode.IGNORE
    quarantine_dir: str | None = None

    def __post_init__(self) -> None:
        msgspec.structs.force_setattr(self, "mode", PersistenceRecoveryMode.parse(self.mode))


class PersistenceRecoveryReport(msgspec.Struct, frozen=True, kw_only=True):
    """Result of ``recover()``: the scan it acted on and what it changed."""

    backend: str
    scan: PersistenceScanReport
    repaired_files: tuple[str, ...] = ()
    quarantined_files: tuple[str, ...] = ()
    #: Records kept in the files (Redis: streams) recovery rewrote — every line that decodes to a
    #: record is kept; 0 when recovery changed nothing.
    kept_records: int = 0
    #: Unreadable lines (or Redis entries) taken out of the store.
    removed_lines: int = 0
    #: Of those, how many were kept aside (QUARANTINE).
    quarantined_lines: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "scan": self.scan.to_dict(),
            "repaired_files": list(self.repaired_files),
            "quarantined_files": list(self.quarantined_files),
            "kept_records": self.kept_records,
            "removed_lines": self.removed_lines,
            "quarantined_lines": self.quarantined_lines,
        }
