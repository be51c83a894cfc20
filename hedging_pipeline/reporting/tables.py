"""Markdown tables for asset metadata and reports."""

from __future__ import annotations

import pandas as pd

PREVIEW_ROWS = 10


def frame_to_markdown(
    frame: pd.DataFrame, *, max_rows: int = PREVIEW_ROWS, floatfmt: str = ".4g"
) -> str:
    """Render the first ``max_rows`` rows of ``frame`` as a GitHub Markdown table."""
    if frame.empty:
        return "_no rows_"
    shown = frame.head(max_rows).copy()
    for column in shown.columns:
        if pd.api.types.is_datetime64_any_dtype(shown[column]):
            shown[column] = shown[column].dt.strftime("%Y-%m-%d")
    text = shown.to_markdown(index=False, floatfmt=floatfmt)
    if len(frame) > max_rows:
        text += f"\n\n_{len(frame) - max_rows:,} more rows_"
    return text
