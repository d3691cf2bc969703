"""The argparse command tree and the top-level run loop (error handling, exit codes).

Only argparse and the light CLI modules are imported here: command modules and backends load
when a command actually runs, so ``papyra --help`` starts fast and imports no optional
dependency.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import math
import os
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn, TextIO

from papyra.cli.errors import EXIT_OK, EXIT_OPERATIONAL, EXIT_USAGE, CliError, UsageError
from papyra.cli.redact import redact

__all__ = ["PapyraArgumentParser", "build_parser", "run"]

STARTUP_MODES = ("ignore", "scan_only", "fail_on_anomaly", "recover")
RECOVERY_MODES = ("ignore", "repair", "quarantine")

_EPILOG = """\
exit codes:
  0   success / store clean
  1   anomalies found while the mode is fail_on_anomaly
  2   anomalies found (scan) or still present after recovery
  3   operational error (I/O, backend unreachable, store lock not acquired in time)
  64  usage error (bad arguments, no store configured)

store selection (flags beat environment beat settings):
  --path / PAPYRA_PATH, --backend / PAPYRA_BACKEND (json|rotating|redis),
  --max-bytes / PAPYRA_MAX_BYTES, --max-files / PAPYRA_MAX_FILES,
  --redis-url / PAPYRA_REDIS_URL, --prefix / PAPYRA_PREFIX, --system-id / PAPYRA_SYSTEM_ID,
  or PAPYRA_SETTINGS_MODULE (a settings class/object whose `persistence` is a backend).
