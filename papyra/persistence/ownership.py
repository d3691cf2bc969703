"""Safety of the files Papyra opens, creates and replaces beside a store.

Three jobs, shared by every file path of the file backends (store, rotated members, lock file,
commit marker, temp and quarantine files):

* **Refuse hostile or odd files** (:func:`check_file`): a file Papyra is about to open must be a
  regular file (never a FIFO, socket, device or directory: opens use ``O_NONBLOCK`` so that a
  FIFO cannot block, then ``fstat`` decides). In a directory that *others* can write (mode
  ``o+w``, e.g. a sticky ``/tmp``) the file must also belong to this user or to root, and must not
  be writable by group or others unless ``file_mode`` allows it. A refused file raises
  :class:`~papyra.exceptions.UnsafeFileError` naming it and the reason, and is left untouched.
* **Keep the store's owner** (:func:`adopt_identity`): a file created next to an existing store
  (the temp file that replaces it, a new rotated member, the lock file, the commit marker) gets
  the owner, group and mode of the file it replaces or sits beside (``fchown``/``fchmod`` on the
  open descriptor, before any rename), so maintenance run as root never takes the store away
  from the application's user. A file with nothing to copy from gets ``file_mode`` exactly
  (whatever the umask) — and, when root creates it in a directory of another user that others
  cannot write, that directory's owner and group.
* **Private directories** (:func:`make_private_dirs`): every directory Papyra creates is ``0700``
  whatever the umask, intermediate ones included.

Costs: :func:`check_file` is one ``stat`` of the parent directory (only for files that are not
ours); :func:`adopt_identity` is one ``lstat`` per candidate reference plus an ``fchown`` (only
when the owner differs) and an ``fchmod``. No locks, no fsync.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterable
from pathlib import Path

from papyra.exceptions import UnsafeFileError

__all__ = [
    "adopt_identity",
    "check_file",
    "check_path",
    "kind_of",
    "make_private_dirs",
    "open_checked",
    "open_or_create",
    "reference_stat",
]

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_GROUP_OTHER_WRITE = stat.S_IWGRP | stat.S_IWOTH

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISLNK, "a symlink"),
)


def _euid() -> int:
    return os.geteuid() if hasattr(os, "geteuid") else 0


def kind_of(mode: int) -> str:
    """``"a FIFO"``, ``"a directory"``, … for a non-regular ``st_mode`` (``"a regular file"``)."""
    for test, name in _KINDS:
        if test(mode):
            return name
    return "a regular file" if stat.S_ISREG(mode) else "not a regular file"


def _others_can_write(directory: Path) -> bool:
    try:
        return bool(os.stat(directory).st_mode & stat.S_IWOTH)
    except OSError:
        return True  # cannot tell: be strict


def check_file(path: str | os.PathLike[str], st: os.stat_result, *, file_mode: int | None) -> None:
    """Raise :class:`UnsafeFileError` unless ``st`` (of the existing ``path``) may be used.

    Always refused: anything but a regular file. In a directory writable by others: a file owned
    by another non-root user, and (when ``file_mode`` is given) a file writable by group/others
    while ``file_mode`` is not. ``file_mode=None`` skips the mode rule (read-only opens).
    """
    shown = os.fspath(path)
    if not stat.S_ISREG(st.st_mode):
        raise UnsafeFileError(shown, f"it is {kind_of(st.st_mode)}, not a regular file")
    me = _euid()
    foreign = st.st_uid not in (me, 0)
    loose = file_mode is not None and st.st_mode & _GROUP_OTHER_WRITE & ~file_mode
    if not (foreign or loose) or not _others_can_write(Path(shown).parent):
        return
    if foreign:
        raise UnsafeFileError(
            shown, f"it is owned by uid {st.st_uid} (not by uid {me} or root) in a directory others can write"
        )
    raise UnsafeFileError(
        shown,
        f"it is writable by group or others (mode {stat.S_IMODE(st.st_mode):o}, file_mode "
        f"{file_mode:o}) in a directory others can write",
    )


def check_path(path: str | os.PathLike[str], *, file_mode: int | None) -> None:
    """:func:`check_file` on the entry at ``path`` without following a symlink (a symlink is
    refused). A missing file is fine. Cost: one ``lstat`` (+ one ``stat`` of the directory)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    check_file(path, st, file_mode=file_mode)


