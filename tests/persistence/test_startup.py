"""The startup check (``run_startup_check``) on the memory and JSON backends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from papyra.exceptions import ConfigurationError, PapyraError, PersistenceStartupError
from papyra.persistence.backends.memory import InMemoryPersistence
from papyra.persistence.grammar import encode_record
from papyra.persistence.json import JsonFilePersistence
from papyra.persistence.models import (
    PersistenceRecoveryConfig,
    PersistenceRecoveryMode,
    PersistenceRecoveryReport,
    PersistenceScanReport,
)
from papyra.persistence.startup import PersistenceStartupConfig, PersistenceStartupMode, run_startup_check
from tests.persistence.conftest import event

GOOD = encode_record(event(1)) + encode_record(event(2))
DAMAGED = encode_record(event(1)) + b"{broken\n" + encode_record(event(2)) + b'{"kind":"ev'


class Hooks:
    def __init__(self) -> None:
        self.scans: list[PersistenceScanReport] = []
        self.recoveries: list[PersistenceRecoveryReport] = []

    def on_persistence_scan(self, report: PersistenceScanReport) -> None:
        self.scans.append(report)

    def on_persistence_recovery(self, report: PersistenceRecoveryReport) -> None:
        self.recoveries.append(report)


def store(tmp_path: Path, content: bytes) -> JsonFilePersistence:
    path = tmp_path / "store.ndjson"
    path.write_bytes(content)
    return JsonFilePersistence(path)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("ignore", "IGNORE"), ("SCAN_ONLY", "SCAN_ONLY"), ("Fail_On_Anomaly", "FAIL_ON_ANOMALY"),
     ("recover", "RECOVER"), ("scan-only", "SCAN_ONLY")],
)
def test_modes_parse_case_insensitively(value: str, expected: str) -> None:
    assert PersistenceStartupMode.parse(value) is PersistenceStartupMode[expected]
    assert PersistenceStartupConfig(mode=value).mode is PersistenceStartupMode[expected]  # type: ignore[arg-type]


def test_unknown_mode_is_rejected() -> None:
    with pytest.raises(ValueError):
        PersistenceStartupConfig(mode="repair_everything")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="Unknown startup mode 'repair_everything'"):
        PersistenceStartupConfig(mode="repair_everything")  # type: ignore[arg-type]
    for bad in ("", None, 3, "scan only"):
        with pytest.raises(ConfigurationError, match="expected one of: ignore, scan_only"):
            PersistenceStartupMode.parse(bad)  # type: ignore[arg-type]
        with pytest.raises(ConfigurationError, match="Unknown recovery mode"):
            PersistenceRecoveryMode.parse(bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="expected one of: ignore, repair, quarantine"):
        PersistenceRecoveryConfig(mode="fix")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        PersistenceStartupConfig(mode="recover", recovery="repair")  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", ["ignore", "scan_only", "fail_on_anomaly", "recover"])
def test_every_mode_passes_on_a_clean_store(tmp_path: Path, mode: str) -> None:
    for backend in (InMemoryPersistence(), store(tmp_path, GOOD)):
        hooks = Hooks()
        outcome = run_startup_check(backend, PersistenceStartupConfig(mode=mode), hooks=hooks)  # type: ignore[arg-type]
        assert outcome.passed and outcome.exit_code == 0
        assert len(hooks.scans) == (0 if mode == "ignore" else 1)
        assert hooks.recoveries == []
        backend.close()


def test_ignore_does_not_even_scan(tmp_path: Path) -> None:
    backend = store(tmp_path, DAMAGED)
    outcome = run_startup_check(backend, PersistenceStartupConfig(mode="ignore"))  # type: ignore[arg-type]
    assert outcome.passed and outcome.scan is None
    assert backend.metrics.snapshot()["scans"] == 0


def test_scan_only_reports_and_starts(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    backend = store(tmp_path, DAMAGED)
    hooks = Hooks()
    outcome = run_startup_check(backend, PersistenceStartupConfig(mode="scan_only"), hooks=hooks)  # type: ignore[arg-type]
    assert outcome.passed and outcome.scan is not None and len(outcome.scan.anomalies) == 2
    assert hooks.scans == [outcome.scan]
    assert "anomalies" in caplog.text
    assert backend.path.read_bytes() == DAMAGED


def test_fail_on_anomaly_raises_typed_error(tmp_path: Path) -> None:
    backend = store(tmp_path, DAMAGED)
    hooks = Hooks()
    cfg = PersistenceStartupConfig(mode=PersistenceStartupMode.FAIL_ON_ANOMALY)
    with pytest.raises(PersistenceStartupError) as info:
        run_startup_check(backend, cfg, hooks=hooks)
    assert isinstance(info.value, PapyraError) and isinstance(info.value, RuntimeError)
    assert str(info.value).startswith("Persistence anomalies detected")
    assert len(hooks.scans) == 1
    outcome = run_startup_check(backend, cfg, raise_on_failure=False)  # the CLI way
    assert not outcome.passed and outcome.exit_code == 1
    assert backend.path.read_bytes() == DAMAGED


def test_recover_repairs_by_default_and_rescans(tmp_path: Path) -> None:
    backend = store(tmp_path, DAMAGED)
    hooks = Hooks()
    outcome = run_startup_check(backend, PersistenceStartupConfig(mode="recover"), hooks=hooks)  # type: ignore[arg-type]
    assert outcome.passed and outcome.recovery is not None
    assert outcome.recovery.repaired_files == (str(backend.path),)
    assert outcome.post_scan is not None and not outcome.post_scan.has_anomalies
    assert len(hooks.scans) == 2 and len(hooks.recoveries) == 1
    assert [e.timestamp for e in backend.list_events()] == [1.0, 2.0]


def test_recover_with_quarantine_config(tmp_path: Path) -> None:
    backend = store(tmp_path, DAMAGED)
    cfg = PersistenceStartupConfig(
        mode="recover",  # type: ignore[arg-type]
        recovery=PersistenceRecoveryConfig(mode="quarantine", quarantine_dir=str(tmp_path / "q")),
    )
    outcome = run_startup_check(backend, cfg)
    assert outcome.recovery is not None
    (q,) = outcome.recovery.quarantined_files
    assert Path(q).read_bytes() == DAMAGED


class StubbornBackend(InMemoryPersistence):
    """A real memory backend whose scan always finds something (recovery cannot fix it)."""

    def scan(self) -> PersistenceScanReport:
        from papyra.persistence.models import PersistenceAnomaly, PersistenceAnomalyType

        super().scan()
        return PersistenceScanReport(
            backend="memory",
            anomalies=(PersistenceAnomaly(type=PersistenceAnomalyType.CORRUPTED_LINE, path="mem"),),
        )


def test_recover_raises_when_anomalies_remain() -> None:
    backend = StubbornBackend()
    with pytest.raises(PersistenceStartupError, match="anomalies still exist"):
        run_startup_check(backend, PersistenceStartupConfig(mode="recover"))  # type: ignore[arg-type]
    outcome: Any = run_startup_check(
        backend, PersistenceStartupConfig(mode="recover"), raise_on_failure=False  # type: ignore[arg-type]
    )
    assert outcome.exit_code == 2 and not outcome.passed


def test_hook_exceptions_do_not_break_the_check(tmp_path: Path) -> None:
    class Bad:
        def on_persistence_scan(self, report: object) -> None:
            raise RuntimeError("hook bug")

    cfg = PersistenceStartupConfig(mode="scan_only")  # type: ignore[arg-type]
    outcome = run_startup_check(store(tmp_path, GOOD), cfg, hooks=Bad())
    assert outcome.passed
