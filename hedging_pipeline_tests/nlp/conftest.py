"""Fixtures of the nlp tests: the packaged model (loaded once), a hashing fake, real data.

``real_data_dir`` (skipped loudly when ../shared/data is absent) comes from the root conftest.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from hedging_pipeline.nlp.embedding import (
    DEFAULT_EMBEDDING_MODEL,
    HashingEmbedder,
    SentenceTransformerEmbedder,
    load_embedder,
)


@pytest.fixture(scope="session")
def minilm() -> SentenceTransformerEmbedder:
    """The packaged all-MiniLM-L6-v2 on CPU (offline)."""
    return load_embedder(DEFAULT_EMBEDDING_MODEL, device="cpu", batch_size=16)


@pytest.fixture()
def hashing() -> HashingEmbedder:
    return HashingEmbedder(dimension=256, max_tokens=64)


@pytest.fixture(scope="session")
def real_descriptions(real_data_dir: Path) -> pd.DataFrame:
    return pd.read_parquet(real_data_dir / "descriptions.parquet")


@pytest.fixture(scope="session")
def real_companies(real_data_dir: Path) -> pd.DataFrame:
    return pd.read_parquet(real_data_dir / "companies.parquet")
