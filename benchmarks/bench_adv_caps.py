"""Per-name (ADV) caps in the certified hedge solver, against SCIP on the exact MIQP (issue 16).

For random factor problems (``n`` candidates, 8 factors, at most 10 names) with per-name caps drawn
between 3 % and 25 %, solve with ``solve_hedge`` and with SCIP (``reference.solve_exact``), and
time the same problems without caps. Prints one Markdown row per size.

    PYTHONPATH=. python benchmarks/bench_adv_caps.py [n ...]
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace

import numpy as np

from hedging_pipeline.hedging.limits import caps_feasible
from hedging_pipeline.hedging.reference import solve_exact
from hedging_pipeline.hedging.solve import SolverSettings, solve_hedge
from hedging_pipeline_tests.hedging.synthetic import random_problem

PROBLEMS = 6
SCIP_LIMIT_S = 60.0


def _row(n: int) -> str:
    base = SolverSettings()
    ours, free, scip, worst, gaps, proven = [], [], [], 0.0, [], 0
    for seed in range(PROBLEMS):
        problem = random_problem(n, 8, seed)
        rng = np.random.default_rng(seed)
        caps = tuple((t, float(rng.uniform(0.03, 0.25))) for t in problem.candidates)
        settings = replace(base, name_caps=caps)
        if not caps_feasible(settings.upper_bounds(problem.candidates), base.max_names):
            continue
        start = time.process_time()
        result = solve_hedge(problem, settings)
        ours.append(time.process_time() - start)
        start = time.process_time()
        solve_hedge(problem, base)
        free.append(time.process_time() - start)
        exact = solve_exact(problem, settings, time_limit_s=SCIP_LIMIT_S, rel_gap=1e-6)
        scip.append(exact.cpu_ms / 1e3)
        proven += exact.proven
        worst = max(worst, result.objective / exact.objective - 1.0)
        gaps.append(result.gap)
    return (
        f"| {n} | {len(ours)} | {1e3 * np.median(ours):.0f} | {1e3 * np.median(free):.0f} | "
        f"{1e3 * np.median(scip):.0f} ({proven} proven) | {worst:+.2e} | {max(gaps):.2e} |"
    )


def main(sizes: list[int]) -> None:
    """Print the Markdown table for the given candidate counts."""
    print(
        "| n | problems | ours, caps (ms CPU) | ours, no caps | SCIP, caps | worst ours/SCIP − 1 "
        "| max certified gap |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for n in sizes:
        print(_row(n), flush=True)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [30, 60])
