import pandas as pd
import pytest

from hedging_pipeline.data.calendar import as_of_for_month, month_end_dates, trading_days_before
from hedging_pipeline.errors import InsufficientHistoryError

DAYS = pd.bdate_range("2024-01-01", "2024-03-13").delete([0])  # 2024-01-01 is a holiday


def test_month_end_dates_exclude_the_open_month():
    ends = month_end_dates(DAYS)
    assert list(ends) == [pd.Timestamp("2024-01-31"), pd.Timestamp("2024-02-29")]


def test_month_end_includes_last_month_when_complete():
    ends = month_end_dates(pd.bdate_range("2024-01-02", "2024-02-29"))
    assert ends[-1] == pd.Timestamp("2024-02-29")


def test_as_of_for_month_and_missing_month():
    assert as_of_for_month(DAYS, "2024-02") == pd.Timestamp("2024-02-29")
    with pytest.raises(
        InsufficientHistoryError, match=r"month 2025-01: no trading day in the data"
    ):
        as_of_for_month(DAYS, "2025-01")


def test_trading_days_before():
    assert trading_days_before(DAYS, pd.Timestamp("2024-01-10"), 3) == pd.Timestamp("2024-01-05")
