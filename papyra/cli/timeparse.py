"""Parsing ``--since`` / ``--until`` values into epoch seconds.

Accepted forms:

* epoch seconds: ``1718000000`` or ``1718000000.25``;
* relative to now: ``30s``, ``15m``, ``2h``, ``7d``, ``1w`` (optionally ``ago``: ``15m ago``),
  and ``now``;
* ISO-8601: ``2024-06-10``, ``2024-06-10T12:00``, ``2024-06-10T12:00:00Z``,
  ``2024-06-10 12:00:00.5+02:00`` (any number of fraction digits, ``Z``/``z`` or an offset
  ``+HH:MM``/``+HHMM``/``+HH``). A time without an offset is **local time** (as ``journalctl``
  reads it; the ``TZ`` environment variable applies), or UTC with ``utc=True`` (``--utc``).

ISO-8601 is parsed with a regular expression, not ``datetime.fromisoformat`` (which on
Python 3.10 rejects ``Z`` and fractions other than 3 or 6 digits), so every supported Python
accepts the same forms.
"""

from __future__ import annotations

import math
import re
import time
from datetime import datetime, timedelta, timezone

__all__ = ["TIME_HELP", "parse_time"]

#: How the CLI's help describes a time value.
TIME_HELP = (
    "ISO-8601 (a time without a zone is local time, UTC with --utc), 15m/2h/7d ago, or epoch seconds"
)

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])(?:\s+ago)?$", re.IGNORECASE)
_EPOCH = re.compile(r"^\d+(?:\.\d+)?$")
_ISO = re.compile(
    r"^(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})"
    r"(?:[Tt ](?P<h>\d{2})(?::(?P<mi>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<f>\d+))?)?)?"
    r"(?:[Zz]|(?P<sign>[+-])(?P<oh>\d{2})(?::?(?P<om>\d{2}))?)?)?$"
)


def _parse_iso(text: str, *, utc: bool) -> datetime:
    """ISO-8601 date or date-time -> datetime (aware; naive = local time unless ``utc``);
    ``ValueError`` if not."""
    m = _ISO.match(text)
    if m is None:
        raise ValueError(text)
    zoned = m["sign"] or text.rstrip()[-1:] in ("Z", "z")
    tz: timezone | None = timezone.utc if zoned or utc else None  # None: local time
    if m["sign"]:
        offset = timedelta(hours=int(m["oh"]), minutes=int(m["om"] or 0))
        if offset >= timedelta(hours=24):
            raise ValueError(text)
        tz = timezone(-offset if m["sign"] == "-" else offset)
    fraction = m["f"] or ""
    micro = int((fraction + "000000")[:6])  # digits beyond microseconds are dropped
    return datetime(
        int(m["y"]),
        int(m["mo"]),
        int(m["d"]),
        int(m["h"] or 0),
        int(m["mi"] or 0),
        int(m["s"] or 0),
        micro,
        tzinfo=tz,
    )


def parse_time(value: str, *, now: float | None = None, utc: bool = False) -> float:
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
    try:
        parsed = _parse_iso(text, utc=utc)
    except (ValueError, OverflowError):
        raise ValueError(
            f"invalid time {value!r}: use ISO-8601 (2024-06-10T12:00:00Z), "
            "a relative age (15m, 2h, 7d) or epoch seconds"
        ) from None
    result = parsed.timestamp()
    if not math.isfinite(result):  # pragma: no cover - defensive
        raise ValueError(f"invalid time {value!r}")
    return result
