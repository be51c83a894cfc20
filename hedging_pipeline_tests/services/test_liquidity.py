"""Notional-aware hedges: ADV caps from the warehouse prices, shares and % ADV (issue 16)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hedging_pipeline.errors import (
    InfeasibleHedgeError,
    InsufficientHistoryError,
    UnknownTickerError,
)
from hedging_pipeline.hedging.liquidity import average_dollar_volume, smallest_ratio
from hedging_pipeline.services.hedges import hedge_for_cli
from hedging_pipeline.warehouse.duckdb import Warehouse
from hedging_pipeline_tests.hedging.synthetic import warehouse_tables

TARGET = "S1N04"


def planted_prices(month, seed: int = 3) -> pd.DataFrame:
    """Closes from the returns (start 50 USD); volumes planted per ticker, 10x after ``as_of``."""
    rng = np.random.default_rng(seed)
    wide = month.returns.pivot(index="date", columns="ticker", values="ret").sort_index()
    close = 50.0 * (1.0 + wide).cumprod()
    shares_per_day = pd.Series(rng.uniform(2e4, 4e5, wide.shape[1]), index=wide.columns)
    volume = pd.DataFrame(
        np.tile(shares_per_day.to_numpy(), (len(wide), 1)), index=wide.index, columns=wide.columns
    )
    volume[volume.index > month.as_of] *= 10.0  # the future must not leak into the caps
    long = close.stack().rename("close").to_frame().join(volume.stack().rename("volume"))
    return long.reset_index().rename(columns={"level_1": "ticker"})


@pytest.fixture(scope="module")
def priced(month, tmp_path_factory):
    wh = Warehouse(tmp_path_factory.mktemp("liquid_wh") / "warehouse.duckdb")
    for table, frame in warehouse_tables(month).items():
        wh.replace_table(table, frame)
    prices = planted_prices(month)
    wh.replace_table("prices", prices)
    return wh, prices


def test_adv_is_the_trailing_20_day_mean_of_close_times_volume(month, priced):
    _, prices = priced
    adv = average_dollar_volume(prices, month.as_of)
    known = prices[prices["date"] <= month.as_of]
    last20 = np.sort(known["date"].unique())[-20:]
    mine = known[(known["ticker"] == TARGET) & known["date"].isin(last20)]
    assert adv[TARGET] == pytest.approx((mine["close"] * mine["volume"]).mean(), rel=1e-12)
    # no look-ahead: the 10x volumes after as_of change nothing
    assert adv.equals(average_dollar_volume(known, month.as_of))


def test_adv_cap_binds_and_the_basket_respects_it(priced, month):
    wh, prices = priced
    free = hedge_for_cli(wh, TARGET, notional=2e6)
    worst = max(b.pct_adv for b in free.basket)
    max_adv = 0.6 * worst  # the uncapped basket breaks this cap
    capped = hedge_for_cli(wh, TARGET, notional=2e6, max_adv=max_adv)
    assert capped.status == "certified" and capped.gap <= 0.005
    assert all(b.pct_adv <= max_adv * (1 + 1e-9) for b in capped.basket)
    assert sum(b.weight for b in capped.basket) == pytest.approx(1.0)
    # the cap costs risk, and the certificate bounds the capped problem
    assert capped.hedged_vol > free.hedged_vol
    assert capped.hedged_vol >= capped.bound_vol
    # shares at the last close on or before as_of
    last = prices[prices["date"] == month.as_of].set_index("ticker")["close"]
    for b in capped.basket:
        assert b.close == pytest.approx(last[b.ticker])
        assert b.shares == round(b.short_usd / last[b.ticker])
    text = capped.to_text()
    assert "% ADV" in text and f"{capped.basket[0].shares:,}" in text
    assert f"≤ {max_adv:.0%} of each name's ADV" in text


def test_too_large_a_position_names_what_to_change(priced):
    wh, _ = priced
    with pytest.raises(InfeasibleHedgeError, match="raise --max-adv to .* or lower --notional to"):
        hedge_for_cli(wh, TARGET, notional=1e8, max_adv=0.01)


def test_smallest_ratio_is_the_feasibility_edge():
    adv = np.array([4e6, 3e6, 2e6, 1e6, 1e6])
    r = smallest_ratio(adv, 5, 0.25)
    assert np.minimum(0.25, r * adv).sum() == pytest.approx(1.0)
    assert smallest_ratio(adv[:3], 5, 0.25) == np.inf


def test_unknown_ticker_and_as_of_outside_the_data(priced, month):
    wh, _ = priced
    with pytest.raises(UnknownTickerError, match="unknown ticker 'S1N4'.*did you mean S1N04"):
        hedge_for_cli(wh, "S1N4")
    with pytest.raises(InsufficientHistoryError, match="--as-of 2031-01-01 is outside the data"):
        hedge_for_cli(wh, TARGET, as_of="2031-01-01")
