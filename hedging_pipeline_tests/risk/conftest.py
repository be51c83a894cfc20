"""Fixtures of the risk-model tests."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """The real drop folder ``../shared/data``; skips loudly when it is absent."""
    if not (SHARED_DATA / "prices.parquet").exists():
        reason = (
            f"REAL DATA ABSENT: {SHARED_DATA} has no prices.parquet; realdata risk tests skipped"
        )
        warnings.warn(reason, stacklevel=1)
        print(reason)
        pytest.skip(reason)
    return SHARED_DATA
