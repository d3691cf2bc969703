"""Measure papyra next to its references and record the figures in pytest-benchmark's extra_info.

``side_by_side`` runs ``rounds`` pytest-benchmark rounds; each round first times every reference
(in pytest-benchmark's untimed ``setup``), then papyra (the timed target, so pytest-benchmark's own
statistics are papyra's absolute times). Alternating the sides lets machine noise hit both alike.
A figure is the median over the rounds of ``scale * reference time / papyra time`` (each papyra
round paired with the reference round just before it, so a load that changes during the run hits
both sides of a pair alike); ``record`` stores it with both sides' median times under
``extra_info["figures"][name]``, which ``--benchmark-autosave`` saves with the run.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from typing import Any

from benchmarks.figures import BY_NAME


def record(
    benchmark: Any,
    name: str,
    *,
    ratio: float,
    papyra_s: float,
    reference_s: float,
    rounds: int,
    work: int | None = None,
    unit: str | None = None,
) -> float:
    """Store figure ``name`` (must be in ``benchmarks.figures.FIGURES``) and return ``ratio``.

    ``ratio``: the figure (papyra's speed relative to the reference). ``papyra_s`` /
    ``reference_s``: median seconds per round of each side (``benchmarks.compare`` watches the
    reference's for a busy machine). ``work``/``unit``: the work of one round (e.g. 100000,
    "messages"), for the rates shown next to the figure. Raises KeyError for an unknown figure.
    """
    if name not in BY_NAME:  # fails loudly, also in the CI smoke run
        raise KeyError(f"{name!r} is not a figure of benchmarks/figures.py")
    benchmark.extra_info.setdefault("figures", {})[name] = {
        "ratio": ratio,
        "papyra_s": papyra_s,
        "reference_s": reference_s,
        "rounds": rounds,
        "work": work,
        "unit": unit,
    }
    print(f"\n[{name}] {ratio:.3f} (papyra {papyra_s * 1e3:.2f} ms, reference {reference_s * 1e3:.2f} ms,"
          f" medians of {rounds} rounds)")
    return ratio


def _timed(fn: Callable[[], object], into: list[float]) -> None:
    """Append fn's duration: its own return value when it is a float (seconds), else the wall time."""
    started = time.perf_counter()
    result = fn()
    into.append(result if isinstance(result, float) else time.perf_counter() - started)


def side_by_side(
    benchmark: Any,
    papyra: Callable[[], object],
    references: Mapping[str, Callable[[], object]],
    *,
    rounds: int,
    warmup: int = 0,
    prepare: Callable[[], object] | None = None,
    scale: float = 1.0,
    work: int | None = None,
    unit: str | None = None,
) -> dict[str, float]:
    """Time ``papyra`` and each reference alternately and record one figure per reference.

    ``references``: figure name -> reference workload. A workload that returns a float reports its
    own duration in seconds (to leave its setup and teardown out); otherwise it is timed whole.
    ``prepare`` runs untimed before each papyra round (e.g. copying a store). ``scale``: how many
    times a papyra round repeats the work that the figure compares with one reference round
    (e.g. 20 tail reads, each against one full scan). ``warmup`` rounds run first and are
    discarded. With ``--benchmark-disable`` (the CI smoke run) pytest-benchmark runs one round and
    no warm-up. Returns the figures by name.
    """
    papyra_times: list[float] = []
    reference_times: dict[str, list[float]] = {name: [] for name in references}

    def setup() -> None:
        for name, reference in references.items():
            _timed(reference, reference_times[name])
        if prepare is not None:
            prepare()

    benchmark.pedantic(
        lambda: _timed(papyra, papyra_times), setup=setup, rounds=rounds, warmup_rounds=warmup
    )
    skip = len(papyra_times) - (1 if benchmark.disabled else rounds)
    ours = papyra_times[skip:]
    figures: dict[str, float] = {}
    for name, times in reference_times.items():
        theirs = times[skip:]
        figures[name] = record(
            benchmark, name,
            ratio=statistics.median(scale * t / o for t, o in zip(theirs, ours, strict=True)),
            papyra_s=statistics.median(ours), reference_s=statistics.median(theirs),
            rounds=len(ours), work=work, unit=unit,
        )
    return figures
