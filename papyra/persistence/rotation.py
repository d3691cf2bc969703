"""Rotating file sets: layout, crash-safe rotation, set-atomic compaction, reads and scans.

The machinery behind :class:`~papyra.persistence.backends.rotating.RotatingFilePersistence`,
built on the single-file pieces (:class:`~papyra.persistence.filestore.AppendFile`,
:class:`~papyra.persistence.filestore.FileSink`, the store lock, the grammar, ``scan_file`` /
``repair_file``, :class:`~papyra.persistence.compaction.StreamingCompactor`, quarantine).

Layout: slot 0 is ``path`` (the active file), slot ``k`` is ``path.k``; ``path.1`` is the newest
rotated file and ``path.{max_files-1}`` the oldest. A missing slot (a *gap*) is allowed anywhere.

**Rotation invariant.** Files only ever move to a higher slot, one slot at a time, and a higher
slot always holds older records than a lower one. Rotation (under the store lock) fills the
lowest gap: it finds the first missing slot ``g`` in ``1..max_files-1`` (if none, it deletes the
oldest slot — the only data rotation drops, by design — and ``g`` is that slot), then renames
``g-1 → g``, ``g-2 → g-1``, …, ``path → .1``, each rename onto a free name. Every intermediate
state is therefore a valid set with at most one gap; a SIGKILL at any point loses nothing else,
and the next rotation fills the gap instead of deleting anything. Readers skip gaps.

**Compaction invariant (atomic as a set).** The new set is written to temp files beside the store
(``<name>.compact.<pid>.<hex>.tmp``), each fsynced; then a manifest naming each temp and its slot
is written, fsynced and renamed to ``<name>.commit`` (the commit point; directory fsynced). Then
the swap: old slots beyond the new set are deleted, each temp is renamed over its slot, and the
marker is removed. Before the commit point a crash leaves the old set intact (the temps are
orphans that ``recover()`` removes); after it, whoever takes the store lock next — a writer before
its next batch, a read, a new backend, ``recover()`` — finishes the swap (idempotently) before
touching the set. So after a crash either the old or the new set is read, never a mix.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import threading
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from papyra.exceptions import CorruptionError, UnsafeFileError
from papyra.persistence.commit_marker import read_manifest
from papyra.persistence.compaction import CompactionResult, StreamingCompactor, open_sources
from papyra.persistence.filestore import (
    AppendFile,
    FileSink,
    create_exclusive,
    fsync_dir,
    open_read,
    temp_path_for,
)
from papyra.persistence.health import SiblingKind, list_siblings, pid_alive, scan_file
from papyra.persistence.locking import BatchLock, lock_path_for, maintenance_lock
from papyra.persistence.models import PersistedRecord, PersistenceAnomaly, PersistenceAnomalyType
from papyra.persistence.ownership import check_file, check_path, reference_stat
from papyra.persistence.quarantine import LineQuarantine, quarantine_name
from papyra.persistence.reading import SkipCount, iter_records_reversed
from papyra.persistence.retention import RetentionPolicy
from papyra.persistence.seek import seek_since
from papyra.persistence.set_manifest import MANIFEST_SUFFIX, read_set_manifest

__all__ = ["RotatingSink", "RotationSet", "StrayFile", "compact_set", "iter_set_newest_first"]

logger = logging.getLogger("papyra")

_MEMBER_LIKE = re.compile(r"^\d+(?:\..*)?$")
_OWN_TEMP = re.compile(r"^(?:\d+\.)?[a-z]+\.\d+\.[0-9a-f]+\.tmp$")
COMMIT_SUFFIX = "commit"
#: Upper bound on ``max_files`` (reads and rotation walk the slots).
MAX_FILES_LIMIT = 10_000


class MemberGuard:
    """Keeps this process's reads and member replacements apart: a read holds it *shared* from
    its snapshot of the members until it is done; replacing members (the compaction swap,
    repairing a member in place) holds it *exclusively* (reentrant for the holder). So a read
    never finds a file of its snapshot replaced before it opened it (which made a read running
    during a compaction return nothing). A waiting swap goes before new reads. Lock order: the
    store lock, then this guard; a thread never nests a read inside another of its reads."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._owner: int | None = None
        self._depth = 0
        #: How many times the guard was taken exclusively (a reader re-checks its snapshot).
        self.swaps = 0
        #: Threads waiting to take the guard exclusively (observability; tests).
        self.waiting = 0

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        me = threading.get_ident()
        with self._cond:
            # a waiting swap goes first (reads never starve it; they wait for one swap at most)
            while self._owner != me and (self._owner is not None or self.waiting):
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        me = threading.get_ident()
        with self._cond:
            if self._owner != me:
                self.waiting += 1
                while self._owner is not None or self._readers:
                    self._cond.wait()
                self.waiting -= 1
                self._owner = me
                self.swaps += 1
            self._depth += 1
        try:
            yield
        finally:
            with self._cond:
                self._depth -= 1
                if not self._depth:
                    self._owner = None
                    self._cond.notify_all()


