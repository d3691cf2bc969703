"""Exit codes and the CLI's own error types (see :mod:`papyra.cli` for the contract)."""

from __future__ import annotations

__all__ = [
    "EXIT_ANOMALIES",
    "EXIT_FAIL_ON_ANOMALY",
    "EXIT_OK",
    "EXIT_OPERATIONAL",
    "EXIT_USAGE",
    "CliError",
    "OperationalError",
    "OutputWriteError",
    "UsageError",
]

EXIT_OK = 0
#: Anomalies found while the mode is ``fail_on_anomaly``.
EXIT_FAIL_ON_ANOMALY = 1
#: Anomalies found by a scan, or still present after a recovery.
EXIT_ANOMALIES = 2
#: I/O error, unreachable or unavailable backend, store lock not acquired in time.
EXIT_OPERATIONAL = 3
#: Bad command line or configuration (BSD ``EX_USAGE``).
EXIT_USAGE = 64


class CliError(Exception):
    """An error reported as one line on stderr with :attr:`exit_code`."""

    exit_code = EXIT_OPERATIONAL


class OperationalError(CliError):
    """The command could not do its work (exit 3)."""

    exit_code = EXIT_OPERATIONAL


class UsageError(CliError):
    """The command line or configuration is wrong (exit 64)."""

    exit_code = EXIT_USAGE


class OutputWriteError(OperationalError):
    """Writing the command's output to stdout failed with an ``OSError`` other than a broken pipe
    (a full disk, ``> /dev/full``): exit 3, reported on stderr only (stdout is unusable)."""
