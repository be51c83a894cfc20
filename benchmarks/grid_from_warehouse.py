"""Hedges, backtest, summary and report of the grid from a warehouse that already holds the inputs.

The same domain calls as the ``hedge_weights``/``hedge_diagnostics``, ``backtest_results``,
``backtest_summary`` and backtest-report assets (``services.hedges.months_hedges``,
``backtest.metrics.backtest_hedges``, ``backtest.summary.summarise_grid``,
``reporting.backtest_report.build_backtest_report``), without the Dagster stages before them: for a
warehouse whose risk model, returns, caps, peers and companies are already materialised (e.g. a
copy of a finished ``hedging-pipeline run``), when re-running every upstream stage does not fit the
time at hand. Months: the last ``--months`` (default 24, ``DEFAULT_BACKTEST_MONTHS``) months with a
risk model, as the hedge partitions. The semantic and correlation cells get as many candidates as
the warehouse stores peers per ticker (at most ``DEFAULT_N_PEERS``), so that the two generators
compete on equal terms. Writes the four tables into that warehouse and the report under
``--reports``.

    PYTHONPATH=. py benchmarks/grid_from_warehouse.py data/home3/warehouse.duckdb \
        --reports data/home3/reports [--workers 2] [--months 24]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hedging_pipeline.backtest.metrics import backtest_hedges  # noqa: E402
from hedging_pipeline.backtest.summary import summarise_grid  # noqa: E402
from hedging_pipeline.reporting import backtest_report as report  # noqa: E402
from hedging_pipeline.services.hedges import (  # noqa: E402
    DEFAULT_SETTINGS,
    months_hedges,
    stack_months,
)
from hedging_pipeline.settings import DEFAULT_BACKTEST_MONTHS  # noqa: E402
from hedging_pipeline.types import DEFAULT_N_PEERS  # noqa: E402
from hedging_pipeline.warehouse.duckdb import Warehouse  # noqa: E402

RETURNS_LOOKBACK = pd.Timedelta(days=400)


def _months(wh: Warehouse, n: int) -> list[str]:
    dates = wh.query("select distinct date from factor_covariance order by date")["date"]
    months = sorted({pd.Timestamp(d).strftime("%Y-%m") for d in dates})
    return months[-n:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("warehouse")
    parser.add_argument("--reports", required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--months", type=int, default=DEFAULT_BACKTEST_MONTHS)
    parser.add_argument("--skip-hedges", action="store_true")
    args = parser.parse_args()
    wh = Warehouse(Path(args.warehouse))
    t0 = time.perf_counter()
    if not args.skip_hedges:
        months = _months(wh, args.months)
        print(f"hedge months {months[0]}..{months[-1]} ({len(months)})", flush=True)
        depth = int(
            wh.query(
                "select max(n) as n from (select count(*) as n from semantic_peers group by ticker)"
            )["n"].iloc[0]
        )
        n_peers = min(DEFAULT_N_PEERS, depth)
        settings = replace(
            DEFAULT_SETTINGS, n_semantic_candidates=n_peers, n_correlation_candidates=n_peers
        )
        print(f"{depth} peers stored per ticker: {n_peers} semantic and correlation candidates")
        done = months_hedges(
            wh,
            months,
            settings=settings,
            workers=args.workers,
            progress=lambda m: print(
                f"  {m.month}: {len(m.diagnostics):,} hedges, {m.reused:,} reused "
                f"({time.perf_counter() - t0:.0f} s)",
                flush=True,
            ),
        )
        weights, diagnostics = stack_months(done)
        wh.replace_table("hedge_weights", weights)
        wh.replace_table("hedge_diagnostics", diagnostics)
    weights = wh.read("hedge_weights", date_column="as_of")
    diagnostics = wh.read("hedge_diagnostics", date_column="as_of")
    returns = wh.read("daily_returns", start=weights["as_of"].min() - RETURNS_LOOKBACK)
    caps = wh.read(
        "market_caps", start=returns["date"].min(), columns=["date", "ticker", "market_cap"]
    )
    t1 = time.perf_counter()
    evaluation = backtest_hedges(weights, diagnostics, returns, market_caps=caps)
    wh.replace_table("backtest_results", evaluation.results)
    summary = summarise_grid(evaluation.results, weights)
    wh.replace_table("backtest_summary", summary)
    built = report.build_backtest_report(evaluation.results, summary, weights, diagnostics, returns)
    report.write_backtest_report(built, Path(args.reports))
    print(
        f"hedges {t1 - t0:.0f} s; backtest + summary + report {time.perf_counter() - t1:.0f} s; "
        f"{len(evaluation.skipped)} hedges skipped",
        flush=True,
    )


if __name__ == "__main__":
    main()
