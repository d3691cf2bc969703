"""Backends for runtime tests that model a third-party store."""

from __future__ import annotations

from papyra.persistence.backends.memory import InMemoryPersistence
from papyra.persistence.base import PersistenceBackendCapabilities


class SynchronousMemoryPersistence(InMemoryPersistence):
    """An in-memory store that does not declare ``write_behind``: like a third-party backend
    whose ``record_*`` may do I/O, it is fed by the system's recorder thread. Subclasses make
    its writes slow or failing."""

    @property
    def capabilities(self) -> PersistenceBackendCapabilities:
        return PersistenceBackendCapabilities()
