"""``RotatingFilePersistence``: a set of NDJSON files with bounded disk use.

The set is ``path`` (active), ``path.1`` (newest rotated) … ``path.{max_files-1}`` (oldest), all
kinds in one log, in the line format of :class:`~papyra.persistence.json.JsonFilePersistence`
(files of the earlier implementation — kind last, ``\\u`` escapes, spaced separators — read as
well). Everything the JSON backend guarantees holds here too, because it is the same machinery:
the background writer (group commit, ``fsync`` policies, back-pressure, fail-stop), the store
lock ``<path>.lock``, torn-tail healing, the inode check, scan/repair/quarantine and streaming
compaction. What rotation adds (details and the crash-safety invariants in
:mod:`papyra.persistence.rotation`):

* **Rotation** happens in the writer, under the store lock, before the record that would push
  the active file past ``max_bytes``: the oldest file is deleted (by design), the others shift
  up, the active file becomes ``.1``. No file exceeds ``max_bytes`` unless it holds one record
  that is larger. ``max_files=1`` is one file that is restarted (its history is dropped).
* **Disk bound**: at most ``max_files`` files of at most ``max_bytes`` each (or one record), so
  the set never holds more than ``max_files * max(max_bytes, largest record)`` bytes — also with
  writers in several processes, since each checks the size under the lock. Compaction needs
  room for one extra copy of the retained records while it runs.
* **Reads** go newest file first and stop as soon as ``limit`` (or retention) is satisfied, so
  ``list_*(limit=N)`` opens only the newest files it needs.
* **compact()** rewrites the set atomically as a set; **recover()** repairs each damaged file in
  place (valid records kept verbatim, never duplicated) and disposes of orphans (QUARANTINE
  keeps their bytes). Crash leftovers are made consistent by the next write, read, open or
  ``recover()``.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

from papyra.conf.validation import FsyncSetting, check_int
from papyra.exceptions import CorruptionError, PersistenceError
from papyra.persistence.compaction import CompactionResult
from papyra.persistence.filestore import AppendFile, FileSink
from papyra.persistence.health import RepairResult, repair_file
from papyra.persistence.json import JsonFilePersistence
from papyra.persistence.locking import BatchLock, maintenance_lock
from papyra.persistence.models import (
    PersistedRecord,
    PersistenceAnomaly,
    PersistenceRecoveryReport,
    PersistenceScanReport,
)
from papyra.persistence.reading import SkipCount
from papyra.persistence.retention import RetentionPolicy
from papyra.persistence.rotation import (
    MAX_FILES_LIMIT,
    RotatingSink,
    RotationSet,
    compact_set,
    dispose_stray,
    iter_set_newest_first,
)
from papyra.persistence.set_manifest import write_set_manifest

__all__ = ["RotatingFilePersistence"]

logger = logging.getLogger("papyra")



class RotatingFilePersistence(JsonFilePersistence):
    """A rotating set of NDJSON files (see the module docs for guarantees).

    Costs: as :class:`~papyra.persistence.json.JsonFilePersistence` (``record_*`` is an O(1)
    enqueue; reads, scan and compaction first wait for this process's writer), plus:

    * Writer thread: a batch that would push the active file past ``max_bytes`` rotates the
      set first, under the store lock: unless ``fsync="never"`` an fsync of the outgoing file,
      then one unlink (the oldest file), up to ``max_files - 1`` renames and (again unless
      ``"never"``) a directory fsync. O(max_files) per rotation.
    * ``list_*``: files are read newest first, each backwards from its end, with no lock; with
      ``limit`` only the newest files needed are opened (a tail read), without it the whole set
      is streamed (O(total records), bounded memory).
    * ``scan()``: one streaming read of every member plus one directory listing; no lock.
    * ``recover()``: maintenance lock for the whole operation; each damaged member is rewritten
      in place (streaming, fsynced), strays removed or quarantined. O(size of damaged files).
    * ``compact()``: maintenance lock for the whole operation; the set is rewritten as a set
      (streaming read of every member, new files written and fsynced, an atomic commit marker,
      renames, directory fsyncs). O(set size); needs disk for one more copy of the retained
      records while it runs.
    * ``files``: a sync point (never raises) then one ``stat`` per slot (O(max_files)).
      ``describe()``: one ``stat`` per slot. ``max_bytes``/``max_files``: O(1).

    ``max_bytes`` and ``max_files`` (at most :data:`MAX_FILES_LIMIT`) must be positive integers;
    invalid settings raise :class:`~papyra.exceptions.ConfigurationError` (also a ``ValueError``).
    """

    backend_name = "rotating"

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_bytes: int = 50_000_000,
        max_files: int = 5,
        retention_policy: RetentionPolicy | None = None,
        fsync: FsyncSetting = "always",
        fsync_interval: float = 0.05,
        max_pending: int = 100_000,
        lock_timeout: float = 10.0,
        file_mode: int = 0o600,
        backpressure_timeout: float = 1.0,
    ) -> None:
        max_bytes = check_int("max_bytes", max_bytes)
        max_files = check_int("max_files", max_files, maximum=MAX_FILES_LIMIT)
        super().__init__(
            path,
            retention_policy=retention_policy,
            fsync=fsync,
            fsync_interval=fsync_interval,
            max_pending=max_pending,
            lock_timeout=lock_timeout,
            file_mode=file_mode,
            backpressure_timeout=backpressure_timeout,
        )
        self._set = RotationSet(self._path, max_files=max_files, max_bytes=max_bytes, file_mode=file_mode)
        self._finish_pending_swap()

    # ------------------------------------------------------------------ properties

    @property
    def max_bytes(self) -> int:
        """Size limit of one member file (a single larger record gets a file of its own). O(1)."""
        return self._set.max_bytes

    @property
    def max_files(self) -> int:
        """Number of files in the set, the active one included. O(1)."""
        return self._set.max_files

    @property
    def files(self) -> list[Path]:
        """The member files that exist, oldest first (after this process's accepted records)."""
        self._sync_point(strict=False)
        return self._set.existing()

    def describe(self) -> dict[str, Any]:
        """The JSON backend's description plus the rotation bound, members and total bytes.
        One ``stat`` per slot; no lock."""
        info = super().describe()
        try:
            total: int | None = self._set.total_bytes()
        except OSError:
            total = None
        info.update(
            max_bytes=self._set.max_bytes,
            max_files=self._set.max_files,
            files=[str(p) for p in self._set.existing()],
            total_bytes=total,
            disk_bound_bytes=self._set.max_bytes * self._set.max_files,
        )
        return info

    # ------------------------------------------------------------------ writer / swap

    def _make_sink(self) -> FileSink:
        """The writer's sink; first records the set's bounds in its manifest (see
        :mod:`papyra.persistence.set_manifest`: one small atomic write when they changed, a
        failure is logged, never fatal to recording)."""
        try:
            write_set_manifest(self._path, max_bytes=self._set.max_bytes, max_files=self._set.max_files,
                               file_mode=self._file_mode)
        except OSError as exc:
            logger.warning("papyra: cannot record the bounds of %s in its manifest: %s", self._path, exc)
        newest_rotated = (self._set.member(1),)  # a new active file copies its owner and mode
        return RotatingSink(
            AppendFile(self._path, file_mode=self._file_mode, metrics=self._metrics, like=newest_rotated),
            BatchLock(self._path, file_mode=self._file_mode),
            self._set,
            durable=self._fsync != "never",
        )

    def _finish_pending_swap(self) -> None:
        """Finish a compaction swap that a crashed process committed (cheap check first)."""
        if not self._set.pending_commit():
            return
        try:
            with maintenance_lock(self._path, timeout=self._lock_timeout, file_mode=self._file_mode):
                self._set.finish_swap()
        except OSError as exc:
            msg = f"cannot finish the interrupted compaction of {self._path}: {exc}"
            raise PersistenceError(msg) from exc

    # ------------------------------------------------------------------ reads

    def _records_newest_first(
        self, stack: contextlib.ExitStack, skipped: SkipCount, *, since: float | None = None
    ) -> Iterator[tuple[PersistedRecord, int]]:
        self._finish_pending_swap()
        records: Generator[tuple[PersistedRecord, int], None, None] = iter_set_newest_first(
            self._set, stack, lock_timeout=self._lock_timeout, skipped=skipped, since=since
        )
        stack.callback(records.close)  # releases the member guard even if not consumed to the end
        return records

    # ------------------------------------------------------------------ health

    def _find_anomalies(self) -> list[PersistenceAnomaly]:
        return self._set.scan()

    def _repair(
        self, scan: PersistenceScanReport, qdir: Path | None, *, dry_run: bool = False
    ) -> PersistenceRecoveryReport:
        """Under the store lock: finish a committed swap, repair each damaged member in place,
        dispose of strays. ``qdir`` is None for REPAIR. A ``dry_run`` (no lock) only counts."""
        repaired: list[str] = []
        quarantined: list[str] = []
        rset = self._set
        if rset.pending_commit() if dry_run else rset.finish_swap():
            repaired.append(str(rset.marker))
        strays = rset.strays()
        stray_paths = {str(s.path) for s in strays}
        damaged = {a.path for a in rset.scan() if a.path not in stray_paths}
        total = RepairResult()
        with rset.guard.exclusive():  # this process's reads never see a member replaced mid-read
            for member in rset.existing():
                if str(member) not in damaged:
                    continue
                result = repair_file(member, file_mode=self._file_mode, quarantine_dir=qdir, dry_run=dry_run)
                total.add(result)
                repaired.append(str(member))
                if result.quarantine_path is not None:
                    quarantined.append(str(result.quarantine_path))
        for stray in strays:
            if stray.keep:  # readable records beyond max_files: reported, never moved (README)
                continue
            moved = dispose_stray(stray, quarantine_dir=qdir, file_mode=self._file_mode, dry_run=dry_run)
            repaired.append(str(stray.path))
            if moved is not None:
                quarantined.append(str(moved))
        return total.report(self.backend_name, scan, repaired, quarantined, quarantine=qdir is not None)

    def _compact_locked(self) -> CompactionResult:
        return compact_set(self._set, self._retention)

    def _compaction_members(self) -> list[Path]:
        self._finish_pending_swap()
        if (problem := self._set.marker_problem()) is not None:  # as compact_set refuses
            raise CorruptionError(f"cannot compact {self._path}: {problem}; run recover() first")
        self._set.check_members()
        return self._set.existing()
