"""The startup decision as the CLI runs it (``persistence startup-check`` and ``doctor run``).

Both call :func:`papyra.persistence.startup.run_startup_check` — the same function
``ActorSystem.start()`` uses — with ``raise_on_failure=False`` and print its outcome. The one
difference: ``doctor run --mode ignore`` still scans (read-only) to report, and never fails.
"""

from __future__ import annotations

from typing import Any

from papyra.cli.context import Context
from papyra.cli.errors import EXIT_OK, UsageError
from papyra.cli.render import anomaly_text, recovery_lines, render_anomalies

__all__ = ["MISSING_TEXT", "run_health_check"]


#: What text output says about a store that does not exist (a first deploy is healthy).
MISSING_TEXT = "No store yet (nothing to check; the application creates it on its first start)"


def _status(outcome: Any, *, missing: bool, recovered: bool) -> str:
    """The ``status`` of JSON output: ``missing``, ``not_checked`` (mode ignore), ``healthy``,
    ``anomalies`` (found, not repaired by design), ``repaired`` or ``not_repaired``."""
    if missing:
        return "missing"
    if outcome.scan is None:
        return "not_checked"
    if not outcome.scan.anomalies:
        return "healthy"
    if not recovered:
        return "anomalies"
    post = outcome.post_scan
    return "not_repaired" if post is not None and post.anomalies else "repaired"


def _scan_dict(report: Any) -> Any:
    return report.to_dict() if report is not None and hasattr(report, "to_dict") else None


def run_health_check(ctx: Context, *, doctor: bool) -> int:
    from papyra.persistence.models import PersistenceRecoveryConfig, PersistenceRecoveryMode
    from papyra.persistence.startup import (
        PersistenceStartupConfig,
        PersistenceStartupMode,
        run_startup_check,
    )

    mode = PersistenceStartupMode.parse(ctx.arg("mode", "fail_on_anomaly"))
    recovery_mode = ctx.arg("recovery_mode")
    quarantine_dir = ctx.arg("quarantine_dir")
    if mode is not PersistenceStartupMode.RECOVER and (recovery_mode or quarantine_dir):
        raise UsageError("--recovery-mode/--quarantine-dir apply only to --mode recover")
    if quarantine_dir and recovery_mode != "quarantine":
        raise UsageError("--quarantine-dir needs --recovery-mode quarantine")
    recovery = None
    if mode is PersistenceStartupMode.RECOVER:
        recovery = PersistenceRecoveryConfig(
            mode=PersistenceRecoveryMode.parse(recovery_mode or "repair"), quarantine_dir=quarantine_dir
        )

    store = ctx.store()
    out = ctx.out
    effective = mode
    if doctor and mode is PersistenceStartupMode.IGNORE:
        effective = PersistenceStartupMode.SCAN_ONLY  # doctor reports even when told to ignore
    outcome = run_startup_check(
        store.backend, PersistenceStartupConfig(mode=effective, recovery=recovery), raise_on_failure=False
    )
    code = int(outcome.exit_code)
    anomalies = tuple(outcome.scan.anomalies) if outcome.scan is not None else ()
    remaining = tuple(outcome.post_scan.anomalies) if outcome.post_scan is not None else ()

    missing = store.missing and outcome.scan is not None and not anomalies
    if not out.is_text:
        out.json(
            ctx.envelope(
                code,
                status=_status(outcome, missing=missing, recovered=mode is PersistenceStartupMode.RECOVER),
                mode=mode.value,
                recovery_mode=recovery.mode.value if recovery is not None else None,
                passed=bool(outcome.passed),
                scan=_scan_dict(outcome.scan),
                recovery=_scan_dict(outcome.recovery),
                post_scan=_scan_dict(outcome.post_scan),
                messages=list(outcome.messages),
            )
        )
        return code

    what = "Doctor" if doctor else "Startup check"
    out.info(f"{what}: {store.kind} store {store.describe()['location']} (mode {mode.value})")
    if outcome.scan is None:
        out.info("Mode ignore: no scan; ActorSystem.start() would start without checking the store.")
        return EXIT_OK
    if missing:
        out.info(f"{MISSING_TEXT}.")
        return EXIT_OK
    if not anomalies:
        out.success("Persistence is healthy")
        return EXIT_OK
    if mode is PersistenceStartupMode.IGNORE:
        render_anomalies(out, anomalies, header=f"Persistence anomalies detected (ignored): {len(anomalies)}")
        return EXIT_OK
    if mode is PersistenceStartupMode.SCAN_ONLY:
        render_anomalies(out, anomalies, header=f"Persistence anomalies detected: {len(anomalies)}")
        out.info("Mode scan_only: anomalies are reported, start would continue; nothing was changed.")
        return EXIT_OK
    if mode is PersistenceStartupMode.FAIL_ON_ANOMALY:
        render_anomalies(out, anomalies, header=f"Persistence anomalies detected: {len(anomalies)}")
        out.problem("Mode fail_on_anomaly: ActorSystem.start() would refuse to start.")
        return code
    # RECOVER
    render_anomalies(out, anomalies, header=f"Persistence anomalies detected: {len(anomalies)}")
    report = outcome.recovery
    assert recovery is not None
    out.info(f"Recovery ({recovery.mode.value}) ran:")
    for line in recovery_lines(report):
        out.info(f"  {line}")
    if remaining:
        out.problem(f"Recovery attempted but anomalies still exist: {len(remaining)}")
        for anomaly in remaining:
            out.problem(f"- {anomaly_text(anomaly)}")
        return code
    out.success("Recovery successful: the store is clean")
    return code
