"""A third-party persistence backend on the standard library's ``sqlite3`` — a worked example.

It shows everything a backend author needs, and it passes Papyra's public conformance kit
(``papyra.testing``; see README "Writing a backend"):

* subclass :class:`~papyra.persistence.base.PersistenceBackend`, set ``backend_name`` and implement
  ``_record``, ``_list``, ``scan``, ``recover`` and ``compact`` (``flush``/``close`` when needed);
* encode with Papyra's record grammar (:func:`~papyra.persistence.grammar.encode_record`), so the
  stored bytes are exactly the NDJSON line a file store would hold and every backend returns the
  same plain JSON values; decode with :func:`~papyra.persistence.grammar.decode_record`;
* retention is applied to reads and made physical by ``compact()`` — here both as SQL.

Layout: one table ``records(id INTEGER PRIMARY KEY, kind, timestamp, actor, line)`` in WAL mode
with ``synchronous=FULL``, indexes on ``(kind, timestamp)`` and ``actor``. Every ``record_*`` is
its own committed transaction, so when it returns the record is durable (``flush()`` has nothing
to wait for and returns True). One connection is shared by all threads behind one lock
(``sqlite3`` connections are not safe to use from two threads at once).

Use it from an application::

    from sqlite_backend import SqlitePersistence   # with examples/ on sys.path
    with ActorSystem(persistence=SqlitePersistence("var/papyra.sqlite3")) as system: ...

and from the CLI through a settings module (``PAPYRA_DB`` names the database file)::

    PYTHONPATH=examples PAPYRA_DB=var/papyra.sqlite3 PAPYRA_SETTINGS_MODULE=sqlite_backend.Settings \\
        python -m papyra inspect summary

Run as a script it records a few events and prints them back.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from papyra.exceptions import BackendUnavailable, DurabilityError
from papyra.persistence.base import PersistenceBackend, R
from papyra.persistence.grammar import LineError, decode_record, encode_record, record_kind
from papyra.persistence.models import (
    CompactionReport,
    PersistedEvent,
    PersistedRecord,
    PersistenceAnomaly,
    PersistenceAnomalyType,
    PersistenceRecoveryConfig,
    PersistenceRecoveryMode,
    PersistenceRecoveryReport,
    PersistenceScanReport,
)
from papyra.persistence.retention import RetentionPolicy

__all__ = ["Settings", "SqlitePersistence"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    timestamp REAL NOT NULL,
    actor TEXT,
    line BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS records_kind_ts ON records (kind, timestamp);
CREATE INDEX IF NOT EXISTS records_actor ON records (actor);
"""

def _retained_ids_sql(policy: RetentionPolicy) -> str:
    """``SELECT id`` of the retained rows: the newest rows young enough, within the count and
    byte budgets — the newest-first rule of :class:`~papyra.persistence.retention.RetentionWindow`
    as one window-function query (parameters ``:cutoff``, ``:max_records``, ``:max_bytes``)."""
    young = "" if policy.max_age_seconds is None else " WHERE timestamp >= :cutoff"
    budgets = ["1"]
    if policy.max_records is not None:
        budgets.append("n <= :max_records")
    if policy.max_total_bytes is not None:
        budgets.append("total <= :max_bytes")
    return (
        "SELECT id FROM (SELECT id, ROW_NUMBER() OVER newest AS n, SUM(LENGTH(line)) OVER newest AS total"
        f" FROM records{young} WINDOW newest AS (ORDER BY id DESC ROWS UNBOUNDED PRECEDING))"
        f" WHERE {' AND '.join(budgets)}"
    )


def _actor_of(record: PersistedRecord) -> str | None:
    return getattr(record, "actor_address", None) or getattr(record, "target", None)


