"""Health of NDJSON store files: scan (read-only), repair and quarantine of one file, and the
classification of a store's sibling files. Shared by the single-file and rotating backends.

Scan rules for one file (streaming, bounded memory, binary and per line):

* a final line without ``\\n`` → ``TRUNCATED_LINE``; if that fragment holds NUL bytes, or the file
  ends in lines of NUL bytes (pre-allocated blocks after a power loss) → ``PARTIAL_WRITE``;
* a complete line that is not a record → ``CORRUPTED_LINE`` with the reason (invalid UTF-8, NUL
  bytes, bad JSON, blank, not an object, unknown or missing kind, missing/invalid field, too long);
* every anomaly carries the file path, the 1-based line number and the byte offset.

Repair (:func:`repair_file`) rewrites a file keeping every valid record verbatim, in order
(a complete final record that only lacks its newline is kept and terminated), through a temp file
in the same directory that is fsynced and renamed over the original, then the directory is
fsynced. Quarantine also keeps the original bytes (hard link or copy) under a quarantine name.
Callers hold the store lock.
"""

from __future__ import annotations

import contextlib
import enum
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from papyra.persistence.codec import MAX_LINE_BYTES, LineError, RawLine, decode_record, iter_lines
from papyra.persistence.filestore import create_exclusive, open_read, replace_durably, temp_path_for
from papyra.persistence.models import PersistenceAnomaly, PersistenceAnomalyType
from papyra.persistence.quarantine import quarantine_copy

__all__ = [
    "FileScan",
    "RepairResult",
    "Sibling",
    "SiblingKind",
    "classify_suffix",
    "dispose_stray_file",
    "list_siblings",
    "repair_file",
    "scan_file",
    "sibling_anomalies",
]

#: At most this many anomalies are listed per file; the rest are summarised in one entry.
MAX_ANOMALIES_PER_FILE = 10_000

# "<purpose>.<pid>.<hex>.tmp", optionally after a rotated member index ("1.recover.<pid>.<hex>.tmp")
_TEMP_RE = re.compile(r"^(?:\d+\.)?(?:[a-z]+)\.(\d+)\.[0-9a-f]+\.tmp$")


@dataclass
class FileScan:
    """What a scan of one file found."""

    path: str
    anomalies: list[PersistenceAnomaly] = field(default_factory=list)
    records: int = 0
    size: int = 0
    lines: int = 0


def _anomaly(
    kind: PersistenceAnomalyType, path: str, detail: str, line: int, offset: int
) -> PersistenceAnomaly:
    return PersistenceAnomaly(type=kind, path=path, detail=detail, line=line, offset=offset)


