"""Validators shared by the domain modules' public entry points (one message format everywhere).

Every missing-column error reads ``"<table>: missing column(s) a, b (expected ...; found ...)"``: the table (or
file) first, then what is missing, what was expected and what was found.
"""

from collections.abc import Sequence

import pandas as pd

from hedging_pipeline.errors import DuplicateRowsError, MissingColumnError


def require_columns(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    """Check that the frame ``name`` has ``columns``.

    Raises
    ------
    MissingColumnError
        ``"<name>: missing column(s) a, b (expected ...; found ...)"``.
    """
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        found = ", ".join(map(str, frame.columns)) or "no columns"
        raise MissingColumnError(
            f"{name}: missing column(s) {', '.join(missing)} "
            f"(expected {', '.join(columns)}; found {found})"
        )


def require_any_column(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    """Check that the frame ``name`` has at least one of ``columns``.

    Raises
    ------
    MissingColumnError
        ``"<name>: missing column(s) a or b (expected at least one; found ...)"``.
    """
    if not any(c in frame.columns for c in columns):
        found = ", ".join(map(str, frame.columns)) or "no columns"
        raise MissingColumnError(
            f"{name}: missing column(s) {' or '.join(columns)} (expected at least one; found {found})"
        )


def require_unique(frame: pd.DataFrame, name: str) -> None:
    """Check that ``(date, ticker)`` is unique in the frame ``name``.

    Raises
    ------
    DuplicateRowsError
        Naming the first repeated ticker and date.
    """
    dup = frame.duplicated(["date", "ticker"])
    if dup.any():
        row = frame.loc[dup].iloc[0]
        raise DuplicateRowsError(
            f"{name}: (date, ticker) repeats, e.g. ticker {row['ticker']} on "
            f"{pd.Timestamp(row['date']).date()}; keep one row per date and ticker"
        )
