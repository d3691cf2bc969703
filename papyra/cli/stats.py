"""Figures derived from the store itself (a CLI process does not share counters with the app).

For file stores the files are read directly, streaming, line by line (memory stays bounded):
records and encoded bytes per kind, undecodable lines and the time range — the *physical*
content, before retention. For other stores (Redis, settings objects) the figures come from the
backend's ``list_*`` (the *retained* view) with each record's encoded size.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "KIND_KEYS",
    "KindFigures",
    "StoreFigures",
    "figures_from_backend",
    "figures_from_files",
]

#: Record kind discriminator -> plural key used in output.
KIND_KEYS: dict[str, str] = {"event": "events", "audit": "audits", "dead_letter": "dead_letters"}


@dataclass
class KindFigures:
    records: int = 0
    bytes: int = 0


@dataclass
class StoreFigures:
    """Records and bytes per kind, time range, files. ``basis`` is ``files`` or ``records``."""

    basis: str
    kinds: dict[str, KindFigures] = field(
        default_factory=lambda: {k: KindFigures() for k in KIND_KEYS.values()}
    )
    first_timestamp: float | None = None
    last_timestamp: float | None = None
    files: list[tuple[str, int]] = field(default_factory=list)
    unreadable_lines: int = 0

    @property
    def total_records(self) -> int:
        return sum(k.records for k in self.kinds.values())

    @property
    def total_bytes(self) -> int:
        if self.files:
            return sum(size for _, size in self.files)
        return sum(k.bytes for k in self.kinds.values())

    def _add(self, kind: str, nbytes: int, ts: float) -> None:
        fig = self.kinds[KIND_KEYS[kind]]
        fig.records += 1
        fig.bytes += nbytes
        if self.first_timestamp is None or ts < self.first_timestamp:
            self.first_timestamp = ts
        if self.last_timestamp is None or ts > self.last_timestamp:
            self.last_timestamp = ts

    def to_dict(self) -> dict[str, Any]:
        return {
            "basis": self.basis,
            "total_records": self.total_records,
            "total_bytes": self.total_bytes,
            "kinds": {name: {"records": f.records, "bytes": f.bytes} for name, f in self.kinds.items()},
            "first_timestamp": self.first_timestamp,
            "last_timestamp": self.last_timestamp,
            "files": [{"path": p, "bytes": s} for p, s in self.files],
            "unreadable_lines": self.unreadable_lines,
        }


def _iter_file_records(paths: list[Path], figures: StoreFigures) -> Any:
    """Yield ``(kind, nbytes, timestamp)`` of every readable line; count the rest in ``figures``."""
    from papyra.persistence.filestore import open_read
    from papyra.persistence.grammar import LineError, iter_lines, parse_line, record_kind

    for path in paths:
        try:
            f = open_read(path)  # never follows a symlink nor blocks on a FIFO (UnsafeFileError)
            if f is None:
                continue
            with f:
                size = os.fstat(f.fileno()).st_size
                for _n, _o, data, complete, oversized in iter_lines(f, end=size):
                    try:
                        if oversized or not complete:
                            raise LineError("torn or too long")
                        record = parse_line(data)
                    except LineError:
                        figures.unreadable_lines += 1
                        continue
                    if record is not None:  # None: a blank line
                        yield record_kind(record), len(data) + 1, record.timestamp
        except FileNotFoundError:
            continue  # rotated or replaced while we looked
        figures.files.append((str(path), size))


def figures_from_files(paths: list[Path]) -> StoreFigures:
    """Stream ``paths`` (oldest first) and count. Cost: one sequential read of every file."""
    figures = StoreFigures(basis="files")
    for kind, nbytes, ts in _iter_file_records(paths, figures):
        figures._add(kind, nbytes, ts)
    return figures


_KIND_INDEX = {"event": 0, "audit": 1, "dead_letter": 2}
_INDEX_KIND = {v: k for k, v in _KIND_INDEX.items()}


def figures_from_backend(backend: Any) -> StoreFigures:
    """Count the retained records through the backend contract. Cost: three full reads, in
    constant memory when the backend streams (``stream_records``), else through ``list_*``."""
    from papyra.persistence.grammar import encode_record, record_kind

    figures = StoreFigures(basis="records")
    stream = getattr(backend, "stream_records", None)
    if callable(stream):
        records: Iterable[Any] = stream()
    else:
        records = itertools.chain(backend.list_events(), backend.list_audits(), backend.list_dead_letters())
    for record in records:
        try:
            size = len(encode_record(record))
        except (TypeError, ValueError):
            size = 0
        figures._add(record_kind(record), size, float(record.timestamp))
    return figures