"""


class PapyraArgumentParser(argparse.ArgumentParser):
    """ArgumentParser whose errors raise :class:`UsageError` (exit 64, one line) instead of exiting 2.

    The message carries no program prefix: :func:`run` prints every error as ``papyra: error: …``
    and the ``--help`` hint names the (sub)command.
    """

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


# --------------------------------------------------------------------------- argument types


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds >= 0, got {text!r}")
    return value


def _choice(choices: Sequence[str]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        key = text.strip().lower().replace("-", "_")
        if key not in choices:
            raise argparse.ArgumentTypeError(f"invalid choice {text!r} (choose from {', '.join(choices)})")
        return key

    parse.__name__ = "mode"
    return parse


def _duration(text: str) -> float:
    from papyra.cli.store import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _time(text: str) -> float:
    from papyra.cli.timeparse import parse_time

    try:
        return parse_time(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# --------------------------------------------------------------------------- common options


def _add_common(parser: argparse.ArgumentParser, formats: Sequence[str]) -> None:
    s = argparse.SUPPRESS
    store = parser.add_argument_group("store selection")
    store.add_argument("--path", default=s, help="store file (env PAPYRA_PATH)")
    store.add_argument(
        "--backend",
        default=s,
        type=_choice(("json", "rotating", "redis")),
        metavar="{json,rotating,redis}",
        help="backend type (env PAPYRA_BACKEND)",
    )
    store.add_argument(
        "--max-bytes",
        default=s,
        type=_positive_int,
        metavar="N",
        help="rotating: rotate at N bytes (env PAPYRA_MAX_BYTES)",
    )
    store.add_argument(
        "--max-files",
        default=s,
        type=_positive_int,
        metavar="N",
        help="rotating: files in the set (env PAPYRA_MAX_FILES)",
    )
    store.add_argument("--redis-url", default=s, metavar="URL", help="redis URL (env PAPYRA_REDIS_URL)")
    store.add_argument("--prefix", default=s, help="redis key prefix (env PAPYRA_PREFIX, default papyra)")
    store.add_argument(
        "--system-id", default=s, metavar="ID", help="redis system id (env PAPYRA_SYSTEM_ID, default local)"
    )
    store.add_argument(
        "--lock-timeout",
        default=s,
        type=_seconds,
        metavar="SECONDS",
        help="wait at most this long for the store lock (default 10; env PAPYRA_LOCK_TIMEOUT)",
    )
    keep = parser.add_argument_group("retention (default: keep everything)")
    keep.add_argument(
        "--max-records",
        default=s,
        type=_positive_int,
        metavar="N",
        help="keep the newest N records (env PAPYRA_MAX_RECORDS)",
    )
    keep.add_argument(
        "--max-age",
        default=s,
        type=_duration,
        metavar="AGE",
        help="keep records younger than AGE: seconds or 30m/12h/7d (env PAPYRA_MAX_AGE)",
    )
    keep.add_argument(
        "--max-total-bytes",
        default=s,
        type=_positive_int,
        metavar="N",
        help="keep the newest records within N encoded bytes (env PAPYRA_MAX_TOTAL_BYTES)",
    )
    out = parser.add_argument_group("output")
    out.add_argument(
        "--format", default=s, choices=list(formats), help=f"output format (default {formats[0]})"
    )
    out.add_argument("--debug", default=s, action="store_true", help="show tracebacks on errors")


def _add_time_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--since",
        type=_time,
        metavar="WHEN",
        help="only records at or after WHEN (ISO-8601, 15m/2h/7d ago, or epoch seconds)",
    )
    parser.add_argument("--until", type=_time, metavar="WHEN", help="only records at or before WHEN")
    parser.add_argument("--limit", type=_positive_int, metavar="N", help="only the newest N (after filters)")
    parser.add_argument("--reverse", action="store_true", help="newest first")


def _startup_options(parser: argparse.ArgumentParser, *, mode_default: str) -> None:
    parser.add_argument(
        "--mode",
        type=_choice(STARTUP_MODES),
        default=mode_default,
        metavar="{" + ",".join(STARTUP_MODES) + "}",
        help=f"startup mode (default {mode_default})",
    )
    parser.add_argument(
        "--recovery-mode",
        type=_choice(RECOVERY_MODES),
        metavar="{" + ",".join(RECOVERY_MODES) + "}",
        help="recovery used by --mode recover (default repair)",
    )
    parser.add_argument(
        "--quarantine-dir",
        metavar="DIR",
        help="where quarantine recovery keeps damaged originals (default: next to the store)",
    )


# --------------------------------------------------------------------------- the tree


def build_parser() -> PapyraArgumentParser:
    from papyra import __version__

    root = PapyraArgumentParser(
        prog="papyra",
        description="Operate Papyra stores: health checks, recovery, compaction, inspection, metrics.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    root.add_argument("--version", action="version", version=f"papyra {__version__}")
    root.add_argument(
        "--debug", default=argparse.SUPPRESS, action="store_true", help="show tracebacks on errors"
    )
    root.set_defaults(group_parser=root)
    groups = root.add_subparsers(title="commands", metavar="{persistence,doctor,inspect,metrics}")

    def group(name: str, help_text: str) -> Any:
        parser = groups.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=_EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        parser.set_defaults(group_parser=parser)
        return parser, parser.add_subparsers(title="subcommands")

    def leaf(
        sub: Any,
        group_name: str,
        name: str,
        help_text: str,
        handler: str,
        formats: Sequence[str] = ("text", "json"),
    ) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = sub.add_parser(name, help=help_text, description=help_text)
        parser.set_defaults(handler=handler, command_name=f"{group_name} {name}", group_parser=None)
        _add_common(parser, formats)
        return parser

    # persistence
    _, sub = group("persistence", "Persistence maintenance: scan, recover, compact, inspect, startup check.")
    leaf(
        sub,
        "persistence",
        "scan",
        "Read-only integrity scan (exit 0 clean, 2 anomalies).",
        "papyra.cli.commands.persistence:scan",
    )
    p = leaf(
        sub,
        "persistence",
        "recover",
        "Repair or quarantine damage, then re-scan (exit 0 clean, 2 left).",
        "papyra.cli.commands.persistence:recover",
    )
    p.add_argument(
        "--mode",
        type=_choice(RECOVERY_MODES),
        default="repair",
        metavar="{" + ",".join(RECOVERY_MODES) + "}",
        help="recovery mode (default repair)",
    )
    p.add_argument(
        "--quarantine-dir", metavar="DIR", help="quarantine directory (default: next to the store)"
    )
    p.add_argument("--dry-run", action="store_true", help="only show what recovery would do")
    p = leaf(
        sub,
        "persistence",
        "compact",
        "Make retention physical (rewrites the store under its lock).",
        "papyra.cli.commands.persistence:compact",
    )
    p.add_argument("--dry-run", action="store_true", help="only show what compaction would remove")
    p = leaf(
        sub,
        "persistence",
        "inspect",
        "Backend, location, size, records per kind, time range, retention.",
        "papyra.cli.commands.persistence:inspect",
    )
    p.add_argument("--show-metrics", action="store_true", help="also show the backend counters")
    p = leaf(
        sub,
        "persistence",
        "startup-check",
        "Exactly what ActorSystem.start() would decide about the store.",
        "papyra.cli.commands.persistence:startup_check",
    )
    _startup_options(p, mode_default="fail_on_anomaly")

    # doctor
    _, sub = group(
        "doctor", "Run system pre-flight checks (persistence scan/recovery) without starting actors."
    )
    p = leaf(
        sub,
        "doctor",
        "run",
        "Pre-flight check: 0 healthy or repaired, 1 fail_on_anomaly, 2 not repaired.",
        "papyra.cli.commands.doctor:run",
    )
    _startup_options(p, mode_default="fail_on_anomaly")

    # inspect
    _, sub = group("inspect", "Inspect persisted Papyra system state")
    p = leaf(
        sub,
        "inspect",
        "events",
        "List lifecycle events.",
        "papyra.cli.commands.inspect:events",
        ("text", "json", "ndjson"),
    )
    _add_time_filters(p)
    p.add_argument("--event-type", action="append", metavar="TYPE", help="only this event type (repeatable)")
    p.add_argument("--actor", action="append", metavar="ADDRESS", help="only this actor address (repeatable)")
    p.add_argument("--follow", "-f", action="store_true", help="keep printing new events until interrupted")
    p.add_argument(
        "--interval",
        type=_seconds,
        default=0.5,
        metavar="SECONDS",
        help="--follow poll interval (default 0.5)",
    )
    p = leaf(
        sub,
        "inspect",
        "audits",
        "List audit snapshots.",
        "papyra.cli.commands.inspect:audits",
        ("text", "json", "ndjson"),
    )
    _add_time_filters(p)
    p = leaf(
        sub,
        "inspect",
        "dead-letters",
        "List dead letters.",
        "papyra.cli.commands.inspect:dead_letters",
        ("text", "json", "ndjson"),
    )
    _add_time_filters(p)
    p.add_argument(
        "--target", action="append", metavar="ADDRESS", help="only this target address (repeatable)"
    )
    p.add_argument(
        "--message-type", action="append", metavar="TYPE", help="only this message type (repeatable)"
    )
    p = leaf(
        sub,
        "inspect",
        "summary",
        "Latest audit plus counts and time range.",
        "papyra.cli.commands.inspect:summary",
    )
    p.add_argument("--since", type=_time, metavar="WHEN", help="count only records at or after WHEN")
    p.add_argument("--until", type=_time, metavar="WHEN", help="count only records at or before WHEN")

    # metrics
    _, sub = group("metrics", "Inspect runtime metrics and observability counters")
    leaf(
        sub,
        "metrics",
        "persistence",
        "Backend counters plus figures derived from the store.",
        "papyra.cli.commands.metrics:persistence",
        ("text", "json", "prometheus"),
    )
    leaf(
        sub,
        "metrics",
        "reset",
        "Reset the backend counters (those of this process's backend instance).",
        "papyra.cli.commands.metrics:reset",
    )
    return root


def _resolve_handler(spec: str) -> Callable[[Any], int]:
    module_name, _, func = spec.partition(":")
    handler: Callable[[Any], int] = getattr(importlib.import_module(module_name), func)
    return handler


def _describe_exception(exc: BaseException) -> tuple[int, str]:
    """Map an exception to (exit code, one-line message)."""
    from papyra.exceptions import (
        BackendUnavailable,
        ConfigurationError,
        LockTimeout,
        MissingDependencyError,
        PapyraError,
    )

    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, CliError):
        return exc.exit_code, text
    if isinstance(exc, LockTimeout):
        return EXIT_OPERATIONAL, f"store is locked by another process: {text}"
    if isinstance(exc, BackendUnavailable):
        return EXIT_OPERATIONAL, f"backend unavailable: {text}"
    if isinstance(exc, MissingDependencyError):
        return EXIT_OPERATIONAL, text
    if isinstance(exc, ConfigurationError):
        return EXIT_USAGE, f"configuration error: {text}"
    if isinstance(exc, PapyraError):
        return EXIT_OPERATIONAL, f"{type(exc).__name__}: {text}"
    if isinstance(exc, OSError):
        if isinstance(exc, ConnectionError) or type(exc).__module__.startswith("redis"):
            return EXIT_OPERATIONAL, f"backend unavailable: {text}"
        return EXIT_OPERATIONAL, f"I/O error: {text}"
    if type(exc).__module__.startswith("redis"):
        return EXIT_OPERATIONAL, f"backend unavailable ({type(exc).__name__}): {text}"
    return EXIT_OPERATIONAL, f"unexpected error ({type(exc).__name__}): {text} (run with --debug for details)"


def run(
    argv: Sequence[str] | None = None,
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    """Parse ``argv`` and run the command; returns the exit code (never raises, except
    ``KeyboardInterrupt`` outside ``--follow``)."""
    out_stream = stdout if stdout is not None else sys.stdout
    err_stream = stderr if stderr is not None else sys.stderr
    env = os.environ if environ is None else environ
    args_list = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args_list
    parser = build_parser()
    try:
        with contextlib.redirect_stdout(out_stream):  # --help / --version print to sys.stdout
            args, extras = parser.parse_known_args(args_list)
        if extras:  # name the (sub)command whose options these are not
            owner = getattr(args, "group_parser", None) or parser
            command = getattr(args, "command_name", None)
            prog = f"{parser.prog} {command}" if command else owner.prog
            raise UsageError(f"unrecognized arguments: {' '.join(extras)} (see '{prog} --help')")
    except UsageError as exc:
        err_stream.write(f"papyra: error: {redact(str(exc))}\n")
        return EXIT_USAGE
    except SystemExit as exc:  # --help / --version
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    handler_spec = getattr(args, "handler", None)
    if handler_spec is None:
        group_parser = getattr(args, "group_parser", None) or parser
        out_stream.write(group_parser.format_help())
        return EXIT_OK
    debug = debug or bool(getattr(args, "debug", False))

    from papyra.cli.context import Context
    from papyra.cli.output import Output

    out = Output(getattr(args, "format", None) or "text", stdout=out_stream, stderr=err_stream, environ=env)
    ctx = Context(args, out, env)
    try:
        try:
            return _resolve_handler(handler_spec)(ctx)
        finally:
            ctx.close()
    except BrokenPipeError:
        # Output piped into `head` and friends: not an error.
        _silence_stdout(out_stream)
        return EXIT_OK
    except Exception as exc:
        code, message = _describe_exception(exc)
        if debug:
            err_stream.write(redact("".join(traceback.format_exception(type(exc), exc, exc.__traceback__))))
        err_stream.write(f"papyra: error: {redact(message)}\n")
        err_stream.flush()
        return code


def _silence_stdout(stream: TextIO) -> None:
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)
