"""Parsing ``--since`` / ``--until`` values into epoch seconds.

Accepted forms:

* epoch seconds: ``1718000000`` or ``1718000000.25``;
* relative to now: ``30s``, ``15m``, ``2h``, ``7d``, ``1w`` (optionally ``ago``: ``15m ago``),
  and ``now``;
* ISO-8601: ``2024-06-10``, ``2024-06-10T12:00:00``, ``2024-06-10T12:00:00Z``,
  ``2024-06-10 12:00:00+02:00``. A time without an offset is **UTC**.
"""

from __future__ import annotations

import math
import re
import time
from datetime import datetime, timezone

__all__ = ["parse_time"]

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])(?:\s+ago)?$", re.IGNORECASE)
_EPOCH = re.compile(r"^\d+(?:\.\d+)?$")


def parse_time(value: str, *, now: float | None = None) -> float:
    """Return ``value`` as epoch seconds, or raise ``ValueError`` explaining the accepted forms."""
    text = value.strip()
    current = time.time() if now is None else now
    if text.lower() == "now":
        return current
    if _EPOCH.match(text):
        return float(text)
    rel = _RELATIVE.match(text)
    if rel:
        return current - float(rel.group(1)) * _UNITS[rel.group(2).lower()]
    iso = text[:-1] + "+00:00" if text[-1:] in ("Z", "z") else text
    try:
        parsed = datetime.fromisoformat(iso)
    except ValueError:
        raise ValueError(
            f"invalid time {value!r}: use ISO-8601 (2024-06-10T12:00:00Z), "
            "a relative age (15m, 2h, 7d) or epoch seconds"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    result = parsed.timestamp()
    if not math.isfinite(result):  # pragma: no cover - defensive
        raise ValueError(f"invalid time {value!r}")
    return result
