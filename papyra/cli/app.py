"""The argparse command tree and the top-level run loop (error handling, exit codes).

Only argparse and the light CLI modules are imported here: command modules and backends load
when a command actually runs, so ``papyra --help`` starts fast and imports no optional
dependency.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn, TextIO

from papyra.cli.errors import EXIT_OK, EXIT_OPERATIONAL, EXIT_USAGE, CliError, OutputWriteError, UsageError
from papyra.cli.options import (
    EPILOG,
    RECOVERY_MODES,
    add_common,
    add_time_filters,
    choice,
    duration,
    resolve_times,
    seconds,
    startup_options,
    time_value,
)
from papyra.cli.redact import cli_secrets, redact

__all__ = ["PapyraArgumentParser", "build_parser", "run"]


class PapyraArgumentParser(argparse.ArgumentParser):
    """ArgumentParser whose errors raise :class:`UsageError` (exit 64, one line) instead of exiting 2.

    The message carries no program prefix: :func:`run` prints every error as ``papyra: error: …``
    and the ``--help`` hint names the (sub)command.
    """

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


# --------------------------------------------------------------------------- the tree


def build_parser() -> PapyraArgumentParser:
    from papyra import __version__

    root = PapyraArgumentParser(
        prog="papyra",
        description="Operate Papyra stores: health checks, recovery, compaction, inspection, metrics.",
        epilog=EPILOG,
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
            epilog=EPILOG,
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
        formats: Sequence[str] = ("text", "json", "ndjson"),
    ) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = sub.add_parser(name, help=help_text, description=help_text)
        parser.set_defaults(handler=handler, command_name=f"{group_name} {name}", group_parser=None)
        add_common(parser, formats)
        return parser

    # persistence
    _, sub = group(
        "persistence", "Persistence maintenance: scan, recover, compact, inspect, startup check, copy."
    )
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
        type=choice(RECOVERY_MODES),
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
    startup_options(p, mode_default="fail_on_anomaly")
    copy_help = "Copy every record to another store (any backends), then verify counts and digest."
    p = sub.add_parser(
        "copy",
        help=copy_help,
        description=copy_help,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="SPEC: a redis URL (redis://, rediss://, unix://,\n"
        "redis+sentinel://h1:p1,h2:p2/service/db) with ?prefix=P&system_id=S&cluster=1,\n"
        "json:PATH, rotating:PATH[?max_bytes=N&max_files=N], or PATH.",
    )
    p.set_defaults(
        handler="papyra.cli.commands.copy:copy", command_name="persistence copy", group_parser=None
    )
    p.add_argument("--from", dest="source", required=True, metavar="SPEC", help="source store (see below)")
    p.add_argument("--to", dest="target", required=True, metavar="SPEC", help="target store")
    p.add_argument("--append", action="store_true", help="allow a target that already holds records")
    p.add_argument("--dry-run", action="store_true", help="read and digest the source, write nothing")
    p.add_argument("--format", default="text", choices=["text", "json", "ndjson"], help="output format")
    p.add_argument("--debug", default=argparse.SUPPRESS, action="store_true", help="show tracebacks")

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
    startup_options(p, mode_default="fail_on_anomaly")

    # inspect
    _, sub = group("inspect", "Inspect persisted Papyra system state")
    p = leaf(
        sub,
        "inspect",
        "events",
        "List lifecycle events.",
        "papyra.cli.commands.inspect:events",
    )
    add_time_filters(p)
    p.add_argument("--event-type", action="append", metavar="TYPE", help="only this event type (repeatable)")
    p.add_argument("--actor", action="append", metavar="ADDRESS", help="only this actor address (repeatable)")
    p.add_argument(
        "--follow",
        "-f",
        action="store_true",
        help="keep printing new events until interrupted (also across rotation); records the store "
        "drops between two polls (a rotating set rotating files out) cannot be printed: a warning "
        "on stderr reports such a gap",
    )
    p.add_argument(
        "--interval",
        type=seconds,
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
    )
    add_time_filters(p)
    p = leaf(
        sub,
        "inspect",
        "dead-letters",
        "List dead letters.",
        "papyra.cli.commands.inspect:dead_letters",
    )
    add_time_filters(p)
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
    p.add_argument("--since", type=time_value, metavar="WHEN", help="count only records at or after WHEN")
    p.add_argument("--until", type=time_value, metavar="WHEN", help="count only records at or before WHEN")
    p = leaf(
        sub,
        "inspect",
        "timeline",
        "Events and dead letters per time bucket and event type, as a bar chart.",
        "papyra.cli.commands.timeline:timeline",
    )
    p.add_argument("--since", type=time_value, metavar="WHEN", help="count only records at or after WHEN")
    p.add_argument("--until", type=time_value, metavar="WHEN", help="count only records at or before WHEN")
    p.add_argument(
        "--bucket",
        type=duration,
        default=60.0,
        metavar="SPAN",
        help="bucket size: seconds or 30s/1m/1h/1d (default 1m)",
    )
    p.add_argument("--event-type", action="append", metavar="TYPE", help="only this event type (repeatable)")

    # metrics
    _, sub = group("metrics", "Inspect runtime metrics and observability counters")
    p = leaf(
        sub,
        "metrics",
        "persistence",
        "Backend counters plus figures derived from the store.",
        "papyra.cli.commands.metrics:persistence",
        ("text", "json", "ndjson", "prometheus"),
    )
    p.add_argument(
        "--process-counters",
        action="store_true",
        help="prometheus: also export this CLI process's own counters (they restart every run)",
    )
    p.add_argument(
        "--textfile-dir",
        metavar="DIR",
        help="write the prometheus exposition atomically to DIR/papyra_<store>_<hash>.prom "
        "(node_exporter textfile collector) instead of stdout",
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
    secrets = cli_secrets(args_list, env)
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
        from papyra.cli.output import write_line

        message = redact(str(exc), secrets)
        _machine_error(_requested_format(args_list), out_stream, EXIT_USAGE, message)
        write_line(err_stream, f"papyra: error: {message}")
        return EXIT_USAGE
    except SystemExit as exc:  # --help / --version
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    resolve_times(args)
    handler_spec = getattr(args, "handler", None)
    if handler_spec is None:
        group_parser = getattr(args, "group_parser", None) or parser
        out_stream.write(group_parser.format_help())
        return EXIT_OK
    debug = debug or bool(getattr(args, "debug", False))

    from papyra.cli.context import Context
    from papyra.cli.output import Output, use_utc, write_line

    use_utc(bool(getattr(args, "utc", False)))

    out = Output(getattr(args, "format", None) or "text", stdout=out_stream, stderr=err_stream, environ=env,
                 secrets=secrets)
    ctx = Context(args, out, env)
    try:
        try:
            code = _resolve_handler(handler_spec)(ctx)
        finally:
            ctx.close()
        out.flush()  # a buffered write failing (a full disk) is an error of this run
        return code
    except BrokenPipeError:
        # Output piped into `head` and friends: not an error.
        _silence_stdout(out_stream)
        return EXIT_OK
    except Exception as exc:
        code, message = _describe_exception(exc)
        if debug:
            trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            write_line(err_stream, redact(trace, secrets).rstrip("\n"))
        message = redact(message, secrets)
        try:
            if not isinstance(exc, OutputWriteError):
                out.error(code, message)
        except OutputWriteError:
            exc = OutputWriteError()
        if isinstance(exc, OutputWriteError):
            _silence_stdout(out_stream)  # what is still buffered must not fail again at exit
        write_line(err_stream, f"papyra: error: {message}")
        return code


def _requested_format(args: Sequence[str]) -> str:
    """The ``--format`` value on a command line argparse refused (last one wins), else text."""
    fmt = "text"
    for i, arg in enumerate(args):
        if arg == "--format" and i + 1 < len(args):
            fmt = args[i + 1]
        elif arg.startswith("--format="):
            fmt = arg.partition("=")[2]
    return fmt


def _machine_error(fmt: str, stream: TextIO, code: int, message: str) -> None:
    from papyra.cli.output import Output

    Output(fmt, stdout=stream, stderr=stream, environ={}).error(code, message)


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