@dataclass(frozen=True)
class StrayFile:
    """A file beside the set that is not a member: what scan reports and recover disposes of."""

    path: Path
    type: PersistenceAnomalyType
    detail: str
    own_temp: bool = False  # a temp file of ours whose process is gone (a redundant copy)
    keep: bool = False  # a rotated file beyond max_files: reported, left in place by recover()


class RotationSet:
    """The files of one rotating store. Methods that change files expect the store lock held."""

    def __init__(self, path: Path, *, max_files: int, max_bytes: int, file_mode: int = 0o600) -> None:
        self.path = path
        self.max_files = max_files
        self.max_bytes = max_bytes
        self.file_mode = file_mode
        self.marker = path.with_name(f"{path.name}.{COMMIT_SUFFIX}")
        self._warned_marker: tuple[int, ...] | None = None
        self.guard = MemberGuard()

    def member(self, slot: int) -> Path:
        return self.path if slot == 0 else self.path.with_name(f"{self.path.name}.{slot}")

    def existing(self) -> list[Path]:
        """Member files that pass :meth:`refusal`, oldest first (anything else at a slot is a
        stray that scan reports and reads never open)."""
        members = (self.member(k) for k in range(self.max_files - 1, -1, -1))
        return [p for p in members if os.path.lexists(p) and self.refusal(p) is None]

    def refusal(self, path: Path, st: os.stat_result | None = None) -> str | None:
        """Why the file at ``path`` (member, commit marker, manifest, temp) must not be read or
        acted on, or None (also when it is missing): the same check as the store file itself
        (:func:`~papyra.persistence.ownership.check_file` with this set's ``file_mode``: a regular
        file; in a directory others can write, not another non-root user's and not writable by
        group/others unless ``file_mode`` is). ``st`` is its ``fstat`` when already open. Cost:
        one ``lstat`` (+ one ``stat`` of the directory for a file that is not ours)."""
        return _refusal(path, self.file_mode, st)

    def check(self, path: Path) -> None:
        """Raise :class:`~papyra.exceptions.UnsafeFileError` when :meth:`refusal` refuses ``path``."""
        if (reason := self.refusal(path)) is not None:
            raise UnsafeFileError(str(path), reason)

    def check_members(self) -> None:
        """Raise :class:`~papyra.exceptions.UnsafeFileError` when a member slot holds a file
        :meth:`refusal` refuses (a compaction swap would replace or delete it unread). One
        ``lstat`` per slot."""
        for slot in range(self.max_files):
            if (reason := self.refusal(member := self.member(slot))) is not None:
                raise UnsafeFileError(str(member), f"{reason}; recover() moves it aside")

    def total_bytes(self) -> int:
        total = 0
        for p in self.existing():
            with contextlib.suppress(FileNotFoundError):
                total += os.lstat(p).st_size
        return total

    # ------------------------------------------------------------------ rotation

    def rotate(self, *, durable: bool) -> None:
        """Shift the set by one slot (see the module docs for the crash-safety invariant).
        Raises :class:`~papyra.exceptions.UnsafeFileError` (nothing moved) when a file it would
        move or delete is one reads refuse (:meth:`refusal`), and ``OSError``."""
        n = self.max_files
        if n == 1:
            self.path.unlink(missing_ok=True)  # one file, restarted: its history is dropped by design
        else:
            gap = next((k for k in range(1, n) if not os.path.lexists(self.member(k))), None)
            for k in range(gap if gap is not None else n):  # every file this step moves or deletes
                self.check(self.member(k))  # one that reads would refuse is never rotated
            if gap is None:
                os.unlink(self.member(n - 1))  # the oldest file: dropped by design
                gap = n - 1
            for k in range(gap - 1, 0, -1):
                os.rename(self.member(k), self.member(k + 1))
            if os.path.lexists(self.path):
                os.rename(self.path, self.member(1))
        if durable:
            fsync_dir(self.path.parent)
        logger.debug("papyra: rotated %s", self.path)

    # ------------------------------------------------------------------ set-atomic swap

    def pending_commit(self) -> bool:
        """True when a commit marker exists (cheap: one lstat); :meth:`finish_swap` acts on it
        only when it is valid."""
        return os.path.lexists(self.marker)

    def _read_manifest(self) -> tuple[int, int, list[tuple[str, int]]]:
        """The validated marker, ``(pid, count, [(temp name, slot), ...])``; raises
        CorruptionError or OSError (:func:`~papyra.persistence.commit_marker.read_manifest`)."""
        self.check(self.marker)
        manifest = read_manifest(self.marker, store=self.path, max_files=self.max_files, owner=self._owner())
        for name, _ in manifest[2]:
            self.check(self.path.parent / name)  # a temp that would become a member
        return manifest

    def _owner(self) -> int:
        """The store's owner: that of a member (else of the lock file, else this process)."""
        ref = reference_stat([*reversed(self.existing()), lock_path_for(self.path)])
        return ref.st_uid if ref is not None else os.geteuid()

    def marker_problem(self) -> str | None:
        """Why the commit marker must not be acted on, or None when it is valid (or absent)."""
        if not self.pending_commit():
            return None
        try:
            self._read_manifest()
        except FileNotFoundError:
            return None
        except (OSError, CorruptionError) as exc:
            return str(exc)
        return None

    def marker_pid(self) -> int | None:
        try:
            return self._read_manifest()[0]
        except (OSError, CorruptionError):
            return None

    def commit_swap(self, temps_oldest_first: list[Path]) -> None:
        """Write the commit marker for ``temps`` (the commit point), then finish the swap."""
        count = len(temps_oldest_first)
        files = [[t.name, count - 1 - i] for i, t in enumerate(temps_oldest_first)]
        doc = json.dumps({"pid": os.getpid(), "count": count, "files": files}).encode()
        tmp = temp_path_for(self.path, "commit")
        try:
            with create_exclusive(tmp, self.file_mode, like=temps_oldest_first[-1:]) as out:
                out.write(doc)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.marker)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        fsync_dir(self.path.parent)  # committed
        self.finish_swap()

    def finish_swap(self) -> bool:
        """Roll a committed swap forward (idempotent). Returns False when none was pending, or
        when the marker is invalid (:meth:`_read_manifest`): it is then never acted on — scan
        reports it, ``recover()`` removes it — and a warning is logged once per marker."""
        if not self.pending_commit():
            return False
        try:
            _, count, files = self._read_manifest()
        except FileNotFoundError:
            return False
        except (UnsafeFileError, CorruptionError) as exc:
            self._warn_invalid_marker(exc)
            return False
        directory = self.path.parent
        with self.guard.exclusive():
            for k in range(max(count, 1), self.max_files):
                self.member(k).unlink(missing_ok=True)
            for name, slot in files:
                src = directory / name
                if os.path.lexists(src):
                    os.replace(src, self.member(slot))
        fsync_dir(directory)
        self.marker.unlink(missing_ok=True)
        fsync_dir(directory)
        logger.info("papyra: compaction swap of %s completed (%d files)", self.path, count)
        return True

    def _warn_invalid_marker(self, exc: Exception) -> None:
        try:
            st = os.lstat(self.marker)
            key: tuple[int, ...] | None = (st.st_dev, st.st_ino, st.st_mtime_ns)
        except OSError:
            key = None
        if key != self._warned_marker:
            self._warned_marker = key
            logger.warning("papyra: ignoring the invalid compaction commit marker of %s (%s); "
                           "recover() removes it", self.path, exc,
                           extra={"papyra_location": str(self.marker)})

    # ------------------------------------------------------------------ strays

    def strays(self) -> list[StrayFile]:
        """Files of the store that are not members (quarantine files, the lock and temp files of
        live processes excluded). Read-only; reads a rotated file beyond ``max_files`` back only
        to its newest record (one holding a record is marked ``keep``)."""
        out: list[StrayFile] = []
        orphan = PersistenceAnomalyType.ORPHANED_ROTATED_FILE
        unexpected = PersistenceAnomalyType.UNEXPECTED_FILE
        if (reason := self.refusal(self.path)) is not None:
            out.append(StrayFile(self.path, unexpected, _refused(reason)))
        for s in list_siblings(self.path):
            suffix = s.suffix
            if s.kind in (SiblingKind.LOCK, SiblingKind.QUARANTINE, SiblingKind.TEMP_IN_PROGRESS):
                continue
            if suffix == MANIFEST_SUFFIX:
                if (problem := self._manifest_problem()) is not None:
                    out.append(StrayFile(s.path, unexpected, f"invalid set manifest ({problem}); the "
                                         "next writer rewrites it"))
                continue
            if suffix == COMMIT_SUFFIX and (problem := self.marker_problem()) is not None:
                out.append(StrayFile(s.path, unexpected, f"invalid compaction commit marker, never acted "
                                     f"on ({problem}); recover() removes it"))
            elif suffix == COMMIT_SUFFIX:
                pid = self.marker_pid()
                if pid is not None and pid != os.getpid() and pid_alive(pid):
                    continue  # a live compaction in another process is swapping right now
                out.append(StrayFile(s.path, orphan, "commit marker of an interrupted compaction: the "
                                     "next write, read, open or recover() completes the swap"))
            elif suffix.isdigit() and suffix.isascii() and str(int(suffix)) == suffix \
                    and 1 <= int(suffix) < self.max_files:
                if (reason := self.refusal(s.path)) is not None:
                    out.append(StrayFile(s.path, unexpected, _refused(reason)))
                continue  # a member
            elif suffix.isdigit() and suffix.isascii() and str(int(suffix)) == suffix \
                    and self.refusal(s.path) is None and _holds_a_record(s.path):
                # valid records (the set was written with a larger max_files): reported, never
                # moved by recover(); opening the set with max_files > suffix reads them
                detail = f"looks like a rotated file but is not a member (max_files={self.max_files})"
                out.append(StrayFile(s.path, orphan, detail, keep=True))
            elif s.kind is SiblingKind.TEMP_LEFTOVER:
                own = _OWN_TEMP.match(suffix) is not None
                out.append(StrayFile(s.path, orphan, "leftover temp file of an interrupted compaction, "
                                     "recovery or rotation", own_temp=own))
            elif _MEMBER_LIKE.match(suffix):
                detail = f"looks like a rotated file but is not a member (max_files={self.max_files})"
                out.append(StrayFile(s.path, orphan, detail))
            elif s.kind is SiblingKind.LOCK_ORPHAN:
                out.append(StrayFile(s.path, unexpected, "orphaned lock file"))
            else:
                out.append(StrayFile(s.path, unexpected, "stray file of the store"))
        return out

    def _manifest_problem(self) -> str | None:
        """Why the set manifest is invalid, or None (valid or absent)."""
        try:
            read_set_manifest(self.path, max_files_limit=MAX_FILES_LIMIT, file_mode=self.file_mode)
        except (CorruptionError, OSError) as exc:
            return str(exc)
        return None

    def scan(self) -> list[PersistenceAnomaly]:
        """Anomalies of every member (oldest first; line and offset each) plus strays. Read-only."""
        anomalies: list[PersistenceAnomaly] = []
        for p in self.existing():
            anomalies.extend(scan_file(p).anomalies)
        for s in self.strays():
            anomalies.append(PersistenceAnomaly(type=s.type, path=str(s.path), detail=s.detail))
        return anomalies


