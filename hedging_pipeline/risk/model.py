"""The fitted factor risk model as of one date: exposures, factor covariance and specific variance.

The covariance of asset returns is ``Σ = X F Xᵀ + diag(s²)``; it is never formed as an N x N
matrix outside tests: the hedge optimiser works with the factorised form.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hedging_pipeline.errors import InvalidValueError, UnknownTickerError
from hedging_pipeline.types import MARKET_FACTOR, STYLE_FACTORS, FloatArray


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

    @classmethod
    def from_frames(
        cls,
        as_of: pd.Timestamp | str,
        style_exposures_rows: pd.DataFrame,
        factor_covariance_rows: pd.DataFrame,
        specific_risk_rows: pd.DataFrame,
    ) -> RiskModel:
        """Assemble the model as of ``as_of`` from warehouse rows.

        The exposure matrix is ``[market = 1, industry one-hot, 7 styles]`` in the factor order of
        the covariance rows (the regression's order: ``market``, sorted industries, styles). The
        tickers are those with both exposures and specific risk on ``as_of``, sorted.

        Parameters
        ----------
        as_of : Timestamp or str
            The rebalance date; rows of other dates are ignored.
        style_exposures_rows : pd.DataFrame
            CONTRACT ``style_exposures`` rows (``date, ticker, industry`` and the 7 styles).
        factor_covariance_rows : pd.DataFrame
            CONTRACT ``factor_covariance`` rows (``date, factor_1, factor_2, cov``), annualised.
        specific_risk_rows : pd.DataFrame
            CONTRACT ``specific_risk`` rows (``date, ticker, vol``), annualised.

        Returns
        -------
        RiskModel

        Raises
        ------
        InvalidValueError
            No rows on ``as_of`` in one of the frames, an industry without a factor, a factor set
            that does not match ``[market, industries, styles]``, or NaN values.
        """
        from hedging_pipeline.risk.covariance import covariance_from_rows

        when = pd.Timestamp(as_of)
        frames = {
            "style_exposures": style_exposures_rows,
            "factor_covariance": factor_covariance_rows,
            "specific_risk": specific_risk_rows,
        }
        on_day = {}
        for name, frame in frames.items():
            rows = frame[pd.to_datetime(frame["date"]) == when]
            if rows.empty:
                raise InvalidValueError(f"{name}: no rows on {when.date()} to build the risk model")
            on_day[name] = rows
        factors, cov = covariance_from_rows(on_day["factor_covariance"])
        industries = [f for f in factors if f != MARKET_FACTOR and f not in STYLE_FACTORS]
        expected = (MARKET_FACTOR, *industries, *STYLE_FACTORS)
        if factors != expected:
            raise InvalidValueError(
                f"factor_covariance: factors on {when.date()} are {list(factors)}, expected "
                f"market, the industries, then the styles {list(STYLE_FACTORS)}"
            )
        ex = on_day["style_exposures"].set_index("ticker")
        spec = on_day["specific_risk"].set_index("ticker")["vol"]
        tickers = sorted(set(ex.index) & set(spec.index))
        ex = ex.loc[tickers]
        unknown = sorted(set(ex["industry"]) - set(industries))
        if unknown:
            raise InvalidValueError(
                f"style_exposures: industry {unknown[0]!r} on {when.date()} has no factor in "
                f"factor_covariance ({len(industries)} industries there)"
            )
        onehot = (ex["industry"].to_numpy()[:, None] == np.asarray(industries)[None, :]).astype(
            float
        )
        exposures = np.hstack(
            [np.ones((len(tickers), 1)), onehot, ex[list(STYLE_FACTORS)].to_numpy(dtype=float)]
        )
        variance = spec.loc[tickers].to_numpy(dtype=float) ** 2
        if not (np.isfinite(exposures).all() and np.isfinite(variance).all()):
            raise InvalidValueError(f"style_exposures/specific_risk: NaN values on {when.date()}")
        return cls(
            as_of=when,
            tickers=tuple(tickers),
            factors=factors,
            exposures=exposures,
            factor_covariance=cov,
            specific_variance=variance,
        )

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
