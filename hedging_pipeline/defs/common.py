"""Shared pieces of the Dagster layer: metadata builders, group names, pools."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd

from hedging_pipeline.data.drop import frame_digest
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
