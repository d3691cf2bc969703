"""File primitives shared by the file backends (single NDJSON file, rotating set).

* :func:`open_read` / :func:`create_exclusive` / :func:`fsync_dir` / :func:`replace_durably` —
  ``O_NOFOLLOW`` opens, safe temp files, and the rename + directory-fsync step of atomic rewrites.
* :class:`AppendFile` — the writer's open handle on one store file: inode check and reopen when
  another process replaced the file, torn-tail healing, one ``write`` per batch with rollback
  (truncate) on failure, fsync.
* :class:`FileSink` — the :class:`~papyra.persistence.writer.WriterSink` of a single-file store:
  per batch it takes the :class:`~papyra.persistence.locking.BatchLock`, checks the file, heals
  a torn tail, appends, and fsyncs under the lock when asked. A rotating backend builds its own
  sink from the same :class:`AppendFile` and :class:`BatchLock` (rotating between them).

Every ``OSError`` leaves here as :class:`~papyra.exceptions.DurabilityError` (chained).
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from papyra.exceptions import DurabilityError, PersistenceError
from papyra.persistence.grammar import MAX_LINE_BYTES, LineError, parse_line
from papyra.persistence.locking import BatchLock, lock_path_for
from papyra.persistence.metrics import PersistenceMetrics
from papyra.persistence.ownership import adopt_identity, make_private_dirs, open_checked, open_or_create

__all__ = [
    "AppendFile",
    "FileSink",
    "create_exclusive",
    "fsync_dir",
    "last_newline_end",
    "open_read",
    "replace_durably",
    "temp_path_for",
]

logger = logging.getLogger("papyra")

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_TAIL_CHUNK = 64 * 1024


def _durability(exc: OSError, what: str) -> DurabilityError:
    err = DurabilityError(exc.errno, f"{what}: {exc.strerror or exc}")
    err.__cause__ = exc
    return err


def open_read(path: str | os.PathLike[str]) -> BinaryIO | None:
    """Open a store file for binary reading without following a symlink; None if missing.

    A FIFO, socket, device or directory never blocks the open and is refused, like a file of
    another user in a directory others can write (:func:`~papyra.persistence.ownership.check_file`).
    Raises ``OSError`` (ELOOP for a symlink) for callers to map, or
    :class:`~papyra.exceptions.UnsafeFileError` (also an ``OSError``).
    """
    try:
        fd = open_checked(path, os.O_RDONLY, file_mode=None)
    except FileNotFoundError:
        return None
    return os.fdopen(fd, "rb", buffering=0)


def create_exclusive(
    path: str | os.PathLike[str], mode: int, *, like: Iterable[str | os.PathLike[str]] = ()
) -> BinaryIO:
    """Create a new file (``O_EXCL | O_NOFOLLOW``) and return it open for buffered writing.

    It gets the owner, group and mode of the first existing file in ``like`` (the store it will
    replace), else exactly ``mode`` whatever the umask
    (:func:`~papyra.persistence.ownership.adopt_identity`).
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, mode)
    try:
        adopt_identity(fd, path, like, mode)
    except OSError:
        os.close(fd)
        raise
    return os.fdopen(fd, "wb", buffering=1024 * 1024)


