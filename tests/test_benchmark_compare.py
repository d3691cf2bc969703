"""`python -m benchmarks.compare` on small synthetic runs saved by pytest-benchmark itself.

Each synthetic run is a real pytest session with ``--benchmark-autosave`` whose one benchmark
records chosen figures through ``benchmarks.measure.record``; the compare command then runs as
a real process and is judged by its exit status and output.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SYNTHETIC_BENCH = '''
import json, os
from benchmarks.measure import record

def test_synthetic(benchmark):
    benchmark.pedantic(lambda: None, rounds=1)
    for name, (ratio, reference_s) in json.loads(os.environ["SYNTHETIC_FIGURES"]).items():
        record(benchmark, name, ratio=ratio, papyra_s=reference_s / ratio, reference_s=reference_s,
               rounds=5)
'''

# figure -> (figure value, reference median seconds); both figures allow a 15 % drop
BASELINE = {"tell_vs_pykka": (2.0, 0.200), "scan_vs_raw": (0.70, 0.600)}
WITHIN = {"tell_vs_pykka": (1.8, 0.220), "scan_vs_raw": (0.74, 0.560)}  # -10 %, +6 %; refs +-10 %
REGRESSED = {"tell_vs_pykka": (1.5, 0.200), "scan_vs_raw": (0.70, 0.600)}  # tell -25 %
BUSY = {"tell_vs_pykka": (1.5, 0.400), "scan_vs_raw": (0.70, 0.600)}  # pykka's own time doubled


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(ROOT))


def _save_run(tmp: Path, storage: Path, figures: dict[str, tuple[float, float]]) -> Path:
    """Run the synthetic benchmark with --benchmark-autosave into storage; return the saved file."""
    bench = tmp / "test_synthetic_bench.py"
    bench.write_text(SYNTHETIC_BENCH)
    before = set(storage.rglob("*.json"))
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(bench),
         "--benchmark-autosave", f"--benchmark-storage={storage}"],
        cwd=tmp, env=dict(_env(), SYNTHETIC_FIGURES=json.dumps(figures)), check=True,
        capture_output=True, timeout=120,
    )
    (saved,) = set(storage.rglob("*.json")) - before
    return saved


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("synthetic-runs")
    saved = {"baseline": _save_run(tmp, tmp / "baseline-storage", BASELINE)}
    for name, figures in (("within", WITHIN), ("busy", BUSY), ("regressed", REGRESSED)):
        saved[name] = _save_run(tmp, tmp / "storage", figures)  # "regressed" is saved last
    return saved


def _compare(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "benchmarks.compare", *map(str, args)],
        cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=120,
    )


def test_a_run_within_tolerance_passes_with_exit_0(runs: dict[str, Path]) -> None:
    result = _compare(runs["baseline"], runs["within"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK: 2 figures within tolerance" in result.stdout
    assert "-10.0%" in result.stdout  # the change column shows tell's drop


def test_a_regression_past_tolerance_fails_and_names_the_figure(runs: dict[str, Path]) -> None:
    result = _compare(runs["baseline"], runs["regressed"])
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAILED: papyra got slower relative to its references: tell_vs_pykka\n" in result.stdout
    tell, scan = (next(line for line in result.stdout.splitlines() if line.startswith(name))
                  for name in ("tell_vs_pykka", "scan_vs_raw"))
    assert tell.endswith("REGRESSED") and "-25.0%" in tell
    assert scan.endswith("ok")


def test_a_run_from_a_busy_machine_is_refused_not_judged(runs: dict[str, Path]) -> None:
    result = _compare(runs["baseline"], runs["busy"])
    assert result.returncode == 3, result.stdout + result.stderr
    assert "REFUSED" in result.stdout and "busy" in result.stdout
    assert "tell_vs_pykka (+100.0%)" in result.stdout
    assert "FAILED" not in result.stdout and "OK:" not in result.stdout


def test_the_default_run_is_the_newest_saved_one(runs: dict[str, Path]) -> None:
    result = _compare(runs["baseline"], "--storage", runs["regressed"].parents[1])
    assert result.returncode == 1, result.stdout + result.stderr
    assert str(runs["regressed"]) in result.stdout


def test_missing_or_figureless_runs_are_errors_not_verdicts(runs: dict[str, Path], tmp_path: Path) -> None:
    result = _compare(runs["baseline"], tmp_path / "absent.json")
    assert result.returncode == 2 and "absent.json" in result.stderr
    result = _compare(runs["baseline"], "--storage", tmp_path / "empty")
    assert result.returncode == 2 and "no saved runs" in result.stderr
    data = json.loads(runs["within"].read_text())
    for bench in data["benchmarks"]:
        bench["extra_info"] = {}
    (tmp_path / "disabled.json").write_text(json.dumps(data))
    result = _compare(runs["baseline"], tmp_path / "disabled.json")
    assert result.returncode == 2 and "records no figure" in result.stderr
