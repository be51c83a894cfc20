"""Tests of the demo universe generator (hedging_pipeline/data/demo.py and data/demo_universe/)."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from scipy.stats import kurtosis, spearmanr
from sklearn.feature_extraction.text import TfidfVectorizer

from hedging_pipeline.data import demo
from hedging_pipeline.data.demo import (
    DemoFrames,
    build_demo_frames,
    demo_trading_days,
    ensure_demo_universe,
    generate_demo_universe,
    read_demo_manifest,
)
from hedging_pipeline.errors import InvalidValueError

SHARED_DATA_DIR = Path(__file__).resolve().parents[3] / "shared" / "data"
RAW_STEMS = ("prices", "companies", "fundamentals", "descriptions")
# A small universe for tests that generate repeatedly (ensure / version logic).
SMALL = {"n_tickers": 26, "start": "2021-01-01", "end": "2022-03-31"}


@pytest.fixture(scope="module")
def frames() -> DemoFrames:
    return build_demo_frames()


@pytest.fixture(scope="module")
def universe(tmp_path_factory: pytest.TempPathFactory) -> demo.DemoUniverse:
    return generate_demo_universe(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def real_data_dir() -> Path:
    if not (SHARED_DATA_DIR / "prices.parquet").is_file():
        pytest.skip(
            f"REAL DATA ABSENT: {SHARED_DATA_DIR} has no prices.parquet; the comparison of the "
            "demo universe against the real files is SKIPPED (developers and CI have it)"
        )
    return SHARED_DATA_DIR


@pytest.fixture(scope="module")
def returns(frames: DemoFrames) -> pd.DataFrame:
    wide = frames.prices.pivot(index="date", columns="ticker", values="adj_close")
    return wide.pct_change(fill_method=None).iloc[1:]


def _identity(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_ino, stat.st_mtime_ns


def _all_files(out_dir: Path) -> list[Path]:
    return sorted(p for p in out_dir.rglob("*") if p.is_file())


# --------------------------------------------------------------------------------------------------
# Determinism and files
# --------------------------------------------------------------------------------------------------
def test_same_seed_gives_identical_frames(frames: DemoFrames) -> None:
    again = build_demo_frames()
    for name, table in frames.tables().items():
        pd.testing.assert_frame_equal(table, again.tables()[name], check_exact=True, obj=name)


def test_other_seed_gives_other_prices() -> None:
    a = build_demo_frames(seed=1, **SMALL)
    b = build_demo_frames(seed=2, **SMALL)
    assert not np.allclose(a.prices["adj_close"].head(500), b.prices["adj_close"].head(500))
    assert list(a.companies["ticker"]) != list(b.companies["ticker"])


def test_written_files_round_trip_the_frames(
    universe: demo.DemoUniverse, frames: DemoFrames
) -> None:
    for relative, table in frames.tables().items():
        written = pd.read_parquet(universe.out_dir / f"{relative}.parquet")
        pd.testing.assert_frame_equal(written, table, check_exact=True, obj=relative)
        assert universe.row_counts[f"{relative}.parquet"] == len(table)
    manifest = read_demo_manifest(universe.out_dir)
    assert manifest is not None
    assert manifest["version"] == demo.GENERATOR_VERSION
    assert manifest["parameters"] == {
        "seed": demo.DEFAULT_SEED,
        "n_tickers": 60,
        "start": "2020-01-01",
        "end": "2023-12-31",
    }
    assert manifest["files"] == universe.row_counts
    assert "60 tickers in 5 sectors / 13 sub-industries" in universe.summary
    assert "3 splits, 2 late listings" in universe.summary


def test_generation_is_byte_identical(tmp_path: Path) -> None:
    a = generate_demo_universe(tmp_path / "a", seed=7, **SMALL)
    b = generate_demo_universe(tmp_path / "b", seed=7, **SMALL)
    for path in _all_files(a.out_dir):
        twin = b.out_dir / path.relative_to(a.out_dir)
        assert path.read_bytes() == twin.read_bytes(), path.name
    assert not list(a.out_dir.rglob(".*.tmp"))


# --------------------------------------------------------------------------------------------------
# Schema: the columns and dtypes of the real data
# --------------------------------------------------------------------------------------------------
DOCUMENTED_DTYPES = {  # PROVENANCE.md "Schema", as pandas reads the real files
    "prices": {
        "date": "datetime64[us]",
        "ticker": "object",
        **dict.fromkeys(["open", "high", "low", "close", "adj_close"], "float64"),
        "volume": "int64",
        "dividend": "float64",
        "split_coefficient": "float64",
    },
    "companies": {
        **dict.fromkeys(
            ["ticker", "name", "gics_sector", "gics_sub_industry", "gics_sub_industry_source"],
            "object",
        ),
        **dict.fromkeys(["gics_sector_2023", "cik", "headquarters", "date_added"], "object"),
        "founded": "string",
        "in_prices": "bool",
        "later_ticker": "object",
    },
    "fundamentals": {
        **dict.fromkeys(["ticker", "source_ticker", "source"], "object"),
        "fiscal_year": "Int64",
        "period_end": "datetime64[ns]",
        **dict.fromkeys(
            ["revenue", "net_income", "total_assets", "total_liabilities", "total_equity"],
            "float64",
        ),
        **dict.fromkeys(
            ["long_term_debt", "short_term_debt", "operating_income", "shares_outstanding", "eps"],
            "float64",
        ),
    },
    "descriptions": {
        **dict.fromkeys(["ticker", "source_ticker", "title", "source", "text"], "object"),
        "as_of": "datetime64[us]",
    },
}
CONTRACT_REQUIRED = {
    "prices": ["date", "ticker", "close", "volume"],
    "companies": ["ticker", "name", "gics_sector"],
    "fundamentals": ["ticker", "period_end", "fiscal_year"],
    "descriptions": ["ticker", "text"],
}


@pytest.mark.parametrize("stem", RAW_STEMS)
def test_files_have_documented_columns_and_dtypes(universe: demo.DemoUniverse, stem: str) -> None:
    frame = pd.read_parquet(universe.out_dir / f"{stem}.parquet")
    dtypes = {c: str(t) for c, t in frame.dtypes.items()}
    for column, dtype in DOCUMENTED_DTYPES[stem].items():
        assert dtypes.get(column) == dtype, f"{stem}.{column}: {dtypes.get(column)} != {dtype}"
    for column in CONTRACT_REQUIRED[stem]:
        assert frame[column].notna().all(), f"{stem}.{column} has nulls"


def test_companies_market_cap_snapshot_column(frames: DemoFrames) -> None:
    assert frames.market_cap_column == "market_cap_usd_2021"
    cap = frames.companies[frames.market_cap_column]
    assert cap.dtype == np.float64
    assert (cap[frames.companies["in_prices"]].dropna() > 1e8).all()
    # the unpriced company and the two names not yet listed on 2021-02-01 have no snapshot
    assert cap.isna().sum() == 3


@pytest.mark.realdata
@pytest.mark.parametrize("stem", RAW_STEMS)
def test_schema_equals_real_files(
    universe: demo.DemoUniverse, real_data_dir: Path, stem: str
) -> None:
    real = pq.read_schema(real_data_dir / f"{stem}.parquet")
    ours = pq.read_schema(universe.out_dir / f"{stem}.parquet")
    real_pandas = real.empty_table().to_pandas().dtypes
    ours_pandas = ours.empty_table().to_pandas().dtypes
    shared = [name for name in real.names if name in ours.names]
    missing = set(real.names) - set(ours.names)
    assert missing <= {"market_cap_usd_2018"}, missing  # the snapshot is dated inside the demo span
    assert len(shared) >= len(real.names) - 1
    for name in shared:
        assert ours.field(name).type == real.field(name).type, f"{stem}.{name} arrow type"
        assert ours_pandas[name] == real_pandas[name], f"{stem}.{name} pandas dtype"
    assert [n for n in ours.names if n in shared] == shared  # same column order


@pytest.mark.realdata
def test_tickers_do_not_clash_with_real_universe(frames: DemoFrames, real_data_dir: Path) -> None:
    real = set(pd.read_parquet(real_data_dir / "companies.parquet", columns=["ticker"])["ticker"])
    assert not set(frames.companies["ticker"]) & real


# --------------------------------------------------------------------------------------------------
# Calendar
# --------------------------------------------------------------------------------------------------
def test_trading_days_skip_weekends_and_nyse_holidays(frames: DemoFrames) -> None:
    dates = pd.DatetimeIndex(frames.prices["date"].unique())
    assert (dates.dayofweek < 5).all()
    holidays = [
        "2020-01-01",  # New Year
        "2020-04-10",  # Good Friday
        "2020-07-03",  # Independence Day observed (Saturday)
        "2020-11-26",  # Thanksgiving
        "2020-12-25",  # Christmas
        "2021-12-24",  # Christmas observed (Saturday)
        "2022-06-20",  # Juneteenth observed (Sunday)
        "2023-01-02",  # New Year observed (Sunday)
    ]
    assert not dates.isin(pd.to_datetime(holidays)).any()
    open_days = ["2020-01-02", "2021-06-18", "2021-12-31", "2022-11-25", "2023-12-29"]
    assert pd.to_datetime(open_days).isin(dates).all()
    assert len(dates) == 1006  # 253 + 252 + 251 + 250 NYSE sessions in 2020-2023
    assert dates.min() == pd.Timestamp("2020-01-02") and dates.max() == pd.Timestamp("2023-12-29")


@pytest.mark.realdata
def test_trading_days_match_real_calendar(real_data_dir: Path) -> None:
    real = pd.read_parquet(
        real_data_dir / "prices.parquet",
        columns=["date"],
        filters=[
            ("date", ">=", pd.Timestamp("2019-01-01")),
        ],
    )
    real_days = pd.DatetimeIndex(sorted(real["date"].unique()))
    ours = demo_trading_days("2019-01-01", real_days.max())
    pd.testing.assert_index_equal(ours, real_days.astype("datetime64[ns]"), check_names=False)


# --------------------------------------------------------------------------------------------------
# Price invariants
# --------------------------------------------------------------------------------------------------
def test_price_rows_are_unique_positive_and_ordered(frames: DemoFrames) -> None:
    prices = frames.prices
    assert not prices.duplicated(["date", "ticker"]).any()
    assert prices[["open", "high", "low", "close", "adj_close"]].gt(0).all().all()
    assert prices.notna().all().all()
    assert (prices["low"] <= prices["close"]).all() and (prices["close"] <= prices["high"]).all()
    assert (prices["low"] <= prices["open"]).all() and (prices["open"] <= prices["high"]).all()
    assert (prices["volume"] > 0).all()
    assert (prices["dividend"] >= 0).all()
    # raw prices are in cents, like a vendor feed
    cents = prices[["open", "high", "low", "close", "dividend"]].to_numpy() * 100
    np.testing.assert_allclose(cents, np.round(cents), atol=1e-6)
    # file order is (ticker, date), like the real file
    assert prices.equals(
        prices.sort_values(["ticker", "date"], kind="stable").reset_index(drop=True)
    )


def test_every_ticker_trades_every_day_after_listing(frames: DemoFrames) -> None:
    days = pd.DatetimeIndex(sorted(frames.prices["date"].unique()))
    listing = frames.truth_tickers.set_index("ticker")["listing_date"]
    counts = frames.prices.groupby("ticker")["date"].agg(["min", "count"])
    assert (counts["min"] == listing.reindex(counts.index)).all()
    expected = [int((days >= first).sum()) for first in counts["min"]]
    assert counts["count"].tolist() == expected
    late = listing[listing > days[0]]
    assert len(late) == 2
    assert set(frames.truth_tickers.set_index("ticker").loc[late.index, "listing_kind"]) == {
        "ipo",
        "spin-off",
    }
    assert (counts.loc[late.index, "count"] < 0.6 * len(days)).all()
    assert (counts.loc[late.index, "count"] > 100).all()


def test_adj_close_equals_close_on_the_last_day(frames: DemoFrames) -> None:
    last = frames.prices.loc[frames.prices["date"] == frames.prices["date"].max()]
    np.testing.assert_allclose(last["adj_close"], last["close"], rtol=1e-12)


def test_adj_close_return_is_total_return_of_raw_prices(frames: DemoFrames) -> None:
    p = frames.prices
    prev = p.groupby("ticker")["close"].shift()
    total = (p["close"] * p["split_coefficient"] + p["dividend"]) / prev - 1
    adj = p.groupby("ticker")["adj_close"].pct_change()
    ok = prev.notna()
    np.testing.assert_allclose(adj[ok], total[ok], atol=1e-10)


def test_adj_returns_reproduce_planted_returns(frames: DemoFrames, returns: pd.DataFrame) -> None:
    truth = frames.truth_returns.pivot(index="date", columns="ticker", values="ret")
    truth = truth.reindex_like(returns)
    both = returns.notna() & truth.notna()
    assert both.sum().sum() == len(frames.truth_returns)
    diff = (returns - truth)[both].abs().stack()
    assert diff.max() < 2e-3  # rounding prices to cents only
    assert diff.median() < 1e-4


def test_splits_jump_raw_close_but_not_adj_close(frames: DemoFrames) -> None:
    p = frames.prices.set_index(["ticker", "date"]).sort_index()
    splits = frames.truth_tickers.dropna(subset=["split_date"])
    assert sorted(splits["split_ratio"]) == [2.0, 3.0, 4.0]
    split_rows = frames.prices.loc[frames.prices["split_coefficient"] != 1.0]
    found = split_rows[["ticker", "date", "split_coefficient"]].to_numpy().tolist()
    planted = splits[["ticker", "split_date", "split_ratio"]].to_numpy().tolist()
    assert sorted(found) == sorted(planted)
    for row in splits.itertuples():
        series = p.loc[row.ticker]
        at = series.index.get_loc(row.split_date)
        raw_ret = series["close"].iloc[at] / series["close"].iloc[at - 1] - 1
        adj_ret = series["adj_close"].iloc[at] / series["adj_close"].iloc[at - 1] - 1
        assert abs(adj_ret) < 0.1
        assert raw_ret == pytest.approx((1 + adj_ret) / row.split_ratio - 1, abs=2e-3)
        assert raw_ret < -0.4  # 2-for-1 at least halves the traded price
        # volume in shares scales with the share count
        before = series["volume"].iloc[at - 20 : at].median()
        after = series["volume"].iloc[at : at + 20].median()
        assert after / before == pytest.approx(row.split_ratio, rel=0.6)


def test_dividends_are_quarterly_for_payers(frames: DemoFrames) -> None:
    div = frames.prices.loc[frames.prices["dividend"] > 0]
    per_ticker = div.groupby("ticker")["date"]
    payers = frames.truth_tickers.set_index("ticker")["dividend_yield"]
    assert set(per_ticker.groups) == set(payers[payers > 0].index)
    assert 0.4 < (payers > 0).mean() < 0.95
    gaps = per_ticker.diff().dropna().dt.days
    assert gaps.between(80, 100).all()  # 63 trading days
    prev_close = frames.prices["close"].shift().loc[div.index]  # rows are (ticker, date) ordered
    years = frames.prices.groupby("ticker").size() / 252
    annual = (div["dividend"] / prev_close).groupby(div["ticker"]).sum() / years
    annual = annual.dropna()
    np.testing.assert_allclose(annual, payers[annual.index], rtol=0.35)


# --------------------------------------------------------------------------------------------------
# Planted structure
# --------------------------------------------------------------------------------------------------
def _pair_masks(frames: DemoFrames, tickers: pd.Index) -> tuple[np.ndarray, np.ndarray]:
    info = frames.truth_tickers.set_index("ticker").loc[tickers]
    sector = info["gics_sector"].to_numpy()
    sub = info["gics_sub_industry"].to_numpy()
    off = ~np.eye(len(tickers), dtype=bool)
    return (sector[:, None] == sector[None, :]) & off, (sub[:, None] == sub[None, :]) & off


def test_within_sector_correlation_clearly_above_cross_sector(
    frames: DemoFrames, returns: pd.DataFrame
) -> None:
    corr = returns.corr().to_numpy()
    same_sector, same_sub = _pair_masks(frames, returns.columns)
    off = ~np.eye(len(corr), dtype=bool)
    within = corr[same_sector].mean()
    cross = corr[off & ~same_sector].mean()
    assert within - cross > 0.1, (within, cross)
    assert corr[same_sub].mean() > corr[same_sector & ~same_sub].mean() + 0.03
    assert cross > 0.1  # the market factor ties everything together


def test_market_factor_is_recovered_by_the_average_stock(
    frames: DemoFrames, returns: pd.DataFrame
) -> None:
    market = frames.truth_factor_returns.query("factor == 'market'").set_index("date")["ret"]
    equal_weight = returns.mean(axis=1)
    assert equal_weight.corr(market.reindex(equal_weight.index)) > 0.85
    annual_vol = equal_weight.std() * np.sqrt(252)
    assert 0.10 < annual_vol < 0.30


def test_truth_decomposition_adds_up(frames: DemoFrames) -> None:
    f = frames.truth_factor_returns.pivot(index="date", columns="factor", values="ret")
    b = frames.truth_loadings.pivot(index="ticker", columns="factor", values="loading").fillna(0.0)
    b = b.reindex(columns=f.columns, fill_value=0.0)
    r = frames.truth_returns
    systematic = (f.loc[r["date"]].to_numpy() * b.loc[r["ticker"]].to_numpy()).sum(axis=1)
    np.testing.assert_allclose(r["ret"] - r["specific_ret"], systematic, atol=1e-12)
    # every ticker loads on market, its sector, its sub-industry and the three styles
    counts = frames.truth_loadings.groupby("ticker")["factor"].count()
    assert (counts == 6).all()
    styles = b[["size", "value", "volatility"]]
    np.testing.assert_allclose(styles.mean(), 0.0, atol=1e-12)
    np.testing.assert_allclose(styles.std(ddof=0), 1.0, atol=1e-12)


def test_style_factor_returns_are_recoverable(frames: DemoFrames, returns: pd.DataFrame) -> None:
    # cross-sectional OLS each day on the planted exposures: beta, sub-industry dummies, styles
    listed = returns.dropna(axis=1)
    loadings = frames.truth_loadings.pivot(index="ticker", columns="factor", values="loading")
    loadings = loadings.fillna(0.0).loc[listed.columns]
    sub = frames.truth_tickers.set_index("ticker").loc[listed.columns, "gics_sub_industry"]
    dummies = pd.get_dummies(sub).astype(float)
    styles = ["size", "value", "volatility"]
    x = np.column_stack([loadings[["market"]], dummies, loadings[styles]])
    estimated = listed.to_numpy() @ np.linalg.pinv(x).T
    planted = frames.truth_factor_returns.pivot(index="date", columns="factor", values="ret")
    planted = planted.loc[listed.index]
    corr = {
        name: np.corrcoef(estimated[:, -len(styles) + j], planted[name])[0, 1]
        for j, name in enumerate(styles)
    }
    assert corr["size"] > 0.6 and corr["volatility"] > 0.6 and corr["value"] > 0.4, corr


def test_idiosyncratic_noise_has_fat_tails(frames: DemoFrames) -> None:
    r = frames.truth_returns
    vol = r["ticker"].map(frames.truth_tickers.set_index("ticker")["idio_vol_daily"])
    standardised = (r["specific_ret"] - r["drift"]) / vol
    assert kurtosis(standardised) > 3.0  # Student t (4 dof) and the volatility regime


def test_volatility_dispersion_is_planted(frames: DemoFrames, returns: pd.DataFrame) -> None:
    realised = returns.std()
    truth = frames.truth_tickers.set_index("ticker")["idio_vol_daily"].reindex(realised.index)
    assert realised.quantile(0.9) / realised.quantile(0.1) > 1.4
    assert np.corrcoef(np.log(realised), np.log(truth))[0, 1] > 0.7


def test_momentum_like_persistence(returns: pd.DataFrame) -> None:
    log_returns = np.log1p(returns)
    window = 126
    ics = []
    for origin in range(window, len(log_returns) - window, 21):
        past = log_returns.iloc[origin - window : origin].sum(min_count=window // 2)
        future = log_returns.iloc[origin : origin + window].sum(min_count=window // 2)
        ok = past.notna() & future.notna()
        ics.append(spearmanr(past[ok], future[ok]).statistic)
    assert np.mean(ics) > 0.05
    assert np.mean(np.asarray(ics) > 0) > 0.6


def test_volume_rises_with_size(frames: DemoFrames) -> None:
    p = frames.prices
    dollar_volume = (p["close"] * p["volume"]).groupby(p["ticker"]).mean()
    cap = frames.companies.set_index("ticker")[frames.market_cap_column].reindex(
        dollar_volume.index
    )
    ok = cap.notna()
    assert spearmanr(np.log(dollar_volume[ok]), np.log(cap[ok])).statistic > 0.6


# --------------------------------------------------------------------------------------------------
# Companies and fundamentals
# --------------------------------------------------------------------------------------------------
def test_companies_universe(frames: DemoFrames) -> None:
    c = frames.companies
    assert c["ticker"].is_unique and c["name"].is_unique
    assert c["ticker"].str.fullmatch(r"[A-Z]{2,4}").all()
    priced = c.loc[c["in_prices"]]
    assert set(priced["ticker"]) == set(frames.prices["ticker"])
    assert (~c["in_prices"]).sum() == 1
    assert c["gics_sector"].nunique() == 5
    assert priced.groupby("gics_sector")["gics_sub_industry"].nunique().between(2, 3).all()
    assert priced.groupby("gics_sub_industry").size().min() >= 2
    assert c["cik"].str.fullmatch(r"\d{10}").all()


def test_fundamentals_are_consistent(frames: DemoFrames) -> None:
    f = frames.fundamentals
    assert not f.duplicated(["ticker", "fiscal_year"]).any()
    np.testing.assert_allclose(f["total_assets"], f["total_equity"] + f["total_liabilities"])
    np.testing.assert_allclose(f["eps"], f["net_income"] / f["shares_outstanding"])
    assert (f["total_equity"] > 0).all() and (f["revenue"] > 0).all()
    assert (f["period_end"] <= frames.prices["date"].max()).all()
    first_day = frames.prices["date"].min()
    listing = frames.truth_tickers.set_index("ticker")["listing_date"]
    earliest = f.groupby("ticker")["period_end"].min()
    # statements are known (period end plus a reporting lag) from the first trading day, and a late
    # listing reports the fiscal year before it lists
    listing = listing.reindex(earliest.index)
    from_start = listing == first_day
    assert (earliest[from_start] <= first_day - pd.DateOffset(years=1)).all()
    assert (earliest[~from_start] + pd.Timedelta(days=90) < listing[~from_start]).all()
    assert (~from_start).sum() == 2
    assert set(f["ticker"]) == set(frames.prices["ticker"])


def test_value_exposure_matches_book_to_price(frames: DemoFrames) -> None:
    f = frames.fundamentals
    last = f.sort_values("period_end").groupby("ticker").tail(1).set_index("ticker")
    close = frames.prices.set_index(["ticker", "date"])["close"]
    days = pd.DatetimeIndex(sorted(frames.prices["date"].unique()))
    on = [days[days <= end].max() for end in last["period_end"]]
    cap = last["shares_outstanding"] * close.loc[list(zip(last.index, on, strict=True))].to_numpy()
    book_to_price = last["total_equity"] / cap
    planted = frames.truth_tickers.set_index("ticker")["book_to_price"].reindex(last.index)
    assert np.corrcoef(np.log(book_to_price), np.log(planted))[0, 1] > 0.95


def test_market_cap_snapshot_agrees_with_share_counts(frames: DemoFrames) -> None:
    year = int(frames.market_cap_column.rsplit("_", 1)[1])
    p = frames.prices
    snap_day = p.loc[p["date"] >= pd.Timestamp(year=year, month=2, day=1), "date"].min()
    close = p.loc[p["date"] == snap_day].set_index("ticker")["close"]
    cap = frames.companies.set_index("ticker")[frames.market_cap_column].dropna()
    implied_shares = cap / close.reindex(cap.index)
    f = frames.fundamentals
    for ticker, shares in implied_shares.items():
        known = f.loc[(f["ticker"] == ticker) & (f["period_end"] <= snap_day)]
        last_end = known["period_end"].max()
        splits = p.loc[(p["ticker"] == ticker) & (p["date"] > last_end) & (p["date"] <= snap_day)]
        expected = known.loc[known["period_end"] == last_end, "shares_outstanding"].iloc[0]
        expected *= splits["split_coefficient"].prod()
        assert shares == pytest.approx(expected, rel=1e-9), ticker


# --------------------------------------------------------------------------------------------------
# Descriptions
# --------------------------------------------------------------------------------------------------
def test_every_company_has_a_description(frames: DemoFrames) -> None:
    d = frames.descriptions
    assert set(d["ticker"]) == set(frames.companies["ticker"])
    assert set(d["source"]) == {"wikipedia", "sec_10k_item1"}
    assert not d.duplicated(["ticker", "source"]).any()
    tenk = d.loc[d["source"] == "sec_10k_item1"]
    assert 0.75 < tenk["ticker"].nunique() / d["ticker"].nunique() < 1.0
    assert d.loc[d["source"] == "wikipedia", "as_of"].isna().all()
    assert (
        tenk["as_of"] > frames.prices["date"].max()
    ).all()  # filed after the span, like the real
    for heading in ("Overview", "Products and Services", "Competition", "Human Capital"):
        assert tenk["text"].str.contains(f"\n\n{heading}\n").all()
    assert tenk["text"].str.len().median() > 1500


def test_descriptions_name_peers_of_the_same_sub_industry(frames: DemoFrames) -> None:
    c = frames.companies.set_index("ticker")
    name_to_sub = dict(zip(c["name"], c["gics_sub_industry"], strict=True))
    d = frames.descriptions.loc[frames.descriptions["source"] == "wikipedia"]
    for row in d.itertuples():
        mentioned = [n for n in name_to_sub if n in row.text and n != c.loc[row.ticker, "name"]]
        assert mentioned, row.ticker
        assert {name_to_sub[n] for n in mentioned} == {c.loc[row.ticker, "gics_sub_industry"]}


@pytest.mark.parametrize("source", ["wikipedia", "sec_10k_item1"])
def test_descriptions_separate_industries_by_vocabulary(frames: DemoFrames, source: str) -> None:
    d = frames.descriptions.loc[frames.descriptions["source"] == source].reset_index(drop=True)
    # peer names are removed so that only the industry vocabulary can match
    names = "|".join(frames.companies["name"].str.split().str[0])
    text = d["text"].str.replace(rf"\b({names})\b", " ", regex=True)
    x = TfidfVectorizer(stop_words="english").fit_transform(text)
    sim = (x @ x.T).toarray()
    np.fill_diagonal(sim, -1.0)
    sub = frames.companies.set_index("ticker").loc[d["ticker"], "gics_sub_industry"].to_numpy()
    sector = frames.companies.set_index("ticker").loc[d["ticker"], "gics_sector"].to_numpy()
    nearest = sim.argmax(axis=1)
    assert (sub[nearest] == sub).mean() > 0.8
    assert (sector[nearest] == sector).mean() > 0.9


def test_ai_makers_and_users_are_findable(frames: DemoFrames) -> None:
    d = frames.descriptions.loc[frames.descriptions["source"] == "sec_10k_item1"].reset_index()
    roles = frames.truth_tickers.set_index("ticker")["ai_role"]
    role = d["ticker"].map(roles).fillna("none").to_numpy()
    assert set(role) == {"maker", "user", "none"}
    vectorizer = TfidfVectorizer(stop_words="english")
    x = vectorizer.fit_transform(d["text"])
    query = vectorizer.transform(
        [
            "AI accelerators GPU clusters train large language models inference "
            "artificial intelligence"
        ]
    )
    score = (x @ query.T).toarray().ravel()
    top = role[np.argsort(-score)[: (role == "maker").sum()]]
    assert (top == "maker").mean() > 0.8
    assert score[role == "user"].mean() > score[role == "none"].mean()
    has_section = d["text"].str.contains("\n\nArtificial Intelligence\n").to_numpy()
    assert (has_section == (role != "none")).all()
    sub = frames.truth_tickers.set_index("ticker")["gics_sub_industry"]
    makers = set(sub[roles == "maker"])
    assert makers == {"Semiconductors", "Systems Software"}
    assert sub[roles == "user"].nunique() >= 8  # users spread over the other industries


# --------------------------------------------------------------------------------------------------
# ensure_demo_universe
# --------------------------------------------------------------------------------------------------
def test_ensure_generates_once_then_leaves_files_alone(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    assert ensure_demo_universe(out, **SMALL) == out
    before = {p: _identity(p) for p in _all_files(out)}
    assert len(before) == 9  # 4 raw files, 4 truth files, the manifest
    assert ensure_demo_universe(out, **SMALL) == out
    assert {p: _identity(p) for p in _all_files(out)} == before


def test_ensure_regenerates_on_generator_version_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = ensure_demo_universe(tmp_path / "demo", **SMALL)
    before = _identity(out / "prices.parquet")
    monkeypatch.setattr(demo, "GENERATOR_VERSION", "next")
    ensure_demo_universe(out, **SMALL)
    assert _identity(out / "prices.parquet") != before
    manifest = read_demo_manifest(out)
    assert manifest is not None and manifest["version"] == "next"


def test_ensure_regenerates_when_the_templates_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = ensure_demo_universe(tmp_path / "demo", **SMALL)
    before = _identity(out / "descriptions.parquet")
    edited = dataclasses.replace(demo.load_templates(), digest="edited")
    monkeypatch.setattr(demo, "load_templates", lambda: edited)
    ensure_demo_universe(out, **SMALL)
    assert _identity(out / "descriptions.parquet") != before
    assert read_demo_manifest(out)["templates_sha256"] == "edited"


def test_ensure_regenerates_stale_or_damaged_folders(tmp_path: Path) -> None:
    out = ensure_demo_universe(tmp_path / "demo", **SMALL)
    prices = out / "prices.parquet"

    (out / "truth" / "loadings.parquet").unlink()
    before = _identity(prices)
    ensure_demo_universe(out, **SMALL)
    assert (out / "truth" / "loadings.parquet").is_file() and _identity(prices) != before

    prices.write_bytes(b"not parquet")
    ensure_demo_universe(out, **SMALL)
    assert pq.read_metadata(prices).num_rows == read_demo_manifest(out)["files"]["prices.parquet"]

    (out / "manifest.json").write_text("{broken")
    before = _identity(prices)
    ensure_demo_universe(out, **SMALL)
    assert json.loads((out / "manifest.json").read_text())["version"] == demo.GENERATOR_VERSION
    assert _identity(prices) != before

    before = _identity(prices)
    ensure_demo_universe(out, seed=99, **SMALL)
    assert read_demo_manifest(out)["parameters"]["seed"] == 99
    assert _identity(prices) != before


def test_ensure_rewrites_a_folder_with_other_row_counts(tmp_path: Path) -> None:
    out = ensure_demo_universe(tmp_path / "demo", **SMALL)
    other = build_demo_frames(seed=5, **SMALL).prices.head(10)
    other.to_parquet(out / "prices.parquet")
    os.utime(out / "prices.parquet", ns=(0, 0))
    ensure_demo_universe(out, **SMALL)
    assert pq.read_metadata(out / "prices.parquet").num_rows > 10


# --------------------------------------------------------------------------------------------------
# Bad parameters
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_tickers": 5}, r"n_tickers=5 is outside \[26, 300\]"),
        ({"n_tickers": 301}, r"n_tickers=301 is outside"),
        ({"seed": -1}, r"seed=-1 must be a non-negative integer"),
        ({"start": "2020-13-45"}, r"start='2020-13-45' is not a date"),
        ({"end": "soon"}, r"end='soon' is not a date"),
        ({"start": "2023-06-01"}, r"start=2023-06-01 to end=2023-12-31 holds 147 trading days"),
        ({"start": "2024-01-01"}, r"holds 0 trading days; need at least 252"),
    ],
)
def test_bad_parameters_raise_one_clear_line(kwargs: dict, message: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidValueError, match=message):
        build_demo_frames(**kwargs)
    with pytest.raises(InvalidValueError, match=message):
        ensure_demo_universe(tmp_path / "never", **kwargs)
    assert not (tmp_path / "never").exists()
