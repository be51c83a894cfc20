"""Validation of the risk model: regression fit, factor significance and forecast bias.

* **Fit**: the daily weighted R² of the cross-sectional regressions (mean, quantiles).
* **Significance**: the share of days on which a factor's return has ``|t| > 2``; a factor that
  matters exceeds the 5 % a pure-noise factor would.
* **Bias statistic** (USE4 Empirical Notes): for a portfolio with predicted volatility ``σ_k`` at
  rebalance date ``k`` and realised return ``R_k`` over the following period (up to the next
  rebalance date, or ``horizon_days`` for the last), the standardised outcome is
  ``z_k = R_k / (σ_k sqrt(n_days_k / 252))`` and the bias statistic is ``b = std_k(z_k)``. An
  accurate model has ``b`` within ``1 ± sqrt(2 / T)`` (the 95 %-ish band for ``T`` periods under
  normality); ``b > 1`` means risk was under-predicted. It is computed for single stocks and for
  random long-only portfolios (``portfolio_size`` names, Dirichlet weights, fixed seed).
* **Hedge tracking error** (:func:`tracking_error_bias`): per rebalance month, realised against
  predicted tracking error of the hedges, as the RMS of their ratios (the bias statistic of the
  daily active returns), the pooled ratio, and (for information) the median ratio.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hedging_pipeline.data.validation import require_columns
from hedging_pipeline.errors import InvalidValueError
from hedging_pipeline.risk.model import RiskModel
from hedging_pipeline.types import TRADING_DAYS_PER_YEAR

T_STAT_THRESHOLD = 2.0
NOISE_EXCEEDANCE = 0.0455
"""Share of days with ``|t| > 2`` expected for a factor with no return (two-sided normal)."""

BIAS_HORIZON_DAYS = 21
N_RANDOM_PORTFOLIOS = 100
PORTFOLIO_SIZE = 50
MIN_PERIOD_COVERAGE = 0.5
"""Share of a period's trading days an asset must have returns on for its outcome to count."""

MIN_BIAS_PERIODS = 12
"""Periods a stock needs for its own bias statistic."""

R2_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


@dataclass(frozen=True)
class RegressionFitSummary:
    """Distribution of the daily cross-sectional R².

    Attributes
    ----------
    n_days : int
        Regression days.
    mean_r2 : float
        Mean daily weighted R².
    quantiles : pd.Series
        R² quantiles indexed by level (0.05 ... 0.95).
    mean_n_assets : float
        Mean number of assets per regression.
    first_date, last_date : pd.Timestamp
        Span of the regressions.
    """

    n_days: int
    mean_r2: float
    quantiles: pd.Series
    mean_n_assets: float
    first_date: pd.Timestamp
    last_date: pd.Timestamp


def summarise_regression_fit(stats: pd.DataFrame) -> RegressionFitSummary:
    """Summarise ``factor_regression_stats`` rows (``date, r2, n_assets``).

    Raises
    ------
    MissingColumnError
        A required column is missing.
    InvalidValueError
        No rows.
    """
    require_columns(stats, ("date", "r2", "n_assets"), "factor_regression_stats")
    if stats.empty:
        raise InvalidValueError("factor_regression_stats: no rows to summarise")
    r2 = stats["r2"].astype(float)
    return RegressionFitSummary(
        n_days=len(stats),
        mean_r2=float(r2.mean()),
        quantiles=r2.quantile(list(R2_QUANTILES)),
        mean_n_assets=float(stats["n_assets"].mean()),
        first_date=pd.Timestamp(stats["date"].min()),
        last_date=pd.Timestamp(stats["date"].max()),
    )