class SqlitePersistence(PersistenceBackend):
    """Papyra records in one SQLite database file.

    Costs (n = rows; one process-wide lock around the connection):

    * ``record_*``: one encode + one ``INSERT`` committed with ``synchronous=FULL`` (an fsync of
      the WAL per record — durable on return; batch with a writer thread if you need more).
    * ``list_*``: one indexed ``SELECT``; with a retention policy, one window-function pass over
      the young rows (O(n log n) worst case). ``limit`` is ``ORDER BY id DESC LIMIT``.
    * ``scan()``: ``PRAGMA integrity_check`` plus one decode per row (O(n), read-only).
    * ``recover()``: ``scan()`` then (REPAIR/QUARANTINE) one ``DELETE`` of undecodable rows;
      QUARANTINE first copies them to table ``quarantine``.
    * ``compact()``: one ``DELETE`` outside retention, then ``VACUUM`` (rewrites the file).
    * ``flush()``: O(1), nothing is pending. ``close()``: closes the connection.

    Raises :class:`~papyra.exceptions.BackendUnavailable` when the database cannot be opened and
    :class:`~papyra.exceptions.DurabilityError` when a write fails (disk full, read-only file).
    """

    backend_name = "sqlite"

    def __init__(self, path: str | os.PathLike[str], *, retention_policy: RetentionPolicy | None = None):
        super().__init__(retention_policy=retention_policy)
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise BackendUnavailable(f"cannot open SQLite store {self.path}: {exc}") from exc

    # ------------------------------------------------------------------ writes

    def _record(self, record: PersistedRecord) -> None:
        line = encode_record(record)  # EncodingError for what the grammar refuses
        row = (record_kind(record), float(record.timestamp), _actor_of(record), line)
        try:
            with self._lock:
                self._db.execute(
                    "INSERT INTO records (kind, timestamp, actor, line) VALUES (?, ?, ?, ?)", row
                )
        except sqlite3.Error as exc:
            self._metrics.incr("write_errors")
            raise DurabilityError(f"cannot write to SQLite store {self.path}: {exc}") from exc
        self._metrics.add_many(records_written=1, bytes_written=len(line), fsyncs=1)

    # ------------------------------------------------------------------ reads

    @contextlib.contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """The shared connection under the lock; after ``close()`` a read-only connection of
        its own (reads keep working on a closed backend, as the contract allows)."""
        with self._lock:
            if not self.closed:
                yield self._db
                return
        db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            yield db
        finally:
            db.close()

    def _retention_params(self) -> dict[str, Any]:
        policy = self._retention
        age = policy.max_age_seconds
        return {
            "cutoff": None if age is None else time.time() - age,
            "max_records": policy.max_records,
            "max_bytes": policy.max_total_bytes,
        }

    def _list(
        self, kind: type[R], *, limit: int | None, since: float | None, until: float | None
    ) -> list[R]:
        params = self._retention_params()
        params.update(kind=kind.__struct_config__.tag, since=since, until=until, limit=limit or -1)
        where = "" if self._retention.is_unbounded else f" AND id IN ({_retained_ids_sql(self._retention)})"
        sql = (
            "SELECT line FROM records WHERE kind = :kind"
            " AND (:since IS NULL OR timestamp >= :since) AND (:until IS NULL OR timestamp <= :until)"
            f"{where} ORDER BY id DESC LIMIT :limit"
        )
        with self._reading() as db:
            rows = db.execute(sql, params).fetchall()
        records: list[R] = []
        for (line,) in reversed(rows):
            try:
                record = decode_record(line[:-1])
            except LineError:
                continue  # reported by scan(); a read never stops on one bad row
            if isinstance(record, kind):
                records.append(record)
        return records

    # ------------------------------------------------------------------ health

    def _find_anomalies(self) -> tuple[list[PersistenceAnomaly], list[int]]:
        anomalies: list[PersistenceAnomaly] = []
        bad_ids: list[int] = []
        with self._reading() as db:
            check = [row[0] for row in db.execute("PRAGMA integrity_check")]
            rows = db.execute("SELECT id, kind, line FROM records ORDER BY id").fetchall()
        if check != ["ok"]:
            anomalies.append(
                PersistenceAnomaly(
                    type=PersistenceAnomalyType.CORRUPTED_LINE, path=str(self.path), detail="; ".join(check)
                )
            )
        for row_id, kind, line in rows:
            try:
                record = decode_record(bytes(line).rstrip(b"\n"))
                problem = None if record_kind(record) == kind else f"kind column {kind!r} disagrees"
            except LineError as exc:
                problem = str(exc)
            if problem is not None:
                bad_ids.append(row_id)
                anomalies.append(
                    PersistenceAnomaly(
                        type=PersistenceAnomalyType.CORRUPTED_LINE,
                        path=str(self.path),
                        detail=f"row {row_id}: {problem}",
                        line=row_id,
                    )
                )
        self._metrics.incr("scans")
        self._metrics.incr("anomalies_detected", len(anomalies))
        return anomalies, bad_ids

    def scan(self) -> PersistenceScanReport:
        """Read-only integrity check: ``PRAGMA integrity_check`` and a decode of every row."""
        anomalies, _ = self._find_anomalies()
        return PersistenceScanReport(backend=self.backend_name, anomalies=tuple(anomalies))

    def recover(
        self, config: PersistenceRecoveryConfig | None = None, *, dry_run: bool = False
    ) -> PersistenceRecoveryReport:
        """Delete undecodable rows (REPAIR), after copying them to table ``quarantine``
        (QUARANTINE). Rows that decode are never touched. A second call is a no-op. With
        ``dry_run`` the same statements run in a transaction that is rolled back: the report is
        the real run's, the store is unchanged."""
        mode = (config or PersistenceRecoveryConfig()).mode
        anomalies, bad_ids = self._find_anomalies()
        if not dry_run:
            self._metrics.incr("recoveries")
        scan = PersistenceScanReport(backend=self.backend_name, anomalies=tuple(anomalies))
        if mode is PersistenceRecoveryMode.IGNORE or not bad_ids:
            return PersistenceRecoveryReport(backend=self.backend_name, scan=scan)
        marks = ",".join("?" * len(bad_ids))
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            if mode is PersistenceRecoveryMode.QUARANTINE:
                self._db.execute("CREATE TABLE IF NOT EXISTS quarantine AS SELECT * FROM records WHERE 0")
                copy = f"INSERT INTO quarantine SELECT * FROM records WHERE id IN ({marks})"
                self._db.execute(copy, bad_ids)
            self._db.execute(f"DELETE FROM records WHERE id IN ({marks})", bad_ids)
            self._db.execute("ROLLBACK" if dry_run else "COMMIT")
        done = (str(self.path),)
        if mode is PersistenceRecoveryMode.QUARANTINE:
            return PersistenceRecoveryReport(
                backend=self.backend_name, scan=scan, repaired_files=done, quarantined_files=done
            )
        return PersistenceRecoveryReport(backend=self.backend_name, scan=scan, repaired_files=done)

    def _totals(self, db: sqlite3.Connection) -> tuple[int, int]:
        count, size = db.execute("SELECT COUNT(*), COALESCE(SUM(LENGTH(line)), 0) FROM records").fetchone()
        return int(count), int(size)

    def compact(self, *, dry_run: bool = False) -> CompactionReport:
        """Make retention physical: one ``DELETE`` of the rows outside it, then ``VACUUM``. With
        ``dry_run`` the ``DELETE`` runs in a transaction that is rolled back (no ``VACUUM``): the
        report is the real run's, the store is unchanged."""
        if not dry_run:
            self._metrics.incr("compactions")
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            before, before_bytes = self._totals(self._db)
            if not self._retention.is_unbounded:
                retained = _retained_ids_sql(self._retention)
                delete = f"DELETE FROM records WHERE id NOT IN ({retained})"
                self._db.execute(delete, self._retention_params())
            after, after_bytes = self._totals(self._db)
            self._db.execute("ROLLBACK" if dry_run else "COMMIT")
            if not dry_run and after < before:
                self._db.execute("VACUUM")
        return CompactionReport(
            backend=self.backend_name,
            before_records=before,
            after_records=after,
            before_bytes=before_bytes,
            after_bytes=after_bytes,
        )

    def describe(self) -> dict[str, Any]:
        """Backend, retention, database path and row count (one ``COUNT(*)``)."""
        info = super().describe()
        with self._reading() as db:
            info.update(path=str(self.path), records=self._totals(db)[0])
        return info

    def _close(self, timeout: float | None) -> bool:
        """Nothing is pending (every record_* committed): close the connection; True."""
        with self._lock:
            self._db.close()
        return True


class Settings:
    """A settings class for ``PAPYRA_SETTINGS_MODULE=sqlite_backend.Settings``: the store
    is the file named by ``PAPYRA_DB`` (default ``papyra.sqlite3`` in the working directory)."""

    def __init__(self) -> None:
        self.persistence = SqlitePersistence(os.environ.get("PAPYRA_DB", "papyra.sqlite3"))


def main(argv: list[str]) -> int:
    path = argv[1] if len(argv) > 1 else "papyra-demo.sqlite3"
    with SqlitePersistence(path) as store:
        for n in range(3):
            store.record_event(
                PersistedEvent(actor_address=f"demo:{n}", event_type="ActorStarted", timestamp=time.time())
            )
        for event in store.list_events(limit=3):
            print(event.actor_address, event.event_type)
        print("scan clean:", not store.scan().has_anomalies)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
