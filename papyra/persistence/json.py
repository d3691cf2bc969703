"""``JsonFilePersistence``: one NDJSON file, durable appends, cross-process safe maintenance.

* ``record_*`` encodes the record (msgspec) and queues it for the backend's background writer
  thread (``papyra-writer-json-…``): O(1), no disk I/O, no lock. The writer appends whole batches
  (group commit) under the store lock ``<path>.lock``; with ``fsync="always"`` every batch is
  fsynced before :meth:`flush` acknowledges it, ``"interval"`` fsyncs at most every
  ``fsync_interval`` seconds, ``"never"`` leaves it to the OS. A full queue blocks ``record_*`` for
  up to ``backpressure_timeout`` seconds, then raises :class:`~papyra.exceptions.BackPressureError`.
* Before each append, under the lock, the writer reopens the file if another process replaced it
  (compaction/recovery) and cuts off a torn tail left by a crashed writer.
* A failed write or fsync is fail-stop: the partial batch is truncated away, and every later
  ``record_*``/``flush`` raises :class:`~papyra.exceptions.DurabilityError` until a new backend is
  opened on the path.
* Reads, scans and compactions first wait until this process's accepted records are written, so
  they see everything whose ``record_*`` returned. ``list_*(limit=N)`` reads only the file's tail.
* ``compact()`` and ``recover()`` hold the store lock for the whole operation (filelock, with
  ``lock_timeout``) and replace the file atomically; other processes' writers notice and reopen.

Files (the store, its lock file, temp and quarantine files) are created with ``O_NOFOLLOW``: a
symlink at ``path`` is refused. A new store gets ``file_mode`` (default ``0600``); every file
created beside an existing store (temp files of compaction and recovery, the lock file) gets the
owner, group and mode of that store, and a hostile file (not regular, or another user's in a
directory others can write) is refused with :class:`~papyra.exceptions.UnsafeFileError`
(see :mod:`papyra.persistence.ownership`).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from papyra.conf.validation import (
    FsyncPolicy,
    FsyncSetting,
    check_fsync,
    check_int,
    check_number,
    check_timeout,
)
from papyra.exceptions import (
    DurabilityError,
    LockTimeout,
    PersistenceClosedError,
    PersistenceError,
    UnsafeFileError,
)
from papyra.persistence.base import PersistenceBackend, PersistenceBackendCapabilities, R
from papyra.persistence.compaction import CompactionResult, compact_file, plan_compaction
from papyra.persistence.filestore import AppendFile, FileSink, open_read
from papyra.persistence.grammar import encode_record
from papyra.persistence.health import (
    RepairResult,
    dispose_stray_file,
    list_siblings,
    repair_file,
    scan_file,
    sibling_anomalies,
)
from papyra.persistence.locking import BatchLock, maintenance_lock
from papyra.persistence.metrics import PersistenceMetrics
from papyra.persistence.models import (
    CompactionReport,
    PersistedRecord,
    PersistenceAnomaly,
    PersistenceAnomalyType,
    PersistenceRecoveryConfig,
    PersistenceRecoveryMode,
    PersistenceRecoveryReport,
    PersistenceScanReport,
)
from papyra.persistence.ownership import check_path
from papyra.persistence.quarantine import prepare_quarantine_dir
from papyra.persistence.reading import SkipCount, iter_records_reversed, select_newest, select_stream
from papyra.persistence.retention import RetentionPolicy
from papyra.persistence.seek import seek_since
from papyra.persistence.writer import BackgroundWriter

__all__ = ["JsonFilePersistence"]

#: How often a read waiting for this process's writer re-checks whether another process holds
#: the store lock (the wait itself ends as soon as the writer is done).
_SYNC_SLICE = 0.05


def _check_store_path(path: Path, file_mode: int) -> None:
    try:
        check_path(path, file_mode=file_mode)
    except UnsafeFileError:
        raise
    except OSError as exc:
        raise PersistenceError(f"cannot inspect {path}: {exc}") from exc


class JsonFilePersistence(PersistenceBackend):
    """A single NDJSON file store (see the module docs for guarantees).

    Costs (n = records in the file; "sync point" = first wait, at most ``lock_timeout``, until
    this process's writer has written every record accepted so far — no fsync):

    * ``record_*``: one msgspec encode + an O(1) enqueue; no I/O, no lock. Blocks (up to
      ``backpressure_timeout``) only while ``max_pending`` records are queued. The first call
      starts the writer thread.
    * Writer thread, per batch (group commit, up to 10,000 records): the store lock
      ``<path>.lock`` (portalocker ``flock``, blocking), one ``fstat`` + ``stat`` (inode check),
      one ``write`` of the whole batch, and with ``fsync="always"`` one ``fsync``; the lock is
      released after the fsync. ``"interval"``: one fsync per ``fsync_interval`` at most.
    * ``list_*``: sync point, then the file is read **backwards** from its end, without any
      lock. With ``limit`` (and no ``since``) it is a tail read: it stops after ``limit``
      matching records (64 KiB blocks). Without ``limit`` it is a streaming read of the whole
      file (bounded memory per block, O(n) time; the result itself is O(matches)); retention by
      count/bytes stops the read at the window's edge.
    * ``scan()``: sync point, one streaming read of the whole file (bounded memory), one listing
      of its directory (stray files). No lock, no writes.
    * ``recover()``: sync point; IGNORE is a ``scan()``. REPAIR/QUARANTINE hold the
      **maintenance lock** (filelock on ``<path>.lock``, waits up to ``lock_timeout``) for the
      whole operation: a scan, then — only if damaged — a streaming rewrite to a temp file,
      fsync, rename, directory fsync (QUARANTINE also writes the original bytes). O(file size).
    * ``compact()``: sync point, maintenance lock for the whole operation, one streaming read
      and one streaming write of the retained records (temp file, fsync, rename, directory
      fsync). O(file size) time, memory independent of it; needs disk for one more copy of the
      retained records while it runs. Writers in other processes wait for the lock.
    * ``flush()``: waits for the writer (and its fsync unless ``fsync="never"``); no I/O itself.
    * ``metrics``: a sync point that never raises, then an O(1) snapshot.
    * ``close()``: drains the queue (write + fsync per policy), joins the writer thread, closes
      the file and lock handles.
    * ``path``, ``fsync``, ``failed``, ``capabilities``: O(1). ``describe()``: one ``stat``.

    Settings are checked by :mod:`papyra.conf.validation` before anything touches the disk: an
    invalid one raises :class:`~papyra.exceptions.ConfigurationError` (also a ``ValueError``);
    ``fsync`` is ``"always"``, ``"interval"``, ``"never"`` or a bool (``True`` = ``"always"``).
    A ``path`` that is not a ``str``/``os.PathLike`` is a ``TypeError``.
    """

    backend_name = "json"

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        retention_policy: RetentionPolicy | None = None,
        fsync: FsyncSetting = "always",
        fsync_interval: float = 0.05,
        max_pending: int = 100_000,
        lock_timeout: float = 10.0,
        file_mode: int = 0o600,
        backpressure_timeout: float = 1.0,
    ) -> None:
        super().__init__(retention_policy=retention_policy)
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a str or os.PathLike, got {type(path)!r}")
        self._path = Path(os.path.abspath(os.fspath(path)))
        self._fsync = check_fsync(fsync)
        self._fsync_interval = check_number("fsync_interval", fsync_interval, positive=True)
        self._max_pending = check_int("max_pending", max_pending)
        self._lock_timeout = check_number("lock_timeout", lock_timeout)
        self._file_mode = check_int("file_mode", file_mode, minimum=0, maximum=0o7777)
        self._put_timeout = check_number("backpressure_timeout", backpressure_timeout)
        self._writer: BackgroundWriter | None = None
        self._sink: FileSink | None = None
        self._start_lock = threading.Lock()
        _check_store_path(self._path, file_mode)

    # ------------------------------------------------------------------ properties

    @property
    def path(self) -> Path:
        """The store file (absolute). O(1)."""
        return self._path

    @property
    def fsync(self) -> FsyncPolicy:
        """The fsync policy: ``"always"``, ``"interval"`` or ``"never"``. O(1)."""
        return self._fsync

    @property
    def capabilities(self) -> PersistenceBackendCapabilities:
        """Everything supported, ``write_behind`` (the writer thread); ``durable`` unless
        ``fsync="never"``. O(1)."""
        return PersistenceBackendCapabilities(durable=self._fsync != "never", write_behind=True)

    @property
    def metrics(self) -> PersistenceMetrics:
        """Counters after every record accepted so far was written (never raises; waits at most
        ``lock_timeout`` for a writer blocked by another process's lock — ``pending`` then shows
        the backlog)."""
        self._sync_point(strict=False)
        writer = self._writer
        self._metrics.set_gauge("pending", writer.pending if writer is not None else 0)
        return self._metrics

    @property
    def failed(self) -> BaseException | None:
        """The I/O error that put the backend in the fail-stop state, or None. O(1)."""
        return self._writer.failed if self._writer is not None else None

    def describe(self) -> dict[str, Any]:
        """Path, size, fsync policy, lock file, file mode and retention. One ``stat``, no lock."""
        info = super().describe()
        try:
            size: int | None = os.stat(self._path).st_size
        except OSError:
            size = None
        info.update(
            path=str(self._path),
            size=size,
            fsync=self._fsync,
            fsync_interval=self._fsync_interval,
            lock_file=str(self._path) + ".lock",
            file_mode=oct(self._file_mode),
        )
        return info

    # ------------------------------------------------------------------ writes

    def _ensure_writer(self) -> BackgroundWriter:
        writer = self._writer
        if writer is not None:
            return writer
        with self._start_lock:
            if self._closed:
                raise PersistenceClosedError(f"{self.backend_name} backend is closed")
            if self._writer is None:
                sink = self._make_sink()
                self._sink = sink
                self._writer = BackgroundWriter(
                    sink,
                    name=f"{self.backend_name}-{self._path.name}",
                    metrics=self._metrics,
                    fsync=self._fsync,
                    fsync_interval=self._fsync_interval,
                    max_pending=self._max_pending,
                    put_timeout=self._put_timeout,
                    interrupt=sink.lock.cancel,  # close(timeout) ends a wait for another process's lock
                    log_extra={"papyra_location": str(self._path)},
                )
                self._watch_writer(self._writer.close_soon, f"{self.backend_name} backend {self._path}")
            return self._writer

    def _make_sink(self) -> FileSink:
        """The writer's sink (a subclass may rotate files inside ``write_batch``)."""
        return FileSink(
            AppendFile(self._path, file_mode=self._file_mode, metrics=self._metrics),
            BatchLock(self._path, file_mode=self._file_mode),
        )

    def _record(self, record: PersistedRecord) -> None:
        data = encode_record(record)
        self._ensure_writer().submit(data)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every accepted record is written and, unless ``fsync="never"``, fsynced.

        Returns False on timeout; raises DurabilityError if the writer failed first. Cost: a wait
        on the writer (its batch write and fsync under the store lock); no I/O in this thread.
        """
        writer = self._writer
        if writer is None:
            check_timeout(timeout)  # the same argument errors with or without a writer
            return True
        return writer.flush(timeout, durable=True)

    def _sync_point(self, *, strict: bool = True) -> None:
        """Let reads see every record accepted so far (written, not necessarily fsynced).

        Waits for this process's writer for as long as it makes progress; only while the writer
        waits for **another process** holding the store lock is the wait bounded, by
        ``lock_timeout`` (``0``: fail at once). Then raises LockTimeout, or just returns when
        not ``strict``.
        """
        writer, sink = self._writer, self._sink
        if writer is None or sink is None:
            return
        target = writer.accepted()  # later records do not extend the wait
        while True:
            try:
                if writer.flush(_SYNC_SLICE, durable=False, target=target):
                    return
            except (DurabilityError, PersistenceClosedError):
                return  # fail-stop, or a forked child: what was written is all there is
            if not writer.thread_alive:
                return  # closed: records it gave up on were counted as dropped, never written
            since = sink.lock.contended_since
            if since is None or time.monotonic() - since < self._lock_timeout:
                continue
            if not strict:
                return
            self._metrics.incr("lock_timeouts")
            raise LockTimeout(
                f"records accepted by this process are not yet written: another process holds "
                f"the store lock {self._path}.lock (waited {self._lock_timeout:g} s)"
            )

    # ------------------------------------------------------------------ reads

    def _records_newest_first(
        self, stack: contextlib.ExitStack, skipped: SkipCount, *, since: float | None = None
    ) -> Iterator[tuple[PersistedRecord, int]]:
        """``(record, line_bytes)`` newest first, unreadable lines counted in ``skipped``; files
        opened go into ``stack`` (a subclass hook: the rotating backend walks its whole set).
        With ``since``, reading stops at the offset :func:`~papyra.persistence.seek.seek_since`
        finds (older records may still be yielded: callers filter exactly)."""
        f = open_read(self._path)
        if f is None:
            return iter(())
        stack.enter_context(f)
        size = os.fstat(f.fileno()).st_size
        start = 0 if since is None else seek_since(f, since, size=size)
        return iter_records_reversed(f, end=size, start=start, skipped=skipped)

    def stream_records(
        self,
        kinds: tuple[type[PersistedRecord], ...] | None = None,
        *,
        since: float | None = None,
        until: float | None = None,
    ) -> Iterator[PersistedRecord]:
        """Lazily yield the retained records of ``kinds`` (None: all) within ``since``/``until``
        (epoch seconds, inclusive), **newest first** — the streaming form of ``list_*``.

        Memory: O(1) (one read block and one record at a time); files stay open until the
        generator is exhausted or closed. Cost: reads backwards from the end, only as far as
        consumed; with ``since`` never further than the offset found by binary search
        (:mod:`papyra.persistence.seek`). Raises :class:`~papyra.exceptions.PersistenceError`
        on I/O errors; unreadable lines count in ``unreadable_lines_skipped``.
        """
        with self._newest_first(since) as records:
            yield from select_stream(records, kinds, policy=self._retention, since=since, until=until)

    def _list(
        self, kind: type[R], *, limit: int | None, since: float | None, until: float | None
    ) -> list[R]:
        with self._newest_first(since) as records:
            return select_newest(
                records, kind, policy=self._retention, limit=limit, since=since, until=until
            )

    @contextlib.contextmanager
    def _newest_first(self, since: float | None) -> Iterator[Iterator[tuple[PersistedRecord, int]]]:
        """The store's records newest first, for one read: waits for this process's writer
        first, closes the files at the end, maps ``OSError`` to ``PersistenceError`` and adds
        the unreadable lines it skipped to ``unreadable_lines_skipped``."""
        self._sync_point()
        skipped = SkipCount()
        try:
            with contextlib.ExitStack() as stack:
                yield self._records_newest_first(stack, skipped, since=since)
        except OSError as exc:
            raise PersistenceError(f"cannot read {self._path}: {exc}") from exc
        finally:
            if skipped.lines:
                self._metrics.incr("unreadable_lines_skipped", skipped.lines)

    # ------------------------------------------------------------------ health

    def _find_anomalies(self) -> list[PersistenceAnomaly]:
        """Every anomaly of the store (a subclass hook: the rotating backend scans its set)."""
        anomalies = list(scan_file(self._path).anomalies)
        anomalies.extend(sibling_anomalies(self._path))
        return anomalies

    def _scan_unlocked(self) -> PersistenceScanReport:
        self._metrics.incr("scans")
        try:
            anomalies = self._find_anomalies()
        except OSError as exc:
            self._metrics.incr("scan_errors")
            raise PersistenceError(f"cannot scan {self._path}: {exc}") from exc
        if anomalies:
            self._metrics.incr("anomalies_detected", len(anomalies))
        return PersistenceScanReport(backend=self.backend_name, anomalies=tuple(anomalies))

    def scan(self) -> PersistenceScanReport:
        """Read-only, streaming integrity check of the file and its sibling files.

        Cost: a sync point, one sequential read of the whole file (bounded memory) and one
        directory listing; no lock, no writes, no fsync.
        """
        self._sync_point()
        return self._scan_unlocked()

    def recover(
        self, config: PersistenceRecoveryConfig | None = None, *, dry_run: bool = False
    ) -> PersistenceRecoveryReport:
        """Scan, then (REPAIR/QUARANTINE) rewrite the file keeping every valid record, under the
        store lock. ``None`` means IGNORE (report only). A clean store is left untouched.

        Cost: IGNORE is a :meth:`scan`. REPAIR/QUARANTINE take the maintenance lock (filelock,
        up to ``lock_timeout``) for the whole operation and scan under it; a damaged store is
        rewritten by streaming (temp file, fsync, rename, directory fsync). O(file size).

        ``dry_run=True`` returns the report the real run would return now (same scan, same
        per-file passes counting instead of writing; no lock, nothing created, no quarantine
        directory prepared, no ``recoveries`` count; ``quarantined_files`` names the files it would
        create with ``<stamp>`` for the part chosen at creation).
        """
        if config is None:
            config = PersistenceRecoveryConfig()
        if not isinstance(config, PersistenceRecoveryConfig):
            raise TypeError(f"config must be a PersistenceRecoveryConfig, got {type(config)!r}")
        if not dry_run:
            self._metrics.incr("recoveries")
        self._sync_point()
        if dry_run or config.mode is PersistenceRecoveryMode.IGNORE:
            scan = self._scan_unlocked()
            if config.mode is PersistenceRecoveryMode.IGNORE or not scan.has_anomalies:
                return PersistenceRecoveryReport(backend=self.backend_name, scan=scan)
            planned_qdir = Path(config.quarantine_dir or self._path.parent)
            qdir_or_none = planned_qdir if config.mode is PersistenceRecoveryMode.QUARANTINE else None
            return self._repair(scan, qdir_or_none, dry_run=True)
        try:
            qdir = None
            if config.mode is PersistenceRecoveryMode.QUARANTINE:
                qdir = prepare_quarantine_dir(config.quarantine_dir, self._path)
            if not self._path.parent.exists():
                return PersistenceRecoveryReport(backend=self.backend_name, scan=self._scan_unlocked())
            with maintenance_lock(self._path, timeout=self._lock_timeout, file_mode=self._file_mode):
                scan = self._scan_unlocked()
                if not scan.has_anomalies:
                    return PersistenceRecoveryReport(backend=self.backend_name, scan=scan)
                return self._repair(scan, qdir)
        except PersistenceError:
            self._metrics.incr("recovery_errors")
            raise
        except OSError as exc:
            self._metrics.incr("recovery_errors")
            raise DurabilityError(exc.errno, f"recovery of {self._path} failed: {exc}") from exc

    def _repair(
        self, scan: PersistenceScanReport, qdir: Path | None, *, dry_run: bool = False
    ) -> PersistenceRecoveryReport:
        """Repair what ``scan`` found (``qdir`` None: REPAIR); the caller holds the store lock,
        except for a ``dry_run``, which only counts (``qdir`` is then never touched)."""
        repaired: list[str] = []
        quarantined: list[str] = []
        store = str(self._path)
        stray_type = PersistenceAnomalyType.UNEXPECTED_FILE
        result = RepairResult()
        if any(a.path == store and a.type is not stray_type for a in scan.anomalies):
            result = repair_file(self._path, file_mode=self._file_mode, quarantine_dir=qdir, dry_run=dry_run)
            repaired.append(store)
            if result.quarantine_path is not None:
                quarantined.append(str(result.quarantine_path))
        strays = {a.path for a in scan.anomalies if a.type is PersistenceAnomalyType.UNEXPECTED_FILE}
        for sibling in list_siblings(self._path):
            if str(sibling.path) in strays:
                moved = dispose_stray_file(sibling.path, quarantine_dir=qdir, dry_run=dry_run)
                repaired.append(str(sibling.path))
                if moved is not None:
                    quarantined.append(str(moved))
        return result.report(self.backend_name, scan, repaired, quarantined, quarantine=qdir is not None)

    def compact(self, *, dry_run: bool = False) -> CompactionReport:
        """Apply retention physically (streaming; see :mod:`papyra.persistence.compaction`).

        Unreadable lines are moved to ``<name>.quarantine.<stamp>`` beside the store and counted.
        Cost: the maintenance lock (up to ``lock_timeout``) for the whole operation, one
        streaming read and write (temp file, fsync, rename, directory fsync); O(file size) time,
        memory independent of it.

        ``dry_run=True`` reports what a compaction of the store as it is now would do — the same
        passes (:func:`~papyra.persistence.compaction.plan_compaction`), nothing written, no lock,
        no ``compactions`` count; ``quarantine_path`` names the file it would create with
        ``<stamp>`` for the part chosen at creation (as :meth:`recover`'s dry run does).
        """
        self._sync_point()
        if dry_run:
            plan = plan_compaction(self._compaction_members(), self._retention, store=self._path)
            return self._compaction_report(plan)
        self._metrics.incr("compactions")
        if not self._path.parent.exists():
            return CompactionReport(backend=self.backend_name, before_records=0, after_records=0,
                                    before_bytes=0, after_bytes=0)
        try:
            with maintenance_lock(self._path, timeout=self._lock_timeout, file_mode=self._file_mode):
                result = self._compact_locked()
        except PersistenceError:
            self._metrics.incr("compaction_errors")
            raise
        except OSError as exc:
            self._metrics.incr("compaction_errors")
            raise DurabilityError(exc.errno, f"compaction of {self._path} failed: {exc}") from exc
        return self._compaction_report(result)

    def _compaction_report(self, result: CompactionResult) -> CompactionReport:
        return CompactionReport(
            backend=self.backend_name,
            before_records=result.before_records,
            after_records=result.after_records,
            before_bytes=result.before_bytes,
            after_bytes=result.after_bytes,
            quarantined_records=result.quarantined_records,
            quarantine_path=None if result.quarantine_path is None else str(result.quarantine_path),
            relative_timestamp_records=result.relative_timestamp_records,
        )

    def _compact_locked(self) -> CompactionResult:
        """The compaction itself; the caller holds the store lock (a subclass compacts a set)."""
        return compact_file(self._path, self._retention, file_mode=self._file_mode)

    def _compaction_members(self) -> list[Path]:
        """The files a compaction reads, oldest first (a subclass lists its set)."""
        return [self._path]

    # ------------------------------------------------------------------ close

    def _close(self, timeout: float | None) -> bool:
        """Write what is queued (fsynced per policy) within ``timeout``, stop and join the writer
        thread, release the files (see :meth:`PersistenceBackend.close`).

        Cost: the remaining batches (write + fsync per policy, under the store lock) and a
        thread join. When ``timeout`` runs out first — e.g. another process holds the store
        lock — the writer's wait for the lock is cancelled, and what it did not write is counted
        in ``records_dropped`` and logged once (see :meth:`BackgroundWriter.close
        <papyra.persistence.writer.BackgroundWriter.close>`).
        """
        with self._start_lock:
            writer = self._writer
        if writer is None:
            return True
        return writer.close(timeout)  # the writer thread closes the files and lock as it exits
