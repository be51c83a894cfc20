"""Fixtures of the hedging tests (builders in ``synthetic.py``)."""

from __future__ import annotations

import pytest

from .synthetic import SyntheticMonth, synthetic_month


@pytest.fixture(scope="module")
def month() -> SyntheticMonth:
    return synthetic_month()
