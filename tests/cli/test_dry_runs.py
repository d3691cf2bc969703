"""Dry runs tell the truth: ``compact --dry-run`` and ``recover --dry-run`` report exactly the
figures the real run reports right after, on every backend (JSON file, rotating set, Redis),
for every retention limit and for damaged stores — and change nothing."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from papyra.persistence.models import PersistedAudit, PersistedDeadLetter, PersistedEvent
from tests.cli.conftest import invoke
from tests.cli.test_rotating_cli import ROT, damage, make_set
from tests.support.redis_server import RedisServer

NOW = time.time()


def _records() -> list[Any]:
    """Twelve records, one every 30 minutes up to 15 minutes ago (no age limit falls near one)."""
    out: list[Any] = []
    for i in range(12):
        ts = NOW - 900 - (11 - i) * 1800
        if i % 5 == 4:
            out.append(PersistedAudit(timestamp=ts, total_actors=i))
        elif i % 7 == 6:
            out.append(PersistedDeadLetter(target="local:1", message_type="str", payload=i, timestamp=ts))
        else:
            out.append(PersistedEvent(actor_address=f"local:{i}", event_type="ActorStarted", payload=i,
                                      timestamp=ts))
    return out


def _write(backend: Any, records: list[Any]) -> None:
    try:
        for r in records:
            if isinstance(r, PersistedEvent):
                backend.record_event(r)
            elif isinstance(r, PersistedAudit):
                backend.record_audit(r)
            else:
                backend.record_dead_letter(r)
        assert backend.flush(60)
    finally:
        backend.close()


Store = Callable[[bool], list[str]]  # damaged? -> the CLI's store arguments


@pytest.fixture(params=["json", "rotating", "redis"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    kind = request.param

    def make(damaged: bool) -> list[str]:
        if kind == "json":
            from papyra.persistence.json import JsonFilePersistence

            path = tmp_path / "s.ndjson"
            _write(JsonFilePersistence(path), _records())
            if damaged:
                lines = path.read_bytes().splitlines(keepends=True)
                torn = b'{"kind": "ev'
                path.write_bytes(b"".join(lines[:3]) + b"{not json}\n" + b"".join(lines[3:]) + torn)
            return ["--path", str(path)]
        if kind == "rotating":
            path = make_set(tmp_path)
            if damaged:
                damage(path)
            return ["--path", str(path), "--backend", "rotating", *ROT]
        server: RedisServer = request.getfixturevalue("redis_server")
        from papyra.persistence.backends.redis import RedisStreamsConfig, RedisStreamsPersistence

        prefix = f"dry{uuid.uuid4().hex[:8]}"
        config = RedisStreamsConfig(url=server.url, prefix=prefix, system_id="local")
        _write(RedisStreamsPersistence(config), _records())
        if damaged:
            import redis

            client = redis.Redis.from_url(server.url)
            try:
                client.xadd(config.stream_key("event"), {"data": b"{not json"})
                client.xadd(config.stream_key("audit"), {"junk": b"1"})
            finally:
                client.close()
        return ["--redis-url", server.url, "--prefix", prefix]

    return make


def _doc(*args: str) -> dict[str, Any]:
    r = invoke(*args, "--format", "json")
    assert r.code in (0, 2), r.err
    doc: dict[str, Any] = json.loads(r.out)
    return doc


RETENTIONS = [
    ("--max-records", "5"),
    ("--max-age", "3h"),
    ("--max-total-bytes", "700"),
    ("--max-records", "8", "--max-age", "4h"),
    (),
]


@pytest.mark.parametrize("retention", RETENTIONS, ids=lambda r: " ".join(r) or "none")
@pytest.mark.parametrize("damaged", [False, True], ids=["clean", "damaged"])
def test_compact_dry_run_reports_exactly_what_the_real_run_does(
    make_store: Store, retention: tuple[str, ...], damaged: bool
) -> None:
    store = make_store(damaged)
    before = _doc("inspect", "events", *store)["records"]
    dry = _doc("persistence", "compact", *store, *retention, "--dry-run")
    assert dry["dry_run"] is True
    assert _doc("inspect", "events", *store)["records"] == before  # nothing changed
    real = _doc("persistence", "compact", *store, *retention)
    assert real["dry_run"] is False
    planned, done = dry["compaction"].pop("quarantine_path"), real["compaction"].pop("quarantine_path")
    # the quarantine file is stamped at creation; the dry run shows <stamp> in its place
    if done is None:
        assert planned is None
    else:
        assert planned == done.split(".quarantine.")[0] + ".quarantine.<stamp>"
    assert dry["compaction"] == real["compaction"]
    if retention and retention != ("--max-total-bytes", "700"):
        assert real["compaction"]["removed_records"] > 0  # the case is not vacuous


@pytest.mark.parametrize("mode", ["repair", "quarantine", "ignore"])
def test_recover_dry_run_reports_exactly_what_the_real_run_does(make_store: Store, mode: str) -> None:
    store = make_store(True)
    dry = _doc("persistence", "recover", *store, "--mode", mode, "--dry-run")
    assert dry["exit_code"] == 2 and dry["post_scan"] is None
    assert _doc("persistence", "scan", *store)["scan"] == dry["recovery"]["scan"]  # nothing changed
    real = _doc("persistence", "recover", *store, "--mode", mode)
    planned, done = dry["recovery"], real["recovery"]
    names = planned.pop("quarantined_files"), done.pop("quarantined_files")
    # a file's quarantine name is stamped at creation; the dry run shows <stamp> in its place
    assert [n.split(".quarantine.")[0] for n in names[0]] == [n.split(".quarantine.")[0] for n in names[1]]
    assert all(n.endswith(".quarantine.<stamp>") or n in names[1] for n in names[0])
    assert planned == done
    if mode != "ignore":
        assert done["removed_lines"] > 0 and real["exit_code"] == 0


@pytest.mark.parametrize("backend", ["json", "rotating"])
@pytest.mark.parametrize(
    "command", [("compact",), ("recover", "--mode", "repair"), ("recover", "--mode", "quarantine")]
)
def test_dry_runs_wait_for_the_store_lock_like_the_real_run(
    tmp_path: Path, hold_lock: Callable[[Path], Any], backend: str, command: tuple[str, ...]
) -> None:
    from papyra.persistence.json import JsonFilePersistence

    if backend == "json":
        path = tmp_path / "s.ndjson"
        _write(JsonFilePersistence(path), _records())
        path.write_bytes(path.read_bytes() + b"{not json}\n")
        store = ["--path", str(path)]
    else:
        path = make_set(tmp_path)
        damage(path)
        store = ["--path", str(path), "--backend", "rotating", *ROT]
    before = sorted(p.name for p in tmp_path.iterdir())
    hold_lock(path)
    results = [
        invoke("persistence", *command, *store, *dry, "--lock-timeout", "0.5") for dry in (["--dry-run"], [])
    ]
    assert [r.code for r in results] == [3, 3]
    assert all("store is locked by another process" in r.err for r in results)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing changed


def test_a_dry_run_releases_the_store_lock_at_once(make_store: Store) -> None:
    store = make_store(True)
    assert invoke("persistence", "compact", *store, "--dry-run", "--lock-timeout", "0").code == 0
    assert invoke("persistence", "recover", *store, "--dry-run", "--lock-timeout", "0").code == 2
    assert invoke("persistence", "compact", *store, "--lock-timeout", "0").code == 0
    assert invoke("persistence", "recover", *store, "--lock-timeout", "0").code == 0
