"""The style-coverage WARN rule: held to its threshold from a style's first year of data on."""

import numpy as np
import pandas as pd

from hedging_pipeline.risk.quality import style_coverage_sufficient
from hedging_pipeline.types import STYLE_FACTORS

FUNDAMENTAL = ("value", "profitability", "leverage")


def _coverage(months: pd.DatetimeIndex, fundamental: np.ndarray) -> pd.DataFrame:
    """Monthly coverage frame: price styles fully observed, fundamental styles at ``fundamental``."""
    frame = {"period": months}
    for style in STYLE_FACTORS:
        share = fundamental if style in FUNDAMENTAL else np.ones(len(months))
        frame[style] = share
        frame[f"min_daily_{style}"] = share
    return pd.DataFrame(frame)


MONTHS = pd.date_range("2010-01-01", periods=48, freq="MS")
# no statements for 24 months, a 12-month ramp from 5 % to 85 %, then 85 %
RAMP = np.r_[np.zeros(24), np.linspace(0.05, 0.85, 12), np.full(12, 0.85)]


def test_no_data_and_the_first_year_of_filings_are_reported_not_failed():
    result = style_coverage_sufficient(_coverage(MONTHS, RAMP))
    assert result.passed, result.summary
    assert "lowest daily coverage 85% (value, 2013-01)" in result.summary
    assert "value before 2013-01" in result.summary  # first observed 2012-01, plus 12 months


def test_a_fall_after_the_warm_up_fails_and_names_style_and_month():
    fallen = RAMP.copy()
    fallen[40] = 0.6  # 2013-05
    result = style_coverage_sufficient(_coverage(MONTHS, fallen))
    assert not result.passed
    assert "lowest daily coverage 60% (value, 2013-05)" in result.summary


def test_a_one_month_run_uses_the_stored_first_observation():
    month = _coverage(MONTHS[38:39], np.array([0.6]))  # 2013-03 alone
    alone = style_coverage_sufficient(month)
    assert alone.passed and "no style past its warm-up" in alone.summary
    stored = {style: pd.Timestamp("2012-01-15") for style in STYLE_FACTORS}
    result = style_coverage_sufficient(month, first_observed=stored)
    assert not result.passed
    assert "lowest daily coverage 60% (value, 2013-03)" in result.summary
