"""Share-count references per share class, cross-checked against the market-cap snapshot.

Two corrections to the share counts behind the market-cap panel (:mod:`hedging_pipeline.data.cleaning`):

* **Share classes.** A ``market_cap_usd_YYYY`` snapshot of a ticker whose issuer (``cik``) lists several
  classes is, in the data, the *issuer's* cap priced at that class (GOOG and GOOGL each carry all of
  Alphabet). When the classes' snapshot-implied share counts agree within :data:`SNAPSHOT_RATIO_BOUNDS`,
  they are one issuer-level count, and each class gets an equal share of it (the data has no per-class
  counts): the classes then sum to the issuer's cap, up to their price differences.
* **Cross-check.** A share count from ``fundamentals`` whose cap lies outside
  :data:`SNAPSHOT_RATIO_BOUNDS` times the snapshot-implied cap of the same day (stale, issuer-level or
  mis-scaled counts) is *rejected*: it stays in the references with source ``fundamentals_rejected`` and its
  ratio, and the market-cap panel falls back to the snapshot path. Both caps share the close and the split
  factor, so the ratio of caps is the ratio of split-free share counts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from hedging_pipeline.data.quality import QualityResult, split_known
from hedging_pipeline.errors import InvalidValueError

SNAPSHOT_RATIO_BOUNDS = (0.67, 1.5)
"""Derived cap / snapshot-implied cap accepted; outside it the snapshot path is used (with a WARN)."""
REJECTED_SOURCE = "fundamentals_rejected"
_BOUNDS_TEXT = f"[{SNAPSHOT_RATIO_BOUNDS[0]}, {SNAPSHOT_RATIO_BOUNDS[1]}]"


def check_share_counts(frame: pd.DataFrame, column: str, name: str) -> None:
    """Raise on a negative market cap or share count in ``companies`` (zero and NaN mean unknown).

    Raises
    ------
    InvalidValueError
        One line naming the file, the column, the ticker and the row.
    """
    if column not in frame.columns:
        return
    values = pd.to_numeric(frame[column], errors="coerce")
    bad = values < 0
    if bad.any():
        row = frame.loc[bad].iloc[0]
        when = f", fiscal year {row['fiscal_year']}" if "fiscal_year" in frame.columns else ""
        raise InvalidValueError(
            f"{name}: column {column} is negative ({values[bad].iloc[0]:g}) for ticker "
            f"{row['ticker']}{when} ({int(bad.sum())} such rows); it must be positive, or empty when unknown"
        )


def negative_counts(fundamentals: pd.DataFrame, known_date: pd.Series) -> pd.DataFrame:
    """Fundamentals rows with a negative ``shares_outstanding``, as rejected references.

    The real data has a few (``FTR`` 2012-2015): they are never used, and :func:`warning_line` names them.
    """
    values = pd.to_numeric(fundamentals.get("shares_outstanding"), errors="coerce")
    bad = values < 0 if values is not None else pd.Series(False, index=fundamentals.index)
    return pd.DataFrame(
        {
            "ticker": fundamentals.loc[bad, "ticker"].to_numpy(),
            "known_date": pd.to_datetime(known_date[bad]).to_numpy(),
            "shares_norm": values[bad].to_numpy(dtype=float),
            "source": REJECTED_SOURCE,
            "snapshot_ratio": np.nan,
        }
    )


def split_issuer_snapshots(snapshots: pd.DataFrame, companies: pd.DataFrame) -> pd.DataFrame:
    """Divide an issuer-level snapshot share count equally among the issuer's listed classes.

    Parameters
    ----------
    snapshots : pd.DataFrame
        ``ticker, known_date, shares_norm, source`` of one snapshot column, and ``shares``: the count
        on the snapshot date in that day's units (the classes are compared on it, since the
        split-free units of two tickers differ when their split histories do).
    companies : pd.DataFrame
        ``ticker`` and optionally ``cik`` (issuer id).

    Returns
    -------
    pd.DataFrame
        The same rows; ``shares_norm`` divided by the number of classes where the classes of one issuer
        imply the same count (within :data:`SNAPSHOT_RATIO_BOUNDS`).
    """
    if "cik" not in companies.columns or snapshots.empty:
        return snapshots.drop(columns="shares")
    cik = companies.drop_duplicates("ticker").set_index("ticker")["cik"]
    out = snapshots.copy()
    out["_cik"] = out["ticker"].map(cik)
    lo, hi = SNAPSHOT_RATIO_BOUNDS
    for _, group in out[out["_cik"].notna()].groupby("_cik"):
        if len(group) < 2:
            continue
        spread = group["shares"].max() / group["shares"].min()
        if lo <= 1.0 / spread and spread <= hi:
            out.loc[group.index, "shares_norm"] = group["shares_norm"] / len(group)
    return out.drop(columns=["_cik", "shares"])


def cross_check_fundamentals(fund: pd.DataFrame, snapshots: pd.DataFrame) -> pd.DataFrame:
    """Mark the fundamentals share counts whose cap disagrees with the snapshot-implied cap.

    Parameters
    ----------
    fund : pd.DataFrame
        ``ticker, known_date, shares_norm, source`` from ``fundamentals``.
    snapshots : pd.DataFrame
        The (class-split) snapshot references; one per ticker is used (the earliest).

    Returns
    -------
    pd.DataFrame
        ``fund`` with ``snapshot_ratio`` (derived / snapshot-implied cap; NaN without a snapshot) and
        ``source`` set to :data:`REJECTED_SOURCE` where the ratio is outside :data:`SNAPSHOT_RATIO_BOUNDS`.
    """
    out = fund.copy()
    if snapshots.empty or out.empty:
        out["snapshot_ratio"] = np.nan
        return out
    reference = snapshots.sort_values("known_date").groupby("ticker")["shares_norm"].first()
    out["snapshot_ratio"] = out["shares_norm"] / out["ticker"].map(reference)
    lo, hi = SNAPSHOT_RATIO_BOUNDS
    outside = (out["snapshot_ratio"] < lo) | (out["snapshot_ratio"] > hi)
    out.loc[outside, "source"] = REJECTED_SOURCE
    return out


def rejected_counts(references: pd.DataFrame, tickers=None) -> pd.DataFrame:
    """Rejected share counts (``ticker, known_date, snapshot_ratio``), optionally for some tickers."""
    if "snapshot_ratio" not in references.columns:
        return pd.DataFrame(columns=["ticker", "known_date", "snapshot_ratio"])
    rows = references.loc[references["source"] == REJECTED_SOURCE]
    if "snapshot_ratio" in rows:
        rows = rows.astype({"snapshot_ratio": float})
    if tickers is not None:
        rows = rows[rows["ticker"].isin(set(tickers))]
    return rows[["ticker", "known_date", "snapshot_ratio"]].reset_index(drop=True)


def warning_line(rejected: pd.DataFrame, limit: int = 20) -> str:
    """One WARN line naming each ticker and its worst ratio (at most ``limit`` tickers)."""
    negative = rejected[rejected["snapshot_ratio"].isna()]
    rejected = rejected[rejected["snapshot_ratio"].notna()]
    prefix = (
        f"negative shares_outstanding in fundamentals ignored for {', '.join(sorted(set(negative['ticker'])))}; "
        if len(negative)
        else ""
    )
    if rejected.empty:
        return prefix + f"every derived cap within {_BOUNDS_TEXT} x its snapshot-implied cap"
    worst = rejected.assign(dev=np.abs(np.log(rejected["snapshot_ratio"])))
    worst = worst.sort_values("dev", ascending=False).drop_duplicates("ticker")
    pairs = list(zip(worst["ticker"], worst["snapshot_ratio"], strict=True))[:limit]
    shown = ", ".join(f"{t} {r:.2f}x" for t, r in pairs)
    more = f" and {len(worst) - limit} more" if len(worst) > limit else ""
    return prefix + (
        f"{len(worst)} tickers' share counts from fundamentals imply caps outside {_BOUNDS_TEXT} x the "
        f"snapshot-implied cap; snapshot path used instead: {shown}{more}"
    )


def snapshot_check(
    rejected: pd.DataFrame, exceptions: Sequence[Mapping[str, object]] = ()
) -> QualityResult:
    """The ``caps_match_snapshot`` WARN check: passes when every rejected share count is documented.

    ``rejected`` comes from :func:`rejected_counts` (a ``snapshot_ratio`` of NaN marks a negative count);
    ``exceptions`` are the check's documented ``(ticker, known_date)`` entries of ``quality.toml``. The
    summary names the undocumented counts (ticker and ratio) and counts the documented ones it matched.
    """
    new, known = split_known(rejected, exceptions)
    details = {
        "documented_exceptions": int(len(known)),
        "documented_tickers": sorted(set(known["ticker"])),
    }
    if new.empty:
        return QualityResult(
            True,
            f"every derived cap within {_BOUNDS_TEXT} x its snapshot-implied cap beyond {len(known)} "
            f"documented share count(s) of {known['ticker'].nunique()} ticker(s)",
            details,
        )
    return QualityResult(False, f"not documented: {warning_line(new)}", details)
