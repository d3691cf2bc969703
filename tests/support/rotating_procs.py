"""Child processes and a kernel file-access watcher for the rotating-backend tests.

Run as ``python -m tests.support.rotating_procs <command> <args…>`` (:func:`spawn_rot`); each
command reports to the parent through stdout lines. :class:`OpenWatch` uses Linux inotify (via
ctypes) to learn which files of a directory a piece of code really opened and read.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import struct
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from tests.support.child import Child, start_python
from tests.support.procs import seq_event


def spawn_rot(*args: str) -> Child:
    """Start ``python -m tests.support.rotating_procs *args``."""
    return start_python("-m", "tests.support.rotating_procs", *args)


def _backend(path: str, max_bytes: str, max_files: str, **kw: Any) -> Any:
    from papyra.persistence.backends.rotating import RotatingFilePersistence

    return RotatingFilePersistence(
        path, max_bytes=int(max_bytes), max_files=int(max_files), lock_timeout=60, max_pending=1_000_000, **kw
    )


def writer(path: str, max_bytes: str, max_files: str, name: str, count: str, pad: str = "0") -> None:
    """Append ``count`` events tagged ``name`` (seq 0…), flushing every 100; then report."""
    backend = _backend(path, max_bytes, max_files)
    print("ready", flush=True)
    for seq in range(int(count)):
        backend.record_event(seq_event(name, seq, int(pad)))
        if seq % 100 == 99:
            backend.flush()
    backend.flush()
    backend.close()
    print("done", flush=True)


def writer_until(path: str, max_bytes: str, max_files: str, name: str, stop_file: str) -> None:
    """Append events tagged ``name`` (seq 0…), flushing every 100, until ``stop_file`` exists
    (checked after each flush); then report ``done <number written>``."""
    backend = _backend(path, max_bytes, max_files)
    print("ready", flush=True)
    seq = 0
    while True:
        backend.record_event(seq_event(name, seq))
        seq += 1
        if seq % 100 == 0:
            backend.flush()
            if os.path.exists(stop_file):
                break
    backend.flush()
    backend.close()
    print(f"done {seq}", flush=True)


def rotate_crash(path: str, max_bytes: str, max_files: str, start: str, fsync: str = "always") -> None:
    """Write forever, 3 records per flushed batch, into a tiny set (a rotation every batch or
    two); print the next unacknowledged seq after each flush. The parent SIGKILLs us."""
    backend = _backend(path, max_bytes, max_files, fsync=fsync)
    seq = int(start)
    while True:
        for _ in range(3):
            backend.record_event(seq_event("crash", seq))
            seq += 1
        backend.flush()
        print(seq, flush=True)


def compact_crash(path: str, max_bytes: str, max_files: str, keep: str, start: str) -> None:
    """Loop: write 10 records, flush, print the next unacknowledged seq, compact (retention keeps
    the newest ``keep``). The parent SIGKILLs us, mostly inside ``compact()``."""
    from papyra.persistence.retention import RetentionPolicy

    backend = _backend(
        path, max_bytes, max_files, fsync="always", retention_policy=RetentionPolicy(max_records=int(keep))
    )
    seq = int(start)
    while True:
        for _ in range(10):
            backend.record_event(seq_event("crash", seq))
            seq += 1
        backend.flush()
        print(seq, flush=True)
        for _ in range(3):
            backend.compact()


COMMANDS = {
    "writer": writer,
    "writer_until": writer_until,
    "rotate_crash": rotate_crash,
    "compact_crash": compact_crash,
}


# --------------------------------------------------------------------------- raw set reading


def read_set_raw(path: Path, max_files: int) -> list[dict[str, Any]]:
    """Every complete, parseable line of the set's members, oldest file first (no retention, no
    dedup): what is physically there."""
    rows: list[dict[str, Any]] = []
    for slot in range(max_files - 1, -1, -1):
        p = path if slot == 0 else path.with_name(f"{path.name}.{slot}")
        if not p.exists():
            continue
        data = p.read_bytes()
        for line in data.split(b"\n")[:-1]:
            try:
                rows.append(json.loads(line))
            except ValueError:
                rows.append({"corrupt": line[:80].decode("latin-1")})
    return rows


# --------------------------------------------------------------------------- inotify

IN_ACCESS = 0x00000001
IN_OPEN = 0x00000020
IN_NONBLOCK = 0o4000


class OpenWatch:
    """Which files in ``directory`` were opened / read while the watch was active (Linux inotify)."""

    def __init__(self, directory: Path) -> None:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        self._fd = libc.inotify_init1(IN_NONBLOCK)
        if self._fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1 failed")
        wd = libc.inotify_add_watch(self._fd, str(directory).encode(), IN_OPEN | IN_ACCESS)
        if wd < 0:
            raise OSError(ctypes.get_errno(), "inotify_add_watch failed")
        self.opened: Counter[str] = Counter()
        self.read: Counter[str] = Counter()

    def collect(self) -> OpenWatch:
        while True:
            try:
                buf = os.read(self._fd, 65536)
            except BlockingIOError:
                return self
            pos = 0
            while pos < len(buf):
                _wd, mask, _cookie, length = struct.unpack_from("iIII", buf, pos)
                name = buf[pos + 16 : pos + 16 + length].rstrip(b"\0").decode()
                pos += 16 + length
                if mask & IN_OPEN:
                    self.opened[name] += 1
                if mask & IN_ACCESS:
                    self.read[name] += 1

    def close(self) -> None:
        os.close(self._fd)


if __name__ == "__main__":
    COMMANDS[sys.argv[1]](*sys.argv[2:])  # type: ignore[operator]
