"""Fixtures of the service-layer tests (the hedging tests' synthetic month)."""

from __future__ import annotations

import pytest

from hedging_pipeline_tests.hedging.synthetic import SyntheticMonth, synthetic_month


@pytest.fixture(scope="module")
def month() -> SyntheticMonth:
    return synthetic_month()