def t_stat_exceedance(
    factor_returns: pd.DataFrame, threshold: float = T_STAT_THRESHOLD
) -> pd.DataFrame:
    """Share of estimated days on which each factor has ``|t| > threshold``.

    Parameters
    ----------
    factor_returns : pd.DataFrame
        ``date, factor, ret, t_stat`` (pinned days have NaN ``t_stat`` and are not counted).
    threshold : float
        The ``|t|`` threshold.

    Returns
    -------
    pd.DataFrame
        ``factor, n_days, share_abs_t_above, mean_abs_t, annual_vol`` in the input's factor order;
        ``annual_vol`` is the annualised standard deviation of the daily factor return.
    """
    require_columns(factor_returns, ("date", "factor", "ret", "t_stat"), "factor_returns")
    order = list(dict.fromkeys(factor_returns["factor"]))
    estimated = factor_returns[factor_returns["t_stat"].notna()]
    grouped = estimated.groupby("factor", sort=False)
    abs_t = estimated["t_stat"].abs()
    out = pd.DataFrame(
        {
            "n_days": grouped.size(),
            "share_abs_t_above": (abs_t > threshold).groupby(estimated["factor"]).mean(),
            "mean_abs_t": abs_t.groupby(estimated["factor"]).mean(),
            "annual_vol": grouped["ret"].std() * np.sqrt(TRADING_DAYS_PER_YEAR),
        }
    ).reindex(order)
    out["n_days"] = out["n_days"].fillna(0).astype(int)
    return out.rename_axis("factor").reset_index()


@dataclass(frozen=True)
class BiasStatistics:
    """Bias statistics of single stocks and random portfolios.

    Attributes
    ----------
    stock_bias : pd.DataFrame
        ``ticker, bias, n_periods, in_band`` (stocks with at least :data:`MIN_BIAS_PERIODS`).
    portfolio_bias : pd.DataFrame
        ``portfolio, bias, n_periods, in_band``.
    outcomes : pd.DataFrame
        ``as_of, n_days, portfolio, z``: the standardised portfolio outcomes per period.
    n_periods : int
        Rebalance periods evaluated.
    band : tuple of float
        ``(1 - sqrt(2 / n_periods), 1 + sqrt(2 / n_periods))``.
    """

    stock_bias: pd.DataFrame
    portfolio_bias: pd.DataFrame
    outcomes: pd.DataFrame
    n_periods: int
    band: tuple[float, float]

    @property
    def median_stock_bias(self) -> float:
        """Median single-stock bias statistic."""
        return float(self.stock_bias["bias"].median())

    @property
    def median_portfolio_bias(self) -> float:
        """Median random-portfolio bias statistic."""
        return float(self.portfolio_bias["bias"].median())

    @property
    def share_portfolios_in_band(self) -> float:
        """Share of random portfolios whose bias lies in ``1 ± sqrt(2 / T)``."""
        return float(self.portfolio_bias["in_band"].mean())

    @property
    def share_stocks_in_band(self) -> float:
        """Share of stocks whose bias lies in ``1 ± sqrt(2 / T_stock)``."""
        return float(self.stock_bias["in_band"].mean())


def _period_returns(
    wide: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp | None, horizon_days: int
) -> tuple[pd.Series, int]:
    """Compounded returns over the trading days in ``(start, end]`` (else the next horizon)."""
    after = wide.index[wide.index > start]
    days = after[after <= end] if end is not None else after[:horizon_days]
    if len(days) == 0:
        return pd.Series(dtype=float), 0
    block = wide.loc[days]
    observed = block.notna().sum()
    total = (1.0 + block.fillna(0.0)).prod() - 1.0
    return total.where(observed >= MIN_PERIOD_COVERAGE * len(days)), len(days)


def _bias(z: pd.DataFrame, key: str, min_periods: int) -> pd.DataFrame:
    grouped = z.groupby(key)["z"]
    out = pd.DataFrame({"bias": grouped.std(ddof=1), "n_periods": grouped.count()})
    out = out[out["n_periods"] >= min_periods]
    out["in_band"] = (out["bias"] - 1.0).abs() <= np.sqrt(2.0 / out["n_periods"])
    return out.rename_axis(key).reset_index()


