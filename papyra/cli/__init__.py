"""The ``papyra`` operator CLI (also ``python -m papyra``), built on stdlib argparse.

Commands::

    papyra persistence scan | recover | compact | inspect | startup-check
    papyra doctor run
    papyra inspect events | audits | dead-letters | summary
    papyra metrics persistence | reset

Every command chooses its store the same way — flags, then environment variables, then the
settings module (see :mod:`papyra.cli.spec`; a path with numbered siblings ``PATH.1``…
is read as a rotating set unless ``--backend json``) — and takes ``--format text|json``
(``ndjson`` too for the ``inspect`` listings, ``prometheus`` for ``metrics persistence``) and
``--debug``.

Exit codes
----------
====  ==================================================================================
0     success; the store is clean (or was repaired)
1     anomalies found while the mode is ``fail_on_anomaly`` (``startup-check``, ``doctor``)
2     anomalies found (``persistence scan``, dry runs) or still present after recovery
3     operational error: I/O error, backend unreachable or unavailable, store lock not
      acquired within ``--lock-timeout``, missing store directory
64    usage error: bad arguments (argparse's own errors included), no store configured,
      invalid configuration
====  ==================================================================================

Errors are one line on stderr (``papyra: error: …``); ``--debug`` adds the traceback. Output
never contains credentials (URL passwords are shown as ``***``).

A store that does not exist
---------------------------
A file store whose path does not exist yet is **not an error** (the first start of an
application is legitimate) and is never created by the CLI. ``persistence scan``, ``doctor
run`` and ``persistence startup-check`` exit 0 and say so explicitly instead of "healthy":
text output prints ``Store does not exist (nothing to check).``, JSON output has
``"status": "missing"`` (and ``store.exists`` is ``false``); ``persistence recover`` prints
``Store does not exist (nothing to recover).``. stderr carries a note as well. Stray files
beside a missing path (e.g. orphaned rotated files) are still reported as anomalies. A missing
parent directory is an operational error (exit 3).

JSON output
-----------
``--format json`` prints one JSON document whose first keys are always ``command`` (e.g.
``"persistence scan"``), ``exit_code`` and ``store`` (``backend``, ``location``, ``source``:
flags/environment/settings, ``exists``); the command's own keys follow:

* ``persistence scan``: ``status`` (``healthy`` | ``anomalies`` | ``missing``), ``scan`` =
  ``{backend, has_anomalies, anomalies: [{type, path, detail, line, offset}]}``;
* ``persistence recover``: ``mode``, ``dry_run``, ``recovery`` (``{backend, scan,
  repaired_files, quarantined_files}`` or ``null`` for a dry run), ``post_scan``; a dry run adds
  ``plan`` = ``{files_to_rewrite, files_to_quarantine, files_to_remove, quarantine_dir}``
  (``files_to_remove``: files that are not members of the store, e.g. orphaned rotated files);
* ``persistence compact``: ``dry_run``, ``compaction`` = ``{backend, before_records,
  after_records, before_bytes, after_bytes, removed_records, reclaimed_bytes, …}`` and
  ``removed`` per kind;
* ``persistence inspect``: ``details`` (the backend's own ``describe()``), ``figures`` (records
  and bytes per kind, time range, files), ``retention``, ``anomalies``, and ``metrics`` with
  ``--show-metrics``;
* ``persistence startup-check`` / ``doctor run``: ``status`` (``healthy`` | ``anomalies`` |
  ``repaired`` | ``not_repaired`` | ``not_checked`` for mode ignore | ``missing``), ``mode``,
  ``recovery_mode``, ``passed``, ``scan``, ``recovery``, ``post_scan``, ``messages``;
* ``inspect events|audits|dead-letters``: ``kind``, ``count``, ``records`` (each record in the
  NDJSON line format, with ``kind``); ``--format ndjson`` prints one record per line instead;
* ``inspect summary``: ``latest_audit``, ``counts``, ``first_timestamp``, ``last_timestamp``;
* ``metrics persistence`` / ``metrics reset``: ``metrics`` (the backend snapshot) and
  ``derived`` (figures from the store, ``anomalies``).

Errors print nothing on stdout in any format.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default ``sys.argv[1:]``) and return the exit code."""
    from papyra.cli.app import run

    return run(argv)
