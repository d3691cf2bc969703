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

from papyra.exceptions import DurabilityError
from papyra.persistence.backends.rotating import RotatingFilePersistence
from papyra.persistence.json import JsonFilePersistence
from tests.persistence.conftest import event
from tests.support.procs import spawn
from tests.support.waiting import wait_until

FILE_BACKENDS = ("json", "rotating")


@pytest.mark.parametrize("kind", FILE_BACKENDS)
def test_flush_raises_after_fail_stop_emptied_the_queue_on_a_full_file_limit(
    kind: str, tmp_path: Path
) -> None:
    proc = spawn("flush_on_full_disk", kind, str(tmp_path / "store.ndjson"))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out.splitlines() == ["flush=DurabilityError", "dropped=1"], err
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