def bias_statistics(
    models: Sequence[RiskModel],
    daily_returns: pd.DataFrame,
    *,
    n_portfolios: int = N_RANDOM_PORTFOLIOS,
    portfolio_size: int = PORTFOLIO_SIZE,
    horizon_days: int = BIAS_HORIZON_DAYS,
    min_periods: int = MIN_BIAS_PERIODS,
    seed: int = 0,
) -> BiasStatistics:
    """Bias statistics of the models' risk forecasts over the period after each one.

    Parameters
    ----------
    models : sequence of RiskModel
        One model per rebalance date (any order).
    daily_returns : pd.DataFrame
        ``date, ticker, ret``: realised returns after the rebalance dates.
    n_portfolios : int
        Random long-only portfolios.
    portfolio_size : int
        Names per random portfolio (drawn from all the models' tickers; at each date the names the
        model covers are re-weighted to sum to 1, and the period counts when they hold at least
        half of the portfolio's weight).
    horizon_days : int
        Trading days after the last model.
    min_periods : int
        Periods a stock or portfolio needs for its bias statistic.
    seed : int
        Seed of the random portfolios.

    Returns
    -------
    BiasStatistics

    Raises
    ------
    InvalidValueError
        No models, or no period with realised returns.
    """
    if not models:
        raise InvalidValueError("bias statistics need at least one risk model")
    ordered = sorted(models, key=lambda m: m.as_of)
    wide = daily_returns.pivot(index="date", columns="ticker", values="ret").sort_index()
    universe = sorted(set().union(*(m.tickers for m in ordered)))
    rng = np.random.default_rng(seed)
    size = min(portfolio_size, len(universe))
    members = [rng.choice(len(universe), size=size, replace=False) for _ in range(n_portfolios)]
    weights = np.zeros((n_portfolios, len(universe)))
    for p, idx in enumerate(members):
        weights[p, idx] = rng.dirichlet(np.ones(size))
    columns = pd.Index(universe)

    stock_z, port_z = [], []
    for k, model in enumerate(ordered):
        end = ordered[k + 1].as_of if k + 1 < len(ordered) else None
        realised, n_days = _period_returns(wide, model.as_of, end, horizon_days)
        if n_days == 0:
            continue
        r = realised.reindex(list(model.tickers)).to_numpy(dtype=float)
        xf = model.exposures @ model.factor_covariance
        var = np.einsum("ij,ij->i", xf, model.exposures) + model.specific_variance
        horizon = n_days / TRADING_DAYS_PER_YEAR
        ok = np.isfinite(r)
        stock_z.append(
            pd.DataFrame(
                {
                    "as_of": model.as_of,
                    "ticker": np.asarray(model.tickers)[ok],
                    "z": r[ok] / np.sqrt(var[ok] * horizon),
                }
            )
        )
        w = weights[:, columns.get_indexer(list(model.tickers))] * ok[None, :]
        held = w.sum(axis=1)
        keep = held >= 0.5
        w = np.divide(w, held[:, None], out=np.zeros_like(w), where=held[:, None] > 0)
        wx = w @ model.exposures
        p_var = (
            np.einsum("pk,kl,pl->p", wx, model.factor_covariance, wx)
            + (w**2) @ model.specific_variance
        )
        p_ret = w @ np.nan_to_num(r)
        port_z.append(
            pd.DataFrame(
                {
                    "as_of": model.as_of,
                    "n_days": n_days,
                    "portfolio": np.arange(n_portfolios)[keep],
                    "z": p_ret[keep] / np.sqrt(p_var[keep] * horizon),
                }
            )
        )
    if not port_z:
        raise InvalidValueError(
            f"bias statistics: no realised returns after the {len(ordered)} rebalance dates "
            f"(last {ordered[-1].as_of.date()})"
        )
    stocks = pd.concat(stock_z, ignore_index=True)
    outcomes = pd.concat(port_z, ignore_index=True)
    n_periods = int(outcomes["as_of"].nunique())
    half = float(np.sqrt(2.0 / n_periods))
    return BiasStatistics(
        stock_bias=_bias(stocks, "ticker", min_periods),
        portfolio_bias=_bias(outcomes, "portfolio", min(min_periods, n_periods)),
        outcomes=outcomes,
        n_periods=n_periods,
        band=(1.0 - half, 1.0 + half),
    )


@dataclass(frozen=True)
class RiskValidation:
    """Everything the validation report shows.

    Attributes
    ----------
    fit : RegressionFitSummary
        Daily R² distribution.
    exceedance : pd.DataFrame
        Per-factor ``|t| > 2`` shares (:func:`t_stat_exceedance`).
    bias : BiasStatistics or None
        Bias statistics of the month-end models; None when no model has a following period.
    n_models : int
        Month-end risk models evaluated.
    """

    fit: RegressionFitSummary
    exceedance: pd.DataFrame
    bias: BiasStatistics | None
    n_models: int


def _rows_by_date(frame: pd.DataFrame):
    """``date -> rows of that date`` (an empty frame for other dates), split once instead of per date."""
    groups = {pd.Timestamp(day): rows for day, rows in frame.groupby(pd.to_datetime(frame["date"]))}
    empty = frame.iloc[:0]
    return lambda day: groups.get(pd.Timestamp(day), empty)


