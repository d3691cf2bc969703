"""The backend contract suite, as a pytest base class (see :mod:`papyra.testing`).

Every test takes the ``make_backend`` fixture the subclass provides: ``make_backend(**kwargs)``
returns a fresh, empty backend (kwargs: ``retention_policy=``) and the fixture closes every
backend it made at teardown. Class attributes describe what the backend is, so that the suite
checks the right promise:

* ``per_kind_retention`` — retention windows are per record kind (Redis: one stream per kind)
  rather than one window over the whole store (memory, files, SQL tables);
* ``reports_bytes`` — ``compact()`` can tell the bytes before and after.

Tests of scan, recover, compaction and metrics are skipped (with the reason) for a backend whose
``capabilities`` do not declare them.

What it checks: round trips of each kind, ``since``/``until``/``limit`` windows, argument errors,
the closed state, every retention limit alone and combined, compaction, scan and recover on a
healthy store (read-only, idempotent), metrics and capabilities, plain-JSON payload values,
typed encoding errors, the record grammar's hard payloads (a hypothesis property: what
``record_*`` accepts is stored, scanned clean, read back as ``to_plain(payload)`` and kept by
REPAIR; what it refuses is an ``EncodingError`` and nothing is written), read-your-writes and
records accepted from 8 threads at once.
"""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings

from papyra.exceptions import EncodingError, PapyraError, PersistenceClosedError
from papyra.persistence.base import PersistenceBackend, backend_capabilities, safe_metrics_snapshot
from papyra.persistence.grammar import encode_record
from papyra.persistence.models import (
    CompactionReport,
    PersistedAudit,
    PersistedDeadLetter,
    PersistedEvent,
    PersistenceRecoveryConfig,
    PersistenceRecoveryMode,
    PersistenceRecoveryReport,
    PersistenceScanReport,
)
from papyra.persistence.plain import to_plain
from papyra.persistence.retention import RetentionPolicy
from papyra.testing.payloads import hard_payloads
from papyra.testing.records import sample_audit, sample_dead_letter, sample_event

__all__ = ["BackendContract", "MakeBackend"]

#: ``make_backend(**kwargs) -> PersistenceBackend`` — the one fixture a subclass provides.
MakeBackend = Callable[..., PersistenceBackend]


class _Custom:
    def __init__(self, n: int) -> None:
        self.n = n

    def __repr__(self) -> str:
        return f"Custom({self.n})"


class _SelfRef:
    """An object whose repr recurses for ever (it contains itself)."""

    def __init__(self) -> None:
        self.me = self

    def __repr__(self) -> str:
        return f"SelfRef({self.me!r})"


