"""Benchmark the walk-forward backtest evaluation against a naive per-(target, method, month) loop.

Synthetic but realistic volume: 430 targets x 7 methods x 24 monthly rebalances x 10 names, on a
planted factor-model return panel of 500 tickers (about 27 months of weekdays). Both implementations
run in the same process on the same inputs; their results are compared row by row.

    .venv/bin/python benchmarks/bench_backtest.py [--targets 430] [--naive-fraction 1.0]

``--naive-fraction`` < 1 times the naive loop on a random subset of targets and extrapolates
linearly (its cost is linear in the number of hedges); the default runs it on everything.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hedging_pipeline.backtest.metrics import evaluate_hedges  # noqa: E402
from hedging_pipeline.backtest.summary import summarise_backtest  # noqa: E402
from hedging_pipeline.backtest.walk_forward import walk_forward_splits  # noqa: E402
from hedging_pipeline.reporting.backtest_report import render_backtest_report  # noqa: E402
from hedging_pipeline.types import METHODS  # noqa: E402
from hedging_pipeline_tests.backtest.synthetic import (  # noqa: E402
    month_ends,
    naive_evaluate,
    random_hedges,
    synthetic_returns,
)

NUMBERS = ["horizon_days", "vol_unhedged", "vol_hedged", "predicted_te", "variance_reduction"]
KEYS = ["as_of", "ticker", "method", "scope"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickers", type=int, default=500)
    parser.add_argument("--targets", type=int, default=430)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--names", type=int, default=10)
    parser.add_argument("--naive-fraction", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    returns = synthetic_returns(
        n_tickers=args.tickers, start="2018-01-01", end="2020-04-30", seed=args.seed
    )
    dates = pd.DatetimeIndex(returns["date"].unique())
    as_of = month_ends(dates)[-args.months - 1 : -1]
    splits = walk_forward_splits(dates, as_of)
    universe = sorted(returns["ticker"].unique())
    targets = universe[: args.targets]
    weights, diagnostics = random_hedges(
        universe, as_of, METHODS, targets=targets, n_names=args.names, seed=args.seed + 1
    )
    n_hedges = len(diagnostics)
    print(
        f"inputs: {len(returns):,} daily returns ({args.tickers} tickers x {len(dates)} days), "
        f"{n_hedges:,} hedges ({len(targets)} targets x {len(METHODS)} methods x "
        f"{len(splits)} months), "
        f"{len(weights):,} weight rows"
    )

    t0 = time.perf_counter()
    ev = evaluate_hedges(weights, diagnostics, returns, splits)
    t_fast = time.perf_counter() - t0
    t0 = time.perf_counter()
    summary = summarise_backtest(ev.results)
    t_summary = time.perf_counter() - t0
    t0 = time.perf_counter()
    render_backtest_report(ev.results, summary, ev.daily, skipped=ev.skipped)
    t_report = time.perf_counter() - t0

    rng = np.random.default_rng(args.seed + 2)
    n_naive = max(1, round(args.naive_fraction * len(targets)))
    naive_targets = sorted(rng.choice(targets, size=n_naive, replace=False))
    mask = weights["ticker"].isin(naive_targets)
    t0 = time.perf_counter()
    ref = naive_evaluate(weights.loc[mask], diagnostics, returns, splits)
    t_naive_measured = time.perf_counter() - t0
    t_naive = t_naive_measured * len(targets) / n_naive

    ours = ev.results.loc[ev.results["ticker"].isin(naive_targets)]
    ours = ours.sort_values(KEYS, ignore_index=True)
    ref = ref.sort_values(KEYS, ignore_index=True)
    assert (ours[KEYS].to_numpy() == ref[KEYS].to_numpy()).all(), "row keys differ"
    max_diff = float(np.abs(ours[NUMBERS].to_numpy(float) - ref[NUMBERS].to_numpy(float)).max())

    full = ev.results.loc[ev.results["scope"] == "full_period"]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {dt.date.today().isoformat()}")
    print(
        f"evaluate_hedges (vectorised): {t_fast:.2f} s for {n_hedges:,} hedges "
        f"({1e6 * t_fast / n_hedges:.1f} us/hedge), {len(ev.results):,} result rows"
    )
    print(f"summarise_backtest (2000 bootstrap resamples): {t_summary:.2f} s")
    print(f"render_backtest_report (3 plots + tables): {t_report:.2f} s")
    scope = "all" if n_naive == len(targets) else f"{n_naive} of {len(targets)} (extrapolated)"
    print(
        f"naive pandas loop over targets: {scope}: measured {t_naive_measured:.1f} s, "
        f"full volume {t_naive:.1f} s"
    )
    print(
        f"speed-up: {t_naive / t_fast:.0f}x; "
        f"max |difference| over {len(ours):,} rows: {max_diff:.2e}"
    )
    print(
        f"full-period rows: {len(full):,}; median variance reduction of random baskets: "
        f"{full['variance_reduction'].median():.3f}"
    )


if __name__ == "__main__":
    main()
