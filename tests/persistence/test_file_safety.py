"""File stores in shared directories and under other users, on real files and a real second user:
maintenance as root keeps the application user's owner, group and mode on every file it rewrites
or creates; hostile pre-created files are refused untouched; non-regular files never hang a read,
scan or recovery; the rotating set's commit marker is validated before anything acts on it;
directories Papyra creates are 0700 and a quarantine dir behind a symlink is refused."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import socket
import stat
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import pytest

from papyra.cli.app import run
from papyra.exceptions import (
    CorruptionError,
    DurabilityError,
    PersistenceError,
    QuarantineError,
    UnsafeFileError,
)
from papyra.persistence.backends.rotating import RotatingFilePersistence
from papyra.persistence.json import JsonFilePersistence
from papyra.persistence.models import (
    PersistenceAnomalyType,
    PersistenceRecoveryConfig,
    PersistenceRecoveryMode,
)
from papyra.persistence.quarantine import prepare_quarantine_dir
from tests.persistence.conftest import event
from tests.support.other_user import dir_of_other_user, other_ids, run_as_other

REPAIR = PersistenceRecoveryConfig(mode=PersistenceRecoveryMode.REPAIR)


def identity(path: Path) -> tuple[int, int, int]:
    st = os.lstat(path)
    return st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)


def write(backend: JsonFilePersistence, numbers: range) -> None:
    for n in numbers:
        backend.record_event(event(n))
    assert backend.flush(30)


@pytest.fixture
def watchdog() -> Iterator[None]:
    """Turn a hang (the old behaviour on a FIFO) into a test failure instead of a stuck suite."""

    def expire(signum: int, frame: FrameType | None) -> None:
        raise TimeoutError("blocked on a non-regular file")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(60)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def shared_dir(tmp_path: Path) -> Path:
    """A directory everybody can write, sticky like /tmp."""
    d = tmp_path / "shared"
    d.mkdir()
    os.chmod(d, 0o1777)
    return d


# --------------------------------------------------------------------------- maintenance as root


def test_root_recover_and_compact_leave_the_app_users_json_store_usable_by_it() -> None:
    uid, gid = other_ids()
    with dir_of_other_user() as app:
        store = app / "app.ndjson"
        lock = app / "app.ndjson.lock"
        written = run_as_other(f"""
b = JsonFilePersistence({str(store)!r}, file_mode=0o640)
for i in range(10):
    b.record_event(event(i))
assert b.flush(30)
b.close()
report(len(b.list_events()))
""")
        assert written == 10
        lock.unlink()  # as after a restore: maintenance creates the lock file itself
        with open(store, "ab") as f:
            f.write(b"{not a record\n")
        root = JsonFilePersistence(store)  # root's own settings: default file_mode 0o600
        try:
            assert root.recover(REPAIR).repaired_files == (str(store),)
            write(root, range(10, 12))
            root.compact()
        finally:
            root.close()
        for p in (store, lock):
            assert identity(p) == (uid, gid, 0o640), p
        assert {p.name: os.lstat(p).st_uid for p in app.iterdir()} == {store.name: uid, lock.name: uid}
        total = run_as_other(f"""
b = JsonFilePersistence({str(store)!r}, file_mode=0o640)
for i in range(100, 105):
    b.record_event(event(i))
assert b.flush(30)
b.close()
report(len(b.list_events()))
""")
        assert total == 17


def test_root_writes_rotation_compaction_and_recovery_keep_the_app_users_rotating_set() -> None:
    uid, gid = other_ids()
    with dir_of_other_user() as app:
        store = app / "app.ndjson"
        run_as_other(f"""
b = RotatingFilePersistence({str(store)!r}, max_bytes=1000, max_files=4, file_mode=0o640)
for i in range(25):
    b.record_event(event(i))
assert b.flush(30)
b.close()
report(len(b.files))
""")
        (app / "app.ndjson.lock").unlink()
        root = RotatingFilePersistence(store, max_bytes=1000, max_files=4)
        try:
            write(root, range(25, 40))  # rotates: root creates new active files
            with open(app / "app.ndjson.1", "ab") as f:
                f.write(b"\x00\x00garbage\n")
            assert root.recover(REPAIR).repaired_files
            root.compact()  # temps, the commit marker and the new members
        finally:
            root.close()
        assert len(list(app.iterdir())) >= 4
        for p in app.iterdir():
            assert identity(p) == (uid, gid, 0o640), p
        last = run_as_other(f"""