class BackendContract:
    """Subclass as ``Test...`` and provide a ``make_backend`` fixture (see the module docs)."""

    per_kind_retention: bool = False
    reports_bytes: bool = True

    def test_round_trip_each_kind(self, make_backend: MakeBackend) -> None:
        b = make_backend()
        events = [sample_event(i) for i in range(5)]
        for e in events:
            b.record_event(e)
        b.record_audit(sample_audit(7))
        b.record_dead_letter(sample_dead_letter(9))
        assert b.flush() is True
        assert b.list_events() == tuple(events)
        assert b.list_audits() == (sample_audit(7),)
        assert b.list_dead_letters() == (sample_dead_letter(9),)

    def test_reads_see_records_without_flush(self, make_backend: MakeBackend) -> None:
        b = make_backend()
        for i in range(200):
            b.record_event(sample_event(i))
        assert len(b.list_events()) == 200
        assert b.metrics.snapshot()["records_written"] == 200

    def test_since_until_inclusive_and_limit_keeps_newest(self, make_backend: MakeBackend) -> None:
        b = make_backend()
        for i in range(10):
            b.record_event(sample_event(i))
            b.record_dead_letter(sample_dead_letter(i))
        assert [e.timestamp for e in b.list_events(since=3, until=6)] == [3, 4, 5, 6]
        assert [e.timestamp for e in b.list_events(limit=3)] == [7, 8, 9]
        assert [e.timestamp for e in b.list_events(limit=2, until=5)] == [4, 5]
        assert [d.timestamp for d in b.list_dead_letters(since=8)] == [8, 9]
        assert b.list_audits() == ()
        assert len(b.list_events(limit=100)) == 10

    @pytest.mark.parametrize("bad", [0, -1, 1.5, True, "3"])
    def test_bad_limit_is_value_error(self, make_backend: MakeBackend, bad: object) -> None:
        b = make_backend()
        with pytest.raises(ValueError):
            b.list_events(limit=bad)  # type: ignore[arg-type]

    def test_wrong_record_type_is_type_error(self, make_backend: MakeBackend) -> None:
        b = make_backend()
        with pytest.raises(TypeError):
            b.record_event(sample_audit(1))  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            b.record_audit({"kind": "audit"})  # type: ignore[arg-type]

    def test_closed_backend_refuses_writes_but_reads(self, make_backend: MakeBackend) -> None:
        b = make_backend()
        b.record_event(sample_event(1))
        b.close()
        b.close()  # idempotent
        assert b.closed
        with pytest.raises(PersistenceClosedError):
            b.record_event(sample_event(2))
        assert b.list_events() == (sample_event(1),)

    def test_retention_max_records_window_is_the_store_or_the_stream(self, make_backend: MakeBackend) -> None:
        """File and memory stores are one log (the window spans all kinds); Redis keeps one stream
        per kind, so the window is per kind there."""
        b = make_backend(retention_policy=RetentionPolicy(max_records=4))
        for i in range(5):
            b.record_event(sample_event(2 * i))
            b.record_audit(sample_audit(2 * i + 1))
        if self.per_kind_retention:
            assert [e.timestamp for e in b.list_events()] == [2, 4, 6, 8]
            assert [a.timestamp for a in b.list_audits()] == [3, 5, 7, 9]
        else:
            # newest four records overall: event 6, audit 7, event 8, audit 9
            assert [e.timestamp for e in b.list_events()] == [6, 8]
            assert [a.timestamp for a in b.list_audits()] == [7, 9]
        assert [e.timestamp for e in b.list_events(limit=1)] == [8]

    def test_retention_max_age(self, make_backend: MakeBackend) -> None:
        now = time.time()
        b = make_backend(retention_policy=RetentionPolicy(max_age_seconds=100))
        b.record_event(sample_event(1, ts=now - 1000))
        b.record_event(sample_event(2, ts=now - 10))
        b.record_event(sample_event(3, ts=now - 500))  # out of order: skipped, not a stop
        b.record_event(sample_event(4, ts=now))
        assert [e.actor_address for e in b.list_events()] == ["local:2", "local:4"]

    def test_retention_max_total_bytes_uses_encoded_lines(self, make_backend: MakeBackend) -> None:
        records = [sample_event(i) for i in range(10)]
        size = len(encode_record(records[0]))
        assert all(len(encode_record(r)) == size for r in records)
        b = make_backend(retention_policy=RetentionPolicy(max_total_bytes=size * 3 + size // 2))
        for r in records:
            b.record_event(r)
        assert [e.timestamp for e in b.list_events()] == [7, 8, 9]

    def test_retention_combined_strictest_wins(self, make_backend: MakeBackend) -> None:
        now = time.time()
        records = [sample_event(i, ts=now - 100 + i) for i in range(20)]
        size = len(encode_record(records[0]))
        policy = RetentionPolicy(max_records=5, max_age_seconds=93.5, max_total_bytes=size * 10)
        b = make_backend(retention_policy=policy)
        for r in records:
            b.record_event(r)
        assert len(b.list_events()) == 5  # count is strictest
        b2 = make_backend(retention_policy=RetentionPolicy(max_records=10, max_age_seconds=96.5))
        for r in records:
            b2.record_event(r)
        # the age limit drops events older than now-96.5 (i < 4); count keeps the newest 10
        assert [e.actor_address for e in b2.list_events()] == [f"local:{i}" for i in range(10, 20)]
        two = len(encode_record(records[18])) + len(encode_record(records[19]))
        b3 = make_backend(retention_policy=RetentionPolicy(max_records=10, max_total_bytes=two + 1))
        for r in records:
            b3.record_event(r)
        assert len(b3.list_events()) == 2  # bytes strictest

    def test_compaction_makes_retention_physical(self, make_backend: MakeBackend) -> None:
        b = make_backend(retention_policy=RetentionPolicy(max_records=3))
        _needs(b, "supports_compact")
        for i in range(10):
            b.record_event(sample_event(i))
        report = b.compact()
        assert isinstance(report, CompactionReport)
        assert (report.before_records, report.after_records, report.removed_records) == (10, 3, 7)
        assert report["backend"] == report.backend
        if not self.reports_bytes:
            assert report.reclaimed_bytes is None  # Redis cannot tell stream bytes
        else:
            assert report.before_bytes is not None and report.after_bytes is not None
            assert report.reclaimed_bytes == report.before_bytes - report.after_bytes > 0
        assert [e.timestamp for e in b.list_events()] == [7, 8, 9]
        again = b.compact()
        assert (again.before_records, again.after_records) == (3, 3)
        b.record_event(sample_event(10))
        assert [e.timestamp for e in b.list_events()] == [8, 9, 10]

    def test_compact_dry_run_reports_what_the_real_run_then_does(self, make_backend: MakeBackend) -> None:
        """For a backend whose ``compact`` takes ``dry_run=``: the dry run changes nothing and
        reports exactly the figures of the real compaction right after it."""
        b = make_backend(retention_policy=RetentionPolicy(max_records=3))
        _needs(b, "supports_compact")
        if "dry_run" not in inspect.signature(b.compact).parameters:
            pytest.skip(f"{b.backend_name} backend has no compact(dry_run=)")
        for i in range(10):
            b.record_event(sample_event(i))
        assert b.flush(timeout=30.0) is True
        compact: Callable[..., CompactionReport] = b.compact  # dry_run= is optional in the contract
        dry = compact(dry_run=True).to_dict()
        assert compact(dry_run=True).to_dict() == dry  # the dry run changed nothing
        real = b.compact().to_dict()
        dry.pop("quarantine_path")
        real.pop("quarantine_path")
        assert dry == real and real["removed_records"] == 7

    def test_compaction_without_policy_keeps_everything(self, make_backend: MakeBackend) -> None:
        b = make_backend()
        _needs(b, "supports_compact")
        for i in range(10):
            b.record_audit(sample_audit(i))
        report = b.compact()
        assert report.before_records == report.after_records == 10
        assert len(b.list_audits()) == 10

    def test_scan_recover_on_healthy_store(self, make_backend: MakeBackend) -> None:
        b = make_backend()
        _needs(b, "supports_scan", "supports_recover")
        b.record_event(sample_event(1))
        scan = b.scan()
        assert isinstance(scan, PersistenceScanReport) and not scan.has_anomalies
        for mode in PersistenceRecoveryMode:
            report = b.recover(PersistenceRecoveryConfig(mode=mode))
            assert isinstance(report, PersistenceRecoveryReport)
            assert report.repaired_files == () and report.quarantined_files == ()
        assert b.recover().scan.anomalies == ()
        assert b.list_events() == (sample_event(1),)

    def test_metrics_and_capabilities(self, make_backend: MakeBackend) -> None:
        b = make_backend()
        _needs(b, "supports_scan", "supports_recover", "supports_compact", "supports_metrics")
        caps = backend_capabilities(b)
        assert caps.supports_scan and caps.supports_recover
        assert caps.supports_compact and caps.supports_metrics
        b.record_event(sample_event(1))
        b.record_audit(PersistedAudit(timestamp=2.0))
        b.scan()
        b.compact()
        b.recover()
        snap = safe_metrics_snapshot(b)
        for key in ("records_written", "bytes_written", "write_errors", "fsyncs", "scans", "scan_errors",
                    "anomalies_detected", "recoveries", "recovery_errors", "compactions",
                    "compaction_errors", "torn_tails_truncated", "pending"):
            assert key in snap, key
        assert snap["records_written"] == 2
        assert snap["bytes_written"] > 0
        assert snap["scans"] >= 2 and snap["compactions"] == 1 and snap["recoveries"] == 1
        assert snap["pending"] == 0
        assert b.describe()["backend"] == b.backend_name

    def test_payloads_are_returned_as_the_same_plain_json_values(self, make_backend: MakeBackend) -> None:
        """Every backend (memory included) returns what the encoded line decodes to, never the live
        objects it was given: sets/tuples -> lists, NaN -> None, bytes -> base64, objects -> repr."""
        live = {
            "set": {3, 1, 2},
            "tuple": (1, "a", (2.5,)),
            "nan": float("nan"),
            "inf": [float("inf")],
            "bytes": b"\x00ab",
            "obj": _Custom(7),
            "error": ValueError("boom"),
            (1, 2): "tuple key",
            5: "int key",
        }
        plain = {
            "set": [1, 2, 3],
            "tuple": [1, "a", [2.5]],
            "nan": None,
            "inf": [None],
            "bytes": "AGFi",
            "obj": "Custom(7)",
            "error": "ValueError: boom",
            "(1, 2)": "tuple key",
            "5": "int key",
        }
        b = make_backend()
        b.record_event(PersistedEvent(actor_address="local:p", event_type="X", payload=live, timestamp=1.0))
        b.record_dead_letter(PersistedDeadLetter(target="local:p", payload={_Custom(1)}, timestamp=2.0))
        [stored] = b.list_events()
        assert stored.payload == plain
        assert stored.payload is not live
        assert b.list_dead_letters()[0].payload == ["Custom(1)"]
        assert stored == PersistedEvent(actor_address="local:p", event_type="X", payload=plain, timestamp=1.0)

    def test_unencodable_payload_raises_typed_error_and_is_counted(self, make_backend: MakeBackend) -> None:
        cyclic: dict[str, object] = {"a": 1}
        cyclic["self"] = cyclic
        deep: list[object] = []
        cursor = deep
        for _ in range(100_000):
            nxt: list[object] = []
            cursor.append(nxt)
            cursor = nxt
        bad_payloads: list[object] = [cyclic, deep, [_SelfRef()]]
        b = make_backend()
        for payload in bad_payloads:
            with pytest.raises(EncodingError) as info:
                b.record_event(PersistedEvent(payload=payload, timestamp=1.0))
            assert isinstance(info.value, PapyraError) and isinstance(info.value, ValueError)
            assert not isinstance(info.value, RecursionError)
        with pytest.raises(EncodingError, match="finite"):
            b.record_audit(PersistedAudit(timestamp=float("nan")))
        b.record_event(sample_event(2))  # the backend keeps working; nothing of the refused records is stored
        assert b.list_events() == (sample_event(2),)
        assert b.list_audits() == ()
        snap = b.metrics.snapshot()
        assert snap["encoding_errors"] == 4
        assert snap["records_written"] == 1
        assert snap["write_errors"] == 0

    def test_records_from_eight_threads_are_all_kept_in_each_threads_order(
        self, make_backend: MakeBackend
    ) -> None:
        b = make_backend()
        per_thread = 50
        start = threading.Barrier(8)
        errors: list[BaseException] = []

        def writer(t: int) -> None:
            try:
                start.wait()
                for i in range(per_thread):
                    b.record_event(sample_event(i, actor_address=f"local:t{t}", payload={"t": t, "i": i}))
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=writer, args=(t,)) for t in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert errors == []
        assert b.flush() is True
        events = b.list_events()
        assert len(events) == 8 * per_thread
        for t in range(8):
            mine = [e.payload["i"] for e in events if e.payload["t"] == t]
            assert mine == list(range(per_thread))

    def test_each_thread_reads_its_own_writes(self, make_backend: MakeBackend) -> None:
        b = make_backend()
        failures: list[str] = []
        start = threading.Barrier(4)

        def reader_writer(t: int) -> None:
            start.wait()
            for i in range(20):
                b.record_dead_letter(
                    PersistedDeadLetter(target=f"local:t{t}", payload=[t, i], timestamp=float(i))
                )
                seen = [d.payload for d in b.list_dead_letters() if d.target == f"local:t{t}"]
                if seen[-1:] != [[t, i]]:
                    failures.append(f"thread {t} wrote {i} but read {seen[-1:]}")

        threads = [threading.Thread(target=reader_writer, args=(t,)) for t in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert failures == []

    def test_scan_is_read_only_and_recover_is_idempotent(self, make_backend: MakeBackend) -> None:
        b = make_backend()
        _needs(b, "supports_scan", "supports_recover")
        for i in range(5):
            b.record_event(sample_event(i))
        b.record_audit(sample_audit(9))
        before = (b.list_events(), b.list_audits())
        for _ in range(2):
            assert not b.scan().has_anomalies
        assert (b.list_events(), b.list_audits()) == before
        for mode in (PersistenceRecoveryMode.REPAIR, PersistenceRecoveryMode.REPAIR):
            report = b.recover(PersistenceRecoveryConfig(mode=mode))
            assert report.repaired_files == () and not report.scan.has_anomalies
        assert (b.list_events(), b.list_audits()) == before

    def test_acknowledgement_contract_of_flush_and_close(self, make_backend: MakeBackend) -> None:
        """flush() True = every record accepted before it is stored; close(timeout) returns True
        when nothing accepted was lost, within its bound, idempotently; reads still work."""
        b = make_backend()
        for i in range(100):
            b.record_event(sample_event(i))
        assert b.flush(timeout=30.0) is True
        assert len(b.list_events()) == 100
        b.record_audit(sample_audit(200))
        started = time.monotonic()
        assert b.close(timeout=30.0) is True
        assert time.monotonic() - started < 30.0 + 5.0  # the bound plus a small constant
        assert b.closed and b.failed is None
        assert b.close(timeout=1.0) is True  # idempotent: same answer
        with pytest.raises(PersistenceClosedError):
            b.record_event(sample_event(300))
        assert len(b.list_events()) == 100 and b.list_audits() == (sample_audit(200),)

    def test_flush_rejects_a_nan_timeout_and_never_waits_on_a_negative_one(
        self, make_backend: MakeBackend
    ) -> None:
        b = make_backend()
        b.record_event(sample_event(1))
        with pytest.raises(ValueError):
            b.flush(float("nan"))  # NaN compares false with everything: it must not mean "forever"
        assert isinstance(b.flush(-1.0), bool)
        assert b.flush(timeout=30.0) is True

    def test_a_timestamp_beyond_the_float_range_is_an_encoding_error(self, make_backend: MakeBackend) -> None:
        b = make_backend()
        with pytest.raises(EncodingError):
            b.record_event(sample_event(1, ts=10**400))
        assert b.metrics.snapshot()["encoding_errors"] == 1
        assert b.list_events() == ()

    def test_close_with_zero_timeout_never_blocks_and_never_lies(self, make_backend: MakeBackend) -> None:
        """close(timeout=0) returns at once; if it reports True, every record is stored."""
        b = make_backend()
        for i in range(50):
            b.record_event(sample_event(i))
        if b.close(timeout=0.0):
            assert len(b.list_events()) == 50
        else:
            assert safe_metrics_snapshot(b).get("records_dropped", 0) >= 1

    @settings(
        max_examples=40,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(payload=hard_payloads())
    def test_hard_payloads_are_stored_exactly_or_refused_without_a_trace(
        self, make_backend: MakeBackend, payload: object
    ) -> None:
        b = _one_backend_per_test(make_backend)
        _needs(b, "supports_scan", "supports_recover")
        before = len(b.list_dead_letters())
        record = PersistedDeadLetter(target="local:1", message_type="T", payload=payload, timestamp=1.8e9)
        try:
            b.record_dead_letter(record)
        except EncodingError as exc:
            assert isinstance(exc, ValueError)
            assert b.flush(timeout=30.0) is True
            assert len(b.list_dead_letters()) == before  # refused: nothing written
            return
        assert b.flush(timeout=30.0) is True
        expected = to_plain(payload)
        assert b.list_dead_letters(limit=1)[0].payload == expected
        assert not b.scan().has_anomalies
        b.recover(PersistenceRecoveryConfig(mode=PersistenceRecoveryMode.REPAIR))
        stored = b.list_dead_letters()
        assert len(stored) == before + 1 and stored[-1].payload == expected  # REPAIR kept it


def _needs(backend: PersistenceBackend, *capabilities: str) -> None:
    """Skip the test unless the backend declares every capability (``capabilities``)."""
    caps = backend_capabilities(backend)
    missing = [name for name in capabilities if not getattr(caps, name)]
    if missing:
        pytest.skip(f"{backend.backend_name} backend does not declare {', '.join(missing)}")


def _one_backend_per_test(make_backend: MakeBackend) -> PersistenceBackend:
    """Hypothesis runs every example of a test with the same fixture value: build one backend for
    all of them (the fixture closes it at teardown) instead of one per example."""
    backend: PersistenceBackend | None = getattr(make_backend, "_kit_backend", None)
    if backend is None:
        backend = make_backend()
        make_backend._kit_backend = backend  # type: ignore[attr-defined]
    return backend
