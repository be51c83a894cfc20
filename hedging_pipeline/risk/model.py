"""The fitted factor risk model as of one date: exposures, factor covariance and specific variance.

The covariance of asset returns is ``Σ = X F Xᵀ + diag(s²)``; it is never formed as an N x N matrix outside
tests: the hedge optimiser works with the factorised form.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hedging_pipeline.errors import UnknownTickerError
from hedging_pipeline.types import FloatArray


@dataclass(frozen=True)
class RiskModel:
    """Factor risk model as of one date.

    Attributes
    ----------
    as_of : pd.Timestamp
        The date the model is known at (close).
    tickers : tuple of str
        The ``n`` assets, in row order of ``exposures``.
    factors : tuple of str
        The ``k`` factors, in column order of ``exposures``.
    exposures : FloatArray
        Factor exposures, shape ``(n, k)``.
    factor_covariance : FloatArray
        Annualised factor covariance, shape ``(k, k)``, symmetric PSD.
    specific_variance : FloatArray
        Annualised specific (idiosyncratic) variance, shape ``(n,)``, positive.
    """

    as_of: pd.Timestamp
    tickers: tuple[str, ...]
    factors: tuple[str, ...]
    exposures: FloatArray
    factor_covariance: FloatArray
    specific_variance: FloatArray

    def index_of(self, ticker: str) -> int:
        """Return the row of ``ticker``.

        Raises
        ------
        UnknownTickerError
            If the model has no row for ``ticker`` on ``as_of``.
        """
        try:
            return self.tickers.index(ticker)
        except ValueError:
            raise UnknownTickerError(
                f"ticker {ticker!r} is not in the risk model as of {self.as_of.date()} "
                f"({len(self.tickers)} tickers have exposures and specific risk on that date)"
            ) from None

    def subset(self, tickers: Sequence[str]) -> RiskModel:
        """Return the model restricted to ``tickers`` (in that order)."""
        rows = [self.index_of(t) for t in tickers]
        return RiskModel(
            as_of=self.as_of,
            tickers=tuple(tickers),
            factors=self.factors,
            exposures=self.exposures[rows],
            factor_covariance=self.factor_covariance,
            specific_variance=self.specific_variance[rows],
        )

    def covariance(self) -> FloatArray:
        """Return the dense annualised asset covariance ``X F Xᵀ + diag(s²)``, shape ``(n, n)``.

        Only for tests and small universes; production code uses the factorised form.
        """
        x = self.exposures
        return x @ self.factor_covariance @ x.T + np.diag(self.specific_variance)
