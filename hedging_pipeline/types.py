"""Type aliases shared across the package."""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

Method = Literal["factor", "nlp", "nlp_equal", "hybrid", "gics", "correlation", "market"]
"""Hedge construction methods; ``factor``, ``nlp`` and ``hybrid`` are the ones the CLI offers."""

METHODS: tuple[Method, ...] = ("factor", "nlp", "nlp_equal", "hybrid", "gics", "correlation", "market")

STYLE_FACTORS: tuple[str, ...] = (
    "size",
    "value",
    "momentum",
    "volatility",
    "profitability",
    "leverage",
    "trading_activity",
)
"""The 7 Bloomberg-style exposures, by their warehouse column names."""

MARKET_FACTOR = "market"
TRADING_DAYS_PER_YEAR = 252
