"""Persistence: record models, the backend contract, backends, retention, scan/recover."""

from __future__ import annotations

from papyra.persistence.backends.memory import InMemoryPersistence
from papyra.persistence.base import (
    PersistenceBackend,
    PersistenceBackendCapabilities,
    backend_capabilities,
    safe_metrics_snapshot,
)
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
    "backend_capabilities",
    "safe_metrics_snapshot",
]
