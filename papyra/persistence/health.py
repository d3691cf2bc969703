"""Health of NDJSON store files: scan (read-only), repair and quarantine of one file, and the
classification of a store's sibling files. Shared by the single-file and rotating backends.

Scan rules for one file (streaming, bounded memory, binary and per line):

* a final line without ``\\n`` → ``TRUNCATED_LINE``; if that fragment holds NUL bytes, or the file
  ends in lines of NUL bytes (pre-allocated blocks after a power loss) → ``PARTIAL_WRITE``;
* a complete line that the grammar (:mod:`papyra.persistence.grammar`) finds unreadable →
  ``CORRUPTED_LINE`` with the reason (invalid UTF-8, NUL bytes, bad JSON, not an object, unknown
  or missing kind, missing/invalid field, damaged key, too long, nested too deeply); blank lines,
  a BOM and CRLF line ends are part of the grammar, never anomalies;
* every anomaly carries the file path, the 1-based line number and the byte offset.

Repair (:func:`repair_file`) rewrites a file keeping every line that decodes to a record (and
every blank line) byte for byte, in order (a complete final record that only lacks its newline is
kept and terminated), through a temp file in the same directory that is fsynced and renamed over
the original, then the directory is fsynced. It removes only what :func:`scan_file` reports as
unreadable — the same grammar decides both. Quarantine also keeps the original bytes (hard link
or copy) under a quarantine name. Callers hold the store lock.
"""

from __future__ import annotations

import contextlib
import enum
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from papyra.persistence.filestore import create_exclusive, open_read, replace_durably, temp_path_for
from papyra.persistence.grammar import LineError, LineTally, iter_lines, iter_unreadable_lines, parse_line
from papyra.persistence.models import (
    PersistenceAnomaly,
    PersistenceAnomalyType,
    PersistenceRecoveryReport,
    PersistenceScanReport,
)
from papyra.persistence.quarantine import planned_quarantine_path, quarantine_copy

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

    tally = LineTally()
    last = 0  # number of the last line yielded
    with f:
        for (number, offset, data, complete, _), reason in iter_unreadable_lines(f, tally):
            if number != last + 1:  # readable lines (records, blank) since the last one
                flush_nul_run_as_corruption()
            last = number
            result.lines = number
            if not complete:
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
                                 number, offset))
                else:
                    flush_nul_run_as_corruption()
                    add(_anomaly(PersistenceAnomalyType.TRUNCATED_LINE, shown,
                                 f"line {number} missing newline (torn tail)", number, offset))
                continue
            if data and not data.strip(b"\x00"):
                nul_run = (number, offset, 1) if nul_run is None else (*nul_run[:2], nul_run[2] + 1)
                continue
            flush_nul_run_as_corruption()
            add(_anomaly(PersistenceAnomalyType.CORRUPTED_LINE, shown,
                         reason, number, offset))
        result.size = f.tell()
    result.records = tally.records
    if tally.lines != last:  # readable lines after the last one yielded
        flush_nul_run_as_corruption()
    if nul_run is not None:
        line, off, count = nul_run
        add(_anomaly(PersistenceAnomalyType.PARTIAL_WRITE, shown,
                     f"partial write: {count} line(s) of NUL bytes at the end of the file", line, off))
    if extra:
        out.append(_anomaly(PersistenceAnomalyType.CORRUPTED_LINE, shown,
                            f"{extra} further anomalies not listed", result.lines, result.size))
    return result


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


def dispose_stray_file(path: Path, *, quarantine_dir: Path | None, dry_run: bool = False) -> Path | None:
    """Remove a leftover file (REPAIR) or move it into quarantine (QUARANTINE); returns the new
    path (``dry_run``: changes nothing, returns the planned path)."""
    if quarantine_dir is None:
        if not dry_run:
            path.unlink(missing_ok=True)
        return None
    if dry_run:
        return planned_quarantine_path(quarantine_dir, path.name)
    target = quarantine_copy(path, quarantine_dir)
    path.unlink(missing_ok=True)
    return target


# --------------------------------------------------------------------------- repair


@dataclass
class RepairResult:
    """What repairs did (one file, or summed over a set with :meth:`add`)."""

    kept_records: int = 0
    dropped_lines: int = 0
    quarantine_path: Path | None = None

    def add(self, other: RepairResult) -> None:
        self.kept_records += other.kept_records
        self.dropped_lines += other.dropped_lines

    def report(
        self,
        backend: str,
        scan: PersistenceScanReport,
        repaired: list[str],
        quarantined: list[str],
        *,
        quarantine: bool,
    ) -> PersistenceRecoveryReport:
        """The recovery report of a file store whose repairs summed to this result."""
        return PersistenceRecoveryReport(
            backend=backend,
            scan=scan,
            repaired_files=tuple(repaired),
            quarantined_files=tuple(quarantined),
            kept_records=self.kept_records,
            removed_lines=self.dropped_lines,
            quarantined_lines=self.dropped_lines if quarantine else 0,
        )


def _copy_readable(src: BinaryIO, out: BinaryIO | None, result: RepairResult) -> None:
    """Copy every readable line of ``src`` to ``out`` (None: count only) and count in ``result``."""
    for _number, _offset, data, _complete, oversized in iter_lines(src):
        try:
            if oversized:
                raise LineError("line too long")
            record = parse_line(data)
        except LineError:
            result.dropped_lines += 1
            continue
        if out is not None:
            out.write(data)
            out.write(b"\n")
        if record is not None:
            result.kept_records += 1


def repair_file(
    path: Path, *, file_mode: int = 0o600, quarantine_dir: Path | None = None, dry_run: bool = False
) -> RepairResult:
    """Rewrite ``path`` keeping every record and blank line byte for byte, atomically; drop only
    the lines :func:`scan_file` reports (a complete final record that lacks its newline is kept
    and terminated). Caller holds the lock.

    With ``quarantine_dir`` the original bytes are kept there first. ``dry_run=True`` only
    counts what the rewrite would keep and drop (same pass, nothing written, no lock needed).
    Raises ``OSError``. Cost: one sequential read and write of the file; memory bounded.
    """
    result = RepairResult()
    src = open_read(path)
    if src is None:
        return result
    if dry_run:
        with src:
            _copy_readable(src, None, result)
        if quarantine_dir is not None:
            result.quarantine_path = planned_quarantine_path(quarantine_dir, path.name)
        return result
    tmp = temp_path_for(path, "recover")
    try:
        with src, create_exclusive(tmp, file_mode, like=(path,)) as out:
            _copy_readable(src, out, result)
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
