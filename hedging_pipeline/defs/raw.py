"""Raw assets: the drop folder validated as a whole, then copied into the warehouse as ``raw_*`` tables.

One step reads and checks every file (:func:`~hedging_pipeline.data.drop.load_drop`) before anything is written,
then swaps all the raw tables it materialises in one transaction: a bad file leaves every table as it was, and
its siblings of the same drop are not written either. Each raw table stays its own asset (``raw_companies``,
``raw_prices``, ...) with the data version of its file, so stale-asset selection works per file; a run selecting
a few of them still validates the whole drop.
"""

import hashlib

import dagster as dg
import pandas as pd

from hedging_pipeline.data import cleaning
from hedging_pipeline.data.drop import Drop
from hedging_pipeline.data.tables import RAW_TABLES
from hedging_pipeline.defs.common import (
    GROUP_PANELS,
    GROUP_RAW,
    OWNER,
    WAREHOUSE_POOL,
    frame_metadata,
)
from hedging_pipeline.defs.partitions import PartitionSet
from hedging_pipeline.defs.resources import RawDataResource, WarehouseResource
from hedging_pipeline.reporting.tables import frame_to_markdown

RAW_KINDS = {"duckdb", "pandas"}
RAW_FILES = {
    "raw_companies": "companies",
    "raw_prices": "prices",
    "raw_fundamentals": "fundamentals",
    "raw_descriptions": "descriptions",
    "raw_exposures": "exposures",
}
"""Raw table -> the drop-folder file it copies (its data version is the file's fingerprint)."""
RAW_DESCRIPTIONS = {
    "raw_companies": "Companies of the drop folder (ticker, name, GICS, market-cap snapshots), validated.",
    "raw_prices": "Daily bars of the drop folder, validated (dates, plausible prices, unique keys, tickers).",
    "raw_fundamentals": "Annual statements of the drop folder; rows of tickers outside the universe are left out.",
    "raw_descriptions": "Company descriptions of the drop folder; rows of tickers outside the universe left out.",
    "raw_exposures": "Vendor style exposures (e.g. Bloomberg PORT) when the drop folder has them; else empty.",
    "raw_quarantine": "What the drop's plausibility rules set aside, filled or cut (file, ticker, date, rule).",
}


def _content_version(frame: pd.DataFrame) -> str:
    digest = pd.util.hash_pandas_object(frame.astype(str), index=False).to_numpy().tobytes()
    return hashlib.sha256(digest).hexdigest()[:16]


def _raw_result(table: str, drop: Drop, raw: RawDataResource, pruned: dict[str, int]):
    frame = drop.tables[table]
    preview = (
        frame.assign(text=frame["text"].str.slice(0, 80)) if table == "raw_descriptions" else frame
    )
    meta = frame_metadata(preview, date_column="date" if "date" in frame.columns else None)
    meta["source"] = dg.MetadataValue.text(raw.describe())
    if table in drop.unknown_tickers:
        meta["dropped_unknown_tickers"] = dg.MetadataValue.int(len(drop.unknown_tickers[table]))
    if table == "raw_exposures" and not drop.has_exposures:
        meta["vendor_exposures"] = dg.MetadataValue.text("none in the drop folder")
    if table == "raw_prices":
        meta["as_of"] = dg.MetadataValue.text(f"{drop.as_of.date()} ({drop.as_of_source})")
        meta["pruned_rows"] = dg.MetadataValue.json(pruned)  # derived rows outside the new range
    if table == "raw_quarantine":
        meta["by_rule"] = dg.MetadataValue.json(frame["rule"].value_counts().to_dict())
        meta["preview"] = dg.MetadataValue.md(frame_to_markdown(frame, max_rows=50))
    version = raw.fingerprint(RAW_FILES[table]) if table in RAW_FILES else _content_version(frame)
    return dg.MaterializeResult(
        asset_key=table, metadata=meta, data_version=dg.DataVersion(version) if version else None
    )


def build_raw_assets(parts: PartitionSet) -> list:
    """Raw-file assets and the unpartitioned helpers derived from them (calendar, share counts)."""
    common = {"pool": WAREHOUSE_POOL, "owners": [OWNER], "kinds": RAW_KINDS}
    specs = [
        dg.AssetSpec(
            table,
            group_name=GROUP_RAW,
            description=RAW_DESCRIPTIONS[table],
            owners=[OWNER],
            kinds=RAW_KINDS,
        )
        for table in RAW_TABLES
    ]

    @dg.multi_asset(specs=specs, can_subset=True, pool=WAREHOUSE_POOL, name="raw_drop")
    def raw_drop(
        context: dg.AssetExecutionContext, raw_data: RawDataResource, warehouse: WarehouseResource
    ):
        """Validate the whole drop folder, then swap the selected raw tables in one transaction."""
        drop = raw_data.load_drop()
        selected = sorted(k.to_user_string() for k in context.selected_asset_keys)
        universe = drop.tables["raw_companies"]["ticker"].tolist()
        written = warehouse.get().replace_tables(
            {t: drop.tables[t] for t in selected},
            keep_range=(drop.start, drop.as_of) if "raw_prices" in selected else None,
            keep_tickers=universe if "raw_companies" in selected else None,
        )
        pruned = {k: v for k, v in written.items() if k.startswith("pruned:")}
        for table in selected:
            yield _raw_result(table, drop, raw_data, pruned)

    @dg.asset(group_name=GROUP_PANELS, deps=["raw_prices"], **common)
    def trading_calendar(warehouse: WarehouseResource) -> dg.MaterializeResult:
        """Trading days taken from the data (dates with prices) and how many tickers traded each day."""
        wh = warehouse.get()
        frame = cleaning.trading_calendar(wh.query("select date from raw_prices")["date"])
        wh.replace_table("trading_calendar", frame)
        return dg.MaterializeResult(metadata=frame_metadata(frame))

    @dg.asset(
        group_name=GROUP_PANELS,
        deps=["raw_prices", "raw_companies", "raw_fundamentals"],
        **common,
    )
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

    return [raw_drop, trading_calendar, share_counts]
