"""The one record path from the kernel to persistence: write-behind backends are called directly
(no recorder thread, one bounded queue: the backend's), others through the recorder adapter."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from papyra import Actor, ActorSystem
from papyra.events import ActorCrashed
from papyra.exceptions import DurabilityError
from papyra.persistence.backends.memory import InMemoryPersistence
from papyra.persistence.json import JsonFilePersistence
from papyra.persistence.models import PersistedRecord
from papyra.persistence.runtime_records import dead_letter_record, event_record
from tests.support.backends import SynchronousMemoryPersistence
from tests.support.child import hold_store_lock, release_store_lock


class Echo(Actor):
    def receive(self, message: Any) -> Any:
        if message == "boom":
            raise KeyError("boom")
        return message


def _recorder_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("papyra-recorder-")]


@pytest.mark.parametrize("make", [InMemoryPersistence, "json"])
def test_write_behind_backends_get_records_from_the_actor_thread_without_a_recorder(
    make: Any, tmp_path: Path
) -> None:
    backend = JsonFilePersistence(tmp_path / "s.ndjson") if make == "json" else make()
    assert backend.capabilities.write_behind
    with ActorSystem(system_id="direct", persistence=backend) as system:
        ref = system.spawn(Echo)
        assert ref.ask("x") == "x"
        assert _recorder_threads() == []
        assert system.flush(timeout=60) is True
        assert [e.event_type for e in backend.list_events()] == ["ActorStarted"]
    assert backend.closed


def test_a_backend_without_write_behind_is_fed_by_the_recorder_thread() -> None:
    backend = SynchronousMemoryPersistence()
    with ActorSystem(system_id="adapted", persistence=backend) as system:
        system.spawn(Echo).ask("x")
        assert _recorder_threads() == ["papyra-recorder-adapted"]
        assert system.flush(timeout=60) is True
        assert [e.event_type for e in backend.list_events()] == ["ActorStarted"]
    assert _recorder_threads() == []


def test_a_full_writer_queue_blocks_briefly_then_drops_are_counted_logged_once_and_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "s.ndjson"
    backend = JsonFilePersistence(path, max_pending=1, backpressure_timeout=0.01)
    holder = hold_store_lock(path, "portalocker")  # the writer cannot write: its queue fills
    try:
        with caplog.at_level(logging.WARNING, logger="papyra"), ActorSystem(persistence=backend) as system:
            refs = [system.spawn(Echo) for _ in range(5)]
            for ref in refs:
                assert ref.ask("x") == "x"  # actors keep running although records are dropped
            # 5 ActorStarted: at most one is being written and one queued, the rest dropped
            assert system.metrics.snapshot()["recorder_drops_total"] >= 3
            assert caplog.text.count("persistence queue is full") == 1  # once per burst
            release_store_lock(holder)
            start = system.event_index
            for ref in refs:
                ref.stop()
            for ref in refs:
                system.wait_for_event(
                    lambda e, a=ref.address: e.event_type == "ActorStopped" and e.actor_address == a,
                    start_index=start, timeout=60,
                )
            dropped = system.metrics.snapshot()["recorder_drops_total"]
            with pytest.raises(DurabilityError, match=f"{dropped} records never reached persistence"):
                system.flush(timeout=60)
            assert system.flush(timeout=60) is True  # reported once
    finally:
        if holder.proc.poll() is None:
            release_store_lock(holder)
    reader = JsonFilePersistence(path)
    try:
        assert len(reader.list_events()) == 10 - dropped  # every other record was stored
    finally:
        reader.close()


class _RefusingMemory(InMemoryPersistence):
    """A write-behind backend that refuses every crash event."""

    def _record(self, record: PersistedRecord) -> None:
        if getattr(record, "event_type", None) == "ActorCrashed":
            raise OSError("refused")
        super()._record(record)


def test_a_write_behind_backend_that_refuses_a_record_never_crashes_the_actor_and_flush_reports_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    backend = _RefusingMemory()
    with caplog.at_level(logging.WARNING, logger="papyra"), ActorSystem(persistence=backend) as system:
        ref = system.spawn(Echo, name="svc")
        with pytest.raises(KeyError):
            ref.ask("boom")
        assert ref.ask("after") == "after"  # restarted, still serving
        with pytest.raises(DurabilityError, match="1 records never reached persistence"):
            system.flush(timeout=60)
        assert system.flush(timeout=60) is True
        assert system.metrics.snapshot()["recorder_failures_total"] == 1
    assert "persistence record_event failed" in caplog.text


def test_runtime_records_come_from_the_persistence_package_builders() -> None:
    with ActorSystem(system_id="b") as system:
        ref = system.spawn(Echo, name="svc")
        with pytest.raises(KeyError):
            ref.ask("boom")
        crash = system.wait_for_event(ActorCrashed)
        system.flush(timeout=60)
        stored = [e for e in system.persistence.list_events() if e.event_type == "ActorCrashed"]
        assert stored == [event_record("b", crash)]
        assert stored[0].payload == {"error": "KeyError: 'boom'", "reason": "KeyError: 'boom'"}
        record = dead_letter_record("b", ref.address, {"k": 1}, 5.0)
        assert (record.target, record.message_type, record.payload) == ("b:1", "dict", {"k": 1})


def test_records_before_start_and_after_close_are_ignored_not_counted_as_failures() -> None:
    backend = InMemoryPersistence()
    system = ActorSystem(persistence=backend)
    system.audit()  # not started: nothing is recorded
    with system:
        ref = system.spawn(Echo)
        ref.ask("x")
    system.audit()  # closed
    with pytest.raises(Exception, match="not running"):
        ref.tell("late")  # a dead letter, kept in memory only
    snap = system.metrics.snapshot()
    assert snap["recorder_failures_total"] == 0 and snap["recorder_drops_total"] == 0
    assert [e.event_type for e in backend.list_events()] == ["ActorStarted", "ActorStopped"]
    assert list(backend.list_audits()) == [] and list(backend.list_dead_letters()) == []


class _Gated(SynchronousMemoryPersistence):
    """A third-party store whose writes wait for a gate (a slow disk)."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.gate = threading.Event()

    def _record(self, record: PersistedRecord) -> None:
        self.entered.set()
        self.gate.wait(30)
        super()._record(record)


