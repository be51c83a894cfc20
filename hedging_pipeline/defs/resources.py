"""Dagster resources: the raw drop folder, the DuckDB warehouse and the embedding model.

Their fields default to the CONTRACT variables (resolved by :func:`hedging_pipeline.settings.load_settings`) and
can be overridden as resource config in the UI or a run config. Each hands assets a domain object, so domain code
never sees Dagster.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
from pydantic import PrivateAttr

from hedging_pipeline.data import loaders
from hedging_pipeline.data.drop import Drop, load_drop
from hedging_pipeline.settings import HomeLayout, Settings
from hedging_pipeline.warehouse.duckdb import Warehouse


class RawDataResource(dg.ConfigurableResource):
    """The raw drop folder (``HEDGING_RAW_DIR``): Parquet or CSV files validated on read."""

    raw_dir: str
    source: str = "env"

    @property
    def path(self) -> Path:
        """The folder."""
        return Path(self.raw_dir)

    def describe(self) -> str:
        """Which raw data this is, for run logs and metadata."""
        return f"{self.source} raw data at {self.raw_dir}"

    def load_prices(self) -> pd.DataFrame:
        """Validated prices."""
        return loaders.load_prices(self.path)

    def load_companies(self) -> pd.DataFrame:
        """Validated companies."""
        return loaders.load_companies(self.path)

    def load_fundamentals(self) -> pd.DataFrame:
        """Validated fundamentals."""
        return loaders.load_fundamentals(self.path)

    def load_descriptions(self) -> pd.DataFrame:
        """Validated descriptions."""
        return loaders.load_descriptions(self.path)

    def load_drop(self) -> Drop:
        """Every raw file, validated as a whole (nothing is written until all of them pass)."""
        return load_drop(self.path)

    def load_exposures(self) -> pd.DataFrame | None:
        """Vendor exposures, or ``None`` when the drop folder has none."""
        return loaders.load_exposures(self.path)

    def fingerprint(self, name: str) -> str | None:
        """Size and modification time of a raw file, as a data version."""
        return loaders.file_fingerprint(self.path, name)


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse and report folder under ``HEDGING_HOME`` (paths from :class:`HomeLayout`)."""

    home: str
    lock_timeout_s: float = 300.0

    @property
    def layout(self) -> HomeLayout:
        """The paths under ``home``, derived as :class:`~hedging_pipeline.settings.Settings` does."""
        return HomeLayout(Path(self.home))

    def get(self) -> Warehouse:
        """The warehouse (``HEDGING_HOME/warehouse.duckdb``)."""
        return Warehouse(self.layout.warehouse_path, lock_timeout_s=self.lock_timeout_s)

    @property
    def reports_dir(self) -> Path:
        """``HEDGING_HOME/reports`` (created)."""
        path = self.layout.reports_dir
        path.mkdir(parents=True, exist_ok=True)
        return path


class EmbeddingModelResource(dg.ConfigurableResource):
    """A sentence-transformers model (``HEDGING_EMBEDDING_MODEL``) on ``HEDGING_DEVICE``.

    The model loads lazily, once per process, the first time an asset asks for it.
    """

    model_name: str
    device: str = "auto"
    batch_size: int = 32
    dimension: int | None = None

    _embedder: Any = PrivateAttr(default=None)

    def get_embedder(self) -> Any:
        """The loaded :class:`hedging_pipeline.nlp.embedding.Embedder`."""
        if self._embedder is None:
            from hedging_pipeline.nlp.embedding import load_embedder  # torch loads only when needed

            self._embedder = load_embedder(
                self.model_name,
                device=self.device,
                batch_size=self.batch_size,
                dimension=self.dimension,
            )
        return self._embedder

    @property
    def model_id(self) -> str:
        """The id embeddings, peers and hedges are stored under (name + Matryoshka dimension)."""
        from hedging_pipeline.nlp.embedding import expected_model_id

        return expected_model_id(self.model_name, self.dimension)


def build_resources(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    """Resources for one code location, from resolved settings."""
    return {
        "raw_data": RawDataResource(raw_dir=str(settings.raw_dir), source=settings.raw_source),
        "warehouse": WarehouseResource(
            home=str(settings.home), lock_timeout_s=settings.lock_timeout_s
        ),
        "embedding_model": EmbeddingModelResource(
            model_name=settings.embedding_model, device=settings.device
        ),
    }
