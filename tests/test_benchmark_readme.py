"""benchmarks/README.md is generated from the committed baseline, and the baseline is complete."""

from __future__ import annotations

from pathlib import Path

from benchmarks.figures import FIGURES
from benchmarks.readme import BASELINE, CHECK_COMMAND, README, RERUN, render
from benchmarks.runs import load_run

ROOT = Path(__file__).resolve().parents[1]


def test_benchmarks_readme_figures_are_the_committed_runs() -> None:
    expected = render(load_run(BASELINE), load_run(RERUN))
    assert README.read_text(encoding="utf-8") == expected, "run: python -m benchmarks.readme"


def test_the_baseline_and_rerun_are_full_size_runs_of_every_figure() -> None:
    for path in (BASELINE, RERUN):
        run = load_run(path)
        assert set(run.figures) == {figure.name for figure in FIGURES}, path
        assert (run.command or "").startswith("PAPYRA_BENCH_FULL=1 python -m pytest benchmarks"), path


def test_the_project_readme_gives_the_one_line_check_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Benchmarks\n", 1)[1].split("\n## ", 1)[0]
    assert f"```bash\n{CHECK_COMMAND}\n```" in section
