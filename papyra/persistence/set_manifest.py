"""The rotating set's manifest ``<name>.set``: the set describes itself.

A small JSON document ``{"format": "papyra-rotating-set", "version": 1, "max_bytes": int,
"max_files": int}`` beside the store, written by
:class:`~papyra.persistence.backends.rotating.RotatingFilePersistence` when its writer starts
(so a read-only open never creates it) and whenever its bounds change. Tools that open the set
without the application's flags (the CLI) read the real bounds from it, and a set compacted into
one file is still recognised as a rotating set. Compaction and recovery leave it alone.

Writing is atomic and owned like the store: a temp file created beside it with the store's
owner, group and mode (:func:`~papyra.persistence.filestore.create_exclusive`), fsynced, renamed
over the manifest, directory fsynced. Reading validates it like the compaction commit marker
(:mod:`papyra.persistence.commit_marker`): a regular file (never a symlink), owned by the store's
owner, this user or root, at most :data:`MAX_MANIFEST_BYTES`, with the right format and
positive integer bounds (``max_files`` within the backend's limit); anything else raises
:class:`~papyra.exceptions.CorruptionError` naming the reason.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from papyra.exceptions import CorruptionError
from papyra.persistence.filestore import create_exclusive, replace_durably, temp_path_for
from papyra.persistence.ownership import open_checked

__all__ = [
    "MANIFEST_SUFFIX",
    "MAX_MANIFEST_BYTES",
    "manifest_path",
    "read_set_manifest",
    "write_set_manifest",
]

MANIFEST_SUFFIX = "set"
MAX_MANIFEST_BYTES = 4096
_FORMAT = "papyra-rotating-set"


def manifest_path(store: Path) -> Path:
    return store.with_name(f"{store.name}.{MANIFEST_SUFFIX}")


def _document(max_bytes: int, max_files: int) -> bytes:
    doc = {"format": _FORMAT, "version": 1, "max_bytes": max_bytes, "max_files": max_files}
    return (json.dumps(doc, separators=(",", ":")) + "\n").encode()


def read_set_manifest(
    store: Path, *, max_files_limit: int, file_mode: int | None = None
) -> tuple[int, int] | None:
    """``(max_bytes, max_files)`` recorded for the set ``store``, or None when it has no
    manifest. Raises :class:`~papyra.exceptions.CorruptionError` for an invalid one (see the
    module doc) and ``OSError`` when it cannot be read —
    :class:`~papyra.exceptions.UnsafeFileError` when, in a directory others can write, it is
    writable by group/others while ``file_mode`` is not (None: that rule is skipped). Cost: one
    open and one small read."""
    path = manifest_path(store)
    try:
        fd = open_checked(path, os.O_RDONLY, file_mode=file_mode)
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        try:
            owner = os.lstat(store).st_uid
        except FileNotFoundError:
            owner = st.st_uid
        if st.st_uid not in {owner, os.geteuid(), 0}:
            raise CorruptionError(
                f"set manifest {path} is owned by uid {st.st_uid}, not by the store's owner"
            )
        data = f.read(MAX_MANIFEST_BYTES + 1)
    if len(data) > MAX_MANIFEST_BYTES:
        raise CorruptionError(f"set manifest {path} is larger than {MAX_MANIFEST_BYTES} bytes")
    try:
        doc = json.loads(data)
        fmt, max_bytes, max_files = doc["format"], doc["max_bytes"], doc["max_files"]
    except (ValueError, KeyError, TypeError) as exc:
        raise CorruptionError(f"unreadable set manifest {path}: {exc}") from exc
    if fmt != _FORMAT:
        raise CorruptionError(f"set manifest {path}: format {fmt!r} is not {_FORMAT!r}")
    if not (type(max_bytes) is int and type(max_files) is int and max_bytes > 0
            and 0 < max_files <= max_files_limit):
        raise CorruptionError(f"set manifest {path}: max_bytes and max_files must be positive integers "
                              f"(max_files at most {max_files_limit})")
    return max_bytes, max_files


def write_set_manifest(store: Path, *, max_bytes: int, max_files: int, file_mode: int = 0o600) -> bool:
    """Record the bounds of the set ``store`` unless the manifest already says exactly that;
    True when it wrote. Atomic (temp, fsync, rename, directory fsync); the new file copies the
    store's (else its lock file's) owner, group and mode. Raises ``OSError``."""
    target = manifest_path(store)
    wanted = _document(max_bytes, max_files)
    try:
        fd = open_checked(target, os.O_RDONLY, file_mode=file_mode)
    except FileNotFoundError:
        pass
    except OSError:
        pass  # refused (odd, or not ours): replaced below (the rename replaces a link, not its target)
    else:
        with os.fdopen(fd, "rb") as f:
            if f.read(MAX_MANIFEST_BYTES + 1) == wanted:
                return False
    tmp = temp_path_for(store, "set")
    try:
        with create_exclusive(tmp, file_mode, like=(store, store.with_name(store.name + ".lock"))) as out:
            out.write(wanted)
            out.flush()
            os.fsync(out.fileno())
        replace_durably(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return True
