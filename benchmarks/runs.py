"""Saved benchmark runs (pytest-benchmark's JSON format) and the figures recorded in them.

A run is one file written by ``--benchmark-autosave``/``--benchmark-save`` (under
``--benchmark-storage``, default ``.benchmarks/<machine id>/NNNN_*.json``) or ``--benchmark-json``.
Each benchmark's ``extra_info["figures"]`` holds its figures (``benchmarks.measure.record``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_benchmark.logger import Logger
from pytest_benchmark.utils import get_machine_id, load_storage

DEFAULT_STORAGE = Path(".benchmarks")


class RunError(Exception):
    """A run file that is missing, unreadable or holds no figures; a storage with no saved run."""


@dataclass(frozen=True)
class Measured:
    """One figure as measured in one run: ``ratio`` plus the medians it came from (seconds)."""

    ratio: float
    papyra_s: float
    reference_s: float
    rounds: int
    work: int | None
    unit: str | None


@dataclass(frozen=True)
class Run:
    path: Path
    figures: dict[str, Measured]
    machine: str
    python: str
    commit: str
    when: str
    command: str | None
    load_average: dict[str, list[float]] | None


def _machine(info: dict[str, Any]) -> str:
    cpu = info.get("cpu") or {}
    brand = cpu.get("brand_raw") or info.get("processor") or info.get("machine") or "unknown CPU"
    count = cpu.get("count")
    return f"{brand}, {count} CPUs" if count else str(brand)


def _commit(info: dict[str, Any]) -> str:
    commit = str(info.get("id") or "unversioned")[:12]
    return commit + (" (uncommitted changes)" if info.get("dirty") else "")


def load_run(path: Path) -> Run:
    """Read one saved run. Raises RunError when the file cannot be read or records no figure."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        figures = {
            name: Measured(
                ratio=float(m["ratio"]), papyra_s=float(m["papyra_s"]), reference_s=float(m["reference_s"]),
                rounds=int(m["rounds"]), work=m.get("work"), unit=m.get("unit"),
            )
            for bench in data["benchmarks"]
            for name, m in (bench.get("extra_info") or {}).get("figures", {}).items()
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise RunError(f"{path}: not a readable pytest-benchmark run ({type(exc).__name__}: {exc})") from exc
    if not figures:
        raise RunError(f"{path}: the run records no figure (was it run with --benchmark-disable?)")
    extra = data.get("papyra") or {}
    return Run(
        path=Path(path),
        figures=figures,
        machine=_machine(data.get("machine_info") or {}),
        python=str((data.get("machine_info") or {}).get("python_version", "?")),
        commit=_commit(data.get("commit_info") or {}),
        when=str(data.get("datetime", "?")),
        command=extra.get("command"),
        load_average=extra.get("load_average"),
    )


def latest_saved_run(storage: Path = DEFAULT_STORAGE) -> Path:
    """The newest run saved under ``storage`` for this machine id (as ``--benchmark-compare`` picks it).

    Raises RunError when the storage holds no saved run.
    """
    if not Path(storage).is_dir():
        raise RunError(f"no saved runs: {storage} does not exist (run the suite with --benchmark-autosave)")
    files = load_storage(
        str(storage), logger=Logger(Logger.QUIET), netrc=None, default_machine_id=get_machine_id()
    ).query()
    if not files:
        raise RunError(f"no saved runs under {storage} (run the suite with --benchmark-autosave)")
    return Path(files[-1])
