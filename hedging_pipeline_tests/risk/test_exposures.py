from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from hedging_pipeline.errors import DuplicateRowsError, InvalidValueError, MissingColumnError
from hedging_pipeline.risk import exposures as expo
from hedging_pipeline.risk.exposures import (
    DEFAULT_PARAMETERS,
    ExposureParameters,
    compute_style_exposures,
    standardise_vendor_exposures,
)
from hedging_pipeline.risk.fundamentals import usable_fundamentals
from hedging_pipeline.types import STYLE_FACTORS
from hedging_pipeline_tests.synthetic import make_market_panel


@pytest.fixture(scope="module")
def market():
    return make_market_panel(n_tickers=40, n_days=420, n_industries=4, seed=1)


@pytest.fixture(scope="module")
def out_dates(market):
    return pd.DatetimeIndex(sorted(market.prices["date"].unique()))[300:]


@pytest.fixture(scope="module")
def exposures(market, out_dates):
    m = market
    return compute_style_exposures(
        m.prices, m.daily_returns, m.market_caps, m.companies, m.fundamentals, out_dates
    )


def _compute(m, dates, **kw):
    return compute_style_exposures(
        m.prices, m.daily_returns, m.market_caps, m.companies, m.fundamentals, dates, **kw
    )


def test_contract_columns_and_completeness(exposures, out_dates):
    extras = [expo.OBSERVED_COLUMN, *expo.AGE_COLUMNS]
    assert list(exposures.columns) == [*expo.EXPOSURE_COLUMNS, *extras]
    assert exposures[list(STYLE_FACTORS)].notna().all().all()
    assert exposures["date"].nunique() == len(out_dates)
    assert exposures.groupby("date").size().eq(40).all()
    assert exposures.equals(exposures.sort_values(["date", "ticker"], ignore_index=True))


def test_each_day_is_cap_weighted_mean_zero_and_unit_std(exposures):
    for _, day in exposures.groupby("date"):
        w = day["market_cap"] / day["market_cap"].sum()
        for style in STYLE_FACTORS:
            assert abs((w * day[style]).sum()) < 1e-12
            assert day[style].std(ddof=0) == pytest.approx(1.0, abs=1e-12)
            assert day[style].abs().max() < 3.5


def test_winsorisation_caps_an_extreme_descriptor():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 200))
    x[0, 0] = 50.0
    cap = np.ones_like(x)
    z = expo._winsorised_z(x, cap, np.ones_like(x, dtype=bool), 3.0)
    assert z[0, 0] < 3.3
    assert z.std() == pytest.approx(1.0)


def test_styles_recover_the_planted_characteristics(market, exposures, out_dates):
    m = market
    last = exposures[exposures["date"] == out_dates[-1]].set_index("ticker")
    caps = m.market_caps[m.market_caps["date"] == out_dates[-1]].set_index("ticker")["market_cap"]
    assert spearmanr(last["size"], np.log(caps.loc[last.index]))[0] > 0.99
    # Book-to-price: equity of the latest usable statement (period end 2014-12-31 + 90 days) / cap.
    fund = m.fundamentals[m.fundamentals["fiscal_year"] == 2014].set_index("ticker")
    btp = fund.loc[last.index, "total_equity"] / caps.loc[last.index]
    assert spearmanr(last["value"], btp)[0] > 0.8
    # Trading activity: the planted turnover (volume / shares outstanding).
    vol = m.prices.groupby("ticker")["volume"].mean() / m.shares_outstanding
    assert spearmanr(last["trading_activity"], vol.loc[last.index])[0] > 0.9
    # Volatility: the planted daily return dispersion.
    realised = m.daily_returns.groupby("ticker")["ret"].std()
    assert spearmanr(last["volatility"], realised.loc[last.index])[0] > 0.7


def test_fundamentals_are_used_only_after_period_end_plus_lag():
    known = usable_fundamentals(
        pd.DataFrame(
            {
                "ticker": ["A", "B"],
                "fiscal_year": [2014, 2020],
                "period_end": [pd.Timestamp("2014-09-30"), pd.NaT],
                "total_equity": [1.0, 2.0],
            }
        ),
        reporting_lag_days=90,
    )
    assert list(known["known_date"]) == [pd.Timestamp("2014-12-29"), pd.Timestamp("2021-03-31")]


def test_a_statement_changes_exposures_only_once_it_is_known(market, out_dates):
    m = market
    fund = m.fundamentals.copy()
    row = (fund["ticker"] == "S003") & (fund["fiscal_year"] == 2014)
    fund.loc[row, "total_equity"] *= 25.0
    moved = compute_style_exposures(
        m.prices, m.daily_returns, m.market_caps, m.companies, fund, out_dates
    )
    base = _compute(m, out_dates)
    known = pd.Timestamp("2014-12-31") + pd.Timedelta(days=DEFAULT_PARAMETERS.reporting_lag_days)
    before, after = base["date"] < known, base["date"] >= known
    assert before.any() and after.any()
    pd.testing.assert_frame_equal(base[before], moved[before])
    s3 = (base["ticker"] == "S003") & after
    assert (moved.loc[s3, "value"] > base.loc[s3, "value"] + 0.5).all()


