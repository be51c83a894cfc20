"""Benchmark: batched Huber vs a per-date sklearn HuberRegressor loop vs batched WLS (issue 4).

Full history of the real universe (../shared/data): style exposures from the cleaned panels, then
the daily cross-sectional regressions three ways, in one run:

* batched Huber (``estimate_factor_returns``, Newton on a (dates, assets, factors) tensor),
* the per-date loop through ``sklearn.linear_model.HuberRegressor`` (``exact=False`` reference),
* batched weighted least squares (``method="wls"``).

Accuracy: factor returns against the sklearn loop and against the *exact* reference (sklearn's
own Huber objective minimised by L-BFGS-B with ``ftol=0``), relative to each factor's standard
deviation, and the per-day correlation of the fitted residuals.

Run: ``.venv/bin/python benchmarks/bench_factor_regression.py [--sample N]`` (``--sample`` times
the sklearn loop on N evenly spaced dates and extrapolates instead of running all of them).
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hedging_pipeline.risk.exposures import compute_style_exposures  # noqa: E402
from hedging_pipeline.risk.regression import (  # noqa: E402
    HUBER_EPSILON,
    _huber_objective,
    _huber_scale,
    estimate_factor_returns,
)
from hedging_pipeline.risk.regression_reference import estimate_factor_returns_reference  # noqa: E402
from hedging_pipeline_tests.risk.real_data import build_real_panels  # noqa: E402

RAW_DIR = ROOT.parent / "shared" / "data"
EXACT_SAMPLE = 250


def _timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def _relative_error(a: pd.DataFrame, b: pd.DataFrame, scale: pd.Series) -> pd.Series:
    merged = a.merge(b, on=["date", "factor"], suffixes=("_a", "_b"))
    return (merged["ret_a"] - merged["ret_b"]).abs() / merged["factor"].map(scale)


def _residual_corr(a: pd.DataFrame, b: pd.DataFrame) -> pd.Series:
    merged = a.merge(b, on=["date", "ticker"], suffixes=("_a", "_b"))
    return merged.groupby("date").apply(
        lambda f: np.corrcoef(f["ret_a"], f["ret_b"])[0, 1], include_groups=False
    )


def _objective(specific: pd.DataFrame, exposures: pd.DataFrame) -> pd.Series:
    """Huber objective (at its best scale) of each day's residuals, with the regression's weights."""
    exposure_dates = pd.DatetimeIndex(exposures["date"].unique()).sort_values()
    prev = exposure_dates[exposure_dates.searchsorted(specific["date"], side="left") - 1]
    caps = exposures.set_index(["date", "ticker"])["market_cap"]
    root = np.sqrt(caps.reindex(pd.MultiIndex.from_arrays([prev, specific["ticker"]])).to_numpy())
    frame = specific.assign(root=root)
    frame["s"] = frame["root"] / frame.groupby("date")["root"].transform("mean")
    resid = frame.pivot(index="date", columns="ticker", values="ret").fillna(0.0)
    weight = frame.pivot(index="date", columns="ticker", values="s").fillna(0.0)
    r, w = resid.to_numpy(), weight.to_numpy()
    sigma = _huber_scale(r, w, HUBER_EPSILON)
    return pd.Series(_huber_objective(r, sigma, w, HUBER_EPSILON), index=resid.index)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw-dir", type=Path, default=RAW_DIR)
    parser.add_argument("--sample", type=int, default=0, help="sklearn loop on N dates only")
    args = parser.parse_args()

    panels, t_panels = _timed(build_real_panels, args.raw_dir)
    exposures, t_expo = _timed(
        compute_style_exposures,
        panels.prices,
        panels.daily_returns,
        panels.market_caps,
        panels.companies,
        panels.fundamentals,
    )
    returns = panels.daily_returns
    wls, t_wls = _timed(estimate_factor_returns, exposures, returns, method="wls")
    huber, t_huber = _timed(estimate_factor_returns, exposures, returns)
    dates = pd.DatetimeIndex(huber.stats["date"])
    n_dates = len(dates)

    loop_dates = (
        dates if args.sample <= 0 else dates[np.linspace(0, n_dates - 1, args.sample).astype(int)]
    )
    sk, t_sk = _timed(estimate_factor_returns_reference, exposures, returns, loop_dates)
    t_sk_full = t_sk * n_dates / len(loop_dates)
    exact_dates = dates[np.linspace(0, n_dates - 1, EXACT_SAMPLE).astype(int)]
    exact = estimate_factor_returns_reference(exposures, returns, exact_dates, exact=True)

    estimated = huber.factor_returns[huber.factor_returns["t_stat"].notna()]
    scale = estimated.groupby("factor")["ret"].std()  # over the days each factor is estimated
    vs_sk = _relative_error(huber.factor_returns, sk.factor_returns, scale)
    vs_exact = _relative_error(huber.factor_returns, exact.factor_returns, scale)
    corr = _residual_corr(huber.specific_returns, sk.specific_returns)
    wls_gap = _relative_error(huber.factor_returns, wls.factor_returns, scale)
    ours = _objective(huber.specific_returns, exposures).reindex(loop_dates)
    theirs = _objective(sk.specific_returns, exposures).reindex(loop_dates)
    excess = (theirs - ours) / ours

    n_assets = huber.stats["n_assets"]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {dt.date.today()}")
    print(
        f"data: {n_dates:,} regression days {dates[0].date()} -> {dates[-1].date()}, "
        f"{n_assets.min()}-{n_assets.max()} assets/day (mean {n_assets.mean():.0f}), "
        f"{len(huber.factors)} factors"
    )
    print(f"panels (load + clean + market caps): {t_panels:.1f} s; style exposures: {t_expo:.1f} s")
    print()
    print("| method | time (s) | vs batched Huber |")
    print("|---|---|---|")
    print(f"| batched Huber (Newton, {huber.n_iterations} iterations max) | {t_huber:.1f} | 1.0x |")
    print(f"| batched WLS | {t_wls:.1f} | {t_huber / t_wls:.2f}x of WLS |")
    label = "all dates" if len(loop_dates) == n_dates else f"{len(loop_dates)} dates, extrapolated"
    print(
        f"| sklearn HuberRegressor loop ({label}) | {t_sk_full:.1f} | "
        f"{t_sk_full / t_huber:.1f}x slower |"
    )
    print()
    print(
        f"factor returns vs sklearn loop ({len(loop_dates)} dates): max {vs_sk.max():.1e}, "
        f"median {vs_sk.median():.1e} (relative to each factor's std)"
    )
    print(
        f"factor returns vs exact reference ({len(exact_dates)} dates): max {vs_exact.max():.1e}, "
        f"median {vs_exact.median():.1e}"
    )
    print(
        f"residual correlation vs sklearn, per day: min {corr.min():.7f}, "
        f"median {corr.median():.9f}"
    )
    print(
        f"Huber objective: ours <= sklearn's on {(excess >= -1e-12).mean():.1%} of days; sklearn's "
        f"is higher by median {excess.median():.1e}, max {excess.max():.1e} (relative)"
    )
    print(f"Huber vs WLS factor returns (robustness effect): median {wls_gap.median():.2f} std")
    print(f"mean daily R2 (Huber fit, weighted): {huber.stats['r2'].mean():.3f}")


if __name__ == "__main__":
    main()
