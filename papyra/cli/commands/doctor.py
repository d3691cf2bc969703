"""``papyra doctor run``: the pre-flight check, without starting actors."""

from __future__ import annotations

from papyra.cli.context import Context
from papyra.cli.health import run_health_check

__all__ = ["run"]


def run(ctx: Context) -> int:
    """0 healthy or repaired, 1 anomalies under fail_on_anomaly, 2 recovery incomplete.

    ``scan_only`` and ``ignore`` only read the store; ``ignore`` reports and never fails.
    """
    return run_health_check(ctx, doctor=True)
