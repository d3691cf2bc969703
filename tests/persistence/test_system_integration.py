"""An ActorSystem on JsonFilePersistence: records land on disk; startup checks guard start()."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from papyra.actor import Actor
from papyra.exceptions import ActorStopped, PapyraError, PersistenceStartupError
from papyra.persistence.grammar import encode_record
from papyra.persistence.json import JsonFilePersistence
from papyra.persistence.startup import PersistenceStartupConfig
from papyra.system import ActorSystem
from tests.persistence.conftest import event


class Echo(Actor):
    def receive(self, message: Any) -> Any:
        return message


def test_events_audits_and_dead_letters_land_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "store.ndjson"
    system = ActorSystem(persistence=JsonFilePersistence(path))
    system.start()
    try:
        ref = system.spawn(Echo, name="echo")
        assert ref.ask("hi", timeout=60) == "hi"
        system.audit()
        ref.stop()
        with pytest.raises(ActorStopped):
            for _ in range(1000):
                ref.tell("late")  # once stopped: ActorStopped and a dead letter
    finally:
        system.close(timeout=30)
    kinds: dict[str, list[dict[str, Any]]] = {}
    for line in path.read_bytes().splitlines():
        row = json.loads(line)
        kinds.setdefault(row["kind"], []).append(row)
    assert {"ActorStarted", "ActorStopped"} <= {e["event_type"] for e in kinds["event"]}
    assert all(isinstance(e["actor_address"], str) for e in kinds["event"])
    assert kinds["audit"] and kinds["audit"][0]["total_actors"] >= 1
    assert kinds["dead_letter"] and kinds["dead_letter"][0]["message_type"] == "str"
    assert not JsonFilePersistence(path).scan().has_anomalies


def _corrupt_store(tmp_path: Path) -> Path:
    path = tmp_path / "store.ndjson"
    path.write_bytes(encode_record(event(1)) + b"\xff garbage\n" + encode_record(event(2)) + b'{"kin')
    return path


def test_corrupt_store_blocks_start_in_fail_on_anomaly(tmp_path: Path) -> None:
    path = _corrupt_store(tmp_path)
    before = path.read_bytes()
    system = ActorSystem(
        persistence=JsonFilePersistence(path),
        persistence_startup=PersistenceStartupConfig(mode="fail_on_anomaly"),  # type: ignore[arg-type]
    )
    with pytest.raises(PersistenceStartupError) as info:
        system.start()
    assert isinstance(info.value, (PapyraError, RuntimeError))
    assert str(info.value).startswith("Persistence anomalies detected")
    with pytest.raises(Exception):
        system.spawn(Echo)
    assert not system.running
    system.close()
    assert path.read_bytes() == before


def test_corrupt_store_is_repaired_in_recover_mode(tmp_path: Path) -> None:
    path = _corrupt_store(tmp_path)
    seen: list[str] = []

    class Hooks:
        def on_persistence_scan(self, report: Any) -> None:
            seen.append(f"scan:{len(report.anomalies)}")

        def on_persistence_recovery(self, report: Any) -> None:
            seen.append("recovery")

    system = ActorSystem(
        persistence=JsonFilePersistence(path),
        persistence_startup=PersistenceStartupConfig(mode="recover"),  # type: ignore[arg-type]
        hooks=Hooks(),
    )
    with system:
        ref = system.spawn(Echo)
        assert ref.ask(1, timeout=60) == 1
    assert seen == ["scan:2", "recovery", "scan:0"]
    backend = JsonFilePersistence(path)
    assert not backend.scan().has_anomalies
    assert [e.timestamp for e in backend.list_events()][:2] == [1.0, 2.0]
