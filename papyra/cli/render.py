"""Text rendering shared by several commands (anomalies, reports, records)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from papyra.cli.output import Output, format_ts, to_json_text

__all__ = ["anomaly_text", "payload_text", "render_anomalies", "retention_text"]

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
