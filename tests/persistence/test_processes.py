"""Cross-process behaviour with real processes: the store lock (filelock and portalocker exclude
each other), record_* never waiting for the lock, back-pressure, fail-stop on a real EFBIG, a
SIGKILL crash loop, and four writers appending while a fifth process compacts."""

from __future__ import annotations

import json
import os
import random
import signal
from pathlib import Path

import pytest

from papyra.exceptions import BackPressureError, LockTimeout
from papyra.persistence.json import JsonFilePersistence
from papyra.persistence.locking import BatchLock, maintenance_lock
from papyra.persistence.models import PersistenceAnomalyType, PersistenceRecoveryConfig
from tests.persistence.conftest import event
from tests.support.child import Child, hold_store_lock, release_store_lock
from tests.support.procs import spawn
from tests.support.waiting import wait_until


@pytest.mark.parametrize("holder", ["filelock", "portalocker"])
def test_filelock_and_portalocker_exclude_each_other_across_processes(tmp_path: Path, holder: str) -> None:
    path = tmp_path / "store.ndjson"
    proc = hold_store_lock(path, holder)
    try:
        with pytest.raises(LockTimeout), maintenance_lock(path, timeout=0.05):
            pass
        lock = BatchLock(path)
        assert lock.try_acquire() is False
        lock.close()
    finally:
        release_store_lock(proc)
    with maintenance_lock(path, timeout=60):
        lock = BatchLock(path)
        assert lock.try_acquire() is False  # filelock (this process) also excludes portalocker
        lock.close()
    lock = BatchLock(path)
    assert lock.try_acquire() is True
    lock.close()


def test_record_returns_while_writer_is_blocked_by_another_process(tmp_path: Path) -> None:
    path = tmp_path / "store.ndjson"
    proc = hold_store_lock(path, "filelock")
    b = JsonFilePersistence(path, lock_timeout=0.2)
    try:
        for i in range(100):
            b.record_event(event(i))  # returns: no I/O, no lock on the caller's side
        assert b.flush(timeout=0.2) is False  # the writer is stuck on the lock
        assert not path.exists() or path.stat().st_size == 0
        with pytest.raises(LockTimeout):
            b.compact()  # maintenance gives up cleanly
        with pytest.raises(LockTimeout):
            b.list_events()  # cannot see its own records yet: says so instead of hanging
        assert b.metrics.snapshot()["records_written"] == 0  # metrics never block for long or raise
    finally:
        release_store_lock(proc)
    assert b.flush(timeout=30) is True
    assert len(b.list_events()) == 100
    assert b.metrics.snapshot()["lock_timeouts"] >= 2
    b.close()


def test_backpressure_when_queue_is_full(tmp_path: Path) -> None:
    path = tmp_path / "store.ndjson"
    proc = hold_store_lock(path, "portalocker")
    b = JsonFilePersistence(path, max_pending=10, backpressure_timeout=0.05)
    try:
        b.record_event(event(0))
        writer = b._writer
        assert writer is not None
        sink = b._sink
        assert sink is not None
        # the writer took record 0 and waits for the other process's lock
        wait_until(lambda: sink.lock.contended_since is not None, timeout=60, what="the writer to block")
        for i in range(1, 11):
            b.record_event(event(i))
        with pytest.raises(BackPressureError):
            b.record_event(event(11))
        assert b._metrics.snapshot()["backpressure_rejections"] == 1
    finally:
        release_store_lock(proc)
    b.flush()
    assert [e.timestamp for e in b.list_events()] == [float(i) for i in range(11)]
    b.close()


def test_fail_stop_on_a_real_write_error(tmp_path: Path) -> None:
    path = tmp_path / "store.ndjson"
    with spawn("fill_until_limit", str(path), "20000") as child:
        assert child.finish() == 0, child.err
    lines, err = child.lines, child.err
    assert lines[0].startswith("flush-failed acked=") and "cause=OSError:EFBIG" in lines[0]
    acked = int(lines[0].split("acked=")[1].split()[0])
    assert lines[1] == "record-refused"
    assert lines[2].startswith("write_errors=1 failed=1")
    assert lines[3] == "closed"
    assert "fail-stop" in err  # logged
    data = path.read_bytes()
    assert data.endswith(b"\n") and len(data) <= 20000  # the partial batch was truncated away
    rows = [json.loads(x) for x in data.splitlines()]
    assert len(rows) == acked and [r["payload"]["seq"] for r in rows] == list(range(acked))
    b = JsonFilePersistence(path)  # reopening (without the size limit) works and appends cleanly
    assert not b.scan().has_anomalies
    b.record_event(event(1))
    b.close()
    assert len(b.list_events()) == acked + 1


