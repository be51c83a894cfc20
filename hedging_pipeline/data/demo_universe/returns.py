"""Planted daily returns of the demo universe: factor returns, loadings, drift and noise."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hedging_pipeline.data.demo_universe.layout import Layout
from hedging_pipeline.data.demo_universe.parameters import (
    BETA_DISPERSION,
    BOOK_TO_PRICE_DISPERSION,
    DRIFT_PERSISTENCE,
    DRIFT_SPREAD_DAILY,
    IDIO_VOL_DISPERSION,
    IDIO_VOL_MEDIAN_DAILY,
    IDIO_VOL_SIZE_ELASTICITY,
    MARKET_CAP_DISPERSION,
    MARKET_CAP_MEDIAN_USD,
    MARKET_DRIFT_DAILY,
    MARKET_VOL_DAILY,
    RETURN_FLOOR,
    SECTOR_VOL_DAILY,
    STUDENT_T_DOF,
    STYLE_FACTORS_PLANTED,
    STYLE_VOL_DAILY,
    SUB_INDUSTRY_VOL_DAILY,
    VOL_REGIME_PERSISTENCE,
    VOL_REGIME_SHOCK,
)
from hedging_pipeline.data.demo_universe.templates import Templates
from hedging_pipeline.types import MARKET_FACTOR, FloatArray


@dataclass(frozen=True)
class Planted:
    """The planted return structure (daily simple returns)."""

    factors: tuple[str, ...]
    factor_returns: FloatArray  # (n_days, k)
    loadings: FloatArray  # (n, k)
    drift: FloatArray  # (n_days, n)
    noise: FloatArray  # (n_days, n) idiosyncratic shock e_it
    returns: FloatArray  # (n_days, n) planted total return, floored
    idio_vol: FloatArray  # (n,) daily
    regime: FloatArray  # (n_days,)
    log_cap: FloatArray  # (n,)
    book_to_price: FloatArray  # (n,)


def standardise(values: FloatArray) -> FloatArray:
    """Cross-sectional z-score (population standard deviation)."""
    return (values - values.mean()) / values.std()


def ar1_paths(
    rng: np.random.Generator, phi: float, stationary_sd: float, shape: tuple[int, ...]
) -> FloatArray:
    """AR(1) paths along axis 0 started in their stationary law: ``x_t = phi x_{t-1} + eta_t``."""
    innovation_sd = stationary_sd * math.sqrt(1.0 - phi**2)
    shocks = rng.standard_normal(shape) * innovation_sd
    paths = np.empty(shape)
    paths[0] = rng.standard_normal(shape[1:]) * stationary_sd
    for t in range(1, shape[0]):  # a recursion in time, vectorised across assets
        paths[t] = phi * paths[t - 1] + shocks[t]
    return paths


def plant_returns(
    rng: np.random.Generator, templates: Templates, layout: Layout, n_days: int
) -> Planted:
    """Draw the factor returns, loadings, drift and idiosyncratic noise, and their total returns."""
    subs = templates.sub_industries
    sectors = templates.sectors
    n = len(layout.tickers)
    sector_of = np.array([sectors.index(subs[k].sector) for k in layout.spec_index])
    sub_of = layout.spec_index

    regime_sd = VOL_REGIME_SHOCK / math.sqrt(1.0 - VOL_REGIME_PERSISTENCE**2)
    log_regime = ar1_paths(rng, VOL_REGIME_PERSISTENCE, regime_sd, (n_days, 1))[:, 0]
    regime = np.exp(log_regime - regime_sd**2)  # E[regime^2] = 1: factor variances keep their scale

    log_cap = math.log(MARKET_CAP_MEDIAN_USD) + MARKET_CAP_DISPERSION * rng.standard_normal(n)
    bp_median = np.array([subs[k].book_to_price for k in sub_of])
    book_to_price = bp_median * np.exp(BOOK_TO_PRICE_DISPERSION * rng.standard_normal(n))
    size = standardise(log_cap)
    log_idio = (
        math.log(IDIO_VOL_MEDIAN_DAILY)
        + IDIO_VOL_DISPERSION * rng.standard_normal(n)
        - IDIO_VOL_SIZE_ELASTICITY * size
    )
    idio_vol = np.exp(log_idio)

    factors = (
        MARKET_FACTOR,
        *sectors,
        *(s.name for s in subs),
        *STYLE_FACTORS_PLANTED,
    )
    n_sectors, n_subs = len(sectors), len(subs)
    loadings = np.zeros((n, len(factors)))
    sector_beta = np.array([subs[k].sector_beta for k in sub_of])
    loadings[:, 0] = sector_beta * np.exp(BETA_DISPERSION * rng.standard_normal(n))
    rows = np.arange(n)
    # Industry membership is a pure dummy, as in the risk model; sensitivities differ through beta.
    loadings[rows, 1 + sector_of] = 1.0
    loadings[rows, 1 + n_sectors + sub_of] = 1.0
    style_start = 1 + n_sectors + n_subs
    loadings[:, style_start:] = np.column_stack(
        [size, standardise(np.log(book_to_price)), standardise(log_idio)]
    )

    vols = np.concatenate(
        [
            [MARKET_VOL_DAILY],
            np.full(n_sectors, SECTOR_VOL_DAILY),
            np.full(n_subs, SUB_INDUSTRY_VOL_DAILY),
            np.asarray(STYLE_VOL_DAILY),
        ]
    )
    means = np.zeros(len(factors))
    means[0] = MARKET_DRIFT_DAILY
    factor_returns = means + regime[:, None] * vols * rng.standard_normal((n_days, len(factors)))

    t_scale = math.sqrt(STUDENT_T_DOF / (STUDENT_T_DOF - 2.0))  # unit-variance Student t
    noise = (
        idio_vol * np.sqrt(regime)[:, None] * rng.standard_t(STUDENT_T_DOF, (n_days, n)) / t_scale
    )
    drift = ar1_paths(rng, DRIFT_PERSISTENCE, DRIFT_SPREAD_DAILY, (n_days, n))
    returns = np.maximum(drift + factor_returns @ loadings.T + noise, RETURN_FLOOR)
    return Planted(
        factors=factors,
        factor_returns=factor_returns,
        loadings=loadings,
        drift=drift,
        noise=noise,
        returns=returns,
        idio_vol=idio_vol,
        regime=regime,
        log_cap=log_cap,
        book_to_price=book_to_price,
    )