def _refusal(path: Path, file_mode: int, st: os.stat_result | None = None) -> str | None:
    try:
        if st is None:
            check_path(path, file_mode=file_mode)
        else:
            check_file(path, st, file_mode=file_mode)
    except UnsafeFileError as exc:
        return exc.reason
    except OSError as exc:
        return str(exc)
    return None


def _holds_a_record(path: Path) -> bool:
    """True when the file holds at least one line that decodes to a record (read backwards
    from its end only until the first one)."""
    try:
        f = open_read(path)
    except OSError:
        return False
    if f is None:
        return False
    with f:
        records = iter_records_reversed(f, end=os.fstat(f.fileno()).st_size)
        return next(iter(records), None) is not None


def _refused(reason: str) -> str:
    return f"refused ({reason}), never read: recover() moves it aside under a quarantine name"


def dispose_stray(
    stray: StrayFile, *, quarantine_dir: Path | None, file_mode: int = 0o600, dry_run: bool = False
) -> Path | None:
    """REPAIR (``quarantine_dir`` None): delete our own leftover temps (redundant copies), keep
    every other stray's bytes under a quarantine name beside the store. QUARANTINE: keep every
    stray's bytes in ``quarantine_dir``. Returns the quarantine path, if any; ``dry_run`` changes
    nothing and returns the planned path (:func:`~papyra.persistence.quarantine.planned_quarantine_path`)."""
    from papyra.persistence.quarantine import planned_quarantine_path, quarantine_copy

    path = stray.path
    if quarantine_dir is None and stray.own_temp:
        if not dry_run:
            path.unlink(missing_ok=True)
        return None
    target_dir = quarantine_dir or path.parent
    if dry_run:
        return planned_quarantine_path(target_dir, path.name)
    if _refusal(path, file_mode) is not None:  # an odd or untrusted file: moved, never opened
        target = target_dir / quarantine_name(path.name)
        try:
            os.rename(path, target)
        except OSError:
            target = path.parent / quarantine_name(path.name)
            os.rename(path, target)
        fsync_dir(path.parent)
        return target
    target = quarantine_copy(path, target_dir, file_mode=file_mode)
    path.unlink(missing_ok=True)
    fsync_dir(path.parent)
    return target


