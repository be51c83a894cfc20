"""Matplotlib helpers shared by the area reports: figures to PNG bytes, headless."""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")  # headless: no display on servers, CI or Dagster workers
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

PNG_DPI = 110


def figure_to_png(fig: Figure, *, dpi: int = PNG_DPI) -> bytes:
    """Render ``fig`` to PNG bytes and close it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def png_data_uri(png: bytes) -> str:
    """``data:image/png;base64,...`` URI for embedding a PNG in Markdown."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def markdown_image(png: bytes, alt: str) -> str:
    """Markdown image tag with the PNG embedded inline."""
    return f"![{alt}]({png_data_uri(png)})"
