"""Partitions: calendar months of daily data, the backtest's hedge months, and dynamic tickers.

Daily panels and the factor model are partitioned by **month** (key ``YYYY-MM``; each partition holds that
month's trading days as rows). Trading-day partitions were measured first: Dagster records one event per
partition per asset, which on 2 cores with the SQLite instance cost 20-70 ms each, so 20 years x 7 daily assets
(37,000 partition events) took longer than the whole 15-minute budget. Monthly partitions keep the nightly
increment small (the current month-to-date partition is recomputed, a few days of rows) and history backfills
to about 250 partitions per asset. Month-end risk models share the same partitions (key = the month whose last
trading day is the as-of date), so the factor model is one stage.

The definitions start where the raw data starts and end where it ends (read cheaply at load time), not at the
wall clock, so the UI shows no years of partitions that can never be filled: months and hedge months run through
the month after the data's last date (the month a next drop may open, so the sensor can load it before the code
location is reloaded). ``hedging-pipeline run`` computes hedges for closed months only; the open month's and the
next month's hedge partitions stay missing until their month closes.
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg
import pandas as pd

from hedging_pipeline.data.calendar import MONTH_KEY_FORMAT, last_complete_month
from hedging_pipeline.data.loaders import raw_date_span
from hedging_pipeline.settings import Settings

MONTHLY_CRON = "0 0 1 * *"
RISK_WARMUP_MONTHS = 25
"""Months of history before the first month-end risk model: 504 trading days is about 24 months."""
FALLBACK_SPAN = (pd.Timestamp("2015-01-01"), pd.Timestamp("2020-12-31"))
"""Used only when the raw prices cannot be read at load time; the run then reports the real error."""
TICKERS_PARTITION = "tickers"
UPCOMING_MONTHS = 1
"""Month partitions beyond the data's last month: the nightly drop that opens a new month can be loaded before
the code location is reloaded (which re-reads the data span). Not the wall clock: historical data must not show
years of "missing" months."""
__all__ = [
    "PartitionSet",
    "build_partitions",
    "last_complete_month",
    "month_keys",
    "partition_window",
]


@dataclass(frozen=True)
class PartitionSet:
    """The partitions definitions of one code location, derived from the data span."""

    data_start: pd.Timestamp
    data_end: pd.Timestamp
    months: dg.TimeWindowPartitionsDefinition
    hedge_months: dg.TimeWindowPartitionsDefinition
    tickers: dg.DynamicPartitionsDefinition


def build_partitions(settings: Settings) -> PartitionSet:
    """Build every partitions definition from the raw data's date span."""
    span = raw_date_span(settings.raw_dir) or FALLBACK_SPAN
    data_start, data_end = span
    first_risk_month = data_start.to_period("M") + RISK_WARMUP_MONTHS
    last_month = last_complete_month(data_end)
    first_hedge_month = max(first_risk_month, last_month - (settings.backtest_months - 1))
    data_month = data_end.to_period("M")
    months = dg.TimeWindowPartitionsDefinition(
        start=data_start.strftime(MONTH_KEY_FORMAT),
        end=(data_month + 1 + UPCOMING_MONTHS).strftime(MONTH_KEY_FORMAT),  # exclusive
        fmt=MONTH_KEY_FORMAT,
        cron_schedule=MONTHLY_CRON,
        timezone="UTC",
        end_offset=1,  # live data: the month to date exists, so the nightly run can refresh it
    )
    hedge_months = dg.TimeWindowPartitionsDefinition(
        start=min(first_hedge_month, last_month).strftime(MONTH_KEY_FORMAT),
        end=(data_month + 1 + UPCOMING_MONTHS).strftime(MONTH_KEY_FORMAT),  # as months
        fmt=MONTH_KEY_FORMAT,
        cron_schedule=MONTHLY_CRON,
        timezone="UTC",
    )
    return PartitionSet(
        data_start=data_start,
        data_end=data_end,
        months=months,
        hedge_months=hedge_months,
        tickers=dg.DynamicPartitionsDefinition(name=TICKERS_PARTITION),
    )


def partition_window(context: dg.AssetExecutionContext) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Inclusive [first, last] calendar dates covered by the run's partition key or key range.

    Works for a single key and for a single-run backfill range alike.
    """
    window = context.partition_time_window
    start = pd.Timestamp(window.start).tz_localize(None).normalize()
    end = pd.Timestamp(window.end).tz_localize(None).normalize() - pd.Timedelta(days=1)
    return start, end


def month_keys(context: dg.AssetExecutionContext) -> list[str]:
    """The ``YYYY-MM`` keys of the run (one or a range)."""
    return list(context.partition_keys)
