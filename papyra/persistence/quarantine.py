"""Quarantine: where damaged bytes are kept instead of being dropped.

* Names: ``<file name>.quarantine.<UTC stamp>-<pid>-<random>`` (for example
  ``papyra.ndjson.quarantine.20250101T120000.123456Z-4242-9f3a1c``), created with ``O_EXCL`` and
  ``O_NOFOLLOW`` and retried on a collision, so two processes (or two runs in one microsecond)
  never overwrite each other. Scans recognise these names and do not report them.
* Directories: no component of an explicit quarantine dir's path may be a symlink (pass the
  resolved path); the dir must be a real directory owned by this user and not writable by group
  or others; it is created (with any missing parents) ``0700`` whatever the umask. Otherwise
  :class:`~papyra.exceptions.QuarantineError`. Without one, quarantine files go beside the
  store (the directory the operator already trusts with the data).
* Owner and mode: a quarantine file copies the owner, group and mode of the store it comes from
  when it is created beside it (a hard link keeps them anyway), else it gets ``file_mode``.
"""

from __future__ import annotations

import errno
import os
import secrets
import shutil
import stat
import time
from pathlib import Path
from typing import BinaryIO

from papyra.exceptions import QuarantineError
from papyra.persistence.filestore import create_exclusive, fsync_dir, open_read
from papyra.persistence.ownership import make_private_dirs

__all__ = [
    "LineQuarantine",
    "is_quarantine_name",
    "planned_quarantine_path",
    "prepare_quarantine_dir",
    "quarantine_copy",
    "quarantine_name",
]

QUARANTINE_MARK = ".quarantine."


def quarantine_name(file_name: str) -> str:
    """A fresh, collision-resistant quarantine name for ``file_name``."""
    now = time.time_ns()
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now // 1_000_000_000))
    micros = (now // 1000) % 1_000_000
    return f"{file_name}{QUARANTINE_MARK}{stamp}.{micros:06d}Z-{os.getpid()}-{secrets.token_hex(3)}"


def planned_quarantine_path(directory: Path, file_name: str) -> Path:
    """What a dry run reports for a quarantine file it would create: the real name's shape with
    ``<stamp>`` standing for the stamp, pid and random part chosen at creation."""
    return directory / f"{file_name}{QUARANTINE_MARK}<stamp>"


def is_quarantine_name(base_name: str, name: str) -> bool:
    """True for quarantine files of the store ``base_name`` (and of its rotated/temp files)."""
    return name.startswith(base_name + ".") and QUARANTINE_MARK in name[len(base_name) :]


def _refuse_symlinked_components(qdir: Path) -> None:
    """QuarantineError when any existing component of ``qdir``'s absolute path is a symlink."""
    current = Path(os.path.abspath(qdir))
    for component in (*reversed(current.parents), current):
        try:
            st = os.lstat(component)
        except FileNotFoundError:
            return  # the rest is created by us, as real directories
        except OSError as exc:
            raise QuarantineError(f"cannot inspect quarantine dir {qdir}: {exc}") from exc
        if stat.S_ISLNK(st.st_mode):
            raise QuarantineError(
                f"refusing quarantine dir {qdir}: path component {component} is a symlink "
                "(pass the resolved path)"
            )


def prepare_quarantine_dir(directory: str | os.PathLike[str] | None, store_path: Path) -> Path:
    """Validate (or create) the quarantine directory; None means beside the store."""
    if directory is None:
        return store_path.parent
    qdir = Path(directory)
    _refuse_symlinked_components(qdir)
    try:
        st = os.lstat(qdir)
    except FileNotFoundError:
        try:
            make_private_dirs(qdir)
            st = os.lstat(qdir)
        except OSError as exc:
            raise QuarantineError(f"cannot create quarantine dir {qdir}: {exc}") from exc
    except OSError as exc:
        raise QuarantineError(f"cannot inspect quarantine dir {qdir}: {exc}") from exc
    if stat.S_ISLNK(st.st_mode):
        raise QuarantineError(f"refusing quarantine dir {qdir}: it is a symlink")
    if not stat.S_ISDIR(st.st_mode):
        raise QuarantineError(f"refusing quarantine dir {qdir}: not a directory")
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise QuarantineError(
            f"refusing quarantine dir {qdir}: writable by group or others (mode {stat.S_IMODE(st.st_mode):o})"
        )
    if hasattr(os, "geteuid") and st.st_uid != os.geteuid():
        raise QuarantineError(f"refusing quarantine dir {qdir}: owned by uid {st.st_uid}, not by us")
    return qdir


def _create_unique(directory: Path, file_name: str, mode: int, like: Path) -> tuple[Path, BinaryIO]:
    for _ in range(100):
        target = directory / quarantine_name(file_name)
        try:
            return target, create_exclusive(target, mode, like=(like,) if like.parent == directory else ())
        except FileExistsError:
            continue
    raise QuarantineError(f"could not find a free quarantine name in {directory}")  # pragma: no cover


def quarantine_copy(source: Path, directory: Path, *, file_mode: int = 0o600) -> Path:
    """Keep the current bytes of ``source`` in ``directory`` under a fresh quarantine name.

    A hard link when possible (instant, same inode: the original bytes stay exactly as they
    are once the source name is replaced); otherwise a streamed, fsynced copy. Returns the path.
    """
    for _ in range(100):
        target = directory / quarantine_name(source.name)
        try:
            os.link(source, target, follow_symlinks=False)
        except FileExistsError:
            continue
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EACCES):
                raise
            break
        fsync_dir(directory)
        return target
    src = open_read(source)  # never follows a symlink nor blocks on a FIFO
    if src is None:
        raise FileNotFoundError(errno.ENOENT, "no such file", str(source))
    with src:
        target, out = _create_unique(directory, source.name, file_mode, source)
        try:
            with out:
                shutil.copyfileobj(src, out, 1024 * 1024)
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            target.unlink(missing_ok=True)
            raise
    fsync_dir(directory)
    return target


class LineQuarantine:
    """Collects unreadable lines of one file into a quarantine file created on first use."""

    def __init__(self, directory: Path, file_name: str, *, file_mode: int = 0o600) -> None:
        self.directory = directory
        self.file_name = file_name
        self.file_mode = file_mode
        self.path: Path | None = None
        self.count = 0
        self._out: BinaryIO | None = None

    def write(self, data: bytes) -> None:
        """Keep one line's bytes (a newline is added as a separator)."""
        if self._out is None:
            store = self.directory / self.file_name
            self.path, self._out = _create_unique(self.directory, self.file_name, self.file_mode, store)
        self._out.write(data)
        self._out.write(b"\n")
        self.count += 1

    def commit(self) -> None:
        """Make the quarantine file durable (before the store is replaced)."""
        if self._out is not None:
            self._out.flush()
            os.fsync(self._out.fileno())
            self._out.close()
            self._out = None
            fsync_dir(self.directory)

    def discard(self) -> None:
        """Remove an uncommitted quarantine file (the operation failed; the store is unchanged)."""
        if self._out is not None:
            self._out.close()
            self._out = None
            if self.path is not None:
                self.path.unlink(missing_ok=True)
            self.path = None
            self.count = 0
