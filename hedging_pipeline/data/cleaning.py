"""Cleaned panels built from validated raw files: prices, daily returns and the market-cap panel.

Choices (documented in README "Data handling"):

* ``split_factor`` is the cumulative product of ``split_coefficient`` from a ticker's first row up to the date:
  a forward adjustment that never changes when new data arrives, so partitions computed on different nights
  agree. Where the vendor gives no ``adj_close`` it is filled with ``close * split_factor``.
* Returns come from the vendor ``adj_close`` when present (split and dividend adjusted); otherwise from traded
  closes with splits and cash dividends: ``r_t = (close_t + dividend_t) * split_t / close_{t-1} - 1``.
* A day with zero volume and an unchanged close is *stale*: its return is missing (not zero), and the next
  traded day's return spans the gap. A return spanning more than ``max_gap_days`` trading days is dropped.
* Market cap = shares outstanding x traded close. Shares come, in order of preference, from the latest
  ``fundamentals.shares_outstanding`` known at the date (``period_end`` + reporting lag), else a market-cap
  snapshot in ``companies`` divided by the close on the snapshot date, else the earliest share count known for
  the ticker (a documented look-ahead in the share count only). Share counts are carried across splits.
  Issuer-level snapshots are split among share classes, and share counts whose cap disagrees with the
  snapshot by more than [0.67, 1.5]x are rejected in favour of the snapshot (:mod:`.market_caps`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hedging_pipeline.data.market_caps import (
    REJECTED_SOURCE,
    check_share_counts,
    cross_check_fundamentals,
    negative_counts,
    split_issuer_snapshots,
)
from hedging_pipeline.data.schema import MARKET_CAP_SNAPSHOT
from hedging_pipeline.data.tables import PRICE_COLUMNS

REPORTING_LAG_DAYS = 90
"""Calendar days after a fiscal period end before its statements count as known (10-K filing deadline)."""
FISCAL_YEAR_END_LAG_DAYS = 90 + 365
"""Lag from 1 January of ``fiscal_year`` when ``period_end`` is missing: year end plus the reporting lag."""
SNAPSHOT_MONTH = 2
"""A ``market_cap_usd_YYYY`` snapshot is taken to be as of the first trading day of February of YYYY."""
MAX_GAP_DAYS = 5
"""Longest run of missing trading days a single return may span."""


def clean_prices(raw: pd.DataFrame, prior_split_factor: pd.Series | None = None) -> pd.DataFrame:
    """Clean validated raw prices of a date window.

    Parameters
    ----------
    raw : pd.DataFrame
        Validated raw rows (see :func:`hedging_pipeline.data.loaders.load_prices`) of the window, each ticker's
        rows in date order, plus for each ticker its last row before the window (to detect stale days).
    prior_split_factor : pd.Series, optional
        Cumulative split product of each ticker's splits strictly before the window (index ticker); 1 if absent.

    Returns
    -------
    pd.DataFrame
        Columns :data:`PRICE_COLUMNS`, sorted by (date, ticker).
    """
    frame = raw.sort_values(["ticker", "date"], kind="stable").reset_index(drop=True).copy()
    for column, default in (("dividend", 0.0), ("split_coefficient", 1.0)):
        if column not in frame.columns:
            frame[column] = default
        frame[column] = frame[column].fillna(default)
    for column in ("open", "high", "low"):
        if column not in frame.columns:
            frame[column] = np.nan
        frame.loc[frame[column] <= 0, column] = np.nan  # vendor gaps; close is validated > 0
    frame.loc[frame["split_coefficient"] <= 0, "split_coefficient"] = 1.0

    prior = prior_split_factor if prior_split_factor is not None else pd.Series(dtype=float)
    base = frame["ticker"].map(prior).fillna(1.0).to_numpy()
    frame["split_factor"] = base * frame.groupby("ticker")["split_coefficient"].cumprod().to_numpy()

    has_vendor = "adj_close" in frame.columns
    vendor = frame["adj_close"] if has_vendor else pd.Series(np.nan, index=frame.index)
    frame["adj_close_source"] = np.where(vendor.notna(), "vendor", "split_factor")
    frame["adj_close"] = vendor.fillna(frame["close"] * frame["split_factor"])

    previous_close = frame.groupby("ticker")["close"].shift(1)
    frame["is_stale"] = (frame["volume"] == 0) & (frame["close"] == previous_close)
    return frame.sort_values(["date", "ticker"], kind="stable")[list(PRICE_COLUMNS)].reset_index(
        drop=True
    )


def compute_daily_returns(
    prices: pd.DataFrame, calendar: pd.DatetimeIndex, *, max_gap_days: int = MAX_GAP_DAYS
) -> pd.DataFrame:
    """Daily simple returns from cleaned prices.

    Parameters
    ----------
    prices : pd.DataFrame
        Output of :func:`clean_prices` covering the output dates and enough days before them.
    calendar : pd.DatetimeIndex
        The trading days (sorted) that ``prices`` spans, used to measure gaps.
    max_gap_days : int
        A return spanning more trading days than this is dropped.

    Returns
    -------
    pd.DataFrame
        date, ticker, ret for every traded, non-stale day with a usable previous price; each ticker's first
        row has no return.
    """
    traded = prices.loc[~prices["is_stale"]].sort_values(["ticker", "date"], kind="stable")
    grouped = traded.groupby("ticker", sort=False)
    prev_close = grouped["close"].shift(1)
    prev_adj = grouped["adj_close"].shift(1)
    prev_date = grouped["date"].shift(1)
    vendor = traded["adj_close_source"].eq("vendor") & grouped["adj_close_source"].shift(1).eq(
        "vendor"
    )
    from_adj = traded["adj_close"] / prev_adj - 1.0
    from_raw = (traded["close"] + traded["dividend"]) * traded[
        "split_coefficient"
    ] / prev_close - 1.0
    ret = np.where(vendor, from_adj, from_raw)

    position = pd.Series(np.arange(len(calendar)), index=calendar)
    gap = traded["date"].map(position) - prev_date.map(position)
    keep = prev_close.notna() & (gap <= max_gap_days + 1)
    out = pd.DataFrame({"date": traded["date"], "ticker": traded["ticker"], "ret": ret})[keep]
    return out.sort_values(["date", "ticker"], kind="stable").reset_index(drop=True)


def trading_calendar(dates: pd.Series) -> pd.DataFrame:
    """Trading days taken from the data: each date with prices, and how many tickers traded.

    Returns
    -------
    pd.DataFrame
        date, n_tickers; sorted.
    """
    counts = pd.Series(dates).value_counts().sort_index()
    return pd.DataFrame({"date": counts.index.astype("datetime64[ns]"), "n_tickers": counts.values})


def _known_date(fundamentals: pd.DataFrame, lag_days: int) -> pd.Series:
    period_end = pd.to_datetime(fundamentals["period_end"])
    from_year = pd.to_datetime(
        fundamentals["fiscal_year"].astype("Int64").astype(str) + "-01-01", errors="coerce"
    ) + pd.Timedelta(days=FISCAL_YEAR_END_LAG_DAYS - REPORTING_LAG_DAYS + lag_days)
    return (period_end + pd.Timedelta(days=lag_days)).fillna(from_year)


def share_references(
    prices: pd.DataFrame,
    companies: pd.DataFrame,
    fundamentals: pd.DataFrame,
    *,
    reporting_lag_days: int = REPORTING_LAG_DAYS,
) -> pd.DataFrame:
    """Observed share counts, normalised to split-free units (``shares / split_factor`` at the reference date).

    Parameters
    ----------
    prices : pd.DataFrame
        Cleaned prices (date, ticker, close, split_factor) over the whole history.
    companies, fundamentals : pd.DataFrame
        Validated raw files.
    reporting_lag_days : int
        Days after ``period_end`` before a share count is known.

    Returns
    -------
    pd.DataFrame
        ticker, known_date, shares_norm, source ("fundamentals", "fundamentals_rejected", "snapshot_YYYY",
        "companies"), snapshot_ratio (derived / snapshot-implied cap of fundamentals rows), sorted. Share
        classes and the snapshot cross-check: :mod:`hedging_pipeline.data.market_caps`.

    Raises
    ------
    InvalidValueError
        A negative market cap or share count in ``companies`` (negative counts in ``fundamentals``
        become rejected rows, named by :func:`~hedging_pipeline.data.market_caps.warning_line`).
    """
    for column in companies.columns:
        if MARKET_CAP_SNAPSHOT.match(str(column)) or column in ("market_cap", "shares_outstanding"):
            check_share_counts(companies, column, "companies")
    first_factor = prices.sort_values("date").groupby("ticker")
    refs: list[pd.DataFrame] = []
    fund_refs = pd.DataFrame(columns=["ticker", "known_date", "shares_norm", "source"])

    if "shares_outstanding" in fundamentals.columns:
        fund = fundamentals.loc[fundamentals["shares_outstanding"] > 0].copy()
        fund["known_date"] = _known_date(fund, reporting_lag_days)
        fund = fund.dropna(subset=["known_date"])
        factor = _factor_at(prices, fund["ticker"], fund["known_date"])
        fund_refs = pd.DataFrame(
            {
                "ticker": fund["ticker"].to_numpy(),
                "known_date": fund["known_date"].to_numpy(),
                "shares_norm": fund["shares_outstanding"].to_numpy() / factor,
                "source": "fundamentals",
            }
        )

    last = first_factor.tail(1).set_index("ticker")
    for column in companies.columns:
        match = MARKET_CAP_SNAPSHOT.match(str(column))
        if match is None and column not in ("market_cap", "shares_outstanding"):
            continue
        values = companies.set_index("ticker")[column]
        values = values[values > 0].dropna()
        if values.empty:
            continue
        if match is not None:
            year = int(match.group(1))
            anchor = pd.Timestamp(year=year, month=SNAPSHOT_MONTH, day=1)
            rows = (
                prices.loc[prices["date"] >= anchor]
                .sort_values("date")
                .groupby("ticker")
                .head(1)
                .set_index("ticker")
            )
            source = f"snapshot_{year}"
        else:
            rows, source = last, "companies"
        rows = rows.reindex(values.index).dropna(subset=["close"])
        shares = values.loc[rows.index]
        if column != "shares_outstanding":
            shares = shares / rows["close"]
        ref = pd.DataFrame(
            {
                "ticker": rows.index.to_numpy(),
                "known_date": rows["date"].to_numpy(),
                "shares_norm": (shares / rows["split_factor"]).to_numpy(),
                "source": source,
                "shares": shares.to_numpy(),
            }
        )
        refs.append(
            split_issuer_snapshots(ref, companies)
            if match is not None
            else ref.drop(columns="shares")
        )
    snapshots = [r for r in refs if r["source"].str.startswith("snapshot").all()]
    fund_refs = cross_check_fundamentals(
        fund_refs, pd.concat(snapshots, ignore_index=True) if snapshots else pd.DataFrame()
    )
    if "shares_outstanding" in fundamentals.columns:
        refs.append(negative_counts(fundamentals, _known_date(fundamentals, reporting_lag_days)))
    refs = [r for r in (fund_refs, *refs) if len(r)]
    if not refs:
        return pd.DataFrame(
            columns=["ticker", "known_date", "shares_norm", "source", "snapshot_ratio"]
        )
    out = pd.concat(refs, ignore_index=True)
    out["known_date"] = pd.to_datetime(out["known_date"]).astype("datetime64[ns]")
    return out.sort_values(["known_date", "ticker"]).reset_index(drop=True)


def _factor_at(prices: pd.DataFrame, tickers: pd.Series, dates: pd.Series) -> np.ndarray:
    """Split factor of each (ticker, date): the last known on or before the date, else the first."""
    query = pd.DataFrame({"ticker": tickers.to_numpy(), "date": pd.to_datetime(dates).to_numpy()})
    query["_order"] = np.arange(len(query))
    table = prices[["date", "ticker", "split_factor"]].sort_values("date")
    merged = pd.merge_asof(
        query.sort_values("date"), table, on="date", by="ticker", direction="backward"
    )
    first = table.groupby("ticker")["split_factor"].first()
    merged["split_factor"] = merged["split_factor"].fillna(merged["ticker"].map(first))
    return merged.sort_values("_order")["split_factor"].fillna(1.0).to_numpy()


def market_cap_panel(prices: pd.DataFrame, references: pd.DataFrame) -> pd.DataFrame:
    """Daily market capitalisation.

    Parameters
    ----------
    prices : pd.DataFrame
        Cleaned prices (date, ticker, close, split_factor) of the dates to output.
    references : pd.DataFrame
        Output of :func:`share_references`.

    Returns
    -------
    pd.DataFrame
        date, ticker, market_cap (USD), shares_outstanding, cap_source; ``market_cap`` is NaN for tickers with
        no share information at all (never a made-up number).
    """
    left = prices[["date", "ticker", "close", "split_factor"]].sort_values("date").copy()
    refs = references.loc[references["source"] != REJECTED_SOURCE].sort_values("known_date")
    pit = refs.loc[refs["source"] == "fundamentals"]
    merged = pd.merge_asof(
        left,
        pit[["ticker", "known_date", "shares_norm", "source"]],
        left_on="date",
        right_on="known_date",
        by="ticker",
        direction="backward",
    )
    # Fallbacks: a dated snapshot (look-ahead when it lies after the date), else the earliest reference.
    snapshot = (
        refs.loc[refs["source"] != "fundamentals"]
        .groupby("ticker")
        .first()[["shares_norm", "source"]]
    )
    earliest = refs.groupby("ticker").first()[["shares_norm", "source"]]
    for fallback in (snapshot, earliest):
        missing = merged["shares_norm"].isna()
        merged.loc[missing, "shares_norm"] = merged.loc[missing, "ticker"].map(
            fallback["shares_norm"]
        )
        merged.loc[missing, "source"] = merged.loc[missing, "ticker"].map(fallback["source"])
    shares = merged["shares_norm"] * merged["split_factor"]
    out = pd.DataFrame(
        {
            "date": merged["date"],
            "ticker": merged["ticker"],
            "market_cap": shares * merged["close"],
            "shares_outstanding": shares,
            "cap_source": merged["source"].fillna("none"),
        }
    )
    return out.sort_values(["date", "ticker"], kind="stable").reset_index(drop=True)
