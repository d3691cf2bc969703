"""Acknowledgements tell the truth: ``flush()`` is True only for stored records, and raises
:class:`DurabilityError` once the backend failed — also when the fail-stop already emptied the
queue (real full filesystems: ``RLIMIT_FSIZE`` in a child process, and a full tmpfs where
mounting is permitted)."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from papyra.actor import Actor
from papyra.exceptions import DurabilityError
from papyra.persistence.backends.redis import RedisStreamsConfig, RedisStreamsPersistence
from papyra.persistence.backends.rotating import RotatingFilePersistence
from papyra.persistence.json import JsonFilePersistence
from papyra.system import ActorSystem
from tests.persistence.conftest import event
from tests.support.child import hold_store_lock, release_store_lock
from tests.support.procs import spawn
from tests.support.redis_server import RedisServer
from tests.support.waiting import wait_until

FILE_BACKENDS = ("json", "rotating")


@pytest.mark.parametrize("kind", FILE_BACKENDS)
def test_flush_raises_after_fail_stop_emptied_the_queue_on_a_full_file_limit(
    kind: str, tmp_path: Path
) -> None:
    with spawn("flush_on_full_disk", kind, str(tmp_path / "store.ndjson")) as child:
        assert child.finish() == 0, child.err
    assert child.lines == ["flush=DurabilityError", "dropped=1"], child.err
    assert not (tmp_path / "store.ndjson").exists() or (tmp_path / "store.ndjson").stat().st_size == 0


@pytest.fixture
def full_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs filled to 0 bytes free (skipped where mounting is not permitted)."""
    mnt = tmp_path / f"tmpfs-{uuid.uuid4().hex[:8]}"
    mnt.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)], capture_output=True, check=False
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        fd = os.open(mnt / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while os.write(fd, b"\0" * 4096):
                pass
        except OSError:
            pass
        finally:
            os.close(fd)
        assert os.statvfs(mnt).f_bavail == 0
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=True)


@pytest.mark.parametrize("kind", FILE_BACKENDS)
def test_flush_on_a_full_tmpfs_raises_instead_of_acknowledging_a_dropped_record(
    kind: str, full_tmpfs: Path
) -> None:
    path = full_tmpfs / "store.ndjson"
    backend = (
        RotatingFilePersistence(path, max_bytes=4096, max_files=3)
        if kind == "rotating"
        else JsonFilePersistence(path)
    )
    try:
        backend.record_event(event(1))
        wait_until(lambda: backend.failed is not None, what="the writer's fail-stop")
        with pytest.raises(DurabilityError):
            backend.flush()
        with pytest.raises(DurabilityError):
            backend.flush(0)
        assert backend.metrics.snapshot()["records_dropped"] == 1
        assert not path.exists() or path.stat().st_size == 0
    finally:
        backend.close()


class _Echo(Actor):
    def receive(self, message: object) -> object:
        return message


@pytest.mark.redis
def test_system_flush_and_close_raise_when_the_store_failed_instead_of_returning_false(
    redis_server: RedisServer,
) -> None:
    import redis

    config = RedisStreamsConfig(url=redis_server.url, prefix=f"t{uuid.uuid4().hex[:12]}", close_timeout=2.0)
    backend = RedisStreamsPersistence(config)
    raw = redis.Redis.from_url(redis_server.url, protocol=2)
    try:
        raw.set(backend.stream_key("event"), "not a stream")  # WRONGTYPE: fail-stop on the next write
        system = ActorSystem(persistence=backend).start()
        system.spawn(_Echo).ask("hi", timeout=60)
        with pytest.raises(DurabilityError, match="WRONGTYPE"):
            system.flush(60)
        with pytest.raises(DurabilityError, match="WRONGTYPE"):
            system.close(timeout=60)
        assert backend.closed and system.closed
        with pytest.raises(DurabilityError):
            system.close(timeout=60)  # a later caller gets the same outcome
    finally:
        raw.delete(backend.stream_key("event"))
        raw.close()


def test_system_flush_returns_false_on_timeout_without_raising(tmp_path: Path) -> None:
    backend = JsonFilePersistence(tmp_path / "store.ndjson")
    holder = hold_store_lock(str(tmp_path / "store.ndjson"), "portalocker")
    system = ActorSystem(persistence=backend).start()
    try:
        system.spawn(_Echo).ask("hi", timeout=60)
        assert system.flush(0.2) is False  # timed out: the other process holds the lock
    finally:
        release_store_lock(holder)
    assert system.flush(30) is True
    assert system.close(timeout=30) is True
