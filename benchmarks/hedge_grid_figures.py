"""Figures of the hedge grid (issue 13) from a materialised warehouse: the "Done when" checks.

Reads ``hedge_weights``, ``hedge_diagnostics``, ``backtest_summary``, ``raw_companies`` and
``factor_covariance``/``specific_risk`` dates of ``HEDGING_HOME/warehouse.duckdb`` and prints:

* per method: coverage (hedged / targets with a factor risk model on the date), fallbacks, share of
  baskets at the 25 % name cap, solve ms (median, p95, max) and the largest certified gap;
* same-issuer violations (two tickers of one CIK in a basket, or the target's CIK);
* the grid summary (``backtest_summary``).

    HEDGING_HOME=data/home .venv/bin/python benchmarks/hedge_grid_figures.py [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hedging_pipeline.backtest.summary import share_at_name_cap  # noqa: E402
from hedging_pipeline.hedging.candidates import issuer_ids  # noqa: E402
from hedging_pipeline.warehouse.duckdb import Warehouse  # noqa: E402

MAX_WEIGHT = 0.25


def _issuer_violations(weights: pd.DataFrame, companies: pd.DataFrame) -> dict[str, int]:
    issuers = issuer_ids(companies)
    w = weights.assign(
        issuer=weights["hedge_ticker"].map(lambda t: issuers.get(t, t)),
        own=weights["ticker"].map(lambda t: issuers.get(t, t)),
    )
    per = w.groupby(["as_of", "ticker", "method", "issuer"]).size()
    return {
        "target_issuer_in_basket": int((w["issuer"] == w["own"]).sum()),
        "two_classes_in_basket": int((per > 1).sum()),
    }


def share_at_name_cap_by_month(weights: pd.DataFrame) -> pd.DataFrame:
    """Share of baskets at the name cap, month x method."""
    largest = weights.groupby(["as_of", "ticker", "method"])["weight"].max()
    capped = (largest >= MAX_WEIGHT - 1e-6).groupby(level=["as_of", "method"]).mean()
    return capped.unstack("method")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    home = Path(os.environ.get("HEDGING_HOME", REPO / "data" / "home"))
    wh = Warehouse(home / "warehouse.duckdb")
    weights = wh.read("hedge_weights", date_column="as_of")
    diag = wh.read("hedge_diagnostics", date_column="as_of")
    companies = wh.read("raw_companies")
    risk_targets = wh.query(
        "select date as as_of, count(*) as n from specific_risk "
        "where date in (select distinct as_of from hedge_diagnostics) group by date"
    )
    n_targets = int(risk_targets["n"].sum())
    ok = diag.loc[diag["status"] != "infeasible"]
    by = ok.groupby("method")
    table = pd.DataFrame(
        {
            "hedged": by.size(),
            "coverage": by.size() / n_targets,
            "fallbacks": by["fallback"].apply(lambda f: int((f == "correlation").sum())),
            "solve_ms_median": by["solve_ms"].median(),
            "solve_ms_p95": by["solve_ms"].quantile(0.95),
            "solve_ms_max": by["solve_ms"].max(),
            "max_certified_gap": ok.loc[ok["status"] == "certified"].groupby("method")["gap"].max(),
            "uncertified": by["status"].apply(lambda s: int((s == "uncertified").sum())),
        }
    )
    table["at_name_cap"] = share_at_name_cap(weights, MAX_WEIGHT)
    per_date = ok.groupby(["method", "as_of"]).size().rename("hedged").reset_index()
    per_date["n"] = pd.to_datetime(per_date["as_of"]).map(
        risk_targets.assign(as_of=pd.to_datetime(risk_targets["as_of"])).set_index("as_of")["n"]
    )
    worst = (per_date["hedged"] / per_date["n"]).groupby(per_date["method"]).min()
    table["coverage_worst_date"] = worst
    cap_month = share_at_name_cap_by_month(weights)
    all_optimised = ok.loc[ok["status"].isin(["certified", "uncertified"])]
    out = {
        "targets_with_risk_model": n_targets,
        "per_method": table.reset_index().to_dict("records"),
        "issuer": _issuer_violations(weights, companies),
        "solve_ms_median_all_optimised": float(all_optimised["solve_ms"].median()),
        "max_certified_gap_all": float(
            all_optimised.loc[all_optimised["status"] == "certified", "gap"].max()
        ),
    }
    pd.set_option("display.width", 200)
    print(f"targets with a risk model (sum over dates): {n_targets}")
    print(table.to_string(float_format=lambda x: f"{x:.4g}"))
    print("issuer:", out["issuer"])
    print("share of baskets at the name cap, per month:")
    print(cap_month.to_string(float_format=lambda x: f"{x:.3f}"))
    out["at_name_cap_by_month"] = cap_month.reset_index().astype({"as_of": str}).to_dict("records")
    print("median solve ms over every optimised hedge:", out["solve_ms_median_all_optimised"])
    print("largest certified gap:", out["max_certified_gap_all"])
    if wh.has_table("backtest_summary"):
        summary = wh.read("backtest_summary")
        cols = [
            "method",
            "candidates",
            "risk",
            "n_targets",
            "median_monthly_variance_reduction",
            "monthly_ci_low",
            "monthly_ci_high",
            "median_variance_reduction_ex_crisis",
            "median_variance_reduction",
            "net_median_variance_reduction",
            "turnover",
            "annual_cost_bp",
            "share_at_name_cap",
            "win_rate_vs_factor",
        ]
        print(
            summary[[c for c in cols if c in summary.columns]].to_string(
                float_format=lambda x: f"{x:.4f}", index=False
            )
        )
        out["summary"] = summary.replace({np.nan: None}).to_dict("records")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1, default=str))


if __name__ == "__main__":
    main()
