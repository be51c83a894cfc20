"""Why do shrunk-sample-covariance hedges sit at the 25 % name cap? (issue 13)

Real universe (``../shared/data``): daily simple returns from ``adj_close``. For each month end of
the backtest window (default: the 24 before the last, partial, month), a fixed random sample of
targets is hedged on its GICS group and on its 20 most correlated names (issuer rule applied),
solved by the certified solver under these sample-covariance estimators:

* ``lw252``: the production estimator (market mode kept, residual correlations shrunk to 0 with the
  Ledoit-Wolf intensity; 252 days);
* ``lw504``: the same over 504 days (the factor model's window);
* ``calibrated``: 252 days, intensity ``max(δ_LW, 1 − b)`` with ``b`` the slope of the realised
  next-month residual correlations on the trailing estimates over the 12 months before the date
  (``estimators.holding_persistence``; no look-ahead).

Per month and estimator it prints the intensity, the share of baskets with a name at the 25 % cap,
for the capped baskets the target's residual correlation with its capped name in the estimation
window and over the next month (realised), and, for information only (never used to choose), the
next month's median variance reduction.

    PYTHONPATH=. py benchmarks/bench_sample_shrinkage.py --solve [--targets 60] [--months 24]

Without ``--solve`` it reads the stored hedges instead (``HEDGING_HOME/warehouse.duckdb``, every
target, every month of the backtest): per month and sample/blend method the share of baskets at
the cap and the capped pairs' residual correlation in the window and over the next month, beside
the month's ``δ_LW`` and holding-period slope ``b``.

    HEDGING_HOME=data/home PYTHONPATH=. py benchmarks/bench_sample_shrinkage.py [--json f]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hedging_pipeline.errors import HedgingError  # noqa: E402
from hedging_pipeline.hedging import candidates as cand  # noqa: E402
from hedging_pipeline.hedging.estimators import (  # noqa: E402
    holding_persistence,
    residual_correlation,
    sample_intensity,
    shrunk_sample_risk,
)
from hedging_pipeline.hedging.limits import SolverSettings  # noqa: E402
from hedging_pipeline.hedging.problem import build_problem  # noqa: E402
from hedging_pipeline.hedging.solve import solve_hedge  # noqa: E402

DATA = REPO.parent / "shared" / "data"
CAP = 0.25


def _returns() -> pd.DataFrame:
    prices = pd.read_parquet(DATA / "prices.parquet", columns=["date", "ticker", "adj_close"])
    wide = prices.pivot(index="date", columns="ticker", values="adj_close").sort_index()
    return wide.pct_change(fill_method=None).iloc[1:]


def _risk(variant: str, past: pd.DataFrame, as_of: pd.Timestamp):
    if variant == "lw504":
        return shrunk_sample_risk(past.iloc[-504:], as_of, 126)
    history = past.iloc[-504:] if variant == "calibrated" else None
    return shrunk_sample_risk(past.iloc[-252:], as_of, 126, history)


def _hedge_month(risk, targets, ranked, issuers, nxt, est_corr, next_corr, solver) -> dict:
    """Cap share, capped pairs' residual correlations and next-month VR over ``targets``."""
    caps = pd.Series(1.0, index=nxt.columns)
    capped, vr, pair_in, pair_next = 0, [], [], []
    for target in targets:
        names = cand.one_class_per_issuer(ranked[target], target, issuers, caps)
        try:
            problem = build_problem(risk, target, names, solver.min_names)
        except HedgingError:
            continue
        res = solve_hedge(problem, solver, "bench")
        top = int(np.argmax(res.weights))
        if res.weights[top] >= CAP - 1e-6:
            capped += 1
            pair = (target, res.tickers[top])
            pair_in.append(est_corr.loc[pair])
            pair_next.append(next_corr.loc[pair])
        basket = nxt[list(res.tickers)].fillna(0.0).to_numpy() @ res.weights
        tgt = nxt[target].to_numpy()
        vr.append(1.0 - np.var(tgt - basket) / np.var(tgt))
    return dict(
        at_cap=capped / max(len(vr), 1),
        capped_pair_corr_in=float(np.mean(pair_in)) if pair_in else np.nan,
        capped_pair_corr_next=float(np.mean(pair_next)) if pair_next else np.nan,
        next_month_vr=float(np.median(vr)),
        n=len(vr),
    )


