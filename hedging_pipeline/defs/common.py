"""Shared pieces of the Dagster layer: metadata builders, group names, pools."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd

from hedging_pipeline.data.digests import frame_digest
from hedging_pipeline.reporting.plots import markdown_image
from hedging_pipeline.reporting.tables import frame_to_markdown

WAREHOUSE_POOL = "warehouse"
"""Every asset that touches DuckDB runs in this pool (limit 1): one writer per file."""
GPU_POOL = "gpu"
OWNER = "team:quant-data"

GROUP_RAW = "raw"
GROUP_PANELS = "panels"
GROUP_RISK = "risk_model"
GROUP_NLP = "nlp"
GROUP_HEDGING = "hedging"
GROUP_BACKTEST = "backtest"


def column_schema(
    frame: pd.DataFrame, descriptions: Mapping[str, str] | None = None
) -> dg.TableSchema:
    """Dagster column schema of ``frame`` (shown in the UI's asset overview)."""
    descriptions = descriptions or {}
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name=str(c), type=str(t), description=descriptions.get(str(c)))
            for c, t in frame.dtypes.items()
        ]
    )


def frame_metadata(
    frame: pd.DataFrame,
    *,
    date_column: str | None = "date",
    preview_rows: int = 10,
) -> dict[str, Any]:
    """Row count, date span, ticker count, column schema, content digest and a Markdown preview of ``frame``.

    ``content_digest`` identifies the rows written: ``hedging-pipeline run`` re-runs a child only when a
    parent's digest changed (``defs/selection.py``).
    """
    meta: dict[str, Any] = {
        "dagster/row_count": dg.MetadataValue.int(len(frame)),
        "content_digest": dg.MetadataValue.text(frame_digest(frame)),
        "dagster/column_schema": column_schema(frame),
        "preview": dg.MetadataValue.md(frame_to_markdown(frame, max_rows=preview_rows)),
    }
    if date_column and date_column in frame.columns and len(frame):
        dates = pd.to_datetime(frame[date_column])
        meta["first_date"] = dg.MetadataValue.text(str(dates.min().date()))
        meta["last_date"] = dg.MetadataValue.text(str(dates.max().date()))
        meta["n_dates"] = dg.MetadataValue.int(int(dates.nunique()))
    if "ticker" in frame.columns:
        meta["n_tickers"] = dg.MetadataValue.int(int(frame["ticker"].nunique()))
    return meta


def plot_metadata(png: bytes, *, title: str, save_to: Path | None = None) -> dict[str, Any]:
    """Metadata entries showing a PNG inline (Markdown) and, when saved, its path under the reports dir."""
    meta: dict[str, Any] = {title: dg.MetadataValue.md(markdown_image(png, title))}
    if save_to is not None:
        save_to.parent.mkdir(parents=True, exist_ok=True)
        save_to.write_bytes(png)
        meta[f"{title} (file)"] = dg.MetadataValue.path(str(save_to))
    return meta


def lookback_dep(key: str, months: int) -> dg.AssetDep:
    """Dependency on the ``months`` monthly partitions of ``key`` before (and including) the partition.

    Partitions before the first one are allowed (clipped), so the earliest months still run; the asset
    checks the history length itself.
    """
    mapping = dg.TimeWindowPartitionMapping(
        start_offset=-months, allow_nonexistent_upstream_partitions=True
    )
    return dg.AssetDep(key, partition_mapping=mapping)


EMPTY_BY_DESIGN = "empty_by_design"
"""Metadata entry of a partition that holds no rows on purpose (the reason, in words)."""


def add_partition_metadata(
    context: dg.AssetExecutionContext,
    frame: pd.DataFrame,
    *,
    date_column: str = "date",
    asset_key: str | dg.AssetKey | None = None,
    empty_reason: str = "no rows in this month by design (no complete month end or history yet)",
) -> None:
    """Give each month partition of the run its own row count, date span and content digest.

    A single-run range otherwise copies the run's one metadata dict onto every partition (a 2005-06 partition
    reporting the whole 1999-2020 run). Per-partition entries override the run's entries of the same name; a
    partition without rows says why in ``empty_by_design``. Does nothing for unpartitioned runs.
    """
    if not context.has_partition_key_range and not context.has_partition_key:
        return
    months = (
        pd.to_datetime(frame[date_column]).dt.strftime("%Y-%m")
        if date_column in frame.columns
        else pd.Series([], dtype=object)
    )
    for key in context.partition_keys:
        rows = frame.loc[(months == key).to_numpy()] if len(frame) else frame
        meta = frame_metadata(rows, date_column=date_column, preview_rows=5)
        meta.pop("dagster/column_schema", None)
        if rows.empty:
            meta[EMPTY_BY_DESIGN] = dg.MetadataValue.text(empty_reason)
            meta["first_date"] = meta["last_date"] = dg.MetadataValue.text("none")
            meta["n_dates"] = dg.MetadataValue.int(0)
        context.add_asset_metadata(meta, asset_key=asset_key, partition_key=key)