def test_records_the_full_recorder_queue_dropped_are_reported_by_close(
    caplog: pytest.LogCaptureFixture,
) -> None:
    backend = _Gated()
    system = ActorSystem(persistence=backend, recorder_capacity=1)
    with caplog.at_level(logging.WARNING, logger="papyra"):
        system.start()
        system.audit(include_actor_details=False)
        assert backend.entered.wait(30)  # the recorder thread is inside the first write
        for _ in range(19):
            system.audit(include_actor_details=False)  # one queued, 18 dropped
        backend.gate.set()
        with pytest.raises(DurabilityError, match="18 records never reached persistence"):
            system.close(timeout=60)
    assert caplog.text.count("recorder queue is full") == 1  # once for the burst
    assert len(backend.list_audits()) == 2


class _StuckOnClose(SynchronousMemoryPersistence):
    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def _close(self, timeout: float | None) -> bool:
        self.release.wait(60)
        return True


def test_close_is_bounded_even_when_a_third_party_backend_blocks_in_close() -> None:
    backend = _StuckOnClose()
    system = ActorSystem(system_id="stuck", persistence=backend).start()
    system.spawn(Echo).ask("x")
    try:
        started = time.monotonic()
        assert system.close(timeout=0.5) is False
        assert time.monotonic() - started < 30  # bounded (a generous margin for a loaded machine)
    finally:
        backend.release.set()
    for thread in threading.enumerate():
        if thread.name.startswith("papyra-backend-"):
            thread.join(30)


class _Garbage(SynchronousMemoryPersistence):
    def flush(self, timeout: float | None = None) -> Any:
        return "maybe"


def test_a_flush_answer_other_than_true_or_false_counts_as_not_stored(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="papyra"), ActorSystem(persistence=_Garbage()) as system:
        assert system.flush(timeout=30) is False
    assert "returned 'maybe'" in caplog.text
