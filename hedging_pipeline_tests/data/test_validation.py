"""The shared validators (data/validation.py): one message style for every table."""

import pandas as pd
import pytest

from hedging_pipeline.data.validation import require_any_column, require_columns, require_unique
from hedging_pipeline.errors import DuplicateRowsError, MissingColumnError


def test_missing_columns_name_the_table_what_is_missing_expected_and_found():
    frame = pd.DataFrame({"date": [], "ticker": []})
    with pytest.raises(MissingColumnError) as raised:
        require_columns(frame, ("date", "ticker", "ret", "vol"), "daily_returns")
    assert str(raised.value) == (
        "daily_returns: missing column(s) ret, vol (expected date, ticker, ret, vol; "
        "found date, ticker)"
    )
    require_columns(frame, ("ticker",), "daily_returns")  # present: no error


def test_any_column_needs_one_of_them():
    frame = pd.DataFrame({"ticker": ["A"]})
    with pytest.raises(
        MissingColumnError,
        match=r"^companies: missing column\(s\) gics_sector or gics_industry \(expected at least "
        r"one; found ticker\)$",
    ):
        require_any_column(frame, ("gics_sector", "gics_industry"), "companies")
    require_any_column(frame.assign(gics_industry="x"), ("gics_sector", "gics_industry"), "c")


def test_repeated_key_names_the_first_repeat_and_the_key():
    frame = pd.DataFrame(
        {
            "date": pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-03"]),
            "ticker": ["AAA", "AAA", "AAA"],
            "factor": ["x", "y", "z"],
        }
    )
    with pytest.raises(DuplicateRowsError) as raised:
        require_unique(frame, "prices")
    assert str(raised.value) == (
        "prices: (date, ticker) repeats, e.g. date 2024-01-03, ticker AAA; "
        "keep one row per (date, ticker)"
    )
    require_unique(frame, "factor_returns", ("date", "factor"))  # unique on that key
