"""Solve time and certified gap of every hedge-stage method at one month end (issue 13).

Reads the inputs the hedge assets read (``HEDGING_HOME/warehouse.duckdb``: risk model, returns,
peers, companies, caps) for one rebalance date, plans every (target, method) hedge of
``HEDGE_STAGE_METHODS`` and times **only the solve** (``HedgeResult.solve_ms``, as stored in
``hedge_diagnostics``; wall clock) and the process CPU time of each solve (what the solve costs
whatever the machine's load). Prints per method: hedges, solve ms median / p95 / max, largest certified
gap, uncertified count, and the median over every optimised hedge.

Naive approach, same run, same problems: the exact MIQP by SCIP (cvxpy, ``reference.solve_exact``,
the generic solver one would reach for) on a seeded sample of the optimised hedges with at most
``--exact-max-n`` candidates, wall ms and our objective relative to SCIP's.

Machine facts printed: ``nproc``, load average before and after, the process CPU time.

    HEDGING_HOME=data/home py benchmarks/bench_grid_solve.py [--as-of 2019-12-31]
        [--targets 0] [--exact-sample 12] [--exact-time-limit 30] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hedging_pipeline.errors import HedgingError  # noqa: E402
from hedging_pipeline.hedging.methods import hedge_context, plan_hedge, solve_plan  # noqa: E402
from hedging_pipeline.hedging.reference import solve_exact  # noqa: E402
from hedging_pipeline.hedging.registry import HEDGE_STAGE_METHODS  # noqa: E402
from hedging_pipeline.services.hedges import (  # noqa: E402
    DEFAULT_SETTINGS,
    read_hedge_inputs,
    rebalance_date,
)
from hedging_pipeline.settings import load_settings  # noqa: E402
from hedging_pipeline.warehouse.duckdb import Warehouse  # noqa: E402


def _solve_all(ctx, targets) -> tuple[pd.DataFrame, dict]:
    rows, plans = [], {}
    for method in HEDGE_STAGE_METHODS:
        for target in targets:
            try:
                plan = plan_hedge(ctx, target, method)
            except HedgingError:
                continue
            cpu = time.process_time()
            res = solve_plan(ctx, plan)
            cpu_ms = (time.process_time() - cpu) * 1e3
            optimised = plan.fixed_weights is None
            rows.append(
                dict(
                    method=method,
                    ticker=target,
                    n_candidates=len(plan.candidates),
                    solve_ms=res.solve_ms,
                    cpu_ms=cpu_ms,
                    gap=res.gap,
                    status=res.status,
                    objective=res.objective,
                    optimised=optimised,
                )
            )
            if optimised:
                plans[(method, target)] = plan
    return pd.DataFrame(rows), plans


def _exact(frame, plans, settings, sample, max_n, time_limit, seed) -> pd.DataFrame:
    small = frame.loc[frame["optimised"] & (frame["n_candidates"] <= max_n)]
    picked = small.sample(n=min(sample, len(small)), random_state=seed)
    rows = []
    for r in picked.itertuples():
        plan = plans[(r.method, r.ticker)]
        exact = solve_exact(plan.problem, settings, time_limit_s=time_limit, rel_gap=1e-4)
        rows.append(
            dict(
                method=r.method,
                ticker=r.ticker,
                n_candidates=r.n_candidates,
                ours_ms=r.solve_ms,
                scip_ms=exact.solve_ms,
                scip_status=exact.status,
                ours_vs_scip=(r.objective - exact.objective) / exact.objective,
            )
        )
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--as-of", default=None, help="default: the latest rebalance date")
    parser.add_argument("--exact-sample", type=int, default=12)
    parser.add_argument("--exact-max-n", type=int, default=25)
    parser.add_argument("--exact-time-limit", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--targets", type=int, default=0, help="seeded sample (0: every target)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    wh = Warehouse(load_settings().warehouse_path)
    as_of = rebalance_date(wh, args.as_of)
    inputs = read_hedge_inputs(wh, as_of)
    load_before = os.getloadavg()
    cpu0 = time.process_time()
    ctx = hedge_context(
        as_of,
        inputs.risk_model,
        inputs.peers,
        inputs.returns,
        inputs.companies,
        inputs.market_caps,
        DEFAULT_SETTINGS,
    )
    targets = list(ctx.model_risk.tickers)
    if args.targets:
        rng = np.random.default_rng(args.seed)
        targets = sorted(rng.choice(targets, size=min(args.targets, len(targets)), replace=False))
    frame, plans = _solve_all(ctx, targets)
    cpu_ours = time.process_time() - cpu0
    exact = _exact(
        frame,
        plans,
        DEFAULT_SETTINGS.solver,
        args.exact_sample,
        args.exact_max_n,
        args.exact_time_limit,
        args.seed,
    )
    load_after = os.getloadavg()
    opt = frame.loc[frame["optimised"]]
    by = opt.groupby("method")
    table = pd.DataFrame(
        {
            "hedges": by.size(),
            "candidates_median": by["n_candidates"].median(),
            "solve_ms_median": by["solve_ms"].median(),
            "solve_ms_p95": by["solve_ms"].quantile(0.95),
            "solve_ms_max": by["solve_ms"].max(),
            "cpu_ms_median": by["cpu_ms"].median(),
            "max_certified_gap": opt.loc[opt["status"] == "certified"]
            .groupby("method")["gap"]
            .max(),
            "uncertified": by["status"].apply(lambda s: int((s != "certified").sum())),
        }
    )
    summary = {
        "machine": f"{platform.machine()}, nproc {os.cpu_count()}",
        "as_of": str(as_of.date()),
        "load_before": load_before,
        "load_after": load_after,
        "cpu_s_all_hedges": cpu_ours,
        "optimised_hedges": len(opt),
        "median_solve_ms": float(opt["solve_ms"].median()),
        "p95_solve_ms": float(opt["solve_ms"].quantile(0.95)),
        "median_cpu_ms": float(opt["cpu_ms"].median()),
        "max_certified_gap": float(opt.loc[opt["status"] == "certified", "gap"].max()),
        "uncertified": int((opt["status"] != "certified").sum()),
        "scip_median_ms": float(exact["scip_ms"].median()) if len(exact) else None,
        "ours_on_scip_sample_median_ms": float(exact["ours_ms"].median()) if len(exact) else None,
        "ours_vs_scip_max": float(exact["ours_vs_scip"].max()) if len(exact) else None,
    }
    pd.set_option("display.width", 200)
    print(table.round(3).to_string())
    print(exact.round(5).to_string())
    print(json.dumps(summary, indent=1))
    if args.json:
        Path(args.json).write_text(
            json.dumps({**summary, "per_method": table.reset_index().to_dict("records")}, indent=1)
        )


if __name__ == "__main__":
    main()