# --------------------------------------------------------------------------- reads


def iter_set_newest_first(
    rset: RotationSet,
    stack: contextlib.ExitStack,
    *,
    lock_timeout: float = 10.0,
    skipped: SkipCount | None = None,
    since: float | None = None,
) -> Generator[tuple[PersistedRecord, int], None, None]:
    """``(record, line_bytes)`` across the set, newest first, opening files only as consumed;
    unreadable lines are counted in ``skipped``.

    With ``since``, each member is read back only to the offset
    :func:`~papyra.persistence.seek.seek_since` finds, and the first member whose oldest
    record is before ``since`` is the last one read: members are picked by their first
    timestamps (older records may still be yielded: callers filter exactly).

    Lock-free yet safe against concurrent rotation: the identities (inodes) of the members are
    taken first (``lstat`` only, no file is opened; repeated until two passes agree, so the view
    is a state the set really was in), then each file is opened when the reader reaches it,
    found at its slot or — if a rotation moved it meanwhile — at a higher one. So a read sees
    the set as it was when it started (plus appends to the file that was active): never a file
    twice, never a newer file out of order. Handles stay open (in ``stack``) until the caller is
    done. A file deleted meanwhile (the oldest, by rotation) is skipped. The read holds the
    set's :class:`MemberGuard` shared, so a compaction or recovery in this process waits before
    replacing members; one by another process during the read can make it miss records it
    rewrote (never see them twice). A set that rotates through every attempt is snapshotted
    under the store lock instead (maintenance lock, up to ``lock_timeout``), since rotation only
    happens under that lock.
    """
    guard = rset.guard
    with contextlib.ExitStack() as held:
        while True:
            swaps = guard.swaps
            snapshot = _stable_snapshot(rset, lock_timeout=lock_timeout)  # may take the store lock:
            held.enter_context(guard.shared())  # the guard only after it (lock order)
            if guard.swaps == swaps:  # no member replaced since the snapshot: it stands
                break
            held.close()
        for slot, key, mtime_ns in snapshot:
            # A rotated member is never written again, so its mtime is part of its identity: an
            # inode number freed by rotation and reused by a newer file is never mistaken for it.
            f = _open_identity(rset, slot, key, mtime_ns if slot > 0 else None)
            if f is None:
                continue
            stack.enter_context(f)
            size = os.fstat(f.fileno()).st_size
            start = 0 if since is None else seek_since(f, since, size=size)
            yield from iter_records_reversed(f, end=size, start=start, skipped=skipped)
            if start > 0:
                return  # this member begins before since: every older member does too


