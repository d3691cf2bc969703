"""Persistence: record models, the backend contract, backends, retention, scan/recover."""

from __future__ import annotations

from papyra.persistence.backends.memory import InMemoryPersistence
from papyra.persistence.base import (
    PersistenceBackend,
    PersistenceBackendCapabilities,
    backend_capabilities,
    safe_metrics_snapshot,
)
from papyra.persistence.copy import CopyReport, CopyVerificationError, TargetNotEmptyError, copy_store
from papyra.persistence.models import (
    CompactionReport,
    PersistedAudit,
    PersistedDeadLetter,
    PersistedEvent,
    PersistenceAnomaly,
    PersistenceAnomalyType,
    PersistenceRecoveryConfig,
    PersistenceRecoveryMode,
    PersistenceRecoveryReport,
    PersistenceScanReport,
)
from papyra.persistence.retention import RetentionPolicy

__all__ = [
    "CompactionReport",
    "CopyReport",
    "CopyVerificationError",
    "InMemoryPersistence",
    "PersistedAudit",
    "PersistedDeadLetter",
    "PersistedEvent",
    "PersistenceAnomaly",
    "PersistenceAnomalyType",
    "PersistenceBackend",
    "PersistenceBackendCapabilities",
    "PersistenceRecoveryConfig",
    "PersistenceRecoveryMode",
    "PersistenceRecoveryReport",
    "PersistenceScanReport",
    "RetentionPolicy",
    "TargetNotEmptyError",
    "backend_capabilities",
    "copy_store",
    "safe_metrics_snapshot",
]
