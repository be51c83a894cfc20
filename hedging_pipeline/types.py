"""Type aliases shared across the package."""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

Method = Literal["factor", "nlp", "nlp_equal", "hybrid", "gics", "correlation", "market"]
"""The seven hedge methods CONTRACT.md names (checks and reports require them); every method, including
the grid cells and index shorts, is in :mod:`hedging_pipeline.hedging.registry`."""

DEFAULT_N_PEERS = 30
"""Peers stored per company (``nlp.peers``): exactly the semantic candidates the ``nlp`` and ``hybrid``
hedges use (``HedgeSettings.n_semantic_candidates``), three times the basket's 10-name cap so that
enough candidates survive the issuer and share-class filters. One setting: change it here."""

METHODS: tuple[Method, ...] = (
    "factor",
    "nlp",
    "nlp_equal",
    "hybrid",
    "gics",
    "correlation",
    "market",
)

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
