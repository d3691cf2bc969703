"""The rotating set's compaction commit marker ``<name>.commit``: the checks it must pass before
anything acts on it.

The marker is the commit point of a set-atomic compaction (see :mod:`papyra.persistence.rotation`):
a small JSON document ``{"pid": int, "count": int, "files": [[temp name, slot], ...]}`` telling
whoever takes the store lock next which temp files to rename over which slots, and that slots
``count..`` are to be deleted. Acting on it deletes and replaces store files, so a marker is only
honoured when :func:`read_manifest` accepts it. Cost: one open, one read (at most
:data:`MAX_MARKER_BYTES`) and one ``lstat`` per named file.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

from papyra.exceptions import CorruptionError
from papyra.persistence.ownership import open_checked

__all__ = ["MAX_MARKER_BYTES", "read_manifest"]

#: A marker larger than this is refused unread (a real one names at most ``max_files`` temps).
MAX_MARKER_BYTES = 1024 * 1024


def read_manifest(
    marker: Path, *, store: Path, max_files: int, owner: int
) -> tuple[int, int, list[tuple[str, int]]]:
    """The validated marker of the set ``store``: ``(pid, count, [(temp name, slot), ...])``.

    Raises :class:`~papyra.exceptions.CorruptionError` (the reason in the message) unless the
    marker and every file it names that still exists are regular files owned by ``owner`` (the
    store's owner), this process's user or root (a compaction by another member of a group-shared
    store); it parses; ``count`` is ``1..max_files``; and its entries map distinct compaction temp
    names of this store (``<name>.compact.<pid>.<hex>.tmp``, in the same directory) one to one
    onto the slots ``0..count-1``. Raises ``OSError`` (:class:`~papyra.exceptions.UnsafeFileError`
    for a non-regular file or a symlink) when it cannot be read.
    """
    trusted = {owner, os.geteuid(), 0}
    fd = open_checked(marker, os.O_RDONLY, file_mode=None)
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if st.st_uid not in trusted:
            raise CorruptionError(f"commit marker {marker} is owned by uid {st.st_uid}, "
                                  f"not by the store's owner (uid {owner})")
        data = f.read(MAX_MARKER_BYTES + 1)
    if len(data) > MAX_MARKER_BYTES:
        raise CorruptionError(f"commit marker {marker} is larger than {MAX_MARKER_BYTES} bytes")
    try:
        doc = json.loads(data)
        pid = doc["pid"]
        count = doc["count"]
        files = [(name, slot) for name, slot in doc["files"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise CorruptionError(f"unreadable compaction commit marker {marker}: {exc}") from exc
    if not all(type(v) is int for v in (pid, count, *(slot for _, slot in files))) or pid <= 0:
        raise CorruptionError(f"commit marker {marker}: pid, count and slots must be positive integers")
    if not 1 <= count <= max_files or sorted(slot for _, slot in files) != list(range(count)):
        raise CorruptionError(f"commit marker {marker}: its slots are not 0..count-1 "
                              f"(count {count}, max_files {max_files})")
    temp_name = re.compile(rf"{re.escape(store.name)}\.compact\.\d+\.[0-9a-f]+\.tmp")
    names = [name for name, _ in files]
    if not all(isinstance(n, str) and temp_name.fullmatch(n) for n in names) or len(set(names)) != len(names):
        raise CorruptionError(f"commit marker {marker} names files that are not compaction temp files "
                              "of this store")
    for name in names:
        try:
            st = os.lstat(store.parent / name)
        except FileNotFoundError:
            continue  # already moved into its slot by an earlier, interrupted finish
        if not stat.S_ISREG(st.st_mode) or st.st_uid not in trusted:
            raise CorruptionError(f"commit marker {marker} names {name}, which is not a regular file "
                                  "of the store's owner")
    return pid, count, files
