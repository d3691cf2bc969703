"""Move a store to another backend: :func:`copy_store` copies every record of one backend into
another (any two: memory, JSON file, rotating set, Redis — single, Sentinel or Cluster —,
including files written by the earlier release) and proves the copy with counts and a digest.

Reading the source, oldest first, streams in constant memory where the backend allows it:

* JSON file / rotating set: each file of the store in order (oldest rotated file first), line by
  line, in its original order across kinds. Unreadable lines are skipped (``scan()`` reports
  them); retention is not applied — everything stored is copied.
* Redis: each stream in ``XRANGE`` pages of ``page_size``, the three kinds merged by timestamp
  (each kind keeps its own order).
* any backend with an ``iter_records()`` method (oldest first, every kind) — the hook for other
  backends; otherwise ``list_events()``/``list_audits()``/``list_dead_letters()`` (memory: O(n)).

Copy a store no process is writing to: records appended (or rotated away) during the copy may be
missed, and the verification then fails.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from papyra.exceptions import BackendUnavailable, PersistenceError
from papyra.persistence.grammar import LineError, decode_record, encode_record_body, record_kind
from papyra.persistence.models import PersistedRecord

__all__ = ["CopyReport", "CopyVerificationError", "TargetNotEmptyError", "copy_store", "iter_store"]

_KINDS = ("event", "audit", "dead_letter")


class TargetNotEmptyError(PersistenceError, FileExistsError):
    """The target store already holds records and ``append`` was not given."""


class CopyVerificationError(PersistenceError, ValueError):
    """After the copy, the target's records (count or digest of some kind) differ from the
    source's. ``report`` holds what was compared."""

    def __init__(self, message: str, report: CopyReport) -> None:
        super().__init__(message)
        self.report = report


@dataclass
class CopyReport:
    """What :func:`copy_store` did.

    * ``counts`` — records copied per kind (``"event"``, ``"audit"``, ``"dead_letter"``);
    * ``digests`` — per kind, SHA-256 (hex) over the canonical encoding of each copied record,
      in order; ``digest`` — SHA-256 over the three;
    * ``target_before`` — records per kind the target held before (non-zero only with
      ``append=True``);
    * ``verified`` — the target was read back and matched (always False for a dry run).
    """

    source: str
    target: str
    dry_run: bool = False
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_KINDS, 0))
    digests: dict[str, str] = field(default_factory=dict)
    target_before: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_KINDS, 0))
    verified: bool = False

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def digest(self) -> str:
        combined = hashlib.sha256()
        for kind in _KINDS:
            combined.update(f"{kind}:{self.digests.get(kind, '')}\n".encode())
        return combined.hexdigest()

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "target": self.target,
            "dry_run": self.dry_run,
            "counts": dict(self.counts),
            "total": self.total,
            "digests": dict(self.digests),
            "digest": self.digest,
            "target_before": dict(self.target_before),
            "verified": self.verified,
        }


class _Digest:
    """Per-kind count and running SHA-256 of records' canonical encodings."""

    def __init__(self, skip: dict[str, int] | None = None) -> None:
        self.counts = dict.fromkeys(_KINDS, 0)
        self._skip = dict(skip or {})
        self._hashes = {kind: hashlib.sha256() for kind in _KINDS}

    def add(self, record: PersistedRecord) -> bytes | None:
        """Account ``record``; returns its encoding, or None when it is one of the first
        ``skip[kind]`` records of its kind (already in the target before an append)."""
        kind = record_kind(record)
        if self._skip.get(kind, 0) > 0:
            self._skip[kind] -= 1
            return None
        body = encode_record_body(record)
        self.counts[kind] += 1
        self._hashes[kind].update(body + b"\n")
        return body

    def digests(self) -> dict[str, str]:
        return {kind: h.hexdigest() for kind, h in self._hashes.items()}


def _describe(backend: Any) -> str:
    try:
        info = backend.describe()
    except Exception:
        return type(backend).__name__
    where = info.get("url") or info.get("path") or ""
    base = f" {info['prefix']}:{info['system_id']}" if "prefix" in info and "system_id" in info else ""
    return f"{info.get('backend', type(backend).__name__)} {where}{base}".strip()


def _iter_files(paths: Iterable[Any]) -> Iterator[PersistedRecord]:
    from papyra.persistence.filestore import open_read
    from papyra.persistence.reading import iter_records

    for path in paths:
        f = open_read(path)
        if f is None:
            continue
        with f:
            for record, _size in iter_records(f):
                yield record


