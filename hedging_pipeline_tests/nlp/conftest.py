"""Fixtures of the nlp tests: the packaged model (loaded once), a hashing fake, real data."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pandas as pd
import pytest

from hedging_pipeline.nlp.embedding import (
    DEFAULT_EMBEDDING_MODEL,
    HashingEmbedder,
    SentenceTransformerEmbedder,
    load_embedder,
)

_DEFAULT_REAL_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.fixture(scope="session")
def minilm() -> SentenceTransformerEmbedder:
    """The packaged all-MiniLM-L6-v2 on CPU (offline)."""
    return load_embedder(DEFAULT_EMBEDDING_MODEL, device="cpu", batch_size=16)


@pytest.fixture()
def hashing() -> HashingEmbedder:
    return HashingEmbedder(dimension=256, max_tokens=64)


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """The shared real data folder; skips LOUDLY (reason on stderr and in -ra) when absent."""
    candidate = Path(os.environ.get("HEDGING_REAL_DATA", _DEFAULT_REAL_DATA))
    if not (candidate / "descriptions.parquet").exists():
        reason = (
            f"REAL DATA ABSENT: {candidate}/descriptions.parquet not found; realdata test skipped"
        )
        print(f"\n*** {reason} ***", file=sys.stderr)
        pytest.skip(reason)
    return candidate


@pytest.fixture(scope="session")
def real_descriptions(real_data_dir: Path) -> pd.DataFrame:
    return pd.read_parquet(real_data_dir / "descriptions.parquet")


@pytest.fixture(scope="session")
def real_companies(real_data_dir: Path) -> pd.DataFrame:
    return pd.read_parquet(real_data_dir / "companies.parquet")