_Snapshot = list[tuple[int, tuple[int, int], int]]  # (slot, (dev, ino), mtime_ns)


def _snapshot(rset: RotationSet) -> _Snapshot:
    out: _Snapshot = []
    for slot in range(rset.max_files):
        try:
            st = os.lstat(rset.member(slot))
        except FileNotFoundError:
            continue
        if rset.refusal(rset.member(slot), st) is not None:
            continue  # not a member (scan reports it)
        out.append((slot, (st.st_dev, st.st_ino), st.st_mtime_ns))
    return out


def _layout(snapshot: _Snapshot) -> list[tuple[int, tuple[int, int]]]:
    # The active file's mtime moves with every append: passes are compared by layout only.
    return [(slot, key) for slot, key, _ in snapshot]


def _stable_snapshot(rset: RotationSet, attempts: int = 50, *, lock_timeout: float = 10.0) -> _Snapshot:
    """Member identities from two consecutive identical passes (no rotation step between them).
    Files only move up one slot per rotation step, so equal passes are a real state of the set.
    When ``attempts`` passes in a row disagree (a set rotating non-stop: a single pass could
    then see one file twice, or a newer file above an older one), the snapshot is taken under the
    store lock, which every rotation holds."""
    previous = _snapshot(rset)
    for _ in range(attempts):
        current = _snapshot(rset)
        if _layout(current) == _layout(previous):
            return current
        previous = current
    with maintenance_lock(rset.path, timeout=lock_timeout, file_mode=rset.file_mode):
        return _snapshot(rset)


