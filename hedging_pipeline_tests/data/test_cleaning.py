"""Cleaned panels: split factors, returns (vendor and raw paths), stale days, market caps."""

import numpy as np
import pandas as pd
import pytest

from hedging_pipeline.data import cleaning


def bars(rows):
    frame = pd.DataFrame(
        rows, columns=["date", "ticker", "close", "volume", "dividend", "split_coefficient"]
    )
    frame["date"] = pd.to_datetime(frame["date"])
    return frame


RAW = bars(
    [
        ("2024-01-02", "AAA", 100.0, 10, 0.0, 1.0),
        ("2024-01-03", "AAA", 102.0, 10, 0.0, 1.0),
        ("2024-01-04", "AAA", 52.0, 10, 0.0, 2.0),  # 2:1 split: traded close halves
        ("2024-01-05", "AAA", 52.0, 0, 0.0, 1.0),  # zero volume, unchanged close: stale
        ("2024-01-08", "AAA", 53.0, 10, 0.5, 1.0),  # dividend 0.5
        ("2024-01-02", "BBB", 10.0, 5, 0.0, 1.0),
        ("2024-01-03", "BBB", 11.0, 5, 0.0, 1.0),
    ]
)


def test_split_factor_and_adjusted_close_without_vendor_column():
    clean = cleaning.clean_prices(RAW)
    aaa = clean[clean.ticker == "AAA"].set_index("date")
    assert aaa["split_factor"].tolist() == [1.0, 1.0, 2.0, 2.0, 2.0]
    assert aaa["adj_close"].tolist() == [100.0, 102.0, 104.0, 104.0, 106.0]
    assert set(aaa["adj_close_source"]) == {"split_factor"}
    assert aaa["is_stale"].tolist() == [False, False, False, True, False]


def test_prior_split_factor_carries_forward():
    clean = cleaning.clean_prices(RAW, prior_split_factor=pd.Series({"AAA": 4.0}))
    assert clean[clean.ticker == "AAA"]["split_factor"].tolist() == [4.0, 4.0, 8.0, 8.0, 8.0]
    assert clean[clean.ticker == "BBB"]["split_factor"].tolist() == [1.0, 1.0]


def test_returns_from_raw_closes_handle_split_dividend_and_stale_day():
    clean = cleaning.clean_prices(RAW)
    calendar = pd.DatetimeIndex(sorted(clean["date"].unique()))
    ret = cleaning.compute_daily_returns(clean, calendar).set_index(["ticker", "date"])["ret"]
    assert ret[("AAA", pd.Timestamp("2024-01-03"))] == pytest.approx(0.02)
    assert ret[("AAA", pd.Timestamp("2024-01-04"))] == pytest.approx(104.0 / 102.0 - 1)
    assert ("AAA", pd.Timestamp("2024-01-05")) not in ret.index  # stale: missing, not zero
    assert ret[("AAA", pd.Timestamp("2024-01-08"))] == pytest.approx((53.0 + 0.5) / 52.0 - 1)
    assert ret[("BBB", pd.Timestamp("2024-01-03"))] == pytest.approx(0.1)
    assert ("AAA", pd.Timestamp("2024-01-02")) not in ret.index  # first row has no return


def test_returns_prefer_vendor_adjusted_close():
    raw = RAW.assign(adj_close=[50.0, 51.0, 52.0, 52.0, 53.5, 10.0, 11.0])
    clean = cleaning.clean_prices(raw)
    calendar = pd.DatetimeIndex(sorted(clean["date"].unique()))
    ret = cleaning.compute_daily_returns(clean, calendar).set_index(["ticker", "date"])["ret"]
    assert ret[("AAA", pd.Timestamp("2024-01-04"))] == pytest.approx(52.0 / 51.0 - 1)
    assert ret[("AAA", pd.Timestamp("2024-01-08"))] == pytest.approx(53.5 / 52.0 - 1)


def test_return_over_long_gap_is_dropped():
    days = pd.bdate_range("2024-01-01", periods=12)
    rows = [(days[0], "AAA", 10.0, 1, 0.0, 1.0), (days[10], "AAA", 11.0, 1, 0.0, 1.0)]
    rows += [(d, "BBB", 5.0 + i, 1, 0.0, 1.0) for i, d in enumerate(days)]
    clean = cleaning.clean_prices(bars(rows))
    ret = cleaning.compute_daily_returns(clean, pd.DatetimeIndex(days), max_gap_days=5)
    assert "AAA" not in set(ret["ticker"])
    assert len(ret[ret.ticker == "BBB"]) == 11


def test_trading_calendar_counts_tickers():
    cal = cleaning.trading_calendar(RAW["date"])
    assert cal["n_tickers"].tolist() == [2, 2, 1, 1, 1]


def test_market_cap_point_in_time_and_split_carry():
    clean = cleaning.clean_prices(RAW)
    companies = pd.DataFrame(
        {"ticker": ["AAA", "BBB"], "name": ["A", "B"], "gics_sector": ["X", "Y"]}
    )
    fundamentals = pd.DataFrame(
        {
            "ticker": ["AAA"],
            "period_end": pd.to_datetime(["2023-10-05"]),  # known 90 days later: 2024-01-03
            "fiscal_year": [2023],
            "shares_outstanding": [1000.0],
        }
    )
    refs = cleaning.share_references(clean, companies, fundamentals)
    caps = cleaning.market_cap_panel(clean, refs).set_index(["ticker", "date"])
    # Known on 2024-01-03 (split factor 1): 1000 shares; after the 2:1 split, 2000 shares.
    assert caps.loc[("AAA", pd.Timestamp("2024-01-03")), "market_cap"] == pytest.approx(102_000)
    assert caps.loc[("AAA", pd.Timestamp("2024-01-04")), "market_cap"] == pytest.approx(2000 * 52.0)
    # Before it was known: the earliest reference is used (documented look-ahead in share count).
    assert caps.loc[("AAA", pd.Timestamp("2024-01-02")), "market_cap"] == pytest.approx(100_000)
    # No share information at all: NaN, never a made-up number.
    assert np.isnan(caps.loc[("BBB", pd.Timestamp("2024-01-02")), "market_cap"])
    assert caps.loc[("BBB", pd.Timestamp("2024-01-02")), "cap_source"] == "none"


def test_market_cap_from_snapshot_column():
    days = pd.bdate_range("2018-01-29", periods=8)
    rows = [(d, "AAA", 50.0, 1, 0.0, 2.0 if d == days[6] else 1.0) for d in days]
    clean = cleaning.clean_prices(bars(rows))
    companies = pd.DataFrame(
        {"ticker": ["AAA"], "name": ["A"], "gics_sector": ["X"], "market_cap_usd_2018": [5000.0]}
    )
    refs = cleaning.share_references(
        clean, companies, pd.DataFrame(columns=["ticker", "period_end"])
    )
    assert refs["source"].tolist() == ["snapshot_2018"]
    caps = cleaning.market_cap_panel(clean, refs)
    # 5000 / 50 = 100 shares on 2018-02-01; 200 shares after the 2:1 split.
    assert caps["market_cap"].tolist() == pytest.approx([5000.0] * 6 + [10000.0] * 2)
