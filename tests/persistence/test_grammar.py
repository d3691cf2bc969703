"""The one record grammar: every reported way a readable record was hidden or deleted, as a
regression test on real files (the stores in ``cases/`` are in the earlier release's exact
styles), plus the grammar's own limits and conversions."""

from __future__ import annotations

import json
import math
import shutil
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from papyra.exceptions import EncodingError
from papyra.persistence import grammar
from papyra.persistence.backends.rotating import RotatingFilePersistence
from papyra.persistence.grammar import (
    MAX_NESTING_DEPTH,
    LineError,
    decode_record,
    encode_record,
    parse_line,
    to_plain,
)
from papyra.persistence.json import JsonFilePersistence
from papyra.persistence.models import (
    PersistedAudit,
    PersistedEvent,
    PersistenceAnomalyType,
    PersistenceRecoveryConfig,
    PersistenceRecoveryMode,
)
from papyra.persistence.retention import RetentionPolicy
from tests.cli.conftest import invoke

CASES = Path(__file__).parent / "cases"
REPAIR = PersistenceRecoveryConfig(mode=PersistenceRecoveryMode.REPAIR)
GARBAGE = b'{"kind": "event", "timest\n'  # one unreadable line: forces REPAIR to rewrite the file


def _event(payload: Any, ts: float = 1764400100.0) -> PersistedEvent:
    return PersistedEvent(system_id="local", actor_address="local:9", event_type="T", payload=payload,
                          timestamp=ts)


