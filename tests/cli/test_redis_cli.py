"""The CLI against a real redis-server (Redis Streams backend)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest

from tests.cli.conftest import invoke, sample_records
from tests.support.redis_server import RedisServer, require_redis_binary

pytestmark = pytest.mark.redis
PASSWORD = "cli-Secr3t-pw-5e1b"


def _seed(url: str, prefix: str) -> None:
    from papyra.persistence.backends.redis import RedisStreamsConfig, RedisStreamsPersistence
    from papyra.persistence.models import PersistedAudit, PersistedEvent

    backend = RedisStreamsPersistence(RedisStreamsConfig(url=url, prefix=prefix, system_id="local"))
    try:
        for r in sample_records():
            if isinstance(r, PersistedEvent):
                backend.record_event(r)
            elif isinstance(r, PersistedAudit):
                backend.record_audit(r)
            else:
                backend.record_dead_letter(r)  # type: ignore[arg-type]
        assert backend.flush(60)
    finally:
        backend.close()


@pytest.fixture
def seeded(redis_server: RedisServer) -> tuple[str, str]:
    prefix = f"cli{uuid.uuid4().hex[:10]}"
    _seed(redis_server.url, prefix)
    return redis_server.url, prefix


@pytest.fixture(scope="module")
def secured() -> Iterator[RedisServer]:
    server = RedisServer(require_redis_binary(), password=PASSWORD).start()
    try:
        yield server
    finally:
        server.cleanup()


def test_redis_listings_and_summary(seeded: tuple[str, str]) -> None:
    url, prefix = seeded
    base = ["--redis-url", url, "--prefix", prefix]
    r = invoke("inspect", "events", *base, "--event-type", "ActorStopped", "--format", "ndjson")
    assert r.code == 0, r.err
    assert [json.loads(x)["payload"]["n"] for x in r.out.splitlines()] == [3, 4]
    doc = json.loads(invoke("inspect", "summary", *base, "--format", "json").out)
    assert doc["store"]["backend"] == "redis" and doc["store"]["location"].endswith(f" {prefix}:local:*")
    assert doc["counts"] == {"events": 5, "audits": 1, "dead_letters": 1}


def test_redis_scan_inspect_metrics_compact(seeded: tuple[str, str]) -> None:
    url, prefix = seeded
    env = {"PAPYRA_BACKEND": "redis", "PAPYRA_REDIS_URL": url, "PAPYRA_PREFIX": prefix}
    assert invoke("persistence", "scan", env=env).code == 0
    doc = json.loads(invoke("persistence", "inspect", "--format", "json", env=env).out)
    assert doc["store"]["source"] == "environment"
    assert doc["figures"]["basis"] == "records" and doc["figures"]["total_records"] == 7
    assert doc["anomalies"] == 0
    m = json.loads(invoke("metrics", "persistence", "--format", "json", env=env).out)
    assert m["derived"]["kinds"]["events"]["records"] == 5 and m["metrics"]["scans"] >= 1
    r = invoke("persistence", "compact", "--max-records", "2", "--format", "json", env=env)
    assert r.code == 0, r.err
    counts = json.loads(invoke("inspect", "summary", "--format", "json", env=env).out)["counts"]
    assert counts["events"] == 2  # the Redis backend applies max_records per stream
    assert invoke("doctor", "run", env=env).code == 0


def test_redis_password_never_printed(secured: RedisServer) -> None:
    prefix = f"cli{uuid.uuid4().hex[:10]}"
    _seed(secured.url, prefix)
    url = secured.url
    assert PASSWORD in url
    outputs = []
    for args in (
        ("persistence", "inspect", "--show-metrics"),
        ("persistence", "inspect", "--format", "json"),
        ("inspect", "summary"),
        ("metrics", "persistence"),
        ("persistence", "scan", "--debug"),
    ):
        r = invoke(*args, "--redis-url", url, "--prefix", prefix)
        assert r.code == 0, r.err
        outputs.append(r.out + r.err)
    wrong = url.replace(PASSWORD, PASSWORD[::-1])
    r = invoke("persistence", "scan", "--redis-url", wrong, "--prefix", prefix, "--debug")
    assert r.code == 3
    outputs.append(r.out + r.err)
    for text in outputs:
        assert PASSWORD not in text and PASSWORD[::-1] not in text
    assert "***" in outputs[1]


def test_a_wrong_system_id_or_prefix_is_no_store(seeded: tuple[str, str]) -> None:
    url, prefix = seeded
    for wrong in (("--prefix", prefix, "--system-id", "typo"), ("--prefix", prefix + "x")):
        for command in (("persistence", "scan"), ("persistence", "inspect"), ("inspect", "events"),
                        ("persistence", "compact", "--dry-run")):
            r = invoke(*command, "--redis-url", url, *wrong, "--format", "json")
            assert r.code == 3, (command, r.err)
            assert r.err.startswith(f"papyra: error: no store at {url} {prefix}")
            assert "check the location" in r.err
            assert json.loads(r.out)["error"]["exit_code"] == 3
        r = invoke("doctor", "run", "--redis-url", url, *wrong, "--format", "json")
        assert (r.code, json.loads(r.out)["status"]) == (0, "missing")
    import redis

    client = redis.Redis.from_url(url)
    try:
        assert not client.keys(f"{prefix}:typo:*") and not client.keys(f"{prefix}x:*")  # nothing created
    finally:
        client.close()
    r = invoke("persistence", "inspect", "--redis-url", url, "--prefix", prefix)
    assert r.code == 0 and "  exists:     yes" in r.out


def test_redis_streams_records_like_its_lists(seeded: tuple[str, str]) -> None:
    """The CLI streams Redis reads (one page at a time) with exactly the selection of list_*."""
    from papyra.persistence.backends.redis import RedisStreamsConfig, RedisStreamsPersistence
    from papyra.persistence.models import PersistedAudit, PersistedDeadLetter, PersistedEvent
    from papyra.persistence.retention import RetentionPolicy
    from tests.cli.conftest import T0

    url, prefix = seeded
    config = RedisStreamsConfig(url=url, prefix=prefix, system_id="local", page_size=2)
    for policy in (None, RetentionPolicy(max_records=2)):
        backend = RedisStreamsPersistence(config, retention_policy=policy)
        try:
            for since, until in ((None, None), (T0 + 60, T0 + 200), (T0 + 1000, None)):
                streamed = list(backend.stream_records(since=since, until=until))
                listed = [
                    *reversed(backend.list_events(since=since, until=until)),
                    *reversed(backend.list_audits(since=since, until=until)),
                    *reversed(backend.list_dead_letters(since=since, until=until)),
                ]
                assert streamed == listed
            only = list(backend.stream_records((PersistedAudit, PersistedDeadLetter)))
            assert [type(r) for r in only] == [PersistedAudit, PersistedDeadLetter]
            assert all(isinstance(r, PersistedEvent) for r in backend.stream_records((PersistedEvent,)))
        finally:
            backend.close()
