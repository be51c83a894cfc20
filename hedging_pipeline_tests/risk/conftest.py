"""Fixtures of the risk-model tests (``real_data_dir`` comes from the root conftest)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hedging_pipeline_tests.risk.real_data import RealPanels, build_real_panels


@pytest.fixture(scope="session")
def real_panels(real_data_dir: Path) -> RealPanels:
    """Cleaned panels of ../shared/data (skipped loudly by ``real_data_dir`` when absent)."""
    return build_real_panels(real_data_dir)
