"""Risk model validation on the real universe (issue 4): R², t-stat exceedance, bias statistics.

Fits the model over the full history of ../shared/data, rebuilds it at every month end once the
504-day covariance window is full, and measures how well it predicted the next month's risk of
single stocks and of 100 random 50-name portfolios (bias statistic against 1 ± sqrt(2/T)). Three
variants in one run:

* ``rolling``: the seed's default, 504-day equal-weight factor covariance and specific variance,
  specific risk shrunk toward size deciles;
* ``ewma``: USE4-style half-lives (factor vol 84, correlation 504, specific 84 days), Newey-West
  lags 2, same shrinkage;
* ``naive``: 504-day equal-weight, no specific-risk shrinkage (the plain sample estimate).

Run: ``.venv/bin/python benchmarks/bench_risk_validation.py [--report PATH]`` (``--report`` writes
the Markdown report with embedded plots).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hedging_pipeline.data.calendar import month_end_dates  # noqa: E402
from hedging_pipeline.reporting.risk_report import (  # noqa: E402
    bias_markdown,
    build_risk_report,
    exceedance_markdown,
    regression_fit_markdown,
)
from hedging_pipeline.risk.covariance import WINDOW_DAYS, rolling_factor_covariance  # noqa: E402
from hedging_pipeline.risk.diagnostics import (  # noqa: E402
    bias_statistics,
    summarise_regression_fit,
    t_stat_exceedance,
)
from hedging_pipeline.risk.exposures import compute_style_exposures  # noqa: E402
from hedging_pipeline.risk.model import RiskModel  # noqa: E402
from hedging_pipeline.risk.regression import estimate_factor_returns  # noqa: E402
from hedging_pipeline.risk.specific import estimate_specific_risk  # noqa: E402
from hedging_pipeline_tests.risk.real_data import build_real_panels  # noqa: E402

RAW_DIR = ROOT.parent / "shared" / "data"
VARIANTS = {
    "rolling": ({"method": "rolling"}, {"method": "rolling"}),
    "ewma": (
        {"method": "ewma", "newey_west_lags": 2},
        {"method": "ewma", "newey_west_lags": 2},
    ),
    "naive": ({"method": "rolling"}, {"method": "rolling", "shrinkage": 0.0}),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw-dir", type=Path, default=RAW_DIR)
    parser.add_argument("--report", type=Path, default=None)
    args = parser.parse_args()

    started = time.perf_counter()
    panels = build_real_panels(args.raw_dir)
    exposures = compute_style_exposures(
        panels.prices,
        panels.daily_returns,
        panels.market_caps,
        panels.companies,
        panels.fundamentals,
    )
    fit = estimate_factor_returns(exposures, panels.daily_returns)
    factor_dates = pd.DatetimeIndex(fit.stats["date"])
    month_ends = month_end_dates(pd.DatetimeIndex(sorted(panels.daily_returns["date"].unique())))
    as_of = month_ends[month_ends >= factor_dates[WINDOW_DAYS - 1]]
    summary = summarise_regression_fit(fit.stats)
    exceedance = t_stat_exceedance(fit.factor_returns)

    results = {}
    for name, (cov_kw, spec_kw) in VARIANTS.items():
        cov = rolling_factor_covariance(fit.factor_returns, as_of, **cov_kw)
        spec = estimate_specific_risk(fit.specific_returns, panels.market_caps, as_of, **spec_kw)
        models = [
            RiskModel.from_frames(d, exposures[exposures["date"] == d], cov[cov["date"] == d], spec)
            for d in as_of
        ]
        results[name] = bias_statistics(models, panels.daily_returns)
    elapsed = time.perf_counter() - started

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, {dt.date.today()}; {elapsed:.0f} s"
    )
    print(
        f"{len(as_of)} month ends {as_of[0].date()} -> {as_of[-1].date()}, bias over the next month"
    )
    print()
    print(regression_fit_markdown(summary))
    print()
    print(exceedance_markdown(exceedance))
    for name, bias in results.items():
        print()
        print(f"**{name}**")
        print()
        print(bias_markdown(bias))
    if args.report is not None:
        report = build_risk_report(summary, fit.stats, exceedance, results["rolling"])
        args.report.write_text(report.markdown)
        for key, png in report.images.items():
            args.report.with_name(f"{args.report.stem}_{key}.png").write_bytes(png)
        print(f"\nreport written to {args.report}")


if __name__ == "__main__":
    main()