def _nested(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = [value]
    return value


Opener = Callable[[Path], JsonFilePersistence]


@pytest.fixture(params=["json", "rotating"])
def open_store(request: pytest.FixtureRequest) -> Iterator[Opener]:
    """Opens a file store of the parametrized kind on a path; closed at teardown."""
    made: list[JsonFilePersistence] = []

    def open_(path: Path, **kwargs: Any) -> JsonFilePersistence:
        if request.param == "json":
            backend = JsonFilePersistence(path, **kwargs)
        else:
            backend = RotatingFilePersistence(path, max_bytes=1 << 20, max_files=3, **kwargs)
        made.append(backend)
        return backend

    yield open_
    for backend in made:
        backend.close()


def _case(tmp_path: Path, name: str, extra: bytes = b"") -> Path:
    path = tmp_path / "store.ndjson"
    shutil.copyfile(CASES / name, path)
    path.chmod(0o600)
    if extra:
        with open(path, "ab") as f:
            f.write(extra)
    return path


def _repair_keeps_every_line(open_store: Opener, path: Path, records: int) -> None:
    """REPAIR (forced to rewrite by one appended unreadable line) removes exactly that line and
    keeps every other line byte for byte."""
    original = path.read_bytes()
    with open(path, "ab") as f:
        f.write(GARBAGE)
    report = open_store(path).recover(REPAIR)
    assert report.kept_records == records and report.removed_lines == 1
    assert path.read_bytes() == original
    assert not open_store(path).scan().has_anomalies


# --------------------------------------------------------------------------- the reported cases


def test_a_leading_bom_hides_no_record_and_repair_keeps_it(tmp_path: Path, open_store: Opener) -> None:
    path = _case(tmp_path, "bom-store.ndjson")
    store = open_store(path)
    assert [e.actor_address for e in store.list_events()] == ["local:1", "local:2", "local:3"]
    assert not store.scan().has_anomalies
    _repair_keeps_every_line(open_store, path, 3)
    assert path.read_bytes().startswith(b"\xef\xbb\xbf{")


def test_crlf_line_ends_and_blank_lines_are_read_and_kept(tmp_path: Path, open_store: Opener) -> None:
    path = _case(tmp_path, "crlf-blank.ndjson")
    store = open_store(path)
    assert len(store.list_events()) == 3
    assert not store.scan().has_anomalies
    assert store.metrics.snapshot()["unreadable_lines_skipped"] == 0
    _repair_keeps_every_line(open_store, path, 3)


def test_nan_and_infinity_tokens_are_read_as_floats_and_written_back_as_strict_json(
    tmp_path: Path, open_store: Opener
) -> None:
    path = _case(tmp_path, "nan-infinity.ndjson")
    store = open_store(path)
    first, second, _ = store.list_events()
    assert math.isnan(first.payload["latency"])
    assert second.payload == {"budget": math.inf, "floor": -math.inf}
    assert not store.scan().has_anomalies
    _repair_keeps_every_line(open_store, path, 3)
    copy = open_store(tmp_path / "copy.ndjson")
    for e in open_store(path).list_events():
        copy.record_event(e)
    copy.flush()

    def strict(token: str) -> None:
        raise AssertionError(f"non-standard JSON token {token} written")

    written = (tmp_path / "copy.ndjson").read_bytes().splitlines()
    rows = [json.loads(line, parse_constant=strict) for line in written]
    assert [r["payload"] for r in rows] == [{"latency": None}, {"budget": None, "floor": None}, {}]


def test_a_lone_surrogate_is_read_kept_by_repair_and_persisted_from_an_actor_system(
    tmp_path: Path, open_store: Opener
) -> None:
    path = _case(tmp_path, "lone-surrogate.ndjson")
    store = open_store(path)
    (dead,) = store.list_dead_letters()
    assert dead.payload == {"file": "caf\udce9.txt"}
    assert not store.scan().has_anomalies
    _repair_keeps_every_line(open_store, path, 3)

    fresh = tmp_path / "system.ndjson"
    _dead_letter_through_a_system(open_store(fresh), {"file": "caf\udce9.txt"})
    reread = open_store(fresh)
    assert [d.payload for d in reread.list_dead_letters()][:1] == [{"file": "caf\udce9.txt"}]
    assert b"\\udce9" in fresh.read_bytes()  # escaped: json.loads gives the same string
    assert not reread.scan().has_anomalies


def test_a_record_over_the_line_limit_is_refused_by_the_writer_as_the_reader_would_refuse_it(
    tmp_path: Path, open_store: Opener, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(grammar, "MAX_LINE_BYTES", 4096)  # the one constant both sides use
    store = open_store(tmp_path / "store.ndjson")
    body_overhead = len(encode_record(_event(""))) - 1
    fits = _event("x" * (4096 - body_overhead))
    store.record_event(fits)
    with pytest.raises(EncodingError, match="line too long"):
        store.record_event(_event("x" * (4096 - body_overhead + 1)))
    assert store.metrics.snapshot()["encoding_errors"] == 1
    assert [e.payload for e in store.list_events()] == [fits.payload]
    assert not store.scan().has_anomalies
    line = b'{"kind":"event","timestamp":1,"payload":"' + b"y" * 4096 + b'"}'
    with pytest.raises(LineError, match="line too long"):
        decode_record(line)


def test_the_writer_refuses_record_fields_the_reader_would_reject(tmp_path: Path, open_store: Opener) -> None:
    from papyra.address import ActorAddress

    store = open_store(tmp_path / "store.ndjson")
    with pytest.raises(EncodingError, match="total_actors"):
        store.record_audit(PersistedAudit(timestamp=1.0e9 + 1, total_actors="many"))  # type: ignore[arg-type]
    store.record_event(PersistedEvent(timestamp=1.0e9 + 2, actor_address=ActorAddress("local", 3)))  # type: ignore[arg-type]
    assert [e.actor_address for e in store.list_events()] == ["local:3"] and not store.list_audits()
    assert not store.scan().has_anomalies


def test_a_deeply_nested_line_is_one_corrupted_line_never_a_recursion_error(
    tmp_path: Path, open_store: Opener
) -> None:
    path = _case(tmp_path, "deep-nesting.ndjson")
    store = open_store(path)
    (anomaly,) = store.scan().anomalies
    assert anomaly.type is PersistenceAnomalyType.CORRUPTED_LINE and anomaly.line == 2
    assert anomaly.detail is not None and "nested too deeply" in anomaly.detail
    assert [e.actor_address for e in store.list_events()] == ["local:1", "local:3"]
    lines = path.read_bytes().splitlines(keepends=True)
    report = store.recover(REPAIR)
    assert (report.kept_records, report.removed_lines) == (2, 1)
    assert path.read_bytes() == lines[0] + lines[2]


def test_the_cli_on_a_deeply_nested_store_exits_2_then_0(tmp_path: Path) -> None:
    path = _case(tmp_path, "deep-nesting.ndjson")
    assert invoke("persistence", "scan", "--path", str(path)).code == 2
    r = invoke("inspect", "events", "--path", str(path), "--format", "json")
    assert r.code == 0 and json.loads(r.out)["count"] == 2
    r = invoke("persistence", "recover", "--path", str(path))
    assert r.code == 0 and "kept 2 records; removed 1 unreadable lines" in r.out


def test_nesting_is_limited_the_same_on_both_sides(tmp_path: Path, open_store: Opener) -> None:
    store = open_store(tmp_path / "store.ndjson")
    deepest = _nested(MAX_NESTING_DEPTH - 1)  # inside the record object (level 1): the limit
    store.record_event(_event(deepest))
    with pytest.raises(EncodingError, match="nested too deeply"):
        store.record_event(_event(_nested(MAX_NESTING_DEPTH)))
    with pytest.raises(EncodingError, match="nested too deeply"):
        store.record_event(_event(_nested(5000)))
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    with pytest.raises(EncodingError, match="cyclic"):
        store.record_event(_event(cyclic))
    assert [e.payload for e in store.list_events()] == [deepest]
    assert not store.scan().has_anomalies
    assert store.metrics.snapshot()["encoding_errors"] == 3


def test_decoding_and_encoding_never_raise_recursion_error_at_any_stack_depth() -> None:
    line = encode_record(_event(_nested(MAX_NESTING_DEPTH - 1)))[:-1]
    deep_line = b'{"kind":"event","timestamp":1,"payload":' + b"[" * 5000 + b"]" * 5000 + b"}"
    results: list[Any] = []

    def at_depth(n: int) -> None:
        if n > 0:
            at_depth(n - 1)
            return
        results.append(decode_record(line))
        with pytest.raises(LineError, match="nested too deeply"):
            decode_record(deep_line)
        results.append(encode_record(_event(_nested(MAX_NESTING_DEPTH - 1))))

    at_depth(sys.getrecursionlimit() - 60)
    assert results[0].payload == _nested(MAX_NESTING_DEPTH - 1)
    assert results[1] == line + b"\n"


def test_non_string_keys_are_written_as_json_dumps_writes_them_and_collisions_are_refused(
    tmp_path: Path, open_store: Opener
) -> None:
    store = open_store(tmp_path / "store.ndjson")
    store.record_event(_event({None: 1, True: 2, False: 3, 4: 5, 1.5: 6, "s": 7}))
    for colliding in ({1: "a", "1": "b"}, {None: 1, "null": 2}, {True: 1, "true": 2}):
        with pytest.raises(EncodingError, match="collide"):
            store.record_event(_event(colliding))
    (e,) = store.list_events()
    assert e.payload == {"null": 1, "true": 2, "false": 3, "4": 5, "1.5": 6, "s": 7}
    assert e.payload == json.loads(json.dumps({None: 1, True: 2, False: 3, 4: 5, 1.5: 6, "s": 7}))


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b'{"kind": "event", "timestamp": 1, "payload": {"ok\xff": 1}}', "invalid UTF-8"),
        (b'{"kind": "event", "timestamp": 1, "payl\xffad": {}}', "invalid UTF-8"),
        (b'{"kind": "audit", "system_id": "local", "timestamp": 2.0, "total_actorr": 3, "alive_actors": 2, '
         b'"stopping_actors": 0, "restarting_actors": 0, "registry_size": 2, "registry_orphans": [], '
         b'"registry_dead": [], "dead_letters_count": 0}', "damaged key 'total_actorr'"),
        (b'{"kind": "event", "timestamp": NaN}', "timestamp must be a finite number"),
        (b'{"kind": "event"}', "missing required field 'timestamp'"),
    ],
)
def test_damaged_keys_and_invalid_utf8_anywhere_are_corrupted_lines(
    tmp_path: Path, open_store: Opener, line: bytes, reason: str
) -> None:
    path = tmp_path / "store.ndjson"
    good = encode_record(_event({}))
    path.write_bytes(good + line + b"\n" + good)
    (anomaly,) = open_store(path).scan().anomalies
    assert anomaly.line == 2 and anomaly.detail is not None and reason in anomaly.detail


