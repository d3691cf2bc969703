"""Compare a saved benchmark run with the baseline; exit non-zero when papyra got slower.

    python -m benchmarks.compare [BASELINE] [RUN] [--storage DIR]

BASELINE defaults to the committed ``benchmarks/baseline.json``; RUN to the newest run saved
under ``--storage`` (default ``.benchmarks``, pytest-benchmark's default) for this machine id.
Only the normalised figures (``benchmarks.figures``: papyra's speed relative to a reference
measured in the same run) are judged; absolute times are shown for information. pytest-benchmark's
own ``--benchmark-compare-fail`` judges absolute time statistics only, which on a shared machine
move with the load; its storage and JSON format are used as they are.

Exit status: 0 every figure within its tolerance; 1 a figure fell by more than its tolerance
(named in the output); 2 a file is missing or unreadable, or the runs share no figure;
3 refused: a reference's own median time moved by more than the figure's ``reference_drift``
from the baseline's (the machine was busy, or is another machine), so the run is not judged.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.figures import BY_NAME, Figure
from benchmarks.runs import DEFAULT_STORAGE, Measured, Run, RunError, latest_saved_run, load_run

BASELINE = Path(__file__).resolve().parent / "baseline.json"

EXIT_OK = 0
EXIT_REGRESSION = 1
EXIT_ERROR = 2
EXIT_BUSY = 3


@dataclass(frozen=True)
class Row:
    """One figure of the comparison. ``change`` and ``reference_moved`` are fractions (+0.1 = +10 %)."""

    name: str
    figure: Figure | None
    base: Measured | None
    now: Measured | None

    @property
    def change(self) -> float | None:
        if self.base is None or self.now is None:
            return None
        return self.now.ratio / self.base.ratio - 1

    @property
    def reference_moved(self) -> float | None:
        if self.base is None or self.now is None:
            return None
        return self.now.reference_s / self.base.reference_s - 1

    @property
    def busy(self) -> bool:
        moved = self.reference_moved
        return self.figure is not None and moved is not None and abs(moved) > self.figure.reference_drift

    @property
    def regressed(self) -> bool:
        change = self.change
        return self.figure is not None and change is not None and change < -self.figure.tolerance


def rows(baseline: Run, run: Run) -> list[Row]:
    """One row per figure of either run, in the order of ``benchmarks.figures.FIGURES``."""
    order = {name: i for i, name in enumerate(BY_NAME)}
    names = sorted(set(baseline.figures) | set(run.figures), key=lambda n: (order.get(n, len(order)), n))
    return [Row(n, BY_NAME.get(n), baseline.figures.get(n), run.figures.get(n)) for n in names]


def verdict(rows: Sequence[Row]) -> int:
    """The exit status for these rows (see the module docstring); busy wins over regressed."""
    if not any(row.change is not None for row in rows):
        return EXIT_ERROR
    if any(row.busy for row in rows):
        return EXIT_BUSY
    if any(row.regressed for row in rows):
        return EXIT_REGRESSION
    return EXIT_OK


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:+.1f}%"


def _num(m: Measured | None) -> str:
    return "-" if m is None else f"{m.ratio:.3g}"


def _state(row: Row, judged: bool) -> str:
    if row.figure is None:
        return "unknown figure"
    if row.base is None:
        return "new (no baseline)"
    if row.now is None:
        return "not in run"
    if row.busy:
        return "REFERENCE MOVED"
    if not judged:
        return "not judged"
    if row.regressed:
        return "REGRESSED"
    return "ok"


def _times(row: Row) -> str:
    if row.base is None or row.now is None:
        return "-"
    return f"{row.base.papyra_s * 1e3:.1f} -> {row.now.papyra_s * 1e3:.1f}"


def format_table(rows: Sequence[Row], judged: bool) -> list[str]:
    header = ("figure", "baseline", "now", "change", "allowed", "reference moved", "papyra ms (info)",
              "verdict")
    body = [
        (
            row.name, _num(row.base), _num(row.now), _pct(row.change),
            "-" if row.figure is None else f"-{100 * row.figure.tolerance:.0f}%",
            "-" if row.figure is None
            else f"{_pct(row.reference_moved)} (max ±{100 * row.figure.reference_drift:.0f}%)",
            _times(row), _state(row, judged),
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in (header, *body)) for i in range(len(header))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
            for line in (header, *body)]


def _describe(label: str, run: Run) -> str:
    load = ""
    if run.load_average:
        start, end = run.load_average["start"][0], run.load_average["end"][0]
        load = f"; load average start {start:.2f}, end {end:.2f}"
    return f"{label}: {run.path} (commit {run.commit}, {run.when}; {run.machine}; Python {run.python}{load})"


def report(baseline: Run, run: Run) -> tuple[list[str], int]:
    """The printed lines and the exit status for comparing ``run`` with ``baseline``."""
    table = rows(baseline, run)
    status = verdict(table)
    lines = [_describe("baseline", baseline), _describe("run     ", run)]
    if baseline.machine != run.machine:
        lines.append(f"warning: different machines ({baseline.machine} / {run.machine})")
    lines += ["", *format_table(table, judged=status in (EXIT_OK, EXIT_REGRESSION)), ""]
    if status == EXIT_ERROR:
        lines.append("ERROR: the two runs share no figure; nothing to compare.")
    elif status == EXIT_BUSY:
        moved = ", ".join(f"{row.name} ({_pct(row.reference_moved)})" for row in table if row.busy)
        lines.append(f"REFUSED: not judging this run: the in-run references moved too far from the "
                     f"baseline's ({moved}): the machine was busy (or is another machine). "
                     f"Re-run on an idle machine.")
    elif status == EXIT_REGRESSION:
        names = ", ".join(row.name for row in table if row.regressed)
        lines.append(f"FAILED: papyra got slower relative to its references: {names}")
    else:
        lines.append(f"OK: {sum(row.change is not None for row in table)} figures within tolerance.")
    return lines, status


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.compare", description="Compare a saved benchmark run with the baseline."
    )
    parser.add_argument("baseline", nargs="?", type=Path, default=BASELINE,
                        help="baseline run (default: benchmarks/baseline.json)")
    parser.add_argument("run", nargs="?", type=Path, default=None,
                        help="run to judge (default: the newest run saved under --storage)")
    parser.add_argument("--storage", type=Path, default=DEFAULT_STORAGE,
                        help="pytest-benchmark storage directory (default: .benchmarks)")
    args = parser.parse_args(argv)
    try:
        baseline = load_run(args.baseline)
        run = load_run(args.run if args.run is not None else latest_saved_run(args.storage))
    except RunError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return EXIT_ERROR
    lines, status = report(baseline, run)
    print("\n".join(lines))
    return status


if __name__ == "__main__":
    sys.exit(main())
