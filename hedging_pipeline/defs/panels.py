"""Cleaned daily panels (month partitions of daily rows, single-run backfills): prices, returns, market caps.

Each asset works on its run's partition window (one day or a whole range), reads what it needs from the
warehouse, calls one domain function, replaces its window in one transaction, and reports quality checks.
"""

from collections.abc import Iterable

import dagster as dg
import pandas as pd

from hedging_pipeline.data import cleaning, quality
from hedging_pipeline.data import market_caps as market_caps_checks
from hedging_pipeline.defs.common import (
    GROUP_PANELS,
    OWNER,
    WAREHOUSE_POOL,
    add_partition_metadata,
    frame_metadata,
)
from hedging_pipeline.defs.partitions import PartitionSet, partition_window
from hedging_pipeline.defs.resources import WarehouseResource
from hedging_pipeline.errors import DataError

PRICE_LOOKBACK_DAYS = 10
"""Calendar days read before a window to find each ticker's previous bar (stale-day detection)."""
RETURN_LOOKBACK_DAYS = 15
"""Calendar days read before a window so the first day's return has its previous close."""


def check_results(
    asset_key: str, results: dict[str, quality.QualityResult], *, blocking: Iterable[str]
) -> list[dg.AssetCheckResult]:
    """Turn quality results into asset check results (ERROR severity for blocking rules, WARN otherwise)."""
    blocking = set(blocking)
    return [
        dg.AssetCheckResult(
            asset_key=asset_key,
            check_name=name,
            passed=result.passed,
            severity=dg.AssetCheckSeverity.ERROR
            if name in blocking
            else dg.AssetCheckSeverity.WARN,
            description=result.summary,
            metadata={"summary": result.summary, **{k: v for k, v in result.details.items()}},
        )
        for name, result in results.items()
    ]


def check_specs(
    asset_key: str, blocking: Iterable[str], warn: Iterable[str]
) -> list[dg.AssetCheckSpec]:
    """Specs of the checks an asset reports from its own body."""
    return [dg.AssetCheckSpec(name, asset=asset_key, blocking=True) for name in blocking] + [
        dg.AssetCheckSpec(name, asset=asset_key) for name in warn
    ]


def _market_caps_asset(common: dict) -> dg.AssetsDefinition:
    """``market_caps``, with the snapshot cross-check as a WARN check."""

    @dg.asset(
        deps=["prices", "share_counts"],
        check_specs=check_specs("market_caps", (), ("caps_match_snapshot",)),
        **common,
    )
    def market_caps(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        """Daily market capitalisation: point-in-time share counts carried across splits, times the close."""
        start, end = partition_window(context)
        wh = warehouse.get()
        window = wh.read(
            "prices", start=start, end=end, columns=["date", "ticker", "close", "split_factor"]
        )
        references = wh.read("share_counts", date_column="known_date")
        frame = cleaning.market_cap_panel(window, references)
        wh.write_partition("market_caps", frame, start=start, end=end)
        rejected = market_caps_checks.rejected_counts(references, window["ticker"].unique())
        line = market_caps_checks.warning_line(rejected)
        if len(rejected):
            context.log.warning(f"market_caps: {line}")
        meta = frame_metadata(frame)
        add_partition_metadata(context, frame)
        meta["missing_market_cap"] = dg.MetadataValue.int(int(frame["market_cap"].isna().sum()))
        meta["by_source"] = dg.MetadataValue.json(frame["cap_source"].value_counts().to_dict())
        exceptions = quality.load_quality_config().exceptions_for("caps_match_snapshot")
        checks = {"caps_match_snapshot": market_caps_checks.snapshot_check(rejected, exceptions)}
        return dg.MaterializeResult(
            metadata=meta, check_results=check_results("market_caps", checks, blocking=())
        )

    return market_caps


def build_panel_assets(parts: PartitionSet) -> list:
    """The daily panel assets."""
    common = {
        "partitions_def": parts.months,
        "backfill_policy": dg.BackfillPolicy.single_run(),
        "pool": WAREHOUSE_POOL,
        "owners": [OWNER],
        "group_name": GROUP_PANELS,
        "kinds": {"duckdb", "pandas"},
    }
    prices_blocking = ("unique_date_ticker", "finite_prices", "positive_prices")

    @dg.asset(
        deps=["raw_prices"],
        check_specs=check_specs("prices", prices_blocking, ["coverage_per_date"]),
        **common,
    )
    def prices(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        """Cleaned daily bars: deduplicated, split factor, adjusted close, stale zero-volume days flagged."""
        start, end = partition_window(context)
        wh = warehouse.get()
        lookback = start - pd.Timedelta(days=PRICE_LOOKBACK_DAYS)
        raw = wh.read("raw_prices", start=lookback, end=end)
        prior = wh.split_factors_before("raw_prices", lookback)
        frame = cleaning.clean_prices(raw, prior)
        frame = frame.loc[frame["date"] >= start].reset_index(drop=True)
        checks = {
            "unique_date_ticker": quality.unique_keys(frame, ["date", "ticker"]),
            "finite_prices": quality.non_null(frame, ["close", "adj_close"]),
            "positive_prices": quality.positive(frame, ["close", "adj_close"]),
            "coverage_per_date": quality.coverage_per_date(
                frame, raw.loc[raw["date"] >= start].groupby("date").size()
            ),
        }
        raise_on_blocking("prices", checks, prices_blocking)
        wh.write_partition("prices", frame, start=start, end=end)
        meta = frame_metadata(frame)
        add_partition_metadata(context, frame)
        meta["stale_rows"] = dg.MetadataValue.int(int(frame["is_stale"].sum()))
        return dg.MaterializeResult(
            metadata=meta, check_results=check_results("prices", checks, blocking=prices_blocking)
        )

    returns_blocking = ("unique_date_ticker", "finite_returns")

    @dg.asset(
        deps=[
            dg.AssetDep("prices", partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-1))
        ],
        check_specs=check_specs("daily_returns", returns_blocking, ["extreme_returns"]),
        **common,
    )
    def daily_returns(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        """Daily simple returns per ticker (adjusted close; splits and dividends otherwise)."""
        start, end = partition_window(context)
        wh = warehouse.get()
        window = wh.read("prices", start=start - pd.Timedelta(days=RETURN_LOOKBACK_DAYS), end=end)
        calendar = pd.DatetimeIndex(window["date"].unique())
        frame = cleaning.compute_daily_returns(window, calendar)
        frame = frame.loc[frame["date"] >= start].reset_index(drop=True)
        checks = {
            "unique_date_ticker": quality.unique_keys(frame, ["date", "ticker"]),
            "finite_returns": quality.non_null(frame, ["ret"]),
            "extreme_returns": quality.extreme_returns(
                frame, exceptions=quality.load_quality_config().exceptions_for("extreme_returns")
            ),
        }
        raise_on_blocking("daily_returns", checks, returns_blocking)
        wh.write_partition("daily_returns", frame, start=start, end=end)
        add_partition_metadata(context, frame)
        return dg.MaterializeResult(
            metadata=frame_metadata(frame),
            check_results=check_results("daily_returns", checks, blocking=returns_blocking),
        )

    market_caps = _market_caps_asset(common)
    return [prices, daily_returns, market_caps]


def raise_on_blocking(
    asset: str, checks: dict[str, quality.QualityResult], blocking: Iterable[str]
) -> None:
    """Stop before writing when a blocking rule fails: the warehouse keeps its earlier rows."""
    for name in blocking:
        if not checks[name].passed:
            raise DataError(f"{asset}: blocking check {name} failed: {checks[name].summary}")