def test_minimal_rows_and_unknown_keys_of_the_earlier_release_stay_valid() -> None:
    assert decode_record(b'{"kind": "event", "timestamp": 1}') == PersistedEvent(timestamp=1.0)
    audit = decode_record(b'{"kind": "audit", "timestamp": 2, "total_actors": 3, "extra": 1}')
    assert audit == PersistedAudit(timestamp=2.0, total_actors=3)
    assert parse_line(b"  \r") is None and parse_line(b"\xef\xbb\xbf\r") is None


def test_bytes_payloads_through_the_runtime_are_base64(tmp_path: Path) -> None:
    path = tmp_path / "store.ndjson"
    _dead_letter_through_a_system(JsonFilePersistence(path), b"\x00\xff")
    rows = [json.loads(line) for line in path.read_bytes().splitlines()]
    dead = [r for r in rows if r["kind"] == "dead_letter"]
    assert dead and dead[0]["payload"] == "AP8="
    assert to_plain(b"\x00\xff") == "AP8="


def _dead_letter_through_a_system(backend: JsonFilePersistence, message: Any) -> None:
    """Tell ``message`` to a stopped actor of a system persisting to ``backend`` (a dead letter)."""
    from papyra.actor import Actor
    from papyra.exceptions import ActorStopped
    from papyra.system import ActorSystem

    class Sink(Actor):
        def receive(self, message: Any) -> Any:
            return message

    system = ActorSystem(persistence=backend)
    system.start()
    try:
        ref = system.spawn(Sink)
        ref.stop()
        with pytest.raises(ActorStopped):
            for _ in range(1000):
                ref.tell(message)
    finally:
        system.close(timeout=30)


