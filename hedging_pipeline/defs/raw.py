"""Raw assets: one per file of the drop folder, validated and copied into the warehouse as ``raw_*`` tables."""

from __future__ import annotations

import dagster as dg
import pandas as pd

from hedging_pipeline.data import cleaning
from hedging_pipeline.data.loaders import check_known_tickers
from hedging_pipeline.defs.common import (
    GROUP_PANELS,
    GROUP_RAW,
    OWNER,
    WAREHOUSE_POOL,
    frame_metadata,
)
from hedging_pipeline.defs.partitions import PartitionSet
from hedging_pipeline.defs.resources import RawDataResource, WarehouseResource
from hedging_pipeline.types import STYLE_FACTORS

RAW_KINDS = {"duckdb", "pandas"}


def _raw_result(
    frame: pd.DataFrame, raw: RawDataResource, name: str, **extra
) -> dg.MaterializeResult:
    meta = frame_metadata(frame, date_column="date" if "date" in frame.columns else None)
    meta["source"] = dg.MetadataValue.text(raw.describe())
    meta.update(extra)
    version = raw.fingerprint(name)
    return dg.MaterializeResult(
        metadata=meta, data_version=dg.DataVersion(version) if version else None
    )


def _drop_unknown(
    frame: pd.DataFrame, wh_companies: pd.DataFrame
) -> tuple[pd.DataFrame, list[str]]:
    known = frame["ticker"].isin(wh_companies["ticker"])
    return frame.loc[known].reset_index(drop=True), sorted(set(frame.loc[~known, "ticker"]))


def build_raw_assets(parts: PartitionSet) -> list:
    """Raw-file assets and the unpartitioned helpers derived from them (calendar, share counts)."""
    common = {"pool": WAREHOUSE_POOL, "owners": [OWNER], "kinds": RAW_KINDS}

    @dg.asset(group_name=GROUP_RAW, **common)
    def raw_companies(
        raw_data: RawDataResource, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        """Companies of the drop folder (ticker, name, GICS, market-cap snapshots), validated."""
        frame = raw_data.load_companies()
        warehouse.get().replace_table("raw_companies", frame)
        return _raw_result(frame, raw_data, "companies")

    @dg.asset(group_name=GROUP_RAW, deps=[raw_companies], **common)
    def raw_prices(raw_data: RawDataResource, warehouse: WarehouseResource) -> dg.MaterializeResult:
        """Daily bars of the drop folder, validated (dates, positive prices, unique keys, known tickers)."""
        frame = raw_data.load_prices()
        wh = warehouse.get()
        check_known_tickers(frame["ticker"].unique(), wh.read("raw_companies"), "prices")
        wh.replace_table("raw_prices", frame)
        return _raw_result(frame, raw_data, "prices")

    @dg.asset(group_name=GROUP_RAW, deps=[raw_companies], **common)
    def raw_fundamentals(
        raw_data: RawDataResource, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        """Annual statements of the drop folder; rows of tickers outside the universe are dropped."""
        wh = warehouse.get()
        frame, unknown = _drop_unknown(raw_data.load_fundamentals(), wh.read("raw_companies"))
        wh.replace_table("raw_fundamentals", frame)
        return _raw_result(
            frame,
            raw_data,
            "fundamentals",
            dropped_unknown_tickers=dg.MetadataValue.int(len(unknown)),
        )

    @dg.asset(group_name=GROUP_RAW, deps=[raw_companies], **common)
    def raw_descriptions(
        raw_data: RawDataResource, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        """Company descriptions of the drop folder; rows of tickers outside the universe are dropped."""
        wh = warehouse.get()
        frame, unknown = _drop_unknown(raw_data.load_descriptions(), wh.read("raw_companies"))
        wh.replace_table("raw_descriptions", frame)
        return _raw_result(
            frame.assign(text=frame["text"].str.slice(0, 80)),
            raw_data,
            "descriptions",
            dropped_unknown_tickers=dg.MetadataValue.int(len(unknown)),
        )

    @dg.asset(group_name=GROUP_RAW, deps=[raw_companies], **common)
    def raw_exposures(
        raw_data: RawDataResource, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        """Vendor style exposures (e.g. Bloomberg PORT) when the drop folder has them; empty otherwise."""
        frame = raw_data.load_exposures()
        wh = warehouse.get()
        if frame is None:
            wh.replace_table("raw_exposures", _empty_exposures())
            return dg.MaterializeResult(
                metadata={"vendor_exposures": dg.MetadataValue.text("none in the drop folder")}
            )
        check_known_tickers(frame["ticker"].unique(), wh.read("raw_companies"), "exposures")
        wh.replace_table("raw_exposures", frame)
        return _raw_result(frame, raw_data, "exposures")

    @dg.asset(group_name=GROUP_PANELS, deps=[raw_prices], **common)
    def trading_calendar(warehouse: WarehouseResource) -> dg.MaterializeResult:
        """Trading days taken from the data (dates with prices) and how many tickers traded each day."""
        wh = warehouse.get()
        frame = cleaning.trading_calendar(wh.query("select date from raw_prices")["date"])
        wh.replace_table("trading_calendar", frame)
        return dg.MaterializeResult(metadata=frame_metadata(frame))

    @dg.asset(group_name=GROUP_PANELS, deps=[raw_prices, raw_companies, raw_fundamentals], **common)
    def share_counts(warehouse: WarehouseResource) -> dg.MaterializeResult:
        """Observed share counts in split-free units, with the date each became known (for market caps)."""
        wh = warehouse.get()
        prices = cleaning.clean_prices(wh.read("raw_prices"))
        frame = cleaning.share_references(
            prices, wh.read("raw_companies"), wh.read("raw_fundamentals")
        )
        wh.replace_table("share_counts", frame)
        meta = frame_metadata(frame, date_column="known_date")
        meta["by_source"] = dg.MetadataValue.json(frame["source"].value_counts().to_dict())
        return dg.MaterializeResult(metadata=meta)

    return [
        raw_companies,
        raw_prices,
        raw_fundamentals,
        raw_descriptions,
        raw_exposures,
        trading_calendar,
        share_counts,
    ]


def _empty_exposures() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "date": pd.Series(dtype="datetime64[ns]"),
            "ticker": pd.Series(dtype="object"),
            **{c: pd.Series(dtype="float64") for c in STYLE_FACTORS},
        }
    )
