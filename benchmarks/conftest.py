"""Adds to every saved run what pytest-benchmark does not record: the command and the machine load.

``output_json["papyra"]`` = ``{"command": ..., "load_average": {"start": [...], "end": [...]}}``
(1, 5 and 15-minute load averages, as ``os.getloadavg``), which ``benchmarks.compare`` and
``benchmarks.readme`` show next to the figures.
"""

from __future__ import annotations

import os
import shlex
from typing import Any

import pytest

_LOAD_AT_START = list(os.getloadavg())


def pytest_benchmark_update_json(config: pytest.Config, benchmarks: Any, output_json: dict[str, Any]) -> None:
    env = "PAPYRA_BENCH_FULL=1 " if os.environ.get("PAPYRA_BENCH_FULL") == "1" else ""
    args = shlex.join(str(arg) for arg in config.invocation_params.args)
    output_json["papyra"] = {
        "command": f"{env}python -m pytest {args}",
        "load_average": {"start": _LOAD_AT_START, "end": list(os.getloadavg())},
    }