@pytest.mark.parametrize(
    "name", ["bom-store", "crlf-blank", "nan-infinity", "lone-surrogate", "monotonic-timestamps"]
)
def test_startup_recover_keeps_every_record_of_the_earlier_release(tmp_path: Path, name: str) -> None:
    """RECOVER at ``start()`` (before any actor runs) once deleted these records; it keeps every
    line, byte for byte, removing only the one unreadable line added to the store."""
    from papyra.persistence.startup import PersistenceStartupConfig, PersistenceStartupMode
    from papyra.system import ActorSystem

    original = (CASES / f"{name}.ndjson").read_bytes()
    path = _case(tmp_path, f"{name}.ndjson", extra=GARBAGE)
    system = ActorSystem(
        persistence=JsonFilePersistence(path),
        persistence_startup=PersistenceStartupConfig(mode=PersistenceStartupMode.RECOVER),
    )
    with system:
        pass
    data = path.read_bytes()
    assert data.startswith(original) and GARBAGE not in data


# --------------------------------------------------------------------------- reads count damage


def test_reads_count_unreadable_lines_and_inspect_warns(tmp_path: Path, open_store: Opener) -> None:
    path = tmp_path / "store.ndjson"
    good = encode_record(_event({}))
    path.write_bytes(good + b"\xff\n" + good + b"not json\n" + b"[1]\n" + good)
    store = open_store(path)
    assert len(store.list_events()) == 3
    assert store.metrics.snapshot()["unreadable_lines_skipped"] == 3
    r = invoke("inspect", "events", "--path", str(path))
    assert r.code == 0
    assert r.err.count("\n") == 1 and "3 unreadable lines skipped; run `papyra persistence scan`" in r.err
    for command in (["inspect", "events"], ["inspect", "summary"]):
        r = invoke(*command, "--path", str(path), "--format", "json")
        assert r.code == 0 and json.loads(r.out)["unreadable_lines_skipped"] == 3


# --------------------------------------------------------------------------- relative timestamps


def test_age_retention_keeps_and_reports_monotonic_timestamps(tmp_path: Path, open_store: Opener) -> None:
    path = _case(tmp_path, "monotonic-timestamps.ndjson")
    store = open_store(path, retention_policy=RetentionPolicy(max_age_seconds=60))
    assert len(store.list_events()) == 5
    report = store.compact()
    assert (report.before_records, report.after_records, report.relative_timestamp_records) == (5, 5, 5)
    assert len(store.list_events()) == 5
    r = invoke("inspect", "events", "--path", str(path))
    assert "593.500 s (relative)" in r.out and "1970" not in r.out
    r = invoke("persistence", "compact", "--path", str(path), "--max-age", "60")
    assert r.code == 0 and "kept 5 records with relative" in r.out


def test_age_retention_still_drops_old_epoch_records(tmp_path: Path, open_store: Opener) -> None:
    path = tmp_path / "store.ndjson"
    path.write_bytes(encode_record(_event({}, ts=1.0e9 + 5)) + encode_record(_event({}, ts=600.0)))
    report = open_store(path, retention_policy=RetentionPolicy(max_age_seconds=60)).compact()
    assert (report.after_records, report.relative_timestamp_records) == (1, 1)


# --------------------------------------------------------------------------- rotating race


def test_a_rotating_read_overlapping_a_compaction_in_the_same_process_sees_every_record(
    tmp_path: Path,
) -> None:
    """A read that has taken its snapshot of the members keeps them: a compaction in this process
    waits before replacing them (the read once returned [] or a part when the swap replaced the
    files it had not opened yet)."""
    import contextlib

    from papyra.persistence.reading import SkipCount
    from papyra.persistence.rotation import iter_set_newest_first

    store = RotatingFilePersistence(tmp_path / "rot.ndjson", max_bytes=1500, max_files=6, fsync="never")
    try:
        for i in range(40):
            store.record_event(_event({"i": i}))
        store.flush()
        rset = store._set
        assert len(rset.existing()) >= 3
        with contextlib.ExitStack() as stack:
            read = iter_set_newest_first(rset, stack, skipped=SkipCount())
            seen = [next(read)]  # snapshot taken, the newest member open, the others not yet
            compaction = threading.Thread(target=store.compact)
            compaction.start()
            while compaction.is_alive() and not rset.guard.waiting:
                compaction.join(0.001)  # until the compaction finished or waits for this read
            seen.extend(read)
            read.close()
        compaction.join()
        assert sorted(r.payload["i"] for r, _ in seen) == list(range(40))
        assert len(store.list_events()) == 40
    finally:
        store.close()
