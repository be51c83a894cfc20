from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hedging_pipeline.backtest.walk_forward import Split, walk_forward_splits
from hedging_pipeline.errors import InsufficientHistoryError, InvalidValueError
from hedging_pipeline_tests.backtest.synthetic import month_ends

DAYS = pd.bdate_range("2020-01-01", "2020-06-30")
AS_OF = month_ends(DAYS)[:-1]  # Jan..May month ends


def test_windows_run_from_the_day_after_as_of_to_the_next_as_of():
    splits = walk_forward_splits(DAYS, AS_OF)
    assert [s.as_of for s in splits] == list(AS_OF)
    first = splits[0]
    assert first.as_of == pd.Timestamp("2020-01-31")
    assert first.test_start == pd.Timestamp("2020-02-03")  # first weekday after Friday 31 Jan
    assert first.test_end == pd.Timestamp("2020-02-28")  # the next as_of, inclusive
    for split, nxt in zip(splits, splits[1:], strict=False):
        assert split.test_end == nxt.as_of
        assert split.test_start == DAYS[DAYS.get_loc(split.as_of) + 1]
    # The last rebalance (end of May) is held over June, the following calendar month.
    assert splits[-1].test_start == pd.Timestamp("2020-06-01")
    assert splits[-1].test_end == pd.Timestamp("2020-06-30")


def test_windows_partition_the_days_after_the_first_rebalance_without_look_ahead():
    splits = walk_forward_splits(DAYS, AS_OF)
    covered = np.zeros(len(DAYS), dtype=int)
    for split in splits:
        inside = split.contains(DAYS)
        covered += inside
        assert not (inside & (DAYS <= split.as_of)).any()
    assert (covered[DAYS > AS_OF[0]] == 1).all()
    assert (covered[DAYS <= AS_OF[0]] == 0).all()


def test_horizon_truncates_each_window_to_its_first_days():
    splits = walk_forward_splits(DAYS, AS_OF, horizon=5)
    for split in splits:
        inside = DAYS[split.contains(DAYS)]
        assert len(inside) == 5
        assert inside[0] == split.test_start == DAYS[DAYS.get_loc(split.as_of) + 1]
    # A horizon longer than a month changes nothing.
    assert walk_forward_splits(DAYS, AS_OF, horizon=100) == walk_forward_splits(DAYS, AS_OF)


def test_last_rebalance_on_the_last_trading_day_gets_no_split_and_partial_month_is_kept():
    days = pd.bdate_range("2020-01-01", "2020-04-21")  # data ends mid-April, like the real prices
    as_of = month_ends(days)  # ..., 2020-03-31, 2020-04-21
    splits = walk_forward_splits(days, as_of)
    assert splits[-1].as_of == pd.Timestamp("2020-03-31")
    assert splits[-1].test_end == pd.Timestamp("2020-04-21")
    assert pd.Timestamp("2020-04-21") not in [s.as_of for s in splits]


def test_input_order_and_duplicates_do_not_matter():
    shuffled = list(DAYS[::-1]) + list(DAYS[:10])
    assert walk_forward_splits(shuffled, list(AS_OF[::-1])) == walk_forward_splits(DAYS, AS_OF)


def test_split_is_frozen():
    split = walk_forward_splits(DAYS, AS_OF)[0]
    with pytest.raises(AttributeError):
        split.as_of = pd.Timestamp("2020-01-01")  # type: ignore[misc]
    assert isinstance(split, Split)


def test_as_of_that_is_not_a_trading_day_is_an_error_naming_it():
    with pytest.raises(InvalidValueError, match="rebalance date 2020-02-01 is not a trading day"):
        walk_forward_splits(DAYS, [pd.Timestamp("2020-01-31"), pd.Timestamp("2020-02-01")])


@pytest.mark.parametrize("horizon", [0, -3, 2.5])
def test_bad_horizon_is_an_error(horizon):
    with pytest.raises(InvalidValueError, match="horizon must be a positive number"):
        walk_forward_splits(DAYS, AS_OF, horizon=horizon)


def test_empty_inputs_and_missing_dates_are_errors():
    with pytest.raises(InsufficientHistoryError, match="0 rebalance dates"):
        walk_forward_splits(DAYS, [])
    with pytest.raises(InvalidValueError, match="as_of_dates contains a missing date"):
        walk_forward_splits(DAYS, [pd.NaT])


@pytest.mark.realdata
def test_real_trading_calendar_month_end_splits(real_data_dir):
    prices = pd.read_parquet(real_data_dir / "prices.parquet", columns=["date"])
    days = pd.DatetimeIndex(prices["date"].unique()).sort_values()
    as_of = month_ends(days[days >= "2018-03-01"])
    splits = walk_forward_splits(days, as_of)
    # The data ends 2020-04-21, which is its own month end: 25 rebalances, 24 with a test window.
    assert len(as_of) == 26 and len(splits) == 25
    assert splits[-1].test_end == days[-1] == pd.Timestamp("2020-04-21")
    inside = np.zeros(len(days), dtype=int)
    for split in splits:
        inside += split.contains(days)
    assert (inside[days > as_of[0]] == 1).all() and (inside[days <= as_of[0]] == 0).all()
    # Good Friday 2019 (19 April) is a market holiday: the April window skips it.
    april = next(s for s in splits if s.as_of == pd.Timestamp("2019-03-29"))
    assert april.test_start == pd.Timestamp("2019-04-01")
    assert pd.Timestamp("2019-04-19") not in days