b = RotatingFilePersistence({str(store)!r}, max_bytes=1000, max_files=4, file_mode=0o640)
for i in range(100, 130):
    b.record_event(event(i))
assert b.flush(30)
b.close()
report(b.list_events(limit=1)[0].payload["n"])
""")
        assert last == 129


def test_cli_maintenance_from_roots_cron_keeps_the_app_users_store() -> None:
    uid, gid = other_ids()
    with dir_of_other_user() as app:
        store = app / "app.ndjson"
        run_as_other(f"""
b = JsonFilePersistence({str(store)!r}, file_mode=0o640)
for i in range(5):
    b.record_event(event(i))
assert b.flush(30)
b.close()
report(0)
""")
        (app / "app.ndjson.lock").unlink()
        with open(store, "ab") as f:
            f.write(b"torn")
        for argv in (["persistence", "recover", "--path", str(store), "--mode", "repair"],
                     ["persistence", "compact", "--path", str(store)]):
            out, err = io.StringIO(), io.StringIO()
            assert run(argv, stdout=out, stderr=err, environ={}) == 0, err.getvalue()
        assert {p.name: identity(p) for p in app.iterdir()} == {
            "app.ndjson": (uid, gid, 0o640), "app.ndjson.lock": (uid, gid, 0o640)}
        assert run_as_other(f"""
b = JsonFilePersistence({str(store)!r}, file_mode=0o640)
b.record_event(event(5))
assert b.flush(30)
b.close()
report(len(b.list_events()))
""") == 6


def test_root_maintenance_before_the_app_ever_wrote_leaves_a_lock_file_the_app_can_use() -> None:
    uid, gid = other_ids()
    with dir_of_other_user() as app:
        store = app / "app.ndjson"
        root = JsonFilePersistence(store, file_mode=0o640)
        try:
            root.compact()
            root.recover(REPAIR)
        finally:
            root.close()
        assert identity(app / "app.ndjson.lock") == (uid, gid, 0o640)
        assert run_as_other(f"""