@pytest.mark.slow
def test_sigkill_crash_loop_loses_no_acknowledged_record(tmp_path: Path) -> None:
    path = tmp_path / "store.ndjson"
    rng = random.Random(1234)
    acked: dict[str, int] = {}
    for rnd in range(20):
        name = f"r{rnd}"
        with spawn("crash_writer", str(path), name) as child:
            acks = rng.randint(1, 12)  # the random kill moment: right after that many batches
            child.wait_for(lambda lines, n=acks: len(lines) >= n, what=f"{acks} acknowledged batches")
            child.proc.send_signal(signal.SIGKILL)  # it is inside its next batch by now
            assert child.finish() == -signal.SIGKILL, child.err
        acked[name] = int(child.lines[-1])  # every line printed before the kill is an acknowledgement
        probe = JsonFilePersistence(path)
        scan = probe.scan()
        assert len(scan.anomalies) <= 1, scan.anomalies  # at most a torn tail, at the very end
        for a in scan.anomalies:
            assert a.type in (PersistenceAnomalyType.TRUNCATED_LINE, PersistenceAnomalyType.PARTIAL_WRITE)
            assert a.offset is not None and a.offset >= path.stat().st_size - 10_000
        seqs: dict[str, list[int]] = {}
        for e in probe.list_events():
            seqs.setdefault(str(e.actor_address), []).append(e.payload["seq"])
        for done, n in acked.items():
            got = seqs[done]
            assert got[:n] == list(range(n)), done  # every acknowledged record, in order
            assert got == list(range(len(got))), done  # no duplicates, no gaps
    b = JsonFilePersistence(path)  # reopen appends cleanly after the last kill
    b.record_event(event(1, actor_address="final", payload={"seq": 0}))
    b.flush()
    assert b.list_events(limit=1)[0].actor_address == "final"
    b.recover(PersistenceRecoveryConfig(mode="repair"))
    assert not b.scan().has_anomalies
    assert len(b.list_events()) >= sum(acked.values()) + 1
    b.close()


def test_reopen_after_kill_heals_torn_tail_and_recover_gives_clean_scan(tmp_path: Path) -> None:
    path = tmp_path / "store.ndjson"
    with spawn("crash_writer", str(path), "solo") as child:
        child.wait_for(bool, what="an acknowledged batch")
        child.proc.send_signal(signal.SIGKILL)
        assert child.finish() == -signal.SIGKILL, child.err
    acked = int(child.lines[-1])
    with open(path, "ab") as f:  # make the crash tear a line for sure
        f.write(b'{"kind":"event","system_id":"te')
    b = JsonFilePersistence(path)
    assert [a.type for a in b.scan().anomalies] == [PersistenceAnomalyType.TRUNCATED_LINE]
    report = b.recover(PersistenceRecoveryConfig(mode="repair"))
    assert report.repaired_files == (str(path),)
    assert not b.scan().has_anomalies
    b.record_event(event(1))
    b.close()
    assert len(b.list_events()) >= acked + 1
    assert not b.scan().has_anomalies


@pytest.mark.slow
def test_four_writers_and_a_compacting_process(tmp_path: Path) -> None:
    path = tmp_path / "store.ndjson"
    per_writer = 25_000
    compactor = spawn("mp_compactor", str(path), stdin=True)
    writers: list[Child] = []

    def compactions(lines: list[str]) -> int:
        return sum(line.startswith("compacted ") for line in lines)

    try:
        compactor.wait_line("ready")
        writers += [
            spawn("mp_writer", str(path), f"w{k}", str(per_writer), str(per_writer // 2), stdin=True)
            for k in range(4)
        ]
        for w in writers:
            w.wait_line("paused")
        # at least one compaction guaranteed in the middle of every writer's stream, not by luck
        before = compactions(compactor.lines)
        compactor.wait_for(lambda lines: compactions(lines) > before, what="a mid-stream compaction")
        for w in writers:
            w.send("go")
        for w in writers:
            w.wait_line("done")
            assert w.finish(timeout=120) == 0, w.err
        compactor.send("stop")
        compactor.wait_for(lambda lines: lines[-1].startswith("compactions "), what="the compactor to stop")
        assert compactor.finish(timeout=120) == 0, compactor.err
    finally:
        for child in [compactor, *writers]:
            child.kill()
    print(f"compactions while writing: {compactions(compactor.lines)}")
    seen: dict[str, list[int]] = {f"w{k}": [] for k in range(4)}
    with open(path, "rb") as f:
        for raw in f:
            row = json.loads(raw)  # every line is whole JSON: no interleaving
            seen[row["actor_address"]].append(row["payload"]["seq"])
    for name, seqs in seen.items():
        assert seqs == list(range(per_writer)), name  # nothing lost or duplicated, order kept
    assert not JsonFilePersistence(path).scan().has_anomalies
    assert os.path.exists(str(path) + ".lock")