def _stored(rets: pd.DataFrame) -> pd.DataFrame:
    """Per month and sample/blend method: cap share and capped pairs' residual correlations."""
    from hedging_pipeline.settings import load_settings
    from hedging_pipeline.warehouse.duckdb import Warehouse

    wh = Warehouse(load_settings().warehouse_path)
    weights = wh.read("hedge_weights", date_column="as_of")
    diag = wh.read("hedge_diagnostics", date_column="as_of")
    dense = sorted(diag.loc[diag["risk"].isin(["sample", "blend"]), "method"].unique())
    weights = weights.loc[weights["method"].isin(dense)]
    top = weights.sort_values("weight").groupby(["as_of", "ticker", "method"]).tail(1)
    rows = []
    for as_of, month in top.groupby("as_of"):
        past = rets.loc[rets.index <= as_of]
        nxt = rets.loc[rets.index > as_of].iloc[:21]
        est = residual_correlation(past.iloc[-252:].loc[:, past.iloc[-252:].notna().all()])
        names = list(past.iloc[-252:].columns[past.iloc[-252:].notna().all()])
        est = pd.DataFrame(est, names, names)
        ok = [t for t in names if nxt[t].notna().all()]
        held = pd.DataFrame(residual_correlation(nxt[ok]), ok, ok)
        lw = shrunk_sample_risk(past.iloc[-252:], as_of, 126)
        b = holding_persistence(past.iloc[-504:], 252, 21, 126, 12)
        for method, g in month.groupby("method"):
            capped = g.loc[g["weight"] >= CAP - 1e-6]
            pairs = [
                (t, h)
                for t, h in zip(capped["ticker"], capped["hedge_ticker"], strict=True)
                if t in held.index and h in held.index
            ]
            rows.append(
                dict(
                    month=str(pd.Timestamp(as_of).date()),
                    method=method,
                    delta_lw=sample_intensity(lw),
                    one_minus_b=1.0 - b,
                    at_cap=len(capped) / len(g),
                    capped_pair_corr_in=float(np.mean([est.loc[p] for p in pairs])),
                    capped_pair_corr_next=float(np.mean([held.loc[p] for p in pairs])),
                )
            )
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--solve", action="store_true")
    parser.add_argument("--targets", type=int, default=60)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--variants", default="lw252,calibrated")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    rets = _returns()
    if not args.solve:
        frame = _stored(rets)
        pd.set_option("display.width", 250)
        print(frame.pivot_table(index="month", columns="method", values="at_cap").round(3))
        print(frame.groupby("month")[["delta_lw", "one_minus_b"]].first().round(3))
        cols = ["at_cap", "capped_pair_corr_in", "capped_pair_corr_next"]
        print(frame.groupby("method")[cols].mean().round(3))
        if args.json:
            Path(args.json).write_text(frame.to_json(orient="records", indent=1))
        return
    companies = pd.read_parquet(DATA / "companies.parquet")
    issuers = cand.issuer_ids(companies)
    month_ends = rets.groupby(rets.index.to_period("M")).apply(lambda f: f.index.max())
    month_ends = list(month_ends.iloc[-(args.months + 1) : -1])  # the last month is a test month
    solver = SolverSettings()
    rng = np.random.default_rng(0)
    rows = []
    for as_of in month_ends:
        past = rets.loc[rets.index <= as_of]
        nxt = rets.loc[rets.index > as_of].iloc[:21]
        w252 = past.iloc[-252:]
        full = w252.loc[:, w252.notna().all().to_numpy() & nxt.notna().all().to_numpy()]
        corr_t, corr = cand.correlation_ranking(full)
        est_corr = pd.DataFrame(residual_correlation(full), corr_t, corr_t)
        next_corr = pd.DataFrame(residual_correlation(nxt[list(corr_t)]), corr_t, corr_t)
        groups = cand.gics_groups(companies, corr_t, 11)
        targets = sorted(rng.choice(corr_t, size=min(args.targets, len(corr_t)), replace=False))
        ranked = {
            "gics": {t: cand.gics_candidates(groups, t) for t in targets},
            "correlation": {
                t: cand.correlation_candidates(corr_t, corr, t, corr_t, 20) for t in targets
            },
        }
        b = holding_persistence(past.iloc[-504:], 252, 21, 126, 12)
        done: dict[tuple, dict] = {}
        for variant in args.variants.split(","):
            risk = _risk(variant, past, as_of)
            window_days = variant == "lw504"
            for kind in ("gics", "correlation"):
                key = (round(sample_intensity(risk), 12), kind, window_days)
                if key not in done:  # the same estimate solves to the same hedges
                    done[key] = _hedge_month(
                        risk, targets, ranked[kind], issuers, nxt, est_corr, next_corr, solver
                    )
                stats = done[key]
                rows.append(
                    dict(
                        month=str(as_of.date()),
                        variant=variant,
                        candidates=kind,
                        delta=sample_intensity(risk),
                        holding_slope=b,
                        **stats,
                    )
                )
                print(rows[-1], flush=True)
    frame = pd.DataFrame(rows)
    pd.set_option("display.width", 200)
    print(frame.pivot_table(index="month", columns=["candidates", "variant"], values="at_cap"))
    print(
        frame.pivot_table(index="month", columns="variant", values="delta").assign(
            holding_slope=frame.groupby("month")["holding_slope"].first()
        )
    )
    cols = ["at_cap", "capped_pair_corr_in", "capped_pair_corr_next", "next_month_vr"]
    print(frame.groupby(["candidates", "variant"])[cols].median())
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
