"""Text rendering shared by several commands (anomalies, reports, records)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from papyra.cli.output import Output, format_ts, to_json_text

__all__ = [
    "anomaly_text",
    "is_stray",
    "payload_text",
    "recovery_lines",
    "render_anomalies",
    "retention_text",
]

_PAYLOAD_WIDTH = 60


def anomaly_text(anomaly: Any) -> str:
    """``TRUNCATED_LINE: /x.ndjson line 3, byte 120 (detail)``."""
    kind = getattr(getattr(anomaly, "type", None), "value", None) or str(getattr(anomaly, "type", "?"))
    where = str(getattr(anomaly, "path", "?"))
    line = getattr(anomaly, "line", None)
    offset = getattr(anomaly, "offset", None)
    if line is not None:
        where += f" line {line}"
    if offset is not None:
        where += f", byte {offset}" if line is not None else f" byte {offset}"
    detail = getattr(anomaly, "detail", None)
    return f"{kind}: {where}" + (f" ({detail})" if detail else "")


def render_anomalies(out: Output, anomalies: Sequence[Any], *, header: str) -> None:
    out.problem(header)
    for anomaly in anomalies:
        out.problem(f"- {anomaly_text(anomaly)}")


#: Anomalies about a whole file that is not a member of the store (an orphaned rotated file, a
#: leftover temp file, a commit marker): recovery takes such a file out of the store instead of
#: rewriting it.
_STRAY_TYPES = ("ORPHANED_ROTATED_FILE", "UNEXPECTED_FILE")


def is_stray(anomaly: Any) -> bool:
    kind = getattr(getattr(anomaly, "type", None), "value", None)
    return kind in _STRAY_TYPES and getattr(anomaly, "line", None) is None


def recovery_lines(report: Any) -> list[str]:
    """What a recovery did, one line per file: ``repaired <member>``, ``removed <stray> from the
    store`` (see :func:`is_stray`) and ``quarantined <copy>``; then, if it changed anything,
    ``kept N records; removed M unreadable lines``."""
    anomalies = getattr(getattr(report, "scan", None), "anomalies", ()) or ()
    strays = {str(getattr(a, "path", "")) for a in anomalies if is_stray(a)}
    lines = [
        f"removed {path} from the store (not a member)" if str(path) in strays else f"repaired {path}"
        for path in getattr(report, "repaired_files", ()) or ()
    ]
    lines += [f"quarantined {path}" for path in getattr(report, "quarantined_files", ()) or ()]
    if lines:
        kept, removed = getattr(report, "kept_records", 0), getattr(report, "removed_lines", 0)
        held = getattr(report, "quarantined_lines", 0)
        aside = f" ({held} kept in quarantine)" if held else ""
        lines.append(f"kept {kept} records; removed {removed} unreadable lines{aside}")
    return lines


def retention_text(retention: Any) -> str:
    if retention is None:
        return "<none>"
    return (
        f"max_records={getattr(retention, 'max_records', None)} "
        f"max_age_seconds={getattr(retention, 'max_age_seconds', None)} "
        f"max_total_bytes={getattr(retention, 'max_total_bytes', None)}"
    )


def payload_text(payload: Any, width: int = _PAYLOAD_WIDTH) -> str:
    """Compact JSON of a payload, shortened to ``width`` characters for tables."""
    text = to_json_text(payload, indent=None)
    return text if len(text) <= width else text[: width - 1] + "…"


def ts_text(ts: float | None) -> str:
    return format_ts(ts)