def scan_file(path: str | os.PathLike[str], *, display_path: str | None = None) -> FileScan:
    """Scan one NDJSON file without modifying it (not even its atime beyond the OS default).

    Raises ``OSError`` when the file cannot be read (callers map it); a missing file is clean.
    Cost: one sequential read and one msgspec decode per line; memory bounded.
    """
    shown = display_path if display_path is not None else os.fspath(path)
    result = FileScan(path=shown)
    f = open_read(path)
    if f is None:
        return result
    out = result.anomalies
    listed = 0
    extra = 0
    nul_run: tuple[int, int, int] | None = None  # (first line, offset, count) of NUL-only lines

    def add(a: PersistenceAnomaly) -> None:
        nonlocal listed, extra
        if listed < MAX_ANOMALIES_PER_FILE:
            out.append(a)
            listed += 1
        else:
            extra += 1

    def flush_nul_run_as_corruption() -> None:
        nonlocal nul_run
        if nul_run is not None:
            line, off, count = nul_run
            add(_anomaly(PersistenceAnomalyType.CORRUPTED_LINE, shown,
                         f"NUL bytes in line ({count} line(s))", line, off))
            nul_run = None

    with f:
        for item in split_lines(f):
            data = item[2]
            if item[3] and not item[4]:
                try:  # fast path: a valid record
                    decode_record(data)
                except LineError:
                    pass
                else:
                    if nul_run is not None:
                        flush_nul_run_as_corruption()
                    result.records += 1
                    continue
            raw = RawLine(*item)
            result.lines = raw.number
            if not raw.complete:
                has_nul = b"\x00" in data
                if nul_run is not None and has_nul:
                    line, off, _ = nul_run
                    nul_run = None
                    add(_anomaly(PersistenceAnomalyType.PARTIAL_WRITE, shown,
                                 "partial write: NUL bytes at the end of the file", line, off))
                elif has_nul:
                    flush_nul_run_as_corruption()
                    add(_anomaly(PersistenceAnomalyType.PARTIAL_WRITE, shown,
                                 "partial write: final line holds NUL bytes and no newline",
                                 raw.number, raw.offset))
                else:
                    flush_nul_run_as_corruption()
                    add(_anomaly(PersistenceAnomalyType.TRUNCATED_LINE, shown,
                                 f"line {raw.number} missing newline (torn tail)", raw.number, raw.offset))
                continue
            if data and not data.strip(b"\x00"):
                if nul_run is None:
                    nul_run = (raw.number, raw.offset, 1)
                else:
                    nul_run = (nul_run[0], nul_run[1], nul_run[2] + 1)
                continue
            flush_nul_run_as_corruption()
            if raw.oversized:
                add(_anomaly(PersistenceAnomalyType.CORRUPTED_LINE, shown,
                             "line too long", raw.number, raw.offset))
                continue
            try:
                decode_record(data)
            except LineError as exc:
                add(_anomaly(PersistenceAnomalyType.CORRUPTED_LINE, shown, exc.reason,
                             raw.number, raw.offset))
                continue
            result.records += 1  # pragma: no cover - the fast path accepted it already
        result.size = f.tell()
    if nul_run is not None:
        line, off, count = nul_run
        add(_anomaly(PersistenceAnomalyType.PARTIAL_WRITE, shown,
                     f"partial write: {count} line(s) of NUL bytes at the end of the file", line, off))
    if extra:
        out.append(_anomaly(PersistenceAnomalyType.CORRUPTED_LINE, shown,
                            f"{extra} further anomalies not listed", result.lines, result.size))
    return result


LineTuple = tuple[int, int, bytes, bool, bool]


def split_lines(
    f: BinaryIO, *, max_line: int = MAX_LINE_BYTES, chunk: int = 1024 * 1024
) -> Iterator[LineTuple]:
    """Like :func:`~papyra.persistence.codec.iter_lines` (bounded memory; plain tuples
    ``(number, offset, data, complete, oversized)`` instead of ``RawLine``) but splits whole
    1 MiB blocks in C (``bytes.split``): about twice as fast per line."""
    number = 0
    offset = 0  # offset of ``pending``
    pending = b""
    skipping = False  # inside a line longer than max_line
    skip_offset = 0
    while True:
        block = f.read(chunk)
        if not block:
            break
        if skipping:
            nl = block.find(b"\n")
            if nl < 0:
                offset += len(block)
                continue
            number += 1
            yield (number, skip_offset, b"", True, True)
            skipping = False
            offset += nl + 1
            block = block[nl + 1 :]
        data = pending + block if pending else block
        cut = data.rfind(b"\n")
        if cut < 0:
            pending = data
        else:
            pending = data[cut + 1 :]
            for line in data[:cut].split(b"\n"):
                number += 1
                if len(line) > max_line:
                    yield (number, offset, b"", True, True)
                else:
                    yield (number, offset, line, True, False)
                offset += len(line) + 1
        if len(pending) > max_line:
            skipping = True
            skip_offset = offset
            offset += len(pending)
            pending = b""
    if skipping:
        yield (number + 1, skip_offset, b"", False, True)
    elif pending:
        yield (number + 1, offset, pending, False, False)


# --------------------------------------------------------------------------- sibling files


class SiblingKind(enum.Enum):
    LOCK = "lock"  # <name>.lock — the store lock, expected
    QUARANTINE = "quarantine"  # kept damaged bytes, expected, never reported
    TEMP_IN_PROGRESS = "temp_in_progress"  # temp of a live maintenance process
    TEMP_LEFTOVER = "temp_leftover"  # temp of a dead process or of the earlier implementation
    LOCK_ORPHAN = "lock_orphan"  # stray lock helper files (<name>.lock.*)
    OTHER = "other"  # anything else starting with "<name>." (rotated members, …)


