"""The bundle of inputs a rebalance date's hedges are computed from (all known at ``as_of``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from hedging_pipeline.hedging.methods import (
    HedgeContext,
    HedgeSettings,
    compute_hedges,
    hedge_context,
)
from hedging_pipeline.risk.model import RiskModel
from hedging_pipeline.types import METHODS, Method


@dataclass(frozen=True)
class HedgeInputs:
    """Everything the hedge methods read for one rebalance date, known at its close.

    The service layer fills it from the warehouse (``services.hedges.read_hedge_inputs``); the
    ``hedge`` command, the hedge assets and their worker processes all pass this one object.

    Attributes
    ----------
    as_of : pd.Timestamp
        Rebalance date (the risk model's date).
    risk_model : RiskModel
        Factor risk model as of ``as_of``.
    peers : pd.DataFrame
        CONTRACT ``semantic_peers`` rows (empty when the table is missing).
    returns : pd.DataFrame
        CONTRACT ``daily_returns`` rows up to ``as_of``.
    companies : pd.DataFrame
        ``ticker``, ``name`` and GICS columns.
    market_caps : pd.DataFrame
        ``date, ticker, market_cap`` up to ``as_of``.
    """

    as_of: pd.Timestamp
    risk_model: RiskModel
    peers: pd.DataFrame
    returns: pd.DataFrame
    companies: pd.DataFrame
    market_caps: pd.DataFrame

    def context(self, settings: HedgeSettings, *, sample_risk: bool = True) -> HedgeContext:
        """The prepared context of ``methods.hedge_context`` (for one hedge at a time)."""
        return hedge_context(*self._frames(), settings, sample_risk=sample_risk)

    def compute(
        self,
        settings: HedgeSettings,
        methods: Sequence[Method] = METHODS,
        targets: Sequence[str] | None = None,
        previous: tuple[pd.DataFrame, pd.DataFrame] | None = None,
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """``hedge_weights`` and ``hedge_diagnostics`` rows of ``methods.compute_hedges``."""
        return compute_hedges(
            *self._frames(), methods=methods, targets=targets, settings=settings, previous=previous
        )

    def _frames(
        self,
    ) -> tuple[pd.Timestamp, RiskModel, pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """The leading arguments of ``hedge_context`` and ``compute_hedges``, in their order."""
        return (
            self.as_of,
            self.risk_model,
            self.peers,
            self.returns,
            self.companies,
            self.market_caps,
        )