b = JsonFilePersistence({str(store)!r}, file_mode=0o640)
b.record_event(event(1))
assert b.flush(30)
b.close()
report(len(b.list_events()))
""") == 1


def test_a_new_store_gets_file_mode_exactly_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        b = JsonFilePersistence(tmp_path / "s.ndjson", file_mode=0o644)
        write(b, range(3))
        b.close()
    finally:
        os.umask(old)
    assert identity(tmp_path / "s.ndjson")[2] == 0o644
    assert identity(tmp_path / "s.ndjson.lock")[2] == 0o644


def test_recovery_keeps_a_0644_store_0644(json_store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    b = json_store(file_mode=0o600)
    write(b, range(3))
    os.chmod(b.path, 0o644)
    with open(b.path, "ab") as f:
        f.write(b"junk\n")
    b.recover(REPAIR)
    b.compact()
    assert identity(b.path)[2] == 0o644


# --------------------------------------------------------------------------- hostile files


def test_a_store_pre_created_by_another_user_in_a_shared_dir_is_refused_untouched(shared_dir: Path) -> None:
    uid, gid = other_ids()
    store = shared_dir / "app.ndjson"
    store.write_bytes(b"")
    os.chown(store, uid, gid)
    os.chmod(store, 0o666)
    with pytest.raises(UnsafeFileError) as info:
        JsonFilePersistence(store, file_mode=0o600)
    assert info.value.path == str(store) and f"owned by uid {uid}" in info.value.reason
    assert identity(store) == (uid, gid, 0o666) and store.read_bytes() == b""


def test_a_lock_file_of_another_user_in_a_shared_dir_stops_writes_and_maintenance(shared_dir: Path) -> None:
    uid, gid = other_ids()
    lock = shared_dir / "app.ndjson.lock"
    lock.write_bytes(b"")
    os.chown(lock, uid, gid)
    b = JsonFilePersistence(shared_dir / "app.ndjson")
    try:
        with pytest.raises(UnsafeFileError, match=r"app\.ndjson\.lock"):
            b.compact()
        b.record_event(event(1))
        with pytest.raises(DurabilityError, match="owned by uid"):
            b.flush(30)
    finally:
        b.close()
    assert identity(lock)[0] == uid and not (shared_dir / "app.ndjson").exists()


def test_a_store_writable_by_others_in_a_shared_dir_is_refused_unless_file_mode_allows_it(
    shared_dir: Path, tmp_path: Path
) -> None:
    store = shared_dir / "app.ndjson"
    store.write_bytes(b"")
    os.chmod(store, 0o666)
    with pytest.raises(UnsafeFileError, match="writable by group or others"):
        JsonFilePersistence(store, file_mode=0o600)
    JsonFilePersistence(store, file_mode=0o666).close()
    private = tmp_path / "private.ndjson"  # a directory only we can write: no such rule
    private.write_bytes(b"")
    os.chmod(private, 0o666)
    b = JsonFilePersistence(private, file_mode=0o600)
    write(b, range(2))
    b.close()


# --------------------------------------------------------------------------- rotating set members


def _numbers(path: Path) -> list[int]:
    return [json.loads(line)["payload"]["n"] for line in path.read_bytes().splitlines() if line]


def _shared_set(shared_dir: Path) -> RotatingFilePersistence:
    b = RotatingFilePersistence(shared_dir / "rot.ndjson", max_bytes=1000, max_files=5)
    write(b, range(40))
    assert len(b.files) == 5
    return b


@pytest.mark.parametrize("hostile", ["writable-by-others", "owned-by-another-user"])
def test_a_rotated_member_reads_would_refuse_is_reported_never_read_never_rotated(
    shared_dir: Path, hostile: str
) -> None:
    uid, gid = other_ids()
    b = _shared_set(shared_dir)
    try:
        member = shared_dir / "rot.ndjson.1"
        hidden = _numbers(member)
        everything = [e.payload["n"] for e in b.list_events()]
        if hostile == "writable-by-others":
            os.chmod(member, 0o666)
            reason = "writable by group or others"
        else:
            os.chown(member, uid, gid)
            reason = f"owned by uid {uid}"
        [anomaly] = b.scan().anomalies
        assert (anomaly.type, anomaly.path) == (PersistenceAnomalyType.UNEXPECTED_FILE, str(member))
        assert reason in anomaly.detail
        listed = [e.payload["n"] for e in b.list_events()]
        assert listed == [n for n in everything if n not in hidden] and hidden
        for dry_run in (True, False):
            with pytest.raises(UnsafeFileError, match=reason):
                b.compact(dry_run=dry_run)
        before = identity(member), member.read_bytes()
        b.record_event(event(40))
        b.record_event(event(41))  # the active file is full: this batch would rotate the set
        for n in range(42, 60):
            b.record_event(event(n))
        with pytest.raises(DurabilityError, match=rf"cannot rotate .*rot\.ndjson\.1.*{reason}"):
            b.flush(30)
        assert (identity(member), member.read_bytes()) == before  # never moved: reads stay whole
        assert [e.payload["n"] for e in b.list_events()][: len(listed)] == listed
    finally:
        b.close()


def test_a_commit_marker_writable_by_others_in_a_shared_dir_is_never_acted_on(shared_dir: Path) -> None:
    b = _shared_set(shared_dir)
    b.close()
    temp = b.path.with_name(_temp_name(b))
    temp.write_bytes(b"")
    marker = _marker(b)
    marker.write_text(json.dumps({"pid": 1, "count": 1, "files": [[temp.name, 0]]}))
    os.chmod(marker, 0o666)  # root's, valid grammar: acting on it would delete .1-.4
    _assert_marker_reported_then_removed(b, REPAIR)


def test_a_set_manifest_writable_by_others_in_a_shared_dir_is_refused_and_rewritten(
    shared_dir: Path,
) -> None:
    from papyra.persistence.set_manifest import manifest_path, read_set_manifest

    b = _shared_set(shared_dir)
    b.close()
    manifest = manifest_path(b.path)
    os.chmod(manifest, 0o666)
    with pytest.raises(UnsafeFileError, match="writable by group or others"):
        read_set_manifest(b.path, max_files_limit=10, file_mode=0o600)
    reopened = RotatingFilePersistence(b.path, max_bytes=1000, max_files=5)
    try:
        [anomaly] = reopened.scan().anomalies
        assert anomaly.path == str(manifest) and "invalid set manifest" in anomaly.detail
        write(reopened, range(40, 41))  # the writer replaces it with one of the store's mode
    finally:
        reopened.close()
    assert identity(manifest)[2] == 0o600 and not reopened.scan().has_anomalies


# --------------------------------------------------------------------------- non-regular files


def _make_odd(path: Path, kind: str, stack: contextlib.ExitStack) -> None:
    if kind == "FIFO":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    elif kind == "socket":
        sock = stack.enter_context(socket.socket(socket.AF_UNIX, socket.SOCK_STREAM))
        sock.bind(str(path))
    else:
        path.symlink_to(path.with_name("elsewhere"))


@pytest.mark.parametrize("kind", ["FIFO", "directory", "socket", "symlink"])
def test_a_non_regular_file_at_a_rotated_slot_is_a_reported_stray_never_a_hang(
    tmp_path: Path, watchdog: None, kind: str
) -> None:
    store = tmp_path / "rot.ndjson"
    odd = tmp_path / "rot.ndjson.2"
    with contextlib.ExitStack() as stack:
        b = RotatingFilePersistence(store, max_bytes=1000, max_files=4)
        stack.callback(b.close)
        write(b, range(12))
        assert (tmp_path / "rot.ndjson.1").exists() and not os.path.lexists(odd)
        _make_odd(odd, kind, stack)
        anomalies = b.scan().anomalies
        assert [(a.type, a.path) for a in anomalies] == [(PersistenceAnomalyType.UNEXPECTED_FILE, str(odd))]
        assert kind in anomalies[0].detail
        assert [e.payload["n"] for e in b.list_events()] == list(range(12))
        report = b.recover(REPAIR)
        assert str(odd) in report.repaired_files
        assert not os.path.lexists(odd) and not b.scan().has_anomalies
        assert [e.payload["n"] for e in b.list_events()] == list(range(12))
        write(b, range(12, 40))  # rotation goes on over the freed slot
        assert [e.payload["n"] for e in b.list_events()][-1] == 39


def test_a_fifo_at_the_store_path_is_a_typed_error_never_a_hang(tmp_path: Path, watchdog: None) -> None:
    fifo = tmp_path / "s.ndjson"
    os.mkfifo(fifo)
    with pytest.raises(UnsafeFileError, match="FIFO"):
        JsonFilePersistence(fifo)
    fifo.unlink()
    b = JsonFilePersistence(fifo)
    try:
        os.mkfifo(fifo)  # appears after the backend was opened
        with pytest.raises(PersistenceError, match="FIFO"):
            b.scan()
        with pytest.raises(PersistenceError, match="FIFO"):
            b.list_events()
        b.record_event(event(1))
        with pytest.raises(DurabilityError, match="FIFO"):
            b.flush(30)
    finally:
        b.close()


# --------------------------------------------------------------------------- commit marker


@pytest.fixture
def full_set(tmp_path: Path) -> Iterator[RotatingFilePersistence]:
    b = RotatingFilePersistence(tmp_path / "rot.ndjson", max_bytes=1000, max_files=5)
    write(b, range(40))
    assert len(b.files) == 5
    b.close()
    yield b


def _members(b: RotatingFilePersistence) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in b.files}


def _marker(b: RotatingFilePersistence) -> Path:
    return b.path.with_name(b.path.name + ".commit")


def _temp_name(b: RotatingFilePersistence) -> str:
    return f"{b.path.name}.compact.{os.getpid()}.abcdef01.tmp"


def _assert_marker_reported_then_removed(
    b: RotatingFilePersistence, config: PersistenceRecoveryConfig
) -> None:
    marker = _marker(b)
    before = _members(b)
    reopened = RotatingFilePersistence(b.path, max_bytes=1000, max_files=5)  # no swap acted on
    try:
        assert _members(reopened) == before
        anomalies = [a for a in reopened.scan().anomalies if a.path == str(marker)]
        assert len(anomalies) == 1 and "invalid compaction commit marker" in anomalies[0].detail
        assert [e.payload["n"] for e in reopened.list_events()] == list(range(8, 40))
        with pytest.raises(CorruptionError, match="recover"):
            reopened.compact()
        write(reopened, range(40, 42))  # writes go on, never acting on the marker
        assert os.path.lexists(marker)
        listed = [e.payload["n"] for e in reopened.list_events()]
        assert listed[-3:] == [39, 40, 41]
        report = reopened.recover(config)
        assert str(marker) in report.repaired_files
        assert not os.path.lexists(marker) and not reopened.scan().has_anomalies
        assert [e.payload["n"] for e in reopened.list_events()] == listed
    finally:
        reopened.close()


@pytest.mark.parametrize(
    "content",
    [
        b"\x00garbage",
        b'{"pid": 1, "count": 1, "files": [["../../etc/passwd", 0]]}',
        b'{"pid": 1, "count": 1, "files": [["rot.ndjson.evil", 0]]}',
        b'{"pid": 1, "count": 2, "files": [["TEMP", 0]]}',
        b'{"pid": 1, "count": 1, "files": [["TEMP", 7]]}',
        b'{"pid": 1, "count": 1, "files": [["TEMP", 0], ["TEMP", 0]]}',
        b'{"pid": "1", "count": 1, "files": [["TEMP", 0]]}',
        b"[]",
        b'{"pid": 1, "count": 1, "files": [[["TEMP"], 0]]}',
        b'{"pid": 1, "count": 1, "files": [["TEMP\\n", 0]]}',
        b'{"pid": 1, "count": 1, "files": [["TEMP", 0]]}' + b" " * (1024 * 1024),
    ],
    ids=["garbage", "path-traversal", "foreign-name", "slots-missing", "slot-out-of-range", "duplicate",
         "pid-not-int", "not-an-object", "name-not-a-string", "name-with-newline", "oversized"],
)
def test_an_invalid_commit_marker_is_reported_never_acted_on_and_removed_by_recover(
    full_set: RotatingFilePersistence, content: bytes
) -> None:
    evil = full_set.path.with_name("rot.ndjson.evil")
    evil.write_bytes(json.dumps({"kind": "event"}).encode() + b"\n")
    temp = full_set.path.with_name(_temp_name(full_set))
    temp.write_bytes(b"")  # a file the forged marker would move over the active store
    _marker(full_set).write_bytes(content.replace(b"TEMP", _temp_name(full_set).encode()))
    _assert_marker_reported_then_removed(full_set, REPAIR)


def test_a_commit_marker_of_another_user_is_never_acted_on_and_quarantine_keeps_it(
    full_set: RotatingFilePersistence, tmp_path: Path
) -> None:
    uid, gid = other_ids()
    temp = full_set.path.with_name(_temp_name(full_set))
    temp.write_bytes(b"")
    marker = _marker(full_set)
    marker.write_text(json.dumps({"pid": 1, "count": 1, "files": [[temp.name, 0]]}))
    os.chown(marker, uid, gid)  # valid grammar: today it would delete .1-.4
    qdir = tmp_path / "quarantine"
    _assert_marker_reported_then_removed(
        full_set, PersistenceRecoveryConfig(mode=PersistenceRecoveryMode.QUARANTINE, quarantine_dir=qdir)
    )
    kept = [p for p in qdir.iterdir() if p.name.startswith("rot.ndjson.commit.quarantine.")]
    assert len(kept) == 1 and json.loads(kept[0].read_text())["count"] == 1


# --------------------------------------------------------------------------- directories


def test_directories_papyra_creates_are_0700_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        b = JsonFilePersistence(tmp_path / "a" / "b" / "s.ndjson")
        write(b, range(1))
        b.close()
        prepare_quarantine_dir(tmp_path / "q1" / "q2" / "q3", b.path)
    finally:
        os.umask(old)
    for d in ("a", "a/b", "q1", "q1/q2", "q1/q2/q3"):
        assert identity(tmp_path / d)[2] == 0o700, d


def test_a_quarantine_dir_behind_a_symlinked_component_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    (tmp_path / "link").symlink_to(real)
    with pytest.raises(QuarantineError, match="link is a symlink"):
        prepare_quarantine_dir(tmp_path / "link" / "q", tmp_path / "s.ndjson")
    assert not (real / "q").exists()