def temp_path_for(path: Path, purpose: str) -> Path:
    """A unique temp name beside ``path``: ``<name>.<purpose>.<pid>.<random>.tmp``.

    The pid lets a scan tell a leftover (its process is gone) from work in progress.
    """
    return path.with_name(f"{path.name}.{purpose}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def fsync_dir(directory: str | os.PathLike[str]) -> None:
    """fsync a directory so that renames and creations in it are durable."""
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_durably(tmp: Path, target: Path) -> None:
    """Atomically move a (fsynced) temp file over ``target`` and fsync the directory."""
    os.replace(tmp, target)
    fsync_dir(target.parent)


def last_newline_end(fd: int, size: int) -> int:
    """Offset just past the last ``\\n`` in the first ``size`` bytes of ``fd`` (0 if none).

    Reads backwards in 64 KiB blocks, only as far as needed.
    """
    pos = size
    while pos > 0:
        n = min(_TAIL_CHUNK, pos)
        pos -= n
        block = os.pread(fd, n, pos)
        i = block.rfind(b"\n")
        if i >= 0:
            return pos + i + 1
    return 0


class AppendFile:
    """The writer's handle on one store file (used only by the writer thread).

    ``ensure_current()`` (under the store lock) reopens when the file at ``path`` is no longer
    the one we hold (replaced by compaction/recovery elsewhere, or deleted); a file it creates
    copies the owner, group and mode of the first existing file in ``like`` (then of the lock
    file), an existing one must pass :func:`~papyra.persistence.ownership.check_file`
    (:class:`~papyra.exceptions.UnsafeFileError` otherwise). ``heal_tail()`` cuts
    off a partial last line left by a crashed writer (a fragment that is a complete valid record
    only lacking its newline is kept and terminated instead). ``append()`` writes one batch and
    truncates back to the old end if the write fails.
    """

    def __init__(
        self,
        path: Path,
        *,
        file_mode: int = 0o600,
        metrics: PersistenceMetrics | None = None,
        like: tuple[Path, ...] = (),
    ) -> None:
        self.path = path
        self.file_mode = file_mode
        self._like = (*like, lock_path_for(path))
        self._metrics = metrics
        self._fd: int | None = None
        self._ino: tuple[int, int] | None = None
        self._healthy_end: int | None = None  # size we left the file at (tail known good)
        self._synced_end: int | None = None  # _healthy_end when we last fsynced (nothing since)

    # ------------------------------------------------------------------ open / identity

    def _open(self) -> None:
        self.close()
        make_private_dirs(self.path.parent)
        fd = open_or_create(self.path, os.O_RDWR | os.O_APPEND, like=self._like, file_mode=self.file_mode)
        st = os.fstat(fd)
        self._fd = fd
        self._ino = (st.st_dev, st.st_ino)
        self._healthy_end = self._synced_end = None

    def open(self) -> None:
        """Open (creating with ``file_mode``) now; raises DurabilityError."""
        try:
            self._open()
        except PersistenceError:
            raise
        except OSError as exc:
            raise _durability(exc, f"cannot open {self.path}") from exc

    def ensure_current(self) -> int:
        """Make sure our descriptor is the file at ``path``; return its size. Call under the lock."""
        try:
            if self._fd is None:
                self._open()
            else:
                try:
                    st = os.stat(self.path, follow_symlinks=False)
                    current = (st.st_dev, st.st_ino)
                except FileNotFoundError:
                    current = None
                if current != self._ino:
                    logger.info("papyra: %s was replaced by another process; reopening", self.path)
                    self._open()
            assert self._fd is not None
            return os.fstat(self._fd).st_size
        except PersistenceError:
            raise
        except OSError as exc:
            raise _durability(exc, f"cannot open {self.path}") from exc

    # ------------------------------------------------------------------ torn tail

    def heal_tail(self, size: int) -> int:
        """Cut a partial final line (crashed writer) off the file; return the new size."""
        if size == 0 or size == self._healthy_end:
            return size
        fd = self._fd
        assert fd is not None
        try:
            if os.pread(fd, 1, size - 1) == b"\n":
                self._healthy_end = size
                return size
            keep = last_newline_end(fd, size)
            fragment_len = size - keep
            head = os.pread(fd, min(fragment_len, 200), keep)
            valid = False
            if fragment_len <= MAX_LINE_BYTES:
                try:  # the grammar's verdict, as scan and repair would give it
                    valid = parse_line(os.pread(fd, fragment_len, keep)) is not None
                except LineError:
                    valid = False
            if valid:
                os.write(fd, b"\n")
                os.fsync(fd)
                new_size = size + 1
                action = "terminated (a complete record lacked its newline)"
            else:
                os.ftruncate(fd, keep)
                os.fsync(fd)
                new_size = keep
                action = "cut off"
        except OSError as exc:
            raise _durability(exc, f"cannot repair the torn tail of {self.path}") from exc
        if self._metrics is not None:
            self._metrics.incr("torn_tails_truncated")
        logger.warning(
            "papyra: torn tail in %s at offset %d (%d bytes, starts %r) %s before appending",
            self.path,
            keep,
            fragment_len,
            head[:80],
            action,
            extra={"papyra_location": str(self.path)},
        )
        self._healthy_end = self._synced_end = new_size  # written and fsynced above
        return new_size

    # ------------------------------------------------------------------ write

    def append(self, data: bytes, start: int, *, sync: bool) -> None:
        """Write ``data`` at the end (which is ``start``); fsync when ``sync``.

        On any failure the file is truncated back to ``start`` (best effort) and a
        DurabilityError is raised; nothing is retried.
        """
        fd = self._fd
        assert fd is not None
        try:
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                if n <= 0:
                    raise OSError(5, "short write")  # pragma: no cover - defensive
                view = view[n:]
            if sync:
                os.fsync(fd)
        except OSError as exc:
            try:
                os.ftruncate(fd, start)
            except OSError:
                logger.error(
                    "papyra: could not truncate the partial batch in %s",
                    self.path,
                    extra={"papyra_location": str(self.path)},
                )
            self._healthy_end = None
            raise _durability(exc, f"write to {self.path} failed") from exc
        self._healthy_end = start + len(data)
        if sync:
            self._synced_end = self._healthy_end

    def sync(self) -> None:
        """fsync what this handle wrote; a no-op when nothing was written since its last fsync
        (e.g. a rotation right after a synced append). Raises DurabilityError."""
        if self._fd is None or (self._synced_end is not None and self._synced_end == self._healthy_end):
            return
        try:
            os.fsync(self._fd)
        except OSError as exc:
            raise _durability(exc, f"fsync of {self.path} failed") from exc
        self._synced_end = self._healthy_end

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                os.close(fd)
            except OSError:  # pragma: no cover - close errors after fsync are not actionable
                logger.warning(
                    "papyra: closing %s failed",
                    self.path,
                    exc_info=True,
                    extra={"papyra_location": str(self.path)},
                )


class FileSink:
    """WriterSink of a single-file store: lock, check, heal, append, fsync — per batch."""

    def __init__(self, file: AppendFile, lock: BatchLock) -> None:
        self.file = file
        self.lock = lock

    def write_batch(self, items: list[bytes], *, sync: bool) -> None:
        data = b"".join(items)
        with self.lock.held_for_batch():
            size = self.file.ensure_current()
            size = self.file.heal_tail(size)
            self.file.append(data, size, sync=sync)

    def sync(self) -> None:
        # fsync needs no lock: it only flushes what this process already wrote
        self.file.sync()

    def close(self) -> None:
        self.file.close()
        self.lock.close()

    def after_fork_in_child(self) -> None:
        """Close the child's copies of the descriptors; the parent's lock stays held if it was
        (``flock`` belongs to the open file, which the parent still has open)."""
        self.lock.forget_after_fork()
        self.file.close()
