"""Properties of the one record grammar, on every backend (hypothesis), and a bounded fuzz of
damaged stores: what ``record_*`` accepts is stored, scanned clean, read back as
``to_plain(payload)`` and kept by REPAIR; what it refuses is an ``EncodingError`` and nothing is
written; damage never makes scan, recover or reads raise, and never costs an untouched line."""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from papyra.exceptions import EncodingError
from papyra.persistence import grammar
from papyra.persistence.backends.rotating import RotatingFilePersistence
from papyra.persistence.base import PersistenceBackend
from papyra.persistence.grammar import encode_record
from papyra.persistence.json import JsonFilePersistence
from papyra.persistence.models import (
    PersistedAudit,
    PersistedDeadLetter,
    PersistedEvent,
    PersistenceRecoveryConfig,
    PersistenceRecoveryMode,
)
from papyra.persistence.plain import to_plain
from papyra.testing.payloads import hard_payloads

REPAIR = PersistenceRecoveryConfig(mode=PersistenceRecoveryMode.REPAIR)
LINE_LIMIT = 2048  # the grammar's line limit during the property test (one constant, both sides)
CASES = Path(__file__).parent / "cases"


# --------------------------------------------------------------------------- payloads

payloads = st.one_of(
    hard_payloads(),
    st.integers(LINE_LIMIT - 240, LINE_LIMIT - 100).map(lambda n: {"big": "é" * (n // 2)}),
    st.integers(LINE_LIMIT - 160, LINE_LIMIT + 10).map(lambda n: "x" * n),
)


def _record(payload: Any, kind: int, i: int) -> PersistedEvent | PersistedDeadLetter:
    if kind:
        return PersistedDeadLetter(target="local:1", message_type="T", payload=payload, timestamp=1.8e9 + i)
    return PersistedEvent(actor_address="local:1", event_type="T", payload=payload, timestamp=1.8e9 + i)


def _damage(backend: PersistenceBackend, tmp_path: Path) -> None:
    """Add one unreadable line or entry, so that REPAIR has to rewrite (or delete) something."""
    path = getattr(backend, "path", None)
    if isinstance(path, Path):
        with open(path, "ab") as f:
            f.write(b'{"kind": "event", "timest\n')
    elif hasattr(backend, "stream_key"):
        backend._client.xadd(backend.stream_key("events"), {"data": b"{not json"})  # type: ignore[attr-defined]


@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=payloads, kind=st.integers(0, 1))
def test_what_record_accepts_round_trips_and_what_it_refuses_leaves_no_trace(
    make_backend: Callable[..., PersistenceBackend],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    payload: Any,
    kind: int,
) -> None:
    monkeypatch.setattr(grammar, "MAX_LINE_BYTES", LINE_LIMIT)
    backend = _the_backend(make_backend)
    lister = backend.list_dead_letters if kind else backend.list_events
    before = len(lister())
    record = _record(payload, kind, before)
    try:
        backend.record_event(record) if not kind else backend.record_dead_letter(record)  # type: ignore[arg-type]
    except EncodingError:
        assert backend.flush(60)
        assert len(lister()) == before  # refused: nothing was written
        return
    expected = to_plain(payload)
    assert backend.flush(60)
    assert len(encode_record(record)) <= LINE_LIMIT + 1
    assert lister(limit=1)[0].payload == expected
    assert not backend.scan().has_anomalies
    _damage(backend, tmp_path)
    report = backend.recover(REPAIR)
    assert report.removed_lines == (0 if backend.backend_name == "memory" else 1)
    assert lister(limit=1)[0].payload == expected  # REPAIR kept it
    assert len(lister()) == before + 1
    assert not backend.scan().has_anomalies


_BACKENDS: dict[int, PersistenceBackend] = {}


def _the_backend(make_backend: Callable[..., PersistenceBackend]) -> PersistenceBackend:
    """One backend per test run (the fixture's factory is the same object for every example);
    JSON and rotating stores do not fsync, to keep the property test fast."""
    backend = _BACKENDS.get(id(make_backend))
    if backend is None:
        name = make_backend.backend_name  # type: ignore[attr-defined]
        backend = make_backend(fsync="never") if name in ("json", "rotating") else make_backend()
        _BACKENDS.clear()
        _BACKENDS[id(make_backend)] = backend
    return backend


@pytest.fixture(autouse=True)
def _forget_backends() -> Iterator[None]:
    yield
    _BACKENDS.clear()


# --------------------------------------------------------------------------- bounded fuzz


def _base_lines() -> list[bytes]:
    """Valid lines in every style: the earlier release's (cases/) and ours."""
    lines = []
    for name in ("bom-store", "nan-infinity", "lone-surrogate", "monotonic-timestamps"):
        text = (CASES / f"{name}.ndjson").read_bytes()
        lines += [line.removeprefix(b"\xef\xbb\xbf") for line in text.splitlines()]
    lines.append(encode_record(PersistedAudit(timestamp=1.8e9, total_actors=2, registry_dead=("w",)))[:-1])
    lines.append(encode_record(PersistedEvent(timestamp=1.8e9 + 1, payload={"é": [1, 2.5, None]}))[:-1])
    lines.append(b'{"kind": "event", "timestamp": 1}')
    return lines


def _mutate(rng: random.Random, line: bytes) -> bytes:
    choice = rng.randrange(5)
    if choice == 0 and line:  # bit flips (never creating a newline: that is a different line)
        data = bytearray(line)
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(data))
            flipped = data[i] ^ (1 << rng.randrange(8))
            data[i] = flipped if flipped != 0x0A else data[i]
        return bytes(data)
    if choice == 1:  # a NUL run
        i = rng.randrange(len(line) + 1)
        return line[:i] + b"\x00" * rng.randint(1, 40) + line[i:]
    if choice == 2:  # cut short (the rest of the line lost)
        return line[: rng.randrange(len(line) + 1)]
    if choice == 3:  # invalid UTF-8
        i = rng.randrange(len(line) + 1)
        return line[:i] + b"\xff\xfe" + line[i:]
    return line[len(line) // 2 :]  # the tail half of a line


def _fuzzed_store(rng: random.Random, base: list[bytes], big: bool) -> tuple[bytes, list[bytes]]:
    """A damaged store and the lines it holds that no mutation touched (all valid); with
    ``big``, one of them is a 10 MB line (valid or not)."""
    lines = [rng.choice(base) for _ in range(rng.randint(1, 12))]
    if rng.random() < 0.3:
        lines.insert(rng.randrange(len(lines) + 1), rng.choice(lines))  # a duplicated line
    if rng.random() < 0.3:
        lines = [line + b"\r" for line in lines]  # CRLF
    if rng.random() < 0.2:
        lines.insert(rng.randrange(len(lines) + 1), b"")  # blank line
    if rng.random() < 0.2:
        lines[0] = b"\xef\xbb\xbf" + lines[0]  # BOM
    touched = set()
    for _ in range(rng.randint(0, 3)):
        i = rng.randrange(len(lines))
        lines[i] = _mutate(rng, lines[i])
        touched.add(i)
    if big:
        i = rng.randrange(len(lines) + 1)
        line = b'{"kind": "event", "timestamp": 2, "payload": "' + b"z" * 10_000_000 + b'"}'
        valid = rng.random() < 0.5
        lines.insert(i, line if valid else b"\x00" + line)
        touched = {t + (t >= i) for t in touched} | ({i} if not valid else set())
    data = b"\n".join(lines) + b"\n"
    if rng.random() < 0.2:  # a torn tail: the final line loses its end and its newline
        data = data[: rng.randrange(len(data) - len(lines[-1]) - 1, len(data))]
        touched.add(len(lines) - 1)
    untouched = [line for i, line in enumerate(lines) if i not in touched]
    return data, untouched


def _is_subsequence(needles: list[bytes], haystack: list[bytes]) -> bool:
    it = iter(haystack)
    return all(any(n == h for h in it) for n in needles)


def test_fuzzed_stores_never_break_scan_recover_or_reads_and_keep_every_untouched_line(
    tmp_path: Path,
) -> None:
    rng = random.Random(int(os.environ.get("PAPYRA_TEST_SEED", "11")))
    base = _base_lines()
    for n in range(300):
        path = tmp_path / f"store{n}.ndjson"
        data, untouched = _fuzzed_store(rng, base, big=n in (5, 6))
        path.write_bytes(data)
        path.chmod(0o600)
        opener: Any = JsonFilePersistence if n % 2 else (
            lambda p: RotatingFilePersistence(p, max_bytes=1 << 26, max_files=2)
        )
        backend = opener(path)
        try:
            backend.scan()
            for lister in (backend.list_events, backend.list_audits, backend.list_dead_letters):
                lister()
            backend.recover(REPAIR)
            assert not backend.scan().has_anomalies, (n, data[:300])
            kept = path.read_bytes().split(b"\n")
            assert _is_subsequence(untouched, kept), n
            listers = (backend.list_events, backend.list_audits, backend.list_dead_letters)
            records = sum(len(lister()) for lister in listers)
            assert records >= sum(1 for line in untouched if line.strip(b"\r\xef\xbb\xbf"))
        finally:
            backend.close()
        path.unlink()


# --------------------------------------------------------------------------- block scan = line scan


def _line_pool() -> list[bytes]:
    """Lines of every class the grammar tells apart, short and long (the block path skips the
    depth count below 258 bytes), in and over the limits."""
    def event(payload: Any) -> bytes:
        return encode_record(PersistedEvent(actor_address="local:1", event_type="T", payload=payload,
                                            timestamp=1.8e9))[:-1]

    def deep(levels: int) -> Any:
        value: Any = 0
        for _ in range(levels):
            value = [value]
        return value

    too_deep = b'{"kind":"event","timestamp":1,"payload":' + b"[" * 128 + b"]" * 128 + b"}"
    return [
        event({"i": 1}), event("x" * 400), event(deep(126)), event({"s": "[" * 300}),
        encode_record(PersistedAudit(timestamp=1.0, registry_orphans=("a",)))[:-1],
        too_deep, too_deep[:200], b"", b"  \r", b"\r", b"\xef\xbb\xbf" + event(1), event(2) + b"\r",
        b'{"kind": "event", "timestamp": 1, "extra": 1}', b'{"timestamp": 1, "kind": "audit"}',
        b'{"kind": "event", "timest', b"\x00" * 20, b"\x00", b"not json", b"[1, 2]",
        b'{"kind":"event","timestamp":NaN}', b"\xff\xfe", b"x" * (LINE_LIMIT + 1),
        b'{"kind":"event","timestamp":1,"payload":"' + b"y" * LINE_LIMIT + b'"}',
    ]


def test_the_block_scan_reports_exactly_what_a_line_by_line_parse_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(grammar, "MAX_LINE_BYTES", LINE_LIMIT)
    monkeypatch.setattr(grammar, "_CHUNK", 4096)  # many blocks, lines across block edges
    rng = random.Random(int(os.environ.get("PAPYRA_TEST_SEED", "11")))
    pool = _line_pool()
    path = tmp_path / "store.ndjson"
    for n in range(200):
        good = rng.random() < 0.5  # half the stores are mostly records (the block path)
        lines = [pool[0 if good and rng.random() < 0.9 else rng.randrange(len(pool))]
                 for _ in range(rng.randrange(1, 120))]
        data = b"\n".join(lines) + (b"\n" if rng.random() < 0.8 else b"")
        path.write_bytes(data)
        expected: list[tuple[grammar.RawLine, str]] = []
        records = 0
        with open(path, "rb") as f:
            for raw in grammar.iter_lines(f):
                _, _, line, complete, oversized = raw
                if not complete:
                    expected.append((raw, "line too long" if oversized else "incomplete"))
                elif oversized:
                    expected.append((raw, "line too long"))
                else:
                    try:
                        records += grammar.parse_line(line) is not None
                    except grammar.LineError as exc:
                        expected.append((raw, exc.reason))
            total = raw[0]
        tally = grammar.LineTally()
        with open(path, "rb") as f:
            got = list(grammar.iter_unreadable_lines(f, tally))
        assert (got, tally.records, tally.lines) == (expected, records, total), (n, data[:200])
