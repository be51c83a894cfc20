"""Risk model v2 on the real universe (issue 12): style coverage, industry levels, calibration.

Stages (each caches its output under ``--work``, default ``data/home/bench_risk_v2``):

* ``panels``: cleaned prices, returns, caps (``build_real_panels``), companies, fundamentals;
* ``exposures``: style exposures from ``--start`` (default 2015-01-01) to the end of the data, with
  the coverage of value / profitability / leverage among the names that have a usable statement;
* ``levels``: for each industry level (sector, industry group, industry): mean daily R² and the
  mean pairwise correlation of specific returns within and across groups, 2018-2019;
* ``calibration [--variants a,b] [--hedges] [--daily]``: for each model variant (:data:`VARIANTS`),
  the random-portfolio bias statistics of the month-end model (monthly and daily outcomes), the
  ``factor`` hedges of every target of every month (``--hedges``), and the model re-estimated every
  day scored on the next day (``--daily``); the horizons are spelled out in ``risk_calibration``;
* ``report [--variants a,b]``: the markdown tables of RESULTS.md from the cached outcomes.

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
from hedging_pipeline.risk.covariance import MODEL_COVARIANCE_SETTINGS  # noqa: E402
from hedging_pipeline.risk.exposures import (  # noqa: E402
    FUNDAMENTAL_STYLES,
    OBSERVED_COLUMN,
    compute_style_exposures,
)
from hedging_pipeline.risk.regression import estimate_factor_returns  # noqa: E402
from hedging_pipeline.risk.specific import MODEL_SPECIFIC_SETTINGS  # noqa: E402
from hedging_pipeline.types import STYLE_FACTORS  # noqa: E402
from hedging_pipeline_tests.risk.real_data import build_real_panels  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
import risk_calibration as cal  # noqa: E402

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
    "issue-4": ({"method": "rolling"}, {"method": "rolling"}),
    "v2": (MODEL_COVARIANCE_SETTINGS, MODEL_SPECIFIC_SETTINGS),
    "v2-novra": ({"method": "ewma"}, {"method": "ewma"}),
    "v2-q0": (MODEL_COVARIANCE_SETTINGS, {**MODEL_SPECIFIC_SETTINGS, "shrinkage": 0.0}),
    "v2-vra-meanz2": (
        MODEL_COVARIANCE_SETTINGS,
        {**MODEL_SPECIFIC_SETTINGS, "regime_pooled": False},
    ),
    "v2-huber": (MODEL_COVARIANCE_SETTINGS, {**MODEL_SPECIFIC_SETTINGS, "scale": "huber"}),
    "v2-nw2": (
        {**MODEL_COVARIANCE_SETTINGS, "newey_west_lags": 2},
        {**MODEL_SPECIFIC_SETTINGS, "newey_west_lags": 2},
    ),
}
"""Each variant changes one thing against v2 (the default), except ``issue-4`` (the 504-day
equal-weight model of issue 4, the baseline): ``v2-novra`` = without the regime adjustment, ``v2-q0`` =
no Bayesian shrinkage of specific vol, ``v2-vra-meanz2`` = the specific regime adjustment scored by
USE4's mean squared z-score (not pooled), ``v2-huber`` = Huber's proposal-2 scale for specific vol,
``v2-nw2`` = Newey-West 2 lags (a monthly-horizon forecast)."""


def _month_ends(p) -> pd.DatetimeIndex:
    days = pd.DatetimeIndex(sorted(p["daily_returns"]["date"].unique()))
    ends = month_end_dates(days)
    return ends[(ends >= BACKTEST[0] - pd.Timedelta(days=31)) & (ends < BACKTEST[1])]


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


def _inputs(work: Path, raw_dir: Path):
    p = _panels(work, raw_dir)
    fit = _regression(work, raw_dir)
    ex = pd.read_parquet(work / "exposures.parquet")
    wide = p["daily_returns"].pivot(index="date", columns="ticker", values="ret").sort_index()
    return p, fit, ex, wide


def stage_calibration(
    work: Path, raw_dir: Path, names: list[str], hedges: bool, daily: bool
) -> None:
    """Compute and cache every calibration outcome of the chosen variants (see ``risk_calibration``)."""
    from hedging_pipeline.risk.diagnostics import bias_statistics

    p, fit, ex, wide = _inputs(work, raw_dir)
    as_of = _month_ends(p)
    last = wide.index.max()
    universe = pd.Index(sorted(ex.loc[ex["date"].isin(as_of), "ticker"].unique()))
    weights = cal.random_weights(list(universe))
    for name in names:
        cov_kw, spec_kw = VARIANTS[name]
        t0 = time.perf_counter()
        args = (
            ex,
            fit["factor_returns"],
            fit["specific_returns"],
            p["market_caps"],
            cov_kw,
            spec_kw,
        )
        models = cal.build_models(as_of, *args)
        rows = []
        for label, ms in (("all", models), ("calm", [m for m in models if m.as_of < CALM_END])):
            bs = bias_statistics(ms, p["daily_returns"])
            pb = bs.portfolio_bias
            rows.append((label, bs.n_periods, pb["bias"].median(), pb["in_band"].mean()))
        pd.DataFrame(rows, columns=["months", "T", "median_bias", "in_band"]).to_parquet(
            work / f"use4_{name}.parquet"
        )
        z = cal.daily_outcomes(models, wide, weights, universe, last)
        z.to_parquet(work / f"zmonth_{name}.parquet")
        if name == "v2":
            gap = cal.check_no_look_ahead(as_of[12], *args)
            print(f"look-ahead check at {as_of[12].date()}: max |full - cut| = {gap:.2e}")
        if hedges:
            te = cal.hedge_outcomes(
                models,
                cal.HedgeInputs(p["daily_returns"], p["companies"], p["market_caps"]),
                wide,
                last,
            )
            print(f"{name}: {len(te)} hedges, {te.attrs['failed']} failed")
            te.to_parquet(work / f"hedges_{name}.parquet")
        if daily:
            days = wide.index[(wide.index >= as_of[0]) & (wide.index < last)]
            dm = cal.build_models(days, *args)
            cal.daily_outcomes(dm, wide, weights, universe, last).to_parquet(
                work / f"zday_{name}.parquet"
            )
        print(f"{name}: {time.perf_counter() - t0:.0f} s", flush=True)


CALM_END = pd.Timestamp("2020-01-31")
"""Month-end models from this date on are scored on crisis months (Feb-Apr 2020)."""


def _md(frame: pd.DataFrame, **kw) -> str:
    return frame.to_markdown(index=False, floatfmt=".3f", **kw)


def report_calibration(work: Path, names: list[str]) -> None:
    """Print the markdown tables of RESULTS.md from the cached outcomes."""
    use4 = pd.concat([pd.read_parquet(work / f"use4_{n}.parquet").assign(model=n) for n in names])
    print("USE4 test, month-end model, monthly outcomes (100 random portfolios)")
    print(_md(use4[["model", "months", "T", "median_bias", "in_band"]]))
    _report_daily(work, names, "zmonth", "month-end model, daily outcomes")
    if all((work / f"zday_{n}.parquet").exists() for n in names):
        _report_daily(work, names, "zday", "daily-updated model, next-day outcomes")
    if all((work / f"hedges_{n}.parquet").exists() for n in names):
        _report_hedges(work, names)
        print("\nper test month (hedges: bias; portfolios: median bias, share in band)")
        print(_per_month(work, names).to_markdown())


def _per_month(work: Path, names: list[str]) -> pd.DataFrame:
    """One row per test month: the hedges' bias and the portfolios' daily bias for each model."""
    from hedging_pipeline.risk.diagnostics import tracking_error_bias

    cols = {}
    for n in names:
        te = pd.read_parquet(work / f"hedges_{n}.parquet")
        by = tracking_error_bias(te)
        month = (by["as_of"] + pd.Timedelta(days=5)).dt.to_period("M")
        cols[("hedges", n)] = pd.Series(by["bias"].to_numpy(), index=month).map("{:.2f}".format)
        for prefix, label in (("zmonth", "portfolios, month-end"), ("zday", "portfolios, daily")):
            path = work / f"{prefix}_{n}.parquet"
            if path.exists():
                z = pd.read_parquet(path)
                z["month"] = z["date"].dt.to_period("M")
                t = cal.daily_bias_table(z, "month").groupby("month")
                cols[(label, n)] = t["bias"].median().map("{:.2f}".format) + t[
                    "in_band"
                ].mean().map(" ({:.0%})".format)
    out = pd.DataFrame(cols)
    out.insert(0, "regime", cal.regime(out.index.to_timestamp()))
    out.columns = [c if isinstance(c, str) else f"{c[0]} {c[1]}" for c in out.columns]
    return out


def _report_daily(work: Path, names: list[str], prefix: str, title: str) -> None:
    per_month, summary = {}, []
    for n in names:
        z = pd.read_parquet(work / f"{prefix}_{n}.parquet")
        z["month"] = z["date"].dt.to_period("M").astype(str)
        z["regime"] = cal.regime(z["date"])
        z["all"] = "all"
        m = cal.daily_bias_table(z, "month")
        per_month[n] = m.groupby("month").agg(bias=("bias", "median"), in_band=("in_band", "mean"))
        for key in ("all", "regime"):
            t = cal.daily_bias_table(z, key)
            for lab, g in t.groupby(key):
                summary.append(
                    (
                        n,
                        f"whole span, {lab}",
                        int(g["t"].median()),
                        g["bias"].median(),
                        g["in_band"].mean(),
                    )
                )
        m["regime"] = cal.regime(pd.to_datetime(m["month"]))
        for lab, g in m.groupby("regime"):
            summary.append(
                (
                    n,
                    f"per month, {lab}",
                    int(g["t"].median()),
                    g["bias"].median(),
                    g["in_band"].mean(),
                )
            )
        summary.append(
            (n, "per month, all", int(m["t"].median()), m["bias"].median(), m["in_band"].mean())
        )
    print(f"\n{title}: per month, median portfolio bias (share of portfolios in band)")
    table = pd.DataFrame(
        {
            n: [f"{b:.2f} ({s:.0%})" for b, s in zip(f["bias"], f["in_band"], strict=True)]
            for n, f in per_month.items()
        },
        index=next(iter(per_month.values())).index,
    )
    print(table.to_markdown())
    print(f"\n{title}: summary (T = days per portfolio statistic)")
    print(_md(pd.DataFrame(summary, columns=["model", "statistic", "T", "median_bias", "in_band"])))


def _report_hedges(work: Path, names: list[str]) -> None:
    from hedging_pipeline.risk.diagnostics import tracking_error_bias

    per_month, summary, use4 = {}, [], []
    for n in names:
        te = pd.read_parquet(work / f"hedges_{n}.parquet")
        te["regime"] = cal.regime(te["as_of"] + pd.Timedelta(days=5))
        by = tracking_error_bias(te)
        by["regime"] = cal.regime(by["as_of"] + pd.Timedelta(days=5))
        per_month[n] = by.set_index("as_of")
        for lab, g in [("all", by), *by.groupby("regime")]:
            summary.append(
                (
                    n,
                    lab,
                    len(g),
                    int(g["n_hedges"].median()),
                    g["bias"].median(),
                    g["pooled"].median(),
                    g["median_ratio"].median(),
                )
            )
        lo, mid, hi = cal.bootstrap_median(te, "bias")
        print(
            f"{n}: median over months of the monthly hedge bias {mid:.3f}, bootstrap 90 % [{lo:.3f}, {hi:.3f}]"
        )
        lo, mid, hi = cal.bootstrap_median(te[te["regime"] == "calm"], "bias")
        print(f"{n}: calm months only {mid:.3f}, bootstrap 90 % [{lo:.3f}, {hi:.3f}]")
        use4.append(cal.hedge_monthly_bias(te).assign(model=n))
    print(
        "\nfactor hedges, per month: bias = sqrt(mean (realised/predicted)²) | pooled | median ratio"
    )
    table = pd.DataFrame(
        {
            n: [
                f"{b:.2f} / {p:.2f} / {r:.2f}"
                for b, p, r in zip(f["bias"], f["pooled"], f["median_ratio"], strict=True)
            ]
            for n, f in per_month.items()
        },
        index=(next(iter(per_month.values())).index + pd.Timedelta(days=5)).to_period("M"),
    )
    table.index.name = "test month"
    table.insert(0, "hedges", next(iter(per_month.values()))["n_hedges"].to_numpy())
    print(table.to_markdown())
    cols = [
        "model",
        "months",
        "n months",
        "hedges/month",
        "median bias",
        "median pooled",
        "median of median ratio",
    ]
    print(_md(pd.DataFrame(summary, columns=cols)))
    print("\nfactor hedges, monthly horizon: each target's bias over its months (USE4 test)")
    print(_md(pd.concat(use4)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stage", choices=["exposures", "levels", "calibration", "report"])
    parser.add_argument("--hedges", action="store_true", help="also solve factor hedges")
    parser.add_argument("--daily", action="store_true", help="also the daily-updated model")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated")
    parser.add_argument("--raw-dir", type=Path, default=RAW_DIR)
    parser.add_argument("--work", type=Path, default=WORK)
    parser.add_argument("--start", type=pd.Timestamp, default=pd.Timestamp("2015-01-01"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    names = args.variants.split(",")
    if args.stage == "exposures":
        stage_exposures(args.work, args.raw_dir, args.start)
    elif args.stage == "levels":
        stage_levels(args.work, args.raw_dir)
    elif args.stage == "calibration":
        stage_calibration(args.work, args.raw_dir, names, args.hedges, args.daily)
    elif args.stage == "report":
        report_calibration(args.work, names)


if __name__ == "__main__":
    main()
