from __future__ import annotations

import numpy as np
import pandas as pd

from hedging_pipeline.backtest import quality
from hedging_pipeline.backtest.metrics import backtest_hedges, evaluate_hedges
from hedging_pipeline.backtest.summary import summarise_backtest


def test_backtest_hedges_builds_the_splits_from_the_hedges(panel):
    full = backtest_hedges(panel["weights"], panel["diagnostics"], panel["returns"])
    direct = evaluate_hedges(
        panel["weights"], panel["diagnostics"], panel["returns"], panel["splits"], holding="shares"
    )

    pd.testing.assert_frame_equal(full.results, direct.results)
    # A basket held 5 days only: each month has 5 test days.
    short = backtest_hedges(panel["weights"], panel["diagnostics"], panel["returns"], horizon=5)
    assert (short.results.query("scope == 'rebalance'")["horizon_days"] == 5).all()


def test_result_rules_pass_on_clean_results_and_fail_on_bad_ones(panel):
    ev = evaluate_hedges(panel["weights"], panel["diagnostics"], panel["returns"], panel["splits"])
    results = ev.results
    assert quality.unique_result_keys(results).passed
    assert quality.finite_results(results).passed
    doubled = pd.concat([results, results.iloc[[3]]])
    assert not quality.unique_result_keys(doubled).passed
    broken = results.copy()
    broken.loc[5, "vol_hedged"] = np.inf
    outcome = quality.finite_results(broken)
    assert not outcome.passed and f"ticker {results.loc[5, 'ticker']}" in outcome.summary


def test_evaluated_share_ignores_the_last_month_by_design(panel):
    ev = evaluate_hedges(panel["weights"], panel["diagnostics"], panel["returns"], panel["splits"])
    last = panel["weights"][["as_of", "ticker", "method"]].drop_duplicates().head(4)
    by_design = last.assign(reason=quality.EXPECTED_SKIP_REASON)
    ok = quality.evaluated_share(ev.results, by_design)
    assert ok.passed and ok.details["n_hedges"] == 40 * 3 * 12 + 4
    odd = pd.concat([by_design, last.head(1).assign(reason="target has 1 returns")])
    bad = quality.evaluated_share(ev.results, odd)
    assert not bad.passed and bad.details["n_unexpected"] == 1
    assert f"ticker {last['ticker'].iloc[0]} as of" in bad.summary


def test_summary_rules(panel):
    ev = evaluate_hedges(panel["weights"], panel["diagnostics"], panel["returns"], panel["splits"])
    summary = summarise_backtest(ev.results, n_bootstrap=100)
    assert quality.finite_summary(summary).passed
    missing = quality.covers_methods(summary)
    assert not missing.passed and "nlp_equal" in missing.summary
    assert quality.covers_methods(summary, methods=["factor", "nlp", "market"]).passed
    assert quality.eligible_share(ev.results, summary).passed
    assert not quality.eligible_share(ev.results, summary.assign(n_targets=20)).passed
    calibrated = summary.assign(median_te_ratio=1.1)
    assert quality.te_calibration(calibrated).passed
    off = quality.te_calibration(calibrated.assign(median_te_ratio=2.0))
    assert not off.passed and "of factor is 2.00" in off.summary