def test_no_look_ahead_in_exposures(market, out_dates):
    m = market
    cut = out_dates[40]
    rng = np.random.default_rng(3)
    prices = m.prices.copy()
    late = prices["date"] > cut
    prices.loc[late, "volume"] *= rng.uniform(0.1, 10.0, late.sum())
    rets = m.daily_returns.copy()
    rets.loc[rets["date"] > cut, "ret"] = rng.normal(0, 0.1, (rets["date"] > cut).sum())
    caps = m.market_caps.copy()
    caps.loc[caps["date"] > cut, "market_cap"] *= rng.uniform(0.2, 5.0, (caps["date"] > cut).sum())
    fund = m.fundamentals.copy()
    fund.loc[fund["period_end"] > cut - pd.Timedelta(days=90), "total_equity"] *= -3.0
    base = _compute(m, out_dates)
    moved = compute_style_exposures(prices, rets, caps, m.companies, fund, out_dates)
    early = base["date"] <= cut
    pd.testing.assert_frame_equal(base[early], moved[early])
    assert not np.allclose(base.loc[~early, "momentum"], moved.loc[~early, "momentum"])


def test_result_does_not_depend_on_extra_history(market, out_dates):
    m = market
    calendar = pd.DatetimeIndex(sorted(m.prices["date"].unique()))
    start = calendar[calendar.get_loc(out_dates[0]) - DEFAULT_PARAMETERS.lookback_days - 1]
    cut = [f[f["date"] >= start] for f in (m.prices, m.daily_returns, m.market_caps)]
    short = compute_style_exposures(*cut, m.companies, m.fundamentals, out_dates)
    pd.testing.assert_frame_equal(short, _compute(m, out_dates), check_exact=False, rtol=1e-12)


def test_missing_fundamentals_are_filled_with_the_industry_mean(market, out_dates):
    m = market
    missing = ["S000", "S004", "S008"]  # all in the first industry
    fund = m.fundamentals[~m.fundamentals["ticker"].isin(missing)]
    ex = compute_style_exposures(
        m.prices, m.daily_returns, m.market_caps, m.companies, fund, out_dates
    )
    day = ex[ex["date"] == out_dates[-1]].set_index("ticker")
    assert day.loc[missing, "industry"].nunique() == 1
    for style in ("value", "profitability", "leverage"):
        assert day.loc[missing, style].nunique() == 1
    assert day["value"].notna().all()


def test_without_any_fundamentals_the_fundamental_styles_are_zero(market, out_dates):
    m = market
    ex = compute_style_exposures(
        m.prices, m.daily_returns, m.market_caps, m.companies, m.fundamentals.iloc[:0], out_dates
    )
    for style in ("value", "profitability", "leverage"):
        assert ex[style].eq(0.0).all()
    assert ex["momentum"].std() > 0.9


def test_stale_statements_expire(market, out_dates):
    m = market
    params = ExposureParameters(max_fundamental_age_days=30)
    ex = _compute(m, out_dates, parameters=params)
    known = pd.Timestamp("2014-12-31") + pd.Timedelta(days=90)
    stale = ex["date"] > known + pd.Timedelta(days=30)
    assert stale.any()
    assert ex.loc[stale, "value"].eq(0.0).all()
    assert not ex.loc[~stale, "value"].eq(0.0).all()


def test_statement_carried_forward_with_its_age_and_coverage(market, out_dates):
    m = market
    ex = _compute(m, out_dates)
    known = pd.Timestamp("2014-12-31") + pd.Timedelta(days=90)
    later = ex["date"] >= known
    expected_age = (ex.loc[later, "date"] - known).dt.days.astype(float)
    for column in expo.AGE_COLUMNS:
        assert np.allclose(ex.loc[later, column], expected_age)
    coverage = expo.style_coverage(ex)
    assert set(STYLE_FACTORS) <= set(coverage.columns)
    assert coverage[list(STYLE_FACTORS)].min().min() == pytest.approx(1.0)
    assert ex[expo.OBSERVED_COLUMN].eq(2 ** len(STYLE_FACTORS) - 1).all()


def test_a_ratio_never_mixes_fiscal_years():
    from hedging_pipeline.risk.fundamentals import point_in_time_fundamentals

    fund = pd.DataFrame(
        {
            "ticker": ["A", "A"],
            "fiscal_year": [2015, 2016],
            "net_income": [10.0, 30.0],
            "total_equity": [100.0, np.nan],  # the 2016 statement has no equity line
        }
    )
    dates = pd.DatetimeIndex(["2017-06-30"])
    items = point_in_time_fundamentals(fund, dates, pd.Index(["A"]), 90, 1826)
    assert items.values["net_income"][0, 0] == 30.0
    assert items.values["total_equity"][0, 0] == 100.0
    # ROE comes from the 2015 statement alone (10 / 100), not 2016 income over 2015 equity.
    assert items.values["roe"][0, 0] == pytest.approx(0.10)
    assert items.age_days["roe"][0, 0] == (dates[0] - pd.Timestamp("2016-03-30")).days
    assert items.age_days["net_income"][0, 0] == (dates[0] - pd.Timestamp("2017-03-31")).days


