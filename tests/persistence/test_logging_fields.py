"""Warnings and errors of the persistence layer carry structured fields, never credentials."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from papyra.persistence.json import JsonFilePersistence
from papyra.persistence.models import PersistedEvent


def test_torn_tail_warning_names_backend_and_path(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "store.ndjson"
    path.write_bytes(b'{"kind": "event", "timestamp": 1}\n{"kind": "ev')
    backend = JsonFilePersistence(path)
    try:
        with caplog.at_level(logging.WARNING, logger="papyra"):
            backend.record_event(PersistedEvent(timestamp=2.0))
            assert backend.flush(timeout=60)
    finally:
        backend.close()
    records = [r for r in caplog.records if "torn tail" in r.getMessage()]
    assert records, [r.getMessage() for r in caplog.records]
    assert records[0].papyra_location == str(path)  # type: ignore[attr-defined]


def test_papyra_logger_has_a_null_handler_and_root_is_untouched() -> None:
    import papyra

    handlers = logging.getLogger("papyra").handlers
    assert any(isinstance(h, logging.NullHandler) for h in handlers)
    root_handlers_before = list(logging.getLogger().handlers)
    import papyra.persistence.json
    import papyra.system  # noqa: F401

    assert logging.getLogger().handlers == root_handlers_before
