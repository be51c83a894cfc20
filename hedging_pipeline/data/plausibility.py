"""Plausibility rules of a raw drop: values that parse but cannot be right.

Each rule either refuses the drop (:class:`~hedging_pipeline.errors.InvalidValueError`, one line naming the file,
ticker, date and value) or returns rows of the drop's *quarantine table*: what was set aside, filled or cut, so that
nothing is dropped without a word. Refused: non-finite numbers, one-day price moves beyond a bound that no split
explains, rows dated after the drop's as-of date. Quarantined: non-positive share counts (the value is dropped, the
row kept), descriptions with no words once markup is removed (the row is set aside). Noted: missing adjusted
closes (filled downstream from close x split factor) and descriptions the NLP cleaner will cut.

Pure functions: frames in, frames or errors out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
import pandas as pd

from hedging_pipeline.data.tables import QUARANTINE_COLUMNS
from hedging_pipeline.errors import InvalidValueError

_MARKUP = re.compile(
    r"<[^<>]{0,500}>|\{\{.*?\}\}|&[#a-zA-Z0-9]{1,10};|(?:https?://|www\.)\S+", re.DOTALL
)
HEAD_CHARS = 4096
"""Leading characters searched for a word first (a description of only markup is short or all markup)."""
_WORD = re.compile(r"[^\W\d_]{2,}")
"""A word: two or more letters in a row (any script)."""


def quarantine_frame(rows: Iterable[dict[str, object]]) -> pd.DataFrame:
    """The quarantine table from row dicts (empty with its columns when there are none)."""
    frame = pd.DataFrame(list(rows), columns=list(QUARANTINE_COLUMNS))
    frame["date"] = pd.to_datetime(frame["date"]).astype("datetime64[ns]")
    for column in ("file", "ticker", "column", "value", "rule", "action"):
        frame[column] = frame[column].astype(object)
    return frame.sort_values(["file", "rule", "ticker", "date"], kind="stable").reset_index(
        drop=True
    )


def _where(row: pd.Series, date_column: str = "date") -> str:
    date = row.get(date_column)
    on = f" on {pd.Timestamp(date).date()}" if date is not None and pd.notna(date) else ""
    return f"ticker {row['ticker']}{on}"


def require_finite(
    frame: pd.DataFrame, columns: Iterable[str], label: str, *, date_column: str = "date"
) -> None:
    """Refuse infinite values (NaN is a separate, per-column rule).

    Raises
    ------
    InvalidValueError
        Naming the file, column, value, ticker and date of the first infinite value.
    """
    for column in columns:
        if column not in frame.columns:
            continue
        values = frame[column].to_numpy(dtype="float64", na_value=np.nan)
        bad = np.isinf(values)
        if bad.any():
            row = frame.loc[bad].iloc[0]
            raise InvalidValueError(
                f"{label}: column {column!r} is {row[column]} (not a finite number) for "
                f"{_where(row, date_column)}; {int(bad.sum())} such value(s) in the file"
            )


def infer_as_of(dates: pd.Series, *, min_coverage: float) -> pd.Timestamp:
    """The drop's as-of date when none is declared: the last day with a normal number of price rows.

    A day counts when it has at least ``min_coverage`` times the median number of rows per day, so a handful of
    rows dated in the future (a typo, a vendor placeholder) cannot move the drop's end.

    Parameters
    ----------
    dates : pd.Series
        The ``date`` column of the prices (one row per ticker and day).
    min_coverage : float
        Fraction of the median daily row count a day needs, in (0, 1].

    Returns
    -------
    pd.Timestamp
        The inferred as-of date.
    """
    counts = pd.Series(dates).value_counts().sort_index()
    enough = counts[counts >= min_coverage * counts.median()]
    return pd.Timestamp(enough.index.max() if len(enough) else counts.index.max())


def require_not_after(
    frame: pd.DataFrame, label: str, as_of: pd.Timestamp, how: str, *, date_column: str = "date"
) -> None:
    """Refuse rows dated after the drop's as-of date.

    Raises
    ------
    InvalidValueError
        Naming the file, the count, the first late row (ticker and date) and how the as-of date was set.
    """
    late = frame[date_column] > as_of
    if late.any():
        first = frame.loc[late].sort_values([date_column, "ticker"]).iloc[0]
        raise InvalidValueError(
            f"{label}: {int(late.sum())} row(s) dated after the drop's as-of date {as_of.date()} ({how}), "
            f"first {_where(first, date_column)}; remove them or declare as_of in drop.toml"
        )


def require_plausible_moves(prices: pd.DataFrame, label: str, *, max_ratio: float) -> None:
    """Refuse one-day price moves beyond ``max_ratio`` (up) or ``1 / max_ratio`` (down) that no split explains.

    The close is compared split-adjusted: ``close_t * split_coefficient_t / close_{t-1}`` (the coefficient is the
    number of new shares per old one on the split day, 1 otherwise); the adjusted close needs no adjustment.

    Raises
    ------
    InvalidValueError
        Naming the file, column, ticker, date, the two prices and the factor.
    """
    frame = prices.sort_values(["ticker", "date"], kind="stable")
    split = (
        frame["split_coefficient"].fillna(1.0).where(lambda s: s > 0, 1.0)
        if "split_coefficient" in frame.columns
        else 1.0
    )
    for column in ("close", "adj_close"):
        if column not in frame.columns:
            continue
        previous = frame.groupby("ticker", sort=False)[column].shift(1)
        ratio = frame[column] * (split if column == "close" else 1.0) / previous
        bad = (ratio > max_ratio) | (ratio < 1.0 / max_ratio)
        if bad.any():
            at = frame.loc[bad].sort_values(["date", "ticker"], kind="stable").index[0]
            row = frame.loc[at]
            raise InvalidValueError(
                f"{label}: column {column!r} moves from {previous.loc[at]:g} to {row[column]:g} "
                f"(x{ratio.loc[at]:.3g}) for {_where(row)}, beyond the {max_ratio:g}x one-day bound and not "
                f"explained by a split; {int(bad.sum())} such move(s); fix the value (bound: "
                "plausibility.max_daily_price_ratio in hedging_pipeline/config/quality.toml)"
            )


def quarantine_share_counts(
    frame: pd.DataFrame, label: str, *, date_column: str | None = None
) -> tuple[pd.DataFrame, list[dict[str, object]]]:
    """Drop non-positive ``shares_outstanding`` values (set to NaN) and list them for the quarantine table."""
    if "shares_outstanding" not in frame.columns:
        return frame, []
    bad = frame["shares_outstanding"] <= 0
    rows = [
        {
            "file": label,
            "ticker": row["ticker"],
            "date": row[date_column] if date_column else pd.NaT,
            "column": "shares_outstanding",
            "value": f"{row['shares_outstanding']:g}",
            "rule": "non_positive_share_count",
            "action": "value dropped",
        }
        for _, row in frame.loc[bad].iterrows()
    ]
    out = frame.copy()
    out.loc[bad, "shares_outstanding"] = np.nan
    return out, rows


def has_words(text: str) -> bool:
    """Whether ``text`` keeps a word (two letters in a row) once HTML/wiki markup, entities and URLs are gone."""
    head = text[
        :HEAD_CHARS
    ]  # nearly every text has a word early; strip the whole text only otherwise
    return _WORD.search(_MARKUP.sub(" ", head)) is not None or (
        len(text) > HEAD_CHARS and _WORD.search(_MARKUP.sub(" ", text)) is not None
    )


def quarantine_wordless_text(
    descriptions: pd.DataFrame, label: str
) -> tuple[pd.DataFrame, list[dict[str, object]]]:
    """Set aside non-empty descriptions with no words after removing markup (only tags, emoji, symbols)."""
    text = descriptions["text"]
    wordless = (text.str.strip() != "") & ~text.map(has_words)
    rows = [
        {
            "file": label,
            "ticker": row["ticker"],
            "date": pd.NaT,
            "column": "text",
            "value": _preview(row["text"]),
            "rule": "no_words_after_cleaning",
            "action": "row set aside",
        }
        for _, row in descriptions.loc[wordless].iterrows()
    ]
    return descriptions.loc[~wordless].reset_index(drop=True), rows


def note_oversized_text(
    descriptions: pd.DataFrame, label: str, *, max_chars: int
) -> list[dict[str, object]]:
    """Descriptions longer than ``max_chars``: the NLP cleaner cuts them there; say so."""
    long = descriptions["text"].str.len() > max_chars
    return [
        {
            "file": label,
            "ticker": row["ticker"],
            "date": pd.NaT,
            "column": "text",
            "value": f"{len(row['text'])} chars ({row.get('source') or 'no source'})",
            "rule": "oversized_description",
            "action": f"cut to at most {max_chars} chars by the NLP cleaner",
        }
        for _, row in descriptions.loc[long].iterrows()
    ]


def note_filled_adj_close(prices: pd.DataFrame, label: str) -> list[dict[str, object]]:
    """Tickers whose adjusted close is missing somewhere: one row per ticker (first date, count)."""
    missing = (
        prices["adj_close"].isna()
        if "adj_close" in prices.columns
        else pd.Series(True, index=prices.index)
    )
    if not missing.any():
        return []
    gaps = prices.loc[missing].groupby("ticker")["date"].agg(["min", "max", "size"])
    return [
        {
            "file": label,
            "ticker": ticker,
            "date": gap["min"],
            "column": "adj_close",
            "value": f"missing on {gap['size']} day(s), {gap['min'].date()}..{gap['max'].date()}",
            "rule": "missing_adj_close",
            "action": "filled from close x split factor",
        }
        for ticker, gap in gaps.iterrows()
    ]


def _preview(text: str, limit: int = 60) -> str:
    shown = text.encode("unicode_escape", errors="backslashreplace").decode("ascii")
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."
