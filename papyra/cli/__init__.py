"""The ``papyra`` operator CLI (also ``python -m papyra``), built on stdlib argparse.

Commands::

    papyra persistence scan | recover | compact | inspect | startup-check
    papyra doctor run
    papyra inspect events | audits | dead-letters | summary | timeline
    papyra metrics persistence | reset

Every command chooses its store the same way — flags, then environment variables, then the
settings module (see :mod:`papyra.cli.spec`; a path with numbered siblings ``PATH.1``…
is read as a rotating set unless ``--backend json``) — and takes ``--format text|json|ndjson``
(``prometheus`` too for ``metrics persistence``), ``--utc`` and ``--debug``.

Exit codes
----------
====  ==================================================================================
0     success; the store is clean (or was repaired)
1     anomalies found while the mode is ``fail_on_anomaly`` (``startup-check``, ``doctor``)
2     anomalies found (``persistence scan``, dry runs) or still present after recovery
3     operational error: I/O error, backend unreachable or unavailable, store lock not
      acquired within ``--lock-timeout``, missing store directory (commands that need a store)
64    usage error: bad arguments (argparse's own errors included), no store configured,
      invalid configuration
====  ==================================================================================

Errors are one line on stderr (``papyra: error: …``); ``--debug`` adds the traceback. Output
never contains credentials (URL passwords are shown as ``***``).

A store that does not exist
---------------------------
``persistence scan | recover | compact | inspect`` and every ``inspect`` command on a store that
does not exist (no file of a file store, no stream of the Redis prefix/system id) exit 3 with
``no store at …`` and create nothing. ``doctor run`` and ``persistence startup-check`` report
``No store yet`` and exit 0 (JSON ``"status": "missing"``, ``store.exists`` false): a first
deploy is healthy, also when the store's directory does not exist yet. ``inspect events
--follow`` waits for the store to appear. For the commands that need a store, a missing parent
directory is an operational error (exit 3).

Output
------
``--format json`` prints one JSON document (indented only on a terminal); ``--format ndjson``
(every command) one compact line per result, a single line for single-result commands. The
fields of each command are documented in README.md ("JSON output of each command"). On an error
with a machine format, stdout gets ``{"error": {"exit_code": N, "message": "..."}}`` besides the
stderr line. Text output falls back to ASCII symbols when stdout cannot encode them (see
:mod:`papyra.cli.output`). Times: naive input is local time, ``--utc`` makes input and output
UTC, output always shows the zone (:mod:`papyra.cli.timeparse`).
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default ``sys.argv[1:]``) and return the exit code."""
    from papyra.cli.app import run

    return run(argv)
