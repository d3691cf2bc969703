"""The CLI's argument types and the option groups shared by its commands."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence

from papyra.cli.timeparse import TIME_HELP

__all__ = [
    "EPILOG",
    "RECOVERY_MODES",
    "STARTUP_MODES",
    "add_common",
    "add_time_filters",
    "choice",
    "duration",
    "positive_int",
    "resolve_times",
    "seconds",
    "startup_options",
    "time_value",
]

STARTUP_MODES = ("ignore", "scan_only", "fail_on_anomaly", "recover")
RECOVERY_MODES = ("ignore", "repair", "quarantine")

EPILOG = """\
exit codes:
  0   success / store clean
  1   anomalies found while the mode is fail_on_anomaly
  2   anomalies found (scan) or still present after recovery
  3   operational error (I/O, backend unreachable, store lock not acquired in time)
  64  usage error (bad arguments, no store configured)

store selection (flags beat environment beat settings):
  --path / PAPYRA_PATH, --backend / PAPYRA_BACKEND (json|rotating|redis),
  --max-bytes / PAPYRA_MAX_BYTES, --max-files / PAPYRA_MAX_FILES,
  --redis-url / PAPYRA_REDIS_URL (redis+sentinel:// for Sentinel), --redis-cluster /
  PAPYRA_REDIS_CLUSTER=1, --prefix / PAPYRA_PREFIX, --system-id / PAPYRA_SYSTEM_ID,
  or PAPYRA_SETTINGS_MODULE (a settings class/object whose `persistence` is a backend).
  Without a backend, a path with numbered siblings (PATH.1, PATH.2, ...) is read as a
  rotating set; --backend json reads only PATH.
"""


# --------------------------------------------------------------------------- argument types


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds >= 0, got {text!r}")
    return value


def choice(choices: Sequence[str]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        key = text.strip().lower().replace("-", "_")
        if key not in choices:
            raise argparse.ArgumentTypeError(f"invalid choice {text!r} (choose from {', '.join(choices)})")
        return key

    parse.__name__ = "mode"
    return parse


def duration(text: str) -> float:
    from papyra.cli.spec import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def time_value(text: str) -> str:
    """A ``--since``/``--until`` value, checked now and converted after parsing (by
    :func:`resolve_times`), when ``--utc`` — wherever it stands on the line — is known."""
    from papyra.cli.timeparse import parse_time

    try:
        parse_time(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def resolve_times(args: argparse.Namespace) -> None:
    """Replace the ``since``/``until`` strings of ``args`` by epoch seconds (naive ISO times as
    local time, or UTC with ``--utc``)."""
    from papyra.cli.timeparse import parse_time

    utc = bool(getattr(args, "utc", False))
    for name in ("since", "until"):
        value = getattr(args, name, None)
        if isinstance(value, str):
            setattr(args, name, parse_time(value, utc=utc))


# --------------------------------------------------------------------------- common options


def add_common(parser: argparse.ArgumentParser, formats: Sequence[str]) -> None:
    s = argparse.SUPPRESS
    store = parser.add_argument_group("store selection")
    store.add_argument("--path", default=s, help="store file (env PAPYRA_PATH)")
    store.add_argument(
        "--backend",
        default=s,
        type=choice(("json", "rotating", "redis")),
        metavar="{json,rotating,redis}",
        help="backend type (env PAPYRA_BACKEND)",
    )
    store.add_argument(
        "--max-bytes",
        default=s,
        type=positive_int,
        metavar="N",
        help="rotating: rotate at N bytes (env PAPYRA_MAX_BYTES)",
    )
    store.add_argument(
        "--max-files",
        default=s,
        type=positive_int,
        metavar="N",
        help="rotating: files in the set (env PAPYRA_MAX_FILES)",
    )
    store.add_argument(
        "--redis-url",
        default=s,
        metavar="URL",
        help="redis URL, redis+sentinel://h1:p1,h2:p2/service/db for Sentinel (env PAPYRA_REDIS_URL)",
    )
    store.add_argument(
        "--redis-cluster",
        default=s,
        action="store_true",
        help="the redis URL names a node of a Redis Cluster (env PAPYRA_REDIS_CLUSTER=1)",
    )
    store.add_argument("--prefix", default=s, help="redis key prefix (env PAPYRA_PREFIX, default papyra)")
    store.add_argument(
        "--system-id", default=s, metavar="ID", help="redis system id (env PAPYRA_SYSTEM_ID, default local)"
    )
    store.add_argument(
        "--lock-timeout",
        default=s,
        type=seconds,
        metavar="SECONDS",
        help="wait at most this long for the store lock (default 10; env PAPYRA_LOCK_TIMEOUT)",
    )
    keep = parser.add_argument_group("retention (default: keep everything)")
    keep.add_argument(
        "--max-records",
        default=s,
        type=positive_int,
        metavar="N",
        help="keep the newest N records (env PAPYRA_MAX_RECORDS)",
    )
    keep.add_argument(
        "--max-age",
        default=s,
        type=duration,
        metavar="AGE",
        help="keep records younger than AGE: seconds or 30m/12h/7d (env PAPYRA_MAX_AGE)",
    )
    keep.add_argument(
        "--max-total-bytes",
        default=s,
        type=positive_int,
        metavar="N",
        help="keep the newest records within N encoded bytes (env PAPYRA_MAX_TOTAL_BYTES)",
    )
    out = parser.add_argument_group("output")
    out.add_argument(
        "--format", default=s, choices=list(formats), help=f"output format (default {formats[0]})"
    )
    out.add_argument("--debug", default=s, action="store_true", help="show tracebacks on errors")
    out.add_argument(
        "--utc",
        default=s,
        action="store_true",
        help="times in UTC, input and output (default: local time; output always shows the zone)",
    )


def add_time_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--since",
        type=time_value,
        metavar="WHEN",
        help=f"only records at or after WHEN: {TIME_HELP}",
    )
    parser.add_argument("--until", type=time_value, metavar="WHEN", help="only records at or before WHEN")
    parser.add_argument("--limit", type=positive_int, metavar="N", help="only the newest N (after filters)")
    parser.add_argument("--reverse", action="store_true", help="newest first")


def startup_options(parser: argparse.ArgumentParser, *, mode_default: str) -> None:
    parser.add_argument(
        "--mode",
        type=choice(STARTUP_MODES),
        default=mode_default,
        metavar="{" + ",".join(STARTUP_MODES) + "}",
        help=f"startup mode (default {mode_default})",
    )
    parser.add_argument(
        "--recovery-mode",
        type=choice(RECOVERY_MODES),
        metavar="{" + ",".join(RECOVERY_MODES) + "}",
        help="recovery used by --mode recover (default repair)",
    )
    parser.add_argument(
        "--quarantine-dir",
        metavar="DIR",
        help="where quarantine recovery keeps damaged originals (default: next to the store)",
    )