def _open_identity(
    rset: RotationSet, slot: int, key: tuple[int, int], mtime_ns: int | None
) -> BinaryIO | None:
    for k in range(slot, rset.max_files):
        p = rset.member(k)
        try:
            st = os.lstat(p)
        except FileNotFoundError:
            continue
        if (st.st_dev, st.st_ino) != key or (mtime_ns is not None and st.st_mtime_ns != mtime_ns):
            continue
        f = open_read(p)
        if f is None:
            continue
        fst = os.fstat(f.fileno())
        same = (fst.st_dev, fst.st_ino) == key and (mtime_ns is None or fst.st_mtime_ns == mtime_ns)
        if same and rset.refusal(p, fst) is None:
            return f
        f.close()  # moved on between lstat and open: look further up
    return None


# --------------------------------------------------------------------------- writer sink


class RotatingSink(FileSink):
    """The writer's sink for a set: per batch, under the store lock, finish a committed
    compaction swap if one is pending, reopen the active file if another process rotated or
    replaced it, heal a torn tail, then append — rotating first whenever the next record would
    push the active file past ``max_bytes`` (a batch may be split across a rotation)."""

    def __init__(self, file: AppendFile, lock: BatchLock, rset: RotationSet, *, durable: bool) -> None:
        super().__init__(file, lock)
        self.rset = rset
        self.durable = durable

    def write_batch(self, items: list[bytes], *, sync: bool) -> None:
        rset = self.rset
        limit = rset.max_bytes
        with self.lock.held_for_batch():
            if rset.pending_commit():
                self._io(rset.finish_swap, "cannot finish the compaction swap of")
            size = self.file.ensure_current()
            size = self.file.heal_tail(size)
            if size + sum(map(len, items)) <= limit:
                self.file.append(b"".join(items), size, sync=sync)
                return
            first = 0
            filled = size
            for i, item in enumerate(items):
                n = len(item)
                if filled > 0 and filled + n > limit:
                    if i > first:
                        self.file.append(b"".join(items[first:i]), size, sync=sync)
                    size = self._rotate()
                    filled = size
                    first = i
                filled += n
            self.file.append(b"".join(items[first:]), size, sync=sync)

    def _rotate(self) -> int:
        if self.durable:
            self.file.sync()  # what went into the outgoing file is durable before it moves
        self.file.close()
        self._io(lambda: self.rset.rotate(durable=False), "cannot rotate")
        size = self.file.ensure_current()  # creates the new active file
        if self.durable:
            self._io(lambda: fsync_dir(self.rset.path.parent), "cannot fsync the directory of")
        return size

    def _io(self, fn: object, what: str) -> None:
        from papyra.exceptions import DurabilityError

        try:
            fn()  # type: ignore[operator]
        except OSError as exc:
            err = DurabilityError(exc.errno, f"{what} {self.rset.path}: {exc.strerror or exc}")
            raise err from exc