@dataclass(frozen=True)
class Sibling:
    path: Path
    suffix: str  # the name after "<store name>."
    kind: SiblingKind


def pid_alive(pid: int) -> bool:
    """True when process ``pid`` exists (ours included), e.g. the owner of a temp file."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def classify_suffix(suffix: str) -> SiblingKind:
    if suffix == "lock":
        return SiblingKind.LOCK
    if suffix.startswith("quarantine.") or ".quarantine." in suffix:
        return SiblingKind.QUARANTINE
    if suffix.startswith("lock."):
        return SiblingKind.LOCK_ORPHAN
    if suffix.endswith(".tmp") or suffix == "tmp":
        m = _TEMP_RE.match(suffix)
        if m is not None and pid_alive(int(m.group(1))):
            return SiblingKind.TEMP_IN_PROGRESS
        return SiblingKind.TEMP_LEFTOVER
    return SiblingKind.OTHER


def list_siblings(path: Path) -> list[Sibling]:
    """Every entry ``<name>.*`` beside the store file, classified, sorted by name (read-only)."""
    prefix = path.name + "."
    found: list[Sibling] = []
    try:
        entries = list(os.scandir(path.parent))
    except FileNotFoundError:
        return found
    for entry in entries:
        if entry.name.startswith(prefix) and len(entry.name) > len(prefix):
            suffix = entry.name[len(prefix) :]
            found.append(Sibling(Path(entry.path), suffix, classify_suffix(suffix)))
    found.sort(key=lambda s: s.suffix)
    return found


def sibling_anomalies(path: Path) -> list[PersistenceAnomaly]:
    """``UNEXPECTED_FILE`` for leftover temp files and stray lock files of a single-file store."""
    out = []
    for s in list_siblings(path):
        if s.kind is SiblingKind.TEMP_LEFTOVER:
            detail = "leftover temp file of an interrupted compaction or recovery"
        elif s.kind is SiblingKind.LOCK_ORPHAN:
            detail = "orphaned lock file"
        else:
            continue
        out.append(
            PersistenceAnomaly(type=PersistenceAnomalyType.UNEXPECTED_FILE, path=str(s.path), detail=detail)
        )
    return out


def dispose_stray_file(path: Path, *, quarantine_dir: Path | None) -> Path | None:
    """Remove a leftover file (REPAIR) or move it into quarantine (QUARANTINE); returns the new path."""
    if quarantine_dir is None:
        path.unlink(missing_ok=True)
        return None
    target = quarantine_copy(path, quarantine_dir)
    path.unlink(missing_ok=True)
    return target


# --------------------------------------------------------------------------- repair


@dataclass
class RepairResult:
    kept_records: int = 0
    dropped_lines: int = 0
    quarantine_path: Path | None = None


def repair_file(
    path: Path, *, file_mode: int = 0o600, quarantine_dir: Path | None = None
) -> RepairResult:
    """Rewrite ``path`` keeping every valid record (verbatim), atomically. Caller holds the lock.

    With ``quarantine_dir`` the original bytes are kept there first. Raises ``OSError``.
    Cost: one sequential read and write of the file; memory bounded.
    """
    result = RepairResult()
    src = open_read(path)
    if src is None:
        return result
    tmp = temp_path_for(path, "recover")
    try:
        with src, create_exclusive(tmp, file_mode, like=(path,)) as out:
            for raw in iter_lines(src):
                if raw.oversized or (raw.data and not raw.data.strip(b"\x00")):
                    result.dropped_lines += 1
                    continue
                try:
                    decode_record(raw.data)
                except LineError:
                    result.dropped_lines += 1
                    continue
                out.write(raw.data)
                out.write(b"\n")
                result.kept_records += 1
            out.flush()
            os.fsync(out.fileno())
        if quarantine_dir is not None:
            result.quarantine_path = quarantine_copy(path, quarantine_dir, file_mode=file_mode)
        replace_durably(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return result
