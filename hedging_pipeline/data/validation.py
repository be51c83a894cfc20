"""Validators shared by the domain modules' public entry points (one message format everywhere).

Every missing-column error reads ``"<table>: missing column(s) a, b (expected ...; found ...)"``: the table (or
file) first, then what is missing, what was expected and what was found. Every repeated-key error reads
``"<table>: (date, ticker) repeats, e.g. date 2024-01-03, ticker AAA; keep one row per (date, ticker)"``.
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


DATE_KEYS = frozenset({"date", "as_of"})
"""Key columns shown as dates in messages."""


def require_unique(frame: pd.DataFrame, name: str, key: Sequence[str] = ("date", "ticker")) -> None:
    """Check that ``key`` (``(date, ticker)`` by default) is unique in the frame ``name``.

    Raises
    ------
    DuplicateRowsError
        ``"<name>: (date, ticker) repeats, e.g. date 2024-01-03, ticker AAA; keep one row per
        (date, ticker)"``, naming the first repeated key.
    """
    dup = frame.duplicated(list(key))
    if dup.any():
        row = frame.loc[dup].iloc[0]
        example = ", ".join(
            f"{k} {pd.Timestamp(row[k]).date() if k in DATE_KEYS else row[k]}" for k in key
        )
        columns = ", ".join(key)
        raise DuplicateRowsError(
            f"{name}: ({columns}) repeats, e.g. {example}; keep one row per ({columns})"
        )