def test_nan_market_cap_drops_the_row_and_zero_cap_is_an_error(market, out_dates):
    m = market
    caps = m.market_caps.copy()
    hole = (caps["ticker"] == "S005") & (caps["date"] == out_dates[3])
    caps.loc[hole, "market_cap"] = np.nan
    ex = compute_style_exposures(
        m.prices, m.daily_returns, caps, m.companies, m.fundamentals, out_dates
    )
    assert not ((ex["ticker"] == "S005") & (ex["date"] == out_dates[3])).any()
    assert ((ex["ticker"] == "S005") & (ex["date"] == out_dates[4])).sum() == 1
    caps.loc[hole, "market_cap"] = 0.0
    with pytest.raises(
        InvalidValueError,
        match=f"market_cap must be positive.*ticker S005 on {out_dates[3].date()}",
    ):
        compute_style_exposures(
            m.prices, m.daily_returns, caps, m.companies, m.fundamentals, out_dates
        )


def test_malformed_inputs(market, out_dates):
    m = market
    with pytest.raises(MissingColumnError, match="prices: missing column.*volume"):
        compute_style_exposures(
            m.prices.drop(columns="volume"),
            m.daily_returns,
            m.market_caps,
            m.companies,
            m.fundamentals,
        )
    with pytest.raises(DuplicateRowsError, match="market_caps: .*ticker S000"):
        compute_style_exposures(
            m.prices,
            m.daily_returns,
            pd.concat([m.market_caps.iloc[:1], m.market_caps]),
            m.companies,
            m.fundamentals,
        )
    with pytest.raises(InvalidValueError, match="ticker S001 has a market cap but no industry"):
        _compute(m, out_dates, industries=pd.DataFrame({"ticker": ["S000"], "industry": ["x"]}))


def test_vendor_exposures_are_standardised_like_computed_ones(market, out_dates):
    m = market
    rng = np.random.default_rng(5)
    month_ends = out_dates[::21]
    tickers = sorted(m.companies["ticker"])
    vendor = pd.DataFrame(
        [(d, t) for d in month_ends for t in tickers[:-2]], columns=["date", "ticker"]
    )
    for j, style in enumerate(STYLE_FACTORS):
        vendor[style] = rng.normal(j, 2.0 + j, len(vendor))
    industries = m.companies.rename(columns={"gics_sector": "industry"})[["ticker", "industry"]]
    ex = standardise_vendor_exposures(vendor, m.market_caps, industries, out_dates)
    assert list(ex.columns)[: len(expo.EXPOSURE_COLUMNS)] == list(expo.EXPOSURE_COLUMNS)
    assert ex[list(expo.AGE_COLUMNS)].isna().all().all()
    assert ex[list(STYLE_FACTORS)].notna().all().all()
    for _, day in ex.groupby("date"):
        w = day["market_cap"] / day["market_cap"].sum()
        assert abs((w * day["momentum"]).sum()) < 1e-12
        assert day["momentum"].std(ddof=0) == pytest.approx(1.0)
    # Between vendor dates the latest vendor row is used: ranks stay those of the vendor file.
    first = ex[ex["date"] == out_dates[5]].set_index("ticker")
    src = vendor[vendor["date"] == month_ends[0]].set_index("ticker")
    common = src.index
    assert spearmanr(first.loc[common, "value"], src["value"])[0] > 0.99
    # The two tickers the vendor does not cover get their industry's mean.
    assert first.loc[tickers[-2:], "value"].notna().all()
    # Beyond vendor_max_age_days nothing is used: a style with no coverage is 0.
    late = standardise_vendor_exposures(
        vendor[vendor["date"] == month_ends[0]], m.market_caps, industries, out_dates[60:]
    )
    assert late[list(STYLE_FACTORS)].eq(0.0).all().all()


def test_build_style_exposures_uses_vendor_rows_when_present(market, out_dates, exposures):
    m = market
    computed = expo.build_style_exposures(
        m.prices, m.daily_returns, m.market_caps, m.companies, m.fundamentals, None, out_dates
    )
    pd.testing.assert_frame_equal(computed, exposures)
    empty = pd.DataFrame(columns=["date", "ticker", *STYLE_FACTORS])
    also = expo.build_style_exposures(
        m.prices, m.daily_returns, m.market_caps, m.companies, m.fundamentals, empty, out_dates
    )
    pd.testing.assert_frame_equal(also, exposures)
    vendor = exposures[["date", "ticker", *STYLE_FACTORS]].assign(size=lambda f: -f["size"])
    from_vendor = expo.build_style_exposures(
        m.prices, m.daily_returns, m.market_caps, m.companies, m.fundamentals, vendor, out_dates
    )
    assert np.corrcoef(from_vendor["size"], exposures["size"])[0, 1] < -0.99
    np.testing.assert_allclose(from_vendor["momentum"], exposures["momentum"], atol=1e-9)