def open_checked(path: str | os.PathLike[str], flags: int, *, file_mode: int | None) -> int:
    """``os.open`` an existing file with ``O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC`` added (so a FIFO
    never blocks the open), then :func:`check_file` on its ``fstat``; returns the descriptor.

    Raises ``FileNotFoundError``, ``OSError`` (``ELOOP`` for a symlink) or UnsafeFileError.
    """
    fd = os.open(path, flags | _NOFOLLOW | _NONBLOCK | _CLOEXEC)
    try:
        check_file(path, os.fstat(fd), file_mode=file_mode)
    except BaseException:
        os.close(fd)
        raise
    return fd


def reference_stat(candidates: Iterable[str | os.PathLike[str]]) -> os.stat_result | None:
    """``lstat`` of the first candidate that exists as a regular file (the file whose owner,
    group and mode a new file copies), or None."""
    for candidate in candidates:
        try:
            st = os.lstat(candidate)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode):
            return st
    return None


def adopt_identity(
    fd: int, path: str | os.PathLike[str], like: Iterable[str | os.PathLike[str]], file_mode: int
) -> None:
    """Give the new file ``path``, open as ``fd``, the owner, group and mode of the first existing
    regular file in ``like`` (the store it replaces or sits beside), or mode ``file_mode`` if none.

    Only root can give a file away: another user keeps ownership but still takes the reference's
    group when it is a member of it (a group-shared store stays shared), and always its mode.
    With no reference, root gives the file the owner and group of its directory when that belongs
    to another user and others cannot write it (maintenance run by root before the application
    ever wrote: the lock file it creates stays usable by the application). Raises ``OSError`` if
    ``fchmod`` fails.
    """
    ref = reference_stat(like)
    if ref is None:
        if _euid() == 0:
            directory = os.stat(Path(path).parent)
            if directory.st_uid != 0 and not directory.st_mode & stat.S_IWOTH:
                os.fchown(fd, directory.st_uid, directory.st_gid)
        os.fchmod(fd, file_mode)
        return
    st = os.fstat(fd)
    if (st.st_uid, st.st_gid) != (ref.st_uid, ref.st_gid):
        try:
            os.fchown(fd, ref.st_uid, ref.st_gid)
        except PermissionError:
            with contextlib.suppress(PermissionError):
                os.fchown(fd, -1, ref.st_gid)
    os.fchmod(fd, stat.S_IMODE(ref.st_mode))


def open_or_create(
    path: str | os.PathLike[str], flags: int, *, like: Iterable[str | os.PathLike[str]], file_mode: int
) -> int:
    """Open the file at ``path`` with ``flags`` (plus ``O_NOFOLLOW``, ``O_CLOEXEC``), creating it
    if missing; returns the descriptor.

    An existing file must pass :func:`check_file` (with ``file_mode``); a new one is created
    ``O_EXCL`` and given the identity of the first existing file in ``like`` (the store it sits
    beside, see :func:`adopt_identity`). Raises ``OSError`` or UnsafeFileError.
    """
    while True:
        try:
            return open_checked(path, flags, file_mode=file_mode)
        except FileNotFoundError:
            pass
        try:
            fd = os.open(path, flags | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, file_mode)
        except FileExistsError:
            continue  # another process created it first: open (and check) theirs
        try:
            adopt_identity(fd, path, like, file_mode)
        except BaseException:
            os.close(fd)
            raise
        return fd


def make_private_dirs(directory: str | os.PathLike[str]) -> None:
    """Create ``directory`` and any missing parents, each exactly ``0700`` whatever the umask.
    Existing directories are left as they are. Raises ``OSError``."""
    missing: list[Path] = []
    p = Path(directory)
    while not os.path.lexists(p):
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    for d in reversed(missing):
        try:
            os.mkdir(d, 0o700)
        except FileExistsError:
            continue  # created concurrently: not ours to change
        fd = os.open(d, os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _CLOEXEC)
        try:
            os.fchmod(fd, 0o700)  # the umask may have taken bits away
        finally:
            os.close(fd)
