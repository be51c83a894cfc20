"""Benchmark: the certified hedge optimiser against SCIP on the real universe at one month end.

One run does, at one rebalance date:

1. ``factor`` hedges (candidates = the whole universe, factor-model risk) of **every** target: ms per
   hedge (median, p95, max), the certified gap distribution, and how many needed branch and bound;
2. the same with sample-covariance risk on the 30 most correlated names (the shape of ``nlp``);
3. SCIP (through cvxpy, the exact MIQP) on a seeded sample of targets with the full universe as
   candidates: its time and status, and our objective relative to SCIP's.

Risk model: the warehouse's (``HEDGING_HOME/warehouse.duckdb``) when it holds one on the date, else the
stand-in of ``hedging_pipeline_tests/hedging/standin.py`` (market-free sector dummies + 5 style proxies,
504-day window), which has the same structure. The run prints which.

    .venv/bin/python benchmarks/bench_hedge_optimizer.py [--as-of 2020-03-31] [--exact-sample 30]
        [--exact-time-limit 120] [--exact-gap 1e-4] [--skip-exact]
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

from hedging_pipeline.hedging.candidates import (  # noqa: E402
    correlation_candidates,
    correlation_ranking,
)
from hedging_pipeline.hedging.problem import (  # noqa: E402
    build_problem,
    risk_from_model,
    risk_from_returns,
)
from hedging_pipeline.hedging.reference import solve_exact  # noqa: E402
from hedging_pipeline.hedging.solve import SolverSettings, solve_hedge  # noqa: E402
from hedging_pipeline_tests.hedging.standin import (  # noqa: E402
    load_wide_returns,
    standin_risk_model,
)

SAMPLE_WINDOW_DAYS = 252
CORRELATION_CANDIDATES = 30


def _risk_model(raw_dir: Path, as_of: pd.Timestamp, returns: pd.DataFrame):
    from hedging_pipeline.settings import load_settings

    path = load_settings().warehouse_path
    if path.exists():
        from hedging_pipeline.risk.model import RiskModel
        from hedging_pipeline.warehouse.duckdb import Warehouse

        wh = Warehouse(path)
        if wh.has_table("factor_covariance"):
            dates = wh.query(
                "select distinct date from factor_covariance where date = ?", [as_of.date()]
            )
            if len(dates):
                model = RiskModel.from_frames(
                    as_of,
                    wh.read("style_exposures", start=as_of, end=as_of),
                    wh.read("factor_covariance", start=as_of, end=as_of),
                    wh.read("specific_risk", start=as_of, end=as_of),
                )
                return model, f"warehouse risk model ({path})"
    companies = pd.read_parquet(raw_dir / "companies.parquet")
    return standin_risk_model(
        returns, companies, as_of
    ), "stand-in model (tests/hedging/standin.py)"


def _describe(values: np.ndarray) -> dict[str, float]:
    return {
        "median": float(np.median(values)),
        "p95": float(np.percentile(values, 95)),
        "max": float(np.max(values)),
        "mean": float(np.mean(values)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw-dir", default=None, help="raw drop folder (default: the settings')")
    parser.add_argument("--as-of", default="2020-03-31")
    parser.add_argument("--exact-sample", type=int, default=30)
    parser.add_argument("--exact-time-limit", type=float, default=120.0, help="CPU seconds")
    parser.add_argument("--exact-gap", type=float, default=1e-4, help="SCIP's relative gap")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-exact", action="store_true")
    parser.add_argument("--json", default=None, help="write the raw numbers here")
    args = parser.parse_args()

    from hedging_pipeline.settings import load_settings

    raw_dir = Path(args.raw_dir) if args.raw_dir else load_settings().raw_dir
    as_of = pd.Timestamp(args.as_of)
    print(f"machine: {platform.machine()}, nproc {os.cpu_count()}, load {os.getloadavg()}")
    print(f"date: {pd.Timestamp.now():%Y-%m-%d %H:%M}, as_of {as_of.date()}")
    returns = load_wide_returns(str(raw_dir))
    model, source = _risk_model(raw_dir, as_of, returns)
    risk = risk_from_model(model)
    print(f"risk: {source}; {len(model.tickers)} tickers, {len(model.factors)} factors")
    settings = SolverSettings()

    # 1. factor hedges of every target, full universe
    rows = []
    for target in risk.tickers:
        problem = build_problem(risk, target, risk.tickers, settings.min_names)
        cpu = time.process_time()
        result = solve_hedge(problem, settings)
        rows.append(
            {
                "ticker": target,
                "n": problem.n,
                "ms": result.solve_ms,
                "cpu_ms": (time.process_time() - cpu) * 1e3,
                "gap": result.gap,
                "status": result.status,
                "objective": result.objective,
                "bound": result.lower_bound,
            }
        )
    factor = pd.DataFrame(rows)

    # 2. sample-covariance risk, 30 most correlated candidates (the shape of nlp)
    window = returns.loc[:as_of].iloc[-SAMPLE_WINDOW_DAYS:]
    sample = risk_from_returns(window, as_of, SAMPLE_WINDOW_DAYS // 2)
    corr_tickers, corr = correlation_ranking(window)
    rows = []
    for target in sample.tickers:
        names = correlation_candidates(
            corr_tickers, corr, target, sample.positions, CORRELATION_CANDIDATES
        )
        problem = build_problem(sample, target, names, settings.min_names)
        result = solve_hedge(problem, settings, "nlp")
        rows.append(
            {
                "ticker": target,
                "n": problem.n,
                "ms": result.solve_ms,
                "gap": result.gap,
                "status": result.status,
            }
        )
    small = pd.DataFrame(rows)

    # 3. SCIP on a sample of targets, full universe
    exact_rows = []
    if not args.skip_exact:
        rng = np.random.default_rng(args.seed)
        sample_targets = sorted(rng.choice(risk.tickers, size=args.exact_sample, replace=False))
        for i, target in enumerate(sample_targets, start=1):
            problem = build_problem(risk, target, risk.tickers, settings.min_names)
            cpu = time.process_time()
            ours = solve_hedge(problem, settings)
            ours_cpu = (time.process_time() - cpu) * 1e3
            exact = solve_exact(
                problem, settings, time_limit_s=args.exact_time_limit, rel_gap=args.exact_gap
            )
            exact_rows.append(
                {
                    "ticker": target,
                    "ours_ms": ours.solve_ms,
                    "ours_cpu_ms": ours_cpu,
                    "scip_ms": exact.solve_ms,
                    "scip_cpu_ms": exact.cpu_ms,
                    "scip_status": exact.scip_status,
                    "ours": ours.objective,
                    "ours_bound": ours.lower_bound,
                    "scip": exact.objective,
                    "rel_diff": ours.objective / exact.objective - 1.0,
                }
            )
            r = exact_rows[-1]
            print(
                f"  exact {i}/{len(sample_targets)} {target}: ours {r['ours']:.6f} "
                f"({r['ours_cpu_ms']:.1f} ms CPU), SCIP {r['scip']:.6f} "
                f"({r['scip_cpu_ms'] / 1e3:.1f} s CPU, "
                f"{r['scip_status']}), ours/SCIP - 1 = {r['rel_diff']:+.2e}",
                flush=True,
            )
    exact_df = pd.DataFrame(exact_rows)

    summary = {
        "factor": {
            "targets": len(factor),
            "candidates_median": int(factor["n"].median()),
            "ms": _describe(factor["ms"].to_numpy()),
            "cpu_ms": _describe(factor["cpu_ms"].to_numpy()),
            "gap": _describe(factor["gap"].to_numpy()),
            "certified": int((factor["status"] == "certified").sum()),
            "over_tolerance": int((factor["gap"] > settings.gap_tolerance).sum()),
        },
        "sample_corr30": {
            "targets": len(small),
            "ms": _describe(small["ms"].to_numpy()),
            "gap": _describe(small["gap"].to_numpy()),
            "certified": int((small["status"] == "certified").sum()),
        },
    }
    if len(exact_df):
        proven = exact_df["scip_status"].isin(["optimal", "gaplimit"])
        summary["exact"] = {
            "targets": len(exact_df),
            "scip_proven_optimal": int(proven.sum()),
            "scip_ms": _describe(exact_df["scip_ms"].to_numpy()),
            "ours_ms": _describe(exact_df["ours_ms"].to_numpy()),
            "scip_cpu_ms": _describe(exact_df["scip_cpu_ms"].to_numpy()),
            "ours_cpu_ms": _describe(exact_df["ours_cpu_ms"].to_numpy()),
            "cpu_speedup_median_of_ratios": float(
                (exact_df["scip_cpu_ms"] / exact_df["ours_cpu_ms"]).median()
            ),
            "cpu_speedup_min": float((exact_df["scip_cpu_ms"] / exact_df["ours_cpu_ms"]).min()),
            "speedup_median_of_ratios": float((exact_df["scip_ms"] / exact_df["ours_ms"]).median()),
            "speedup_min": float((exact_df["scip_ms"] / exact_df["ours_ms"]).min()),
            "rel_diff": _describe(exact_df["rel_diff"].to_numpy()),
            "rel_diff_min": float(exact_df["rel_diff"].min()),
            "ours_within_0.5pct_of_scip": int((exact_df["rel_diff"] <= 0.005).sum()),
        }
    print(json.dumps(summary, indent=2))
    if len(exact_df):
        print(exact_df.to_string(index=False, float_format=lambda v: f"{v:.6g}"))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