# --------------------------------------------------------------------------- compaction


def _finish_temp(out: BinaryIO) -> None:
    out.flush()
    os.fsync(out.fileno())
    out.close()


def compact_set(
    rset: RotationSet, policy: RetentionPolicy, *, now: float | None = None
) -> CompactionResult:
    """Rewrite the set with only retained records, packed oldest first into files of at most
    ``max_bytes`` (a larger record alone in its file), atomically as a set. Caller holds the lock.

    Unreadable lines go to one ``<name>.quarantine.<stamp>`` file beside the store. If the
    retained records need more than ``max_files`` files (only possible when the store already
    exceeded its bound, e.g. files of the earlier implementation), the oldest file takes the
    surplus instead of dropping retained records. Raises
    :class:`~papyra.exceptions.UnsafeFileError` (nothing changed) when a member slot holds a file
    reads refuse (:meth:`RotationSet.refusal`), CorruptionError for an invalid commit marker.
    """
    if not rset.finish_swap() and (problem := rset.marker_problem()) is not None:
        raise CorruptionError(f"cannot compact {rset.path}: {problem}; run recover() first")
    rset.check_members()
    result = CompactionResult()
    file_mode = rset.file_mode
    with contextlib.ExitStack() as stack:
        sources = open_sources(stack, rset.existing(), result)
        if not sources:
            return result
        quarantine = LineQuarantine(rset.path.parent, rset.path.name, file_mode=file_mode)
        like = [*reversed(rset.existing()), lock_path_for(rset.path)]  # new files: the set's owner
        temps: list[Path] = []
        out: BinaryIO | None = None
        written = 0
        try:
            compactor = StreamingCompactor(sources, policy, quarantine, now=now)
            compactor.plan()
            filled = 0
            for line in compactor.retained_lines():
                if out is None or (filled and filled + len(line) > rset.max_bytes):
                    if out is not None:
                        _finish_temp(out)
                    tmp = temp_path_for(rset.path, "compact")
                    temps.append(tmp)
                    out = create_exclusive(tmp, file_mode, like=like)
                    filled = 0
                out.write(line)
                filled += len(line)
                written += len(line)
            if out is None:  # nothing retained: the new set is one empty active file
                tmp = temp_path_for(rset.path, "compact")
                temps.append(tmp)
                out = create_exclusive(tmp, file_mode, like=like)
            _finish_temp(out)
            out = None
            if len(temps) > rset.max_files:
                temps = _merge_oldest(rset.path, temps, len(temps) - rset.max_files + 1, file_mode)
            quarantine.commit()
            rset.commit_swap(temps)
        except BaseException:
            if out is not None:
                with contextlib.suppress(OSError):
                    out.close()
            if not rset.pending_commit():  # not committed: the old set stands, drop the new one
                for t in temps:
                    with contextlib.suppress(OSError):
                        t.unlink()
                with contextlib.suppress(OSError):
                    quarantine.discard()
            raise
    result.finish(compactor, quarantine, written)
    return result


def _merge_oldest(store: Path, temps: list[Path], n: int, file_mode: int) -> list[Path]:
    """Concatenate the ``n`` oldest temps into one (fsynced) temp; returns the new list."""
    merged = temp_path_for(store, "compact")
    try:
        with create_exclusive(merged, file_mode, like=temps[:1]) as out:
            for t in temps[:n]:
                with open(t, "rb") as src:
                    shutil.copyfileobj(src, out, 1024 * 1024)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        merged.unlink(missing_ok=True)
        raise
    for t in temps[:n]:
        t.unlink()
    return [merged, *temps[n:]]
