"""Risk model v2 on the real universe (issue 12): style coverage, industry levels, calibration.

Stages (each caches its output under ``--work``, default ``data/home/bench_risk_v2``):

* ``panels``: cleaned prices, returns, caps (``build_real_panels``), companies, fundamentals;
* ``exposures``: style exposures from ``--start`` (default 2015-01-01) to the end of the data, with
  the coverage of value / profitability / leverage among the names that have a usable statement;
* ``levels``: for each industry level (sector, industry group, industry): mean daily R² and the
  mean pairwise correlation of specific returns within and across groups, 2018-2019;
* ``calibration``: bias statistics of random portfolios per month for the baseline and the
  calibrated forecasts (see :mod:`hedging_pipeline.risk.covariance`).

Run: ``nice -n 5 .venv/bin/python benchmarks/bench_risk_model_v2.py STAGE [...]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hedging_pipeline.data.calendar import month_end_dates  # noqa: E402
from hedging_pipeline.risk.covariance import rolling_factor_covariance  # noqa: E402
from hedging_pipeline.risk.exposures import (  # noqa: E402
    FUNDAMENTAL_STYLES,
    OBSERVED_COLUMN,
    compute_style_exposures,
)
from hedging_pipeline.risk.model import RiskModel  # noqa: E402
from hedging_pipeline.risk.regression import estimate_factor_returns  # noqa: E402
from hedging_pipeline.risk.specific import estimate_specific_risk  # noqa: E402
from hedging_pipeline.types import STYLE_FACTORS  # noqa: E402
from hedging_pipeline_tests.risk.real_data import build_real_panels  # noqa: E402

RAW_DIR = ROOT.parent / "shared" / "data"
WORK = ROOT / "data" / "home" / "bench_risk_v2"
BACKTEST = (pd.Timestamp("2018-04-01"), pd.Timestamp("2020-04-30"))


def _panels(work: Path, raw_dir: Path) -> dict[str, pd.DataFrame]:
    names = ("prices", "daily_returns", "market_caps", "companies", "fundamentals")
    if not all((work / f"{n}.parquet").exists() for n in names):
        panels = build_real_panels(raw_dir)
        for n in names:
            getattr(panels, n).to_parquet(work / f"{n}.parquet")
    return {n: pd.read_parquet(work / f"{n}.parquet") for n in names}


def stage_exposures(work: Path, raw_dir: Path, start: pd.Timestamp) -> None:
    p = _panels(work, raw_dir)
    t0 = time.perf_counter()
    dates = pd.DatetimeIndex(p["market_caps"]["date"].unique()).sort_values()
    ex = compute_style_exposures(
        p["prices"],
        p["daily_returns"],
        p["market_caps"],
        p["companies"],
        p["fundamentals"],
        dates[dates >= start],
    )
    print(f"exposures: {len(ex):,} rows in {time.perf_counter() - t0:.0f} s")
    ex.to_parquet(work / "exposures.parquet")
    report_coverage(ex, p["fundamentals"])


def report_coverage(ex: pd.DataFrame, fundamentals: pd.DataFrame) -> None:
    """Per backtest day: share of names with a usable statement whose styles are observed."""
    window = ex[(ex["date"] >= BACKTEST[0]) & (ex["date"] <= BACKTEST[1])]
    with_fund = window[window["ticker"].isin(fundamentals["ticker"])]
    mask = with_fund[OBSERVED_COLUMN].to_numpy()
    rows = []
    for bit, style in enumerate(STYLE_FACTORS):
        if style in FUNDAMENTAL_STYLES:
            flag = pd.Series((mask >> bit) & 1, index=with_fund.index)
            daily = flag.groupby(with_fund["date"]).mean()
            age = with_fund[f"{style}_age_days"]
            rows.append((style, daily.min(), daily.mean(), age.median(), age.max()))
    print("| style | min daily coverage | mean | median age (days) | max age |")
    print("|---|---|---|---|---|")
    for style, lo, mean, med, mx in rows:
        print(f"| {style} | {lo:.1%} | {mean:.1%} | {med:.0f} | {mx:.0f} |")
    print(
        f"names with any fundamentals: {with_fund['ticker'].nunique()} of "
        f"{window['ticker'].nunique()} in the window"
    )


def _regression(work: Path, raw_dir: Path) -> dict[str, pd.DataFrame]:
    names = ("factor_returns", "specific_returns", "stats")
    if not all((work / f"{n}.parquet").exists() for n in names):
        p = _panels(work, raw_dir)
        ex = pd.read_parquet(work / "exposures.parquet")
        t0 = time.perf_counter()
        fit = estimate_factor_returns(ex, p["daily_returns"], skip_thin_days=True)
        print(f"regression: {len(fit.stats)} days in {time.perf_counter() - t0:.0f} s")
        fit.factor_returns.to_parquet(work / "factor_returns.parquet")
        fit.specific_returns.to_parquet(work / "specific_returns.parquet")
        fit.stats.to_parquet(work / "stats.parquet")
    return {n: pd.read_parquet(work / f"{n}.parquet") for n in names}


VARIANTS = {
    "baseline (rolling 504)": ({"method": "rolling"}, {"method": "rolling"}),
    "ewma": ({"method": "ewma"}, {"method": "ewma"}),
    "ewma + regime (USE4 mean z²)": (
        {"method": "ewma", "regime_adjustment": True},
        {"method": "ewma", "regime_adjustment": True, "regime_pooled": False},
    ),
    "ewma + regime (pooled)": (
        {"method": "ewma", "regime_adjustment": True, "regime_pooled": True},
        {"method": "ewma", "regime_adjustment": True, "regime_pooled": True},
    ),
    "ewma + factor regime, specific pooled": (
        {"method": "ewma", "regime_adjustment": True},
        {"method": "ewma", "regime_adjustment": True, "regime_pooled": True},
    ),
}


def _models(work, raw_dir, as_of, variants=VARIANTS):
    p = _panels(work, raw_dir)
    fit = _regression(work, raw_dir)
    ex = pd.read_parquet(work / "exposures.parquet")
    ex = ex[ex["date"].isin(as_of)]
    out = {}
    for name, (cov_kw, spec_kw) in variants.items():
        cov = rolling_factor_covariance(fit["factor_returns"], as_of, **cov_kw)
        spec = estimate_specific_risk(fit["specific_returns"], p["market_caps"], as_of, **spec_kw)
        out[name] = [
            RiskModel.from_frames(d, ex[ex["date"] == d], cov[cov["date"] == d], spec)
            for d in as_of
        ]
    return out


def _month_ends(p) -> pd.DatetimeIndex:
    days = pd.DatetimeIndex(sorted(p["daily_returns"]["date"].unique()))
    ends = month_end_dates(days)
    return ends[(ends >= BACKTEST[0] - pd.Timedelta(days=31)) & (ends < BACKTEST[1])]


def _band(t: int) -> tuple[float, float]:
    return 1 - np.sqrt(2 / t), 1 + np.sqrt(2 / t)


def random_portfolio_bias(models, wide, n_portfolios=100, size=50, seed=0) -> pd.DataFrame:
    """Per month: each random portfolio's bias statistic over the month's daily returns."""
    rows = []
    rng = np.random.default_rng(seed)
    universe = sorted(set().union(*(m.tickers for m in models)))
    picks = [rng.choice(len(universe), size=size, replace=False) for _ in range(n_portfolios)]
    dirichlet = [rng.dirichlet(np.ones(size)) for _ in range(n_portfolios)]
    for k, m in enumerate(models):
        end = models[k + 1].as_of if k + 1 < len(models) else BACKTEST[1]
        month = wide[(wide.index > m.as_of) & (wide.index <= end)]
        tickers = pd.Index(m.tickers)
        r = month.reindex(columns=tickers).to_numpy()
        for p_idx, (idx, w0) in enumerate(zip(picks, dirichlet, strict=True)):
            names = [universe[i] for i in idx]
            pos = tickers.get_indexer(names)
            ok = pos >= 0
            w = np.zeros(len(tickers))
            w[pos[ok]] = w0[ok] / w0[ok].sum()
            wx = w @ m.exposures
            var = wx @ m.factor_covariance @ wx + (w**2) @ m.specific_variance
            daily = np.nansum(r * w, axis=1)
            z = daily / np.sqrt(var / 252)
            rows.append((m.as_of, p_idx, len(z), float(np.sqrt(np.mean(z**2)))))
    return pd.DataFrame(rows, columns=["as_of", "portfolio", "n_days", "bias"])


def factor_hedge_te(models, p, wide, n_targets=20, seed=1) -> pd.DataFrame:
    """Per month: realised / predicted tracking error of ``factor`` hedges of sampled targets."""
    from hedging_pipeline.hedging.methods import hedge_context, plan_hedge, solve_plan

    peers = pd.DataFrame(columns=["ticker", "peer", "rank", "similarity", "model"])
    rows = []
    for k, m in enumerate(models):
        end = models[k + 1].as_of if k + 1 < len(models) else BACKTEST[1]
        month = wide[(wide.index > m.as_of) & (wide.index <= end)]
        window = p["daily_returns"][
            (p["daily_returns"]["date"] <= m.as_of)
            & (p["daily_returns"]["date"] > m.as_of - pd.Timedelta(days=400))
        ]
        ctx = hedge_context(
            m.as_of,
            m,
            peers,
            window,
            p["companies"],
            p["market_caps"][p["market_caps"]["date"] == m.as_of],
        )
        rng = np.random.default_rng(seed + k)
        alive = [t for t in m.tickers if month[t].notna().all()] if len(month) else []
        targets = rng.choice(alive, size=min(n_targets, len(alive)), replace=False)
        for target in targets:
            res = solve_plan(ctx, plan_hedge(ctx, str(target), "factor"))
            basket = month[list(res.tickers)].fillna(0.0).to_numpy() @ res.weights
            active = month[target].to_numpy() - basket
            realised = float(np.sqrt(np.mean(active**2) * 252))
            rows.append((m.as_of, target, res.predicted_te, realised, res.solve_ms))
    return pd.DataFrame(
        rows, columns=["as_of", "target", "predicted_te", "realised_te", "solve_ms"]
    )


LEVEL_SPAN = (pd.Timestamp("2018-01-01"), pd.Timestamp("2019-12-31"))


def _pair_correlations(specific: pd.DataFrame, labels: pd.Series) -> tuple[float, float]:
    """Mean pairwise correlation of specific returns within and across ``labels`` groups."""
    wide = specific.pivot(index="date", columns="ticker", values="ret")
    wide = wide.loc[:, wide.notna().mean() >= 0.9]
    corr = wide.corr(min_periods=250).to_numpy()
    lab = labels.reindex(wide.columns).to_numpy()
    same = lab[:, None] == lab[None, :]
    off = ~np.eye(len(lab), dtype=bool) & np.isfinite(corr)
    return float(corr[same & off].mean()), float(corr[~same & off].mean())


def stage_levels(work: Path, raw_dir: Path) -> None:
    from hedging_pipeline.risk.industries import complete_gics_levels, model_industries

    p = _panels(work, raw_dir)
    ex = pd.read_parquet(work / "exposures.parquet")
    ex = ex[(ex["date"] >= LEVEL_SPAN[0] - pd.Timedelta(days=10)) & (ex["date"] <= LEVEL_SPAN[1])]
    companies = complete_gics_levels(p["companies"])
    sub = companies.set_index("ticker")["gics_sub_industry"].fillna("none")
    print("| level | groups | mean daily R² | within-group corr | across | within sub-industry |")
    print("|---|---|---|---|---|---|")
    for level in ("gics_sector", "gics_industry_group", "gics_industry"):
        labels = model_industries(p["companies"], level=level).set_index("ticker")["industry"]
        relabelled = ex.assign(industry=ex["ticker"].map(labels))
        dates = pd.date_range(*LEVEL_SPAN)
        fit = estimate_factor_returns(relabelled, p["daily_returns"], dates, skip_thin_days=True)
        within, across = _pair_correlations(fit.specific_returns, labels)
        in_sub, _ = _pair_correlations(fit.specific_returns, sub)
        print(
            f"| {level} | {labels.nunique()} | {fit.stats['r2'].mean():.3f} | {within:.3f} | "
            f"{across:.4f} | {in_sub:.3f} |"
        )


def portfolio_bias_over_months(models, daily_returns) -> pd.DataFrame:
    """USE4's test: each random portfolio's bias statistic over the T monthly outcomes."""
    from hedging_pipeline.risk.diagnostics import bias_statistics

    crisis = {pd.Timestamp("2020-01-31"), pd.Timestamp("2020-02-28"), pd.Timestamp("2020-03-31")}
    rows = []
    for label, ms in (
        ("all months", models),
        ("calm months", [m for m in models if m.as_of not in crisis]),
    ):
        bs = bias_statistics(ms, daily_returns)
        rows.append(
            (
                label,
                bs.n_periods,
                f"[{bs.band[0]:.3f}, {bs.band[1]:.3f}]",
                float(bs.portfolio_bias["bias"].median()),
                float(bs.portfolio_bias["in_band"].mean()),
            )
        )
    return pd.DataFrame(rows, columns=["months", "T", "band", "median_bias", "share_in_band"])


def stage_calibration(work: Path, raw_dir: Path, hedges: bool) -> None:
    p = _panels(work, raw_dir)
    as_of = _month_ends(p)
    models = _models(work, raw_dir, as_of)
    for name, ms in models.items():
        print(f"**{name}**: random portfolios, bias over the monthly outcomes")
        print(portfolio_bias_over_months(ms, p["daily_returns"]).round(3).to_markdown(index=False))
    wide = p["daily_returns"].pivot(index="date", columns="ticker", values="ret").sort_index()
    tables = []
    for name, ms in models.items():
        t0 = time.perf_counter()
        bias = random_portfolio_bias(ms, wide)
        month = bias.groupby("as_of").agg(bias=("bias", "median"), n_days=("n_days", "first"))
        lo_hi = month["n_days"].map(_band)
        month["in_band"] = [lo <= b <= hi for b, (lo, hi) in zip(month["bias"], lo_hi, strict=True)]
        month["variant"] = name
        if hedges:
            te = factor_hedge_te(ms, p, wide)
            te["ratio"] = te["realised_te"] / te["predicted_te"]
            month["te_ratio"] = te.groupby("as_of")["ratio"].median()
            te.assign(variant=name).to_parquet(work / f"te_{len(tables)}.parquet")
        tables.append(month.reset_index())
        print(f"{name}: {time.perf_counter() - t0:.0f} s")
    out = pd.concat(tables, ignore_index=True)
    out.to_parquet(work / "calibration.parquet")
    report_calibration(out)


def report_calibration(out: pd.DataFrame) -> None:
    crisis = out["as_of"].between(pd.Timestamp("2020-01-31"), pd.Timestamp("2020-03-31"))
    out = out.assign(regime=np.where(crisis, "crisis (Feb-Apr 2020)", "calm"))
    wide = out.pivot(index="as_of", columns="variant", values="bias")
    print(wide.round(2).to_markdown())
    if "te_ratio" in out:
        print(out.pivot(index="as_of", columns="variant", values="te_ratio").round(2).to_markdown())
    agg = {
        "months": ("bias", "size"),
        "median_bias": ("bias", "median"),
        "share_in_band": ("in_band", "mean"),
    }
    if "te_ratio" in out:
        agg["median_te_ratio"] = ("te_ratio", "median")
    print(out.groupby("variant").agg(**agg).round(3).to_markdown())
    print(out.groupby(["variant", "regime"]).agg(**agg).round(3).to_markdown())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stage", choices=["exposures", "levels", "calibration"])
    parser.add_argument("--hedges", action="store_true", help="also solve factor hedges")
    parser.add_argument("--raw-dir", type=Path, default=RAW_DIR)
    parser.add_argument("--work", type=Path, default=WORK)
    parser.add_argument("--start", type=pd.Timestamp, default=pd.Timestamp("2015-01-01"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    if args.stage == "exposures":
        stage_exposures(args.work, args.raw_dir, args.start)
    elif args.stage == "levels":
        stage_levels(args.work, args.raw_dir)
    elif args.stage == "calibration":
        stage_calibration(args.work, args.raw_dir, args.hedges)


if __name__ == "__main__":
    main()