def _iter_redis(backend: Any) -> Iterator[PersistedRecord]:
    def stream(kind: str) -> Iterator[PersistedRecord]:
        for _entry_id, fields in backend._iter_oldest(backend.stream_key(kind)):
            data = fields.get(b"data")
            if data is None:
                continue
            try:
                yield decode_record(data)
            except LineError:
                continue

    return heapq.merge(*(stream(kind) for kind in _KINDS), key=lambda r: r.timestamp)


def iter_store(backend: Any) -> Iterator[PersistedRecord]:
    """Every record of ``backend`` (all kinds), oldest first, streamed where the backend allows
    (see module docs). Flushes the backend first so this process's accepted records are seen."""
    hook = getattr(backend, "iter_records", None)
    if callable(hook):
        return iter(hook())
    backend.flush()
    from papyra.persistence.backends.rotating import RotatingFilePersistence
    from papyra.persistence.json import JsonFilePersistence

    if isinstance(backend, RotatingFilePersistence):
        return _iter_files(backend.files)
    if isinstance(backend, JsonFilePersistence):
        return _iter_files([backend.path])
    if getattr(backend, "backend_name", None) == "redis" and hasattr(backend, "_iter_oldest"):
        return _iter_redis(backend)
    return heapq.merge(
        backend.list_events(), backend.list_audits(), backend.list_dead_letters(), key=lambda r: r.timestamp
    )


def _count(backend: Any) -> dict[str, int]:
    digest = _Digest()
    for record in iter_store(backend):
        digest.counts[record_kind(record)] += 1
    return digest.counts


_RECORDERS = {"event": "record_event", "audit": "record_audit", "dead_letter": "record_dead_letter"}


def copy_store(
    source: Any,
    target: Any,
    *,
    append: bool = False,
    dry_run: bool = False,
    chunk_size: int = 5000,
    flush_timeout: float = 60.0,
    progress: Callable[[int], None] | None = None,
) -> CopyReport:
    """Copy every record of ``source`` into ``target`` (both open backends; neither is closed),
    oldest first, timestamps and every field kept, then read the target back and compare counts
    and per-kind digests.

    * ``append`` — allow a target that already holds records (the copy goes after them; only
      the copied records are verified); without it a non-empty target raises
      :class:`TargetNotEmptyError` before anything is written.
    * ``dry_run`` — read and digest the source (and check the target) exactly as a real run,
      but write nothing; ``report.verified`` stays False.
    * ``chunk_size`` — the target is flushed after this many records, so memory stays bounded
      (and a Redis target's buffer never overflows); ``flush_timeout`` bounds each flush.
    * ``progress`` — called with the number of records read so far, after each chunk.

    Returns a :class:`CopyReport`. Raises :class:`TargetNotEmptyError`,
    :class:`CopyVerificationError`, :class:`~papyra.exceptions.BackendUnavailable` when a
    flush of the target does not complete in time, and whatever the backends raise.

    Cost: one streaming pass over the source, one over the target before (to count it) and one
    after (to verify); memory O(chunk_size) for streaming backends; one target flush per chunk.
    """
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size <= 0:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    if source is target:
        raise ValueError("source and target are the same backend")
    report = CopyReport(source=_describe(source), target=_describe(target), dry_run=dry_run)
    report.target_before = _count(target)
    if any(report.target_before.values()) and not append:
        held = ", ".join(f"{n} {kind}s" for kind, n in report.target_before.items() if n)
        raise TargetNotEmptyError(f"target {report.target} already holds records ({held}); pass append=True")
    copied = _Digest()
    seen = 0
    for record in iter_store(source):
        copied.add(record)
        seen += 1
        if not dry_run:
            getattr(target, _RECORDERS[record_kind(record)])(record)
        if seen % chunk_size == 0:
            _flush(target, flush_timeout, dry_run)
            if progress is not None:
                progress(seen)
    _flush(target, flush_timeout, dry_run)
    if progress is not None:
        progress(seen)
    report.counts, report.digests = copied.counts, copied.digests()
    if dry_run:
        return report
    back = _Digest(skip=report.target_before)
    for record in iter_store(target):
        back.add(record)
    found = back.digests()
    differ = [k for k in _KINDS if back.counts[k] != report.counts[k] or found[k] != report.digests[k]]
    if differ:
        raise CopyVerificationError(
            f"the target does not match the source after the copy ({', '.join(differ)}: "
            f"copied {[report.counts[k] for k in differ]}, read back {[back.counts[k] for k in differ]})",
            report,
        )
    report.verified = True
    return report


def _flush(target: Any, timeout: float, dry_run: bool) -> None:
    if not dry_run and not target.flush(timeout):
        raise BackendUnavailable(f"the target did not confirm the copied records within {timeout:g}s")
