"""``papyra persistence scan | recover | compact | inspect | startup-check``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from papyra.cli.context import Context
from papyra.cli.errors import EXIT_ANOMALIES, EXIT_OK, OperationalError
from papyra.cli.health import run_health_check
from papyra.cli.output import format_bytes, format_ts
from papyra.cli.render import anomaly_text, recovery_lines, render_anomalies, retention_text
from papyra.cli.stats import StoreFigures, figures_from_backend, figures_from_files

__all__ = ["compact", "inspect", "recover", "scan", "startup_check"]


def _where(ctx: Context) -> str:
    store = ctx.store()
    return f"{store.kind} store {store.describe()['location']}"


# --------------------------------------------------------------------------- scan


def scan(ctx: Context) -> int:
    """Read-only scan: exit 0 clean, 2 anomalies."""
    store = ctx.store()
    out = ctx.out
    scan_fn = getattr(store.backend, "scan", None)
    report = scan_fn() if callable(scan_fn) else None
    if report is None:
        if out.is_text:
            out.info("Persistence backend does not support scanning.")
        else:
            out.json(ctx.envelope(EXIT_OK, scan=None))
        return EXIT_OK
    anomalies = tuple(report.anomalies)
    code = EXIT_ANOMALIES if anomalies else EXIT_OK
    if not out.is_text:
        status = "anomalies" if anomalies else "healthy"
        out.json(ctx.envelope(code, status=status, scan=report.to_dict()))
        return code
    out.info(f"Scanned {_where(ctx)}")
    if not anomalies:
        out.success("Persistence is healthy.")
    else:
        render_anomalies(out, anomalies, header=f"Found {len(anomalies)} persistence anomalies:")
    return code


# --------------------------------------------------------------------------- recover


def _prepare_quarantine_dir(raw: str) -> str:
    qdir = Path(raw).expanduser()
    if qdir.is_symlink():
        raise OperationalError(f"quarantine directory {qdir} is a symlink; refusing to use it")
    if not qdir.exists():
        if not qdir.parent.is_dir():
            raise OperationalError(f"cannot create quarantine directory {qdir}: {qdir.parent} does not exist")
        qdir.mkdir(mode=0o700)
    elif not qdir.is_dir():
        raise OperationalError(f"quarantine directory {qdir} is not a directory")
    return str(qdir)


def _dry_run_capable(method: Any) -> bool:
    """True when a backend method takes ``dry_run=`` (the backend can plan through its own code)."""
    import inspect as _inspect

    try:
        return "dry_run" in _inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False


def _no_dry_run(store: Any, what: str) -> OperationalError:
    return OperationalError(
        f"the {store.kind} backend ({type(store.backend).__name__}) cannot plan a {what} without doing "
        "it (no dry run); nothing was changed"
    )


def recover(ctx: Context) -> int:
    """Recover, re-scan: exit 0 clean afterwards, 2 anomalies remain. ``--dry-run``: the report
    the real run would give, computed by the backend's own recovery code (exit 2 if anything
    would be changed), after taking and releasing the store lock as the real run would."""
    from papyra.persistence.models import PersistenceRecoveryConfig, PersistenceRecoveryMode

    mode = PersistenceRecoveryMode.parse(ctx.arg("mode", "repair"))
    dry_run = bool(ctx.arg("dry_run", False))
    qdir_arg = ctx.arg("quarantine_dir")
    if qdir_arg and mode is not PersistenceRecoveryMode.QUARANTINE:
        from papyra.cli.errors import UsageError

        raise UsageError("--quarantine-dir applies only to --mode quarantine")
    store = ctx.store()
    out = ctx.out
    backend_recover = store.backend.recover
    if dry_run:
        if not _dry_run_capable(backend_recover):
            raise _no_dry_run(store, "recovery")
        if mode is not PersistenceRecoveryMode.IGNORE:  # the real run takes the store lock
            store.probe_maintenance_lock()
        config = PersistenceRecoveryConfig(mode=mode, quarantine_dir=qdir_arg)
        report = backend_recover(config, dry_run=True)
        post = None
        remaining = tuple(report.scan.anomalies)
    else:
        qdir = _prepare_quarantine_dir(qdir_arg) if qdir_arg else None
        report = backend_recover(PersistenceRecoveryConfig(mode=mode, quarantine_dir=qdir))
        post = store.backend.scan()
        remaining = tuple(post.anomalies)
    code = EXIT_ANOMALIES if remaining else EXIT_OK
    if not out.is_text:
        out.json(
            ctx.envelope(
                code,
                mode=mode.value,
                dry_run=dry_run,
                recovery=report.to_dict(),
                post_scan=post.to_dict() if post is not None else None,
            )
        )
        return code
    found = tuple(report.scan.anomalies)
    if dry_run:
        out.info(f"Dry run: recovery ({mode.value}) of {_where(ctx)}; nothing is changed")
    else:
        out.info(f"Recovery completed ({mode.value}) on {_where(ctx)}")
    out.info(f"  anomalies found: {len(found)}")
    for anomaly in found:
        out.info(f"  - {anomaly_text(anomaly)}")
    would = "would have " if dry_run else ""
    for line in recovery_lines(report):
        out.info(f"  {would}{line}")
    if dry_run:
        if found and not report.repaired_files:
            out.info(f"Mode {mode.value} would change nothing.")
        elif not found:
            out.success("Persistence is healthy; nothing to recover.")
    elif remaining:
        render_anomalies(
            out, remaining, header=f"{len(remaining)} persistence anomalies remain after recovery:"
        )
    elif found:
        out.success("Persistence is healthy after recovery.")
    else:
        out.success("Persistence is healthy; nothing to recover.")
    return code


# --------------------------------------------------------------------------- compact


def _figures(ctx: Context) -> StoreFigures:
    store = ctx.store()
    files = store.files()
    if files or store.kind in ("json", "rotating"):
        return figures_from_files(files)
    return figures_from_backend(store.backend)


def compact(ctx: Context) -> int:
    """Compact; ``--dry-run`` reports what compaction would do now, computed by the backend's
    own compaction code with its writes left out (same figures as the real run), after taking
    and releasing the store lock as the real run would."""
    store = ctx.store()
    out = ctx.out
    dry_run = bool(ctx.arg("dry_run", False))
    backend_compact = store.backend.compact
    if dry_run:
        if not _dry_run_capable(backend_compact):
            raise _no_dry_run(store, "compaction")
        store.probe_maintenance_lock()  # fails (exit 3) where the real run would
        report: Any = backend_compact(dry_run=True)
    else:
        from papyra.cli.progress import Progress

        with Progress(out.stderr, f"compacting {store.describe()['location']}"):
            report = backend_compact()
    data = report.to_dict() if hasattr(report, "to_dict") else dict(report or {})
    if not out.is_text:
        out.json(ctx.envelope(EXIT_OK, dry_run=dry_run, compaction=data))
        return EXIT_OK
    if dry_run:
        out.info(f"Dry run: compaction of {_where(ctx)}; nothing is changed")
        out.info(f"  retention: {retention_text(getattr(store.backend, 'retention', None))}")
    else:
        out.info(f"Compaction completed on {_where(ctx)}")
    before, after = data.get("before_records"), data.get("after_records")
    removed = data.get("removed_records")
    would = "would " if dry_run else ""
    pairs = [("records", f"{before} -> {after} ({would}remove{'' if dry_run else 'd'} {removed})")]
    if data.get("before_bytes") is not None:
        pairs.append(
            (
                "bytes",
                f"{format_bytes(data.get('before_bytes'))} -> {format_bytes(data.get('after_bytes'))}"
                f" ({would}reclaim{'' if dry_run else 'ed'} {format_bytes(data.get('reclaimed_bytes'))})",
            )
        )
    out.kv(pairs)
    if data.get("quarantined_records"):
        where = f" to {data['quarantine_path']}" if data.get("quarantine_path") else ""
        verb = "would quarantine" if dry_run else "quarantined"
        out.info(f"  {verb} {data['quarantined_records']} unreadable records{where}")
    if data.get("relative_timestamp_records"):
        out.info(
            f"  {'would keep' if dry_run else 'kept'} {data['relative_timestamp_records']} records with "
            "relative (pre-2001, monotonic-clock) timestamps regardless of max_age"
        )
    if dry_run and not removed and not data.get("quarantined_records"):
        out.success("Nothing to remove: every record is within retention.")
    return EXIT_OK


# --------------------------------------------------------------------------- inspect


def inspect(ctx: Context) -> int:
    """Backend, location, size, records per kind, time range, retention, anomalies."""
    from papyra.persistence.base import safe_metrics_snapshot

    store = ctx.store()
    out = ctx.out
    backend = store.backend
    figures = _figures(ctx)
    report = backend.scan() if callable(getattr(backend, "scan", None)) else None
    anomalies = len(report.anomalies) if report is not None else None
    retention = getattr(backend, "retention", None)
    show_metrics = bool(ctx.arg("show_metrics", False))
    snapshot = safe_metrics_snapshot(backend) if show_metrics else None
    if not out.is_text:
        details: Any = None
        describe = getattr(backend, "describe", None)
        if callable(describe):
            try:
                details = describe()
            except Exception:
                details = None
        doc = ctx.envelope(
            EXIT_OK,
            details=details,
            figures=figures.to_dict(),
            retention=retention.to_dict() if hasattr(retention, "to_dict") else None,  # type: ignore[union-attr]
            anomalies=anomalies,
        )
        if show_metrics:
            doc["metrics"] = snapshot
        out.json(doc)
        return EXIT_OK
    desc = store.describe()
    out.heading("Persistence Inspect")
    out.heading("-------------------")
    files = figures.files
    size = f"{format_bytes(figures.total_bytes)} ({figures.total_bytes} bytes)"
    if figures.basis == "files":
        size += f" in {len(files)} file{'s' if len(files) != 1 else ''}"
    else:
        size += " of retained records"
    kinds = figures.kinds
    pairs: list[tuple[str, Any]] = [
        (
            "backend",
            f"{desc['backend']} ({type(backend).__name__})",
        ),
        ("location", desc["location"]),
        ("exists", "yes" if desc["exists"] else "no"),
        ("size", size),
        (
            "records",
            f"{figures.total_records} (events {kinds['events'].records}, audits "
            f"{kinds['audits'].records}, dead letters {kinds['dead_letters'].records})",
        ),
        ("time range", f"{format_ts(figures.first_timestamp)} -> {format_ts(figures.last_timestamp)}"),
        ("retention", retention_text(retention)),
        ("anomalies", "unsupported" if anomalies is None else str(anomalies)),
    ]
    if figures.unreadable_lines:
        pairs.append(("unreadable lines", str(figures.unreadable_lines)))
    rotating = _rotation_figures(backend)
    if rotating is not None:
        max_files, max_bytes = rotating
        pairs.append(
            (
                "rotation",
                f"at most {max_files} files of {format_bytes(max_bytes)} "
                f"(disk bound {format_bytes(max_files * max_bytes)}, "
                f"{max_files * max_bytes} bytes)",
            )
        )
    out.kv(pairs)
    if len(files) > 1 or (rotating is not None and files):
        out.write("")
        out.table(["file", "bytes"], [(p, s) for p, s in files], right=(1,), indent=2)
    if show_metrics:
        out.write("")
        if not snapshot:
            out.info("metrics: <unavailable>")
        else:
            out.heading("metrics:")
            out.kv([(k, v) for k, v in snapshot.items() if not isinstance(v, dict)])
    return EXIT_OK


def _rotation_figures(backend: Any) -> tuple[int, int] | None:
    """``(max_files, max_bytes)`` of a rotating backend, else None."""
    max_files, max_bytes = getattr(backend, "max_files", None), getattr(backend, "max_bytes", None)
    if isinstance(max_files, int) and isinstance(max_bytes, int):
        return max_files, max_bytes
    return None


# --------------------------------------------------------------------------- startup-check


def startup_check(ctx: Context) -> int:
    """Exactly what ``ActorSystem.start()`` would decide (0 pass, 1 fail_on_anomaly, 2 left)."""
    return run_health_check(ctx, doctor=False)