def validate_risk_model(
    stats: pd.DataFrame,
    factor_returns: pd.DataFrame,
    style_exposures: pd.DataFrame,
    factor_covariance: pd.DataFrame,
    specific_risk: pd.DataFrame,
    daily_returns: pd.DataFrame,
    *,
    n_portfolios: int = N_RANDOM_PORTFOLIOS,
    portfolio_size: int = PORTFOLIO_SIZE,
    seed: int = 0,
) -> RiskValidation:
    """Validate the stored risk model: R², t-stat exceedance and next-month bias statistics.

    Parameters
    ----------
    stats, factor_returns : pd.DataFrame
        ``factor_regression_stats`` and ``factor_returns`` (with ``t_stat``).
    style_exposures, factor_covariance, specific_risk : pd.DataFrame
        The model's tables; a :class:`RiskModel` is rebuilt on every covariance date (the exposure
        rows of those dates suffice).
    daily_returns : pd.DataFrame
        Realised returns after the covariance dates.
    n_portfolios, portfolio_size, seed
        Random portfolios of :func:`bias_statistics`.

    Returns
    -------
    RiskValidation
    """
    as_of = sorted(pd.to_datetime(factor_covariance["date"]).unique())
    by_date = [_rows_by_date(f) for f in (style_exposures, factor_covariance, specific_risk)]
    models = [RiskModel.from_frames(d, *(rows(d) for rows in by_date)) for d in as_of]
    has_future = len(as_of) > 0 and (pd.to_datetime(daily_returns["date"]) > as_of[0]).any()
    bias = (
        bias_statistics(
            models,
            daily_returns,
            n_portfolios=n_portfolios,
            portfolio_size=portfolio_size,
            seed=seed,
        )
        if has_future
        else None
    )
    return RiskValidation(
        fit=summarise_regression_fit(stats),
        exceedance=t_stat_exceedance(factor_returns),
        bias=bias,
        n_models=len(models),
    )


def tracking_error_bias(hedges: pd.DataFrame, by: str = "as_of") -> pd.DataFrame:
    """Per group (e.g. rebalance month): how realised tracking error compares with the forecast.

    Each hedge ``i`` has a predicted tracking error ``p_i`` and a realised one ``r_i`` measured on the
    same horizon and annualisation (daily returns of target − basket over the test window,
    ``x sqrt(252)``). Three aggregates over the hedges of a group:

    * ``bias = sqrt(mean_i (r_i / p_i)²)``: the USE4 bias statistic of the daily standardised active
      returns pooled over the group's hedges; 1 for a calibrated model whatever the tails, since
      ``E[r_i²] = p_i²``;
    * ``pooled = sqrt(Σ r_i² / Σ p_i²)``: the same weighted by predicted variance (large-TE hedges);
    * ``median_ratio = median_i r_i / p_i``: below 1 even for a calibrated model when daily returns
      are fat-tailed, because the median of a sample variance of ~21 fat-tailed days is below its
      mean (shown for information, not a calibration test).

    Parameters
    ----------
    hedges : pd.DataFrame
        ``by, predicted_te, realised_te`` (annualised, positive).
    by : str
        Grouping column.

    Returns
    -------
    pd.DataFrame
        ``by, n_hedges, bias, pooled, median_ratio``, one row per group, sorted.

    Raises
    ------
    MissingColumnError
        A required column is missing.
    InvalidValueError
        A predicted tracking error is not positive and finite.
    """
    require_columns(hedges, (by, "predicted_te", "realised_te"), "hedge tracking errors")
    p = hedges["predicted_te"].to_numpy(dtype=float)
    if not (np.isfinite(p) & (p > 0)).all():
        raise InvalidValueError("hedge tracking errors: predicted_te must be positive and finite")
    r = hedges["realised_te"].to_numpy(dtype=float)
    frame = pd.DataFrame({by: hedges[by].to_numpy(), "z2": (r / p) ** 2, "r2": r**2, "p2": p**2})
    frame["ratio"] = r / p
    grouped = frame.groupby(by, sort=True)
    out = pd.DataFrame(
        {
            "n_hedges": grouped.size(),
            "bias": np.sqrt(grouped["z2"].mean()),
            "pooled": np.sqrt(grouped["r2"].sum() / grouped["p2"].sum()),
            "median_ratio": grouped["ratio"].median(),
        }
    )
    return out.rename_axis(by).reset_index()
