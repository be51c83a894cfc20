"""``hedge --compare`` and the HTML proposal on a synthetic warehouse (issue 16)."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest

from hedging_pipeline.backtest.metrics import backtest_hedges
from hedging_pipeline.hedging.methods import compute_hedges
from hedging_pipeline.hedging.registry import HEDGE_STAGE_METHODS, INDEX_METHODS
from hedging_pipeline.reporting.proposal import render_proposal
from hedging_pipeline.services.proposal import _realised, compare_methods, proposal_data
from hedging_pipeline.warehouse.duckdb import Warehouse
from hedging_pipeline_tests.hedging.synthetic import warehouse_tables
from hedging_pipeline_tests.services.test_liquidity import planted_prices

TARGET = "S1N04"
STORED = ("factor", "hybrid")


def build_warehouse(month, path, with_backtest: bool = True) -> Warehouse:
    """The synthetic month with prices, stored hedges, a backtest and a cluster map."""
    wh = Warehouse(path)
    for table, frame in warehouse_tables(month).items():
        wh.replace_table(table, frame)
    wh.replace_table("prices", planted_prices(month))
    if with_backtest:
        weights, diagnostics = compute_hedges(
            *month.frames,
            methods=STORED,
            targets=[TARGET],
        )
        wh.replace_table("hedge_weights", weights)
        wh.replace_table("hedge_diagnostics", diagnostics)
        results = backtest_hedges(weights, diagnostics, month.returns).results
        wh.replace_table("backtest_results", results)
    tickers = list(month.model.tickers)
    rng = np.random.default_rng(0)
    wh.replace_table(
        "company_clusters",
        pd.DataFrame(
            {
                "ticker": tickers,
                "cluster": [int(t[1]) for t in tickers],
                "x": rng.normal(size=len(tickers)),
                "y": rng.normal(size=len(tickers)),
            }
        ),
    )
    return wh


@pytest.fixture(scope="module")
def warehouse(month, tmp_path_factory):
    return build_warehouse(month, tmp_path_factory.mktemp("proposal_wh") / "warehouse.duckdb")


def test_compare_prices_every_method_under_one_yardstick(warehouse):
    table = compare_methods(warehouse, TARGET, notional=1e6)
    rows = {r.method: r for r in table.rows}
    assert list(rows) == [*HEDGE_STAGE_METHODS, *INDEX_METHODS]
    baskets = [r for r in table.rows if r.n_names]
    assert len(baskets) == len(HEDGE_STAGE_METHODS)
    # one yardstick: the same unhedged vol for every basket under the factor model
    target_vols = {round(r.factor_target_vol, 12) for r in baskets}
    assert len(target_vols) == 1
    # a factor-risk method is priced identically by its own risk and the yardstick
    assert rows["factor"].factor_hedged_vol == pytest.approx(rows["factor"].own_hedged_vol)
    # the factor method is the yardstick's optimum (within its certificate) over the whole universe
    best = min(r.factor_hedged_vol for r in baskets if r.method != "factor")
    assert rows["factor"].factor_hedged_vol <= best * (1 + 0.005)
    # sample-risk methods have their own (different) unhedged vol
    assert rows["nlp"].own_target_vol != pytest.approx(rows["nlp"].factor_target_vol)
    # realised VR: from the full-period backtest rows for the stored methods only
    results = warehouse.read("backtest_results")
    full = results[(results["scope"] == "full_period") & (results["ticker"] == TARGET)]
    for method in STORED:
        expected = full.loc[full["method"] == method, "variance_reduction"].iloc[0]
        assert rows[method].realised_reduction == pytest.approx(expected)
    assert math.isnan(rows["gics"].realised_reduction)
    text = table.to_text()
    assert "Common yardstick" in text and "index short" in text and "walk-forward window" in text


def test_compare_says_when_the_backtest_is_missing(tmp_path):
    realised, note = _realised(Warehouse(tmp_path / "w.duckdb"), TARGET)
    assert realised.empty and "backtest_results table is not materialised" in note


@pytest.fixture(scope="module")
def proposal(warehouse):
    return proposal_data(warehouse, TARGET, notional=2e6, max_adv=0.5)


def test_proposal_holds_the_split_exposures_and_record(proposal):
    r = proposal.risk
    hedge = proposal.hedge
    assert r.factor_before + r.specific_before == pytest.approx(hedge.target_vol**2)
    assert r.factor_after + r.specific_after == pytest.approx(hedge.hedged_vol**2)
    ex = proposal.exposures.set_index("factor")
    assert ex.loc["market", "before"] == 1 and abs(ex.loc["market", "after"]) < 1e-9
    assert len(proposal.daily) > 10 and len(proposal.monthly) == 1
    assert proposal.cluster_of_target == 1


def test_report_is_one_file_with_inline_plots(proposal):
    page = render_proposal(proposal)
    assert len(re.findall(r'src="data:image/png;base64,', page)) >= 4
    assert "http://" not in page and "https://" not in page  # nothing fetched
    assert "Optimality certificate" in page and "% of ADV" in page
    assert TARGET in page
