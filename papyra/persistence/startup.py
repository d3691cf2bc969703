"""Startup checks: what ``ActorSystem.start()`` (and ``papyra persistence startup-check``) decide
about a store before any actor runs.

Modes:

* ``IGNORE`` — no scan at all;
* ``SCAN_ONLY`` — scan and report, start anyway;
* ``FAIL_ON_ANOMALY`` — scan; anomalies raise :class:`PersistenceStartupError`;
* ``RECOVER`` — scan; on anomalies recover (REPAIR unless a recovery config says otherwise),
  re-scan, and raise if anomalies remain.

Cost: one scan (a streaming read of the whole store), plus a recovery and a second scan in
RECOVER mode when damage is found.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, field
from typing import Any

from papyra.exceptions import PersistenceStartupError
from papyra.hooks import call_hook
from papyra.persistence.models import (
    PersistenceRecoveryConfig,
    PersistenceRecoveryMode,
    PersistenceRecoveryReport,
    PersistenceScanReport,
    parse_choice,
)

__all__ = [
    "PersistenceStartupConfig",
    "PersistenceStartupMode",
    "StartupOutcome",
    "run_startup_check",
]

logger = logging.getLogger("papyra")


class PersistenceStartupMode(str, enum.Enum):
    IGNORE = "ignore"
    SCAN_ONLY = "scan_only"
    FAIL_ON_ANOMALY = "fail_on_anomaly"
    RECOVER = "recover"

    @classmethod
    def parse(cls, value: str | PersistenceStartupMode) -> PersistenceStartupMode:
        """Accept a member or its value case-insensitively (``-`` allowed for ``_``)."""
        return parse_choice(cls, value, "startup mode")


@dataclass(frozen=True)
class PersistenceStartupConfig:
    """How ``ActorSystem.start()`` checks the store. ``recovery`` is used in RECOVER mode."""

    mode: PersistenceStartupMode = PersistenceStartupMode.IGNORE
    recovery: PersistenceRecoveryConfig | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "mode", PersistenceStartupMode.parse(self.mode))
        if self.recovery is not None and not isinstance(self.recovery, PersistenceRecoveryConfig):
            raise TypeError("recovery must be a PersistenceRecoveryConfig or None")


@dataclass
class StartupOutcome:
    """What the startup check saw and did."""

    mode: PersistenceStartupMode
    scan: PersistenceScanReport | None = None
    recovery: PersistenceRecoveryReport | None = None
    post_scan: PersistenceScanReport | None = None
    passed: bool = True
    #: 0 pass, 1 anomalies under fail_on_anomaly, 2 recovery left anomalies (CLI exit codes).
    exit_code: int = 0
    messages: list[str] = field(default_factory=list)


def run_startup_check(
    backend: Any,
    config: PersistenceStartupConfig,
    *,
    hooks: Any = None,
    raise_on_failure: bool = True,
) -> StartupOutcome:
    """Run the startup check on ``backend``.

    Calls ``hooks.on_persistence_scan`` after each scan and ``hooks.on_persistence_recovery``
    after a recovery. With ``raise_on_failure`` (the ``ActorSystem`` way) a failing check raises
    :class:`PersistenceStartupError`; otherwise the outcome says so (the CLI way).
    """
    mode = PersistenceStartupMode.parse(config.mode)
    outcome = StartupOutcome(mode=mode)
    if mode is PersistenceStartupMode.IGNORE:
        return outcome
    scan: PersistenceScanReport = backend.scan()
    outcome.scan = scan
    call_hook(hooks, "on_persistence_scan", scan)
    if not scan.has_anomalies:
        return outcome
    if mode is PersistenceStartupMode.SCAN_ONLY:
        logger.warning(
            "papyra: %d persistence anomalies found at startup (scan_only: starting anyway)",
            len(scan.anomalies),
        )
        return outcome
    if mode is PersistenceStartupMode.FAIL_ON_ANOMALY:
        outcome.passed = False
        outcome.exit_code = 1
        detail = "; ".join(
            f"{a.type.value} {a.path}" + (f":{a.line}" if a.line is not None else "")
            for a in scan.anomalies[:5]
        )
        more = "" if len(scan.anomalies) <= 5 else f" (+{len(scan.anomalies) - 5} more)"
        message = f"Persistence anomalies detected at startup: {len(scan.anomalies)}: {detail}{more}"
        outcome.messages.append(message)
        if raise_on_failure:
            raise PersistenceStartupError(message)
        return outcome
    # RECOVER
    recovery_cfg = config.recovery or PersistenceRecoveryConfig(mode=PersistenceRecoveryMode.REPAIR)
    report: PersistenceRecoveryReport = backend.recover(recovery_cfg)
    outcome.recovery = report
    call_hook(hooks, "on_persistence_recovery", report)
    post: PersistenceScanReport = backend.scan()
    outcome.post_scan = post
    call_hook(hooks, "on_persistence_scan", post)
    if post.has_anomalies:
        outcome.passed = False
        outcome.exit_code = 2
        message = (
            "Persistence recovery completed but anomalies still exist: "
            f"{len(post.anomalies)} remaining"
        )
        outcome.messages.append(message)
        if raise_on_failure:
            raise PersistenceStartupError(message)
    return outcome
