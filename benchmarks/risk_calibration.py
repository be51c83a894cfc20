"""Calibration tests of the risk model on the real data (issue 12), used by ``bench_risk_model_v2``.

Every statistic says its horizon:

* **hedges** (month-end model, what the ``factor`` hedges use): every target the model covers that
  has returns on at least half of the next month's days is hedged with the existing ``factor``
  method and solver. The forecast is a *daily-horizon* one (annualised daily covariance, no
  autocorrelation terms), so the realised tracking error is the sample standard deviation (ddof 1)
  of the fixed-weight active daily returns ``r_target − Σ w_i r_i`` over the month, ``x sqrt(252)``
  (the ``backtest_results.vol_hedged`` convention; a basket name without a return counts 0).
  Aggregated per month by :func:`~hedging_pipeline.risk.diagnostics.tracking_error_bias`.
  Monthly-horizon view: ``z = Σ_d h_d / (p sqrt(n / 252))`` per hedge, each target's bias over the
  months (USE4's test applied to the hedges).
* **random portfolios, month-end model, monthly outcomes**: USE4's test, each portfolio's bias
  statistic (std of ``z``) over the T months (:func:`~hedging_pipeline.risk.diagnostics.bias_statistics`,
  compounded month returns vs the forecast ``x sqrt(n / 252)``).
* **random portfolios, month-end model, daily outcomes**: per (portfolio, month) the std of the
  month's daily ``z = r_d / (σ / sqrt(252))``, band ``1 ± sqrt(2 / n_days)``.
* **random portfolios, daily-updated model, daily outcomes**: the model re-estimated at every close
  (same settings, regime adjustment included) and scored on the next day's return; each portfolio's
  bias over all days, calm days, crisis days, and per month.

Look-ahead: a forecast dated ``a`` uses factor and specific returns of dates ``<= a``, exposures and
caps of ``a`` and the hedge window ``<= a`` (``hedge_context`` refuses a later model); outcomes are
the dates ``> a``. :func:`check_no_look_ahead` recomputes a forecast from inputs cut at ``a``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hedging_pipeline.errors import HedgingError
from hedging_pipeline.risk.covariance import rolling_factor_covariance
from hedging_pipeline.risk.model import RiskModel
from hedging_pipeline.risk.specific import estimate_specific_risk
from hedging_pipeline.types import TRADING_DAYS_PER_YEAR

CRISIS = (pd.Timestamp("2020-02-01"), pd.Timestamp("2020-04-30"))
"""Test days of the COVID crash and its aftermath (fixed by the calendar before any result)."""

MIN_COVERAGE = 0.5
"""Share of the month's days a target needs returns on to be evaluated."""

N_BOOTSTRAP = 500


def regime(days: pd.Series | pd.DatetimeIndex) -> np.ndarray:
    """``"crisis"`` for days inside :data:`CRISIS`, else ``"calm"``."""
    d = pd.DatetimeIndex(days)
    return np.where((d >= CRISIS[0]) & (d <= CRISIS[1]), "crisis", "calm")


def band_ok(bias: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Whether each bias statistic is inside ``1 ± sqrt(2 / t)``."""
    return np.abs(np.asarray(bias) - 1.0) <= np.sqrt(2.0 / np.asarray(t, dtype=float))


def random_weights(universe: list[str], n: int = 100, size: int = 50, seed: int = 0) -> np.ndarray:
    """Long-only random portfolios ``(n, len(universe))``: ``size`` names, Dirichlet weights."""
    rng = np.random.default_rng(seed)
    w = np.zeros((n, len(universe)))
    for p in range(n):
        idx = rng.choice(len(universe), size=size, replace=False)
        w[p, idx] = rng.dirichlet(np.ones(size))
    return w


def _portfolio_var(model: RiskModel, w: np.ndarray) -> np.ndarray:
    wx = w @ model.exposures
    return (
        np.einsum("pk,kl,pl->p", wx, model.factor_covariance, wx) + (w**2) @ model.specific_variance
    )


def _held(weights: np.ndarray, universe: pd.Index, model: RiskModel) -> np.ndarray:
    """Portfolio weights on the model's tickers, re-normalised over the names it covers."""
    w = weights[:, universe.get_indexer(list(model.tickers))]
    held = w.sum(axis=1, keepdims=True)
    return np.divide(w, held, out=np.zeros_like(w), where=held > 0)


def daily_outcomes(
    models: list[RiskModel],
    wide: pd.DataFrame,
    weights: np.ndarray,
    universe: pd.Index,
    last: pd.Timestamp,
) -> pd.DataFrame:
    """Daily standardised portfolio returns after each model until the next one.

    Returns ``as_of, date, portfolio, z`` with ``z = r_p,d / sqrt(σ_p² / 252)``.
    """
    frames = []
    for k, m in enumerate(models):
        end = models[k + 1].as_of if k + 1 < len(models) else last
        block = wide[(wide.index > m.as_of) & (wide.index <= end)]
        if block.empty:
            continue
        w = _held(weights, universe, m)
        sd = np.sqrt(_portfolio_var(m, w) / TRADING_DAYS_PER_YEAR)
        r = block.reindex(columns=list(m.tickers)).fillna(0.0).to_numpy() @ w.T  # (days, ports)
        z = r / sd[None, :]
        frames.append(
            pd.DataFrame(
                {
                    "as_of": m.as_of,
                    "date": np.repeat(block.index.to_numpy(), len(sd)),
                    "portfolio": np.tile(np.arange(len(sd)), len(block)),
                    "z": z.reshape(-1),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def daily_bias_table(z: pd.DataFrame, key: str) -> pd.DataFrame:
    """Bias (std of z, ddof 1) per (portfolio, ``key``) with its T and band flag."""
    g = z.groupby(["portfolio", key])["z"]
    out = pd.DataFrame({"bias": g.std(ddof=1), "t": g.count()}).reset_index()
    out["in_band"] = band_ok(out["bias"], out["t"])
    return out


def build_models(
    as_of: pd.DatetimeIndex,
    exposures: pd.DataFrame,
    factor_returns: pd.DataFrame,
    specific_returns: pd.DataFrame,
    market_caps: pd.DataFrame,
    cov_kw: dict,
    spec_kw: dict,
) -> list[RiskModel]:
    """One :class:`RiskModel` per date of ``as_of`` with the given covariance / specific settings."""
    cov = rolling_factor_covariance(factor_returns, as_of, **cov_kw)
    spec = estimate_specific_risk(specific_returns, market_caps, as_of, **spec_kw)
    ex = exposures[exposures["date"].isin(as_of)]
    ex_by = dict(tuple(ex.groupby("date")))
    cov_by = dict(tuple(cov.groupby("date")))
    spec_by = dict(tuple(spec.groupby("date")))
    return [RiskModel.from_frames(d, ex_by[d], cov_by[d], spec_by[d]) for d in as_of]


@dataclass(frozen=True)
class HedgeInputs:
    """What ``hedge_context`` needs besides the model."""

    daily_returns: pd.DataFrame
    companies: pd.DataFrame
    market_caps: pd.DataFrame


def hedge_outcomes(
    models: list[RiskModel], inputs: HedgeInputs, wide: pd.DataFrame, last: pd.Timestamp
) -> pd.DataFrame:
    """``factor`` hedges of every evaluable target of every month, with realised tracking errors.

    Returns ``as_of, target, n_days, predicted_te, realised_te, realised_rms, month_active, kurtosis``
    (of the month's daily active returns about zero), ``solve_ms`` and the count of targets whose hedge could not be built in ``attrs["failed"]``.
    """
    from hedging_pipeline.hedging.methods import hedge_context, plan_hedge, solve_plan

    peers = pd.DataFrame(columns=["ticker", "peer", "rank", "similarity", "model"])
    rows, failed = [], 0
    dr = inputs.daily_returns
    for k, m in enumerate(models):
        end = models[k + 1].as_of if k + 1 < len(models) else last
        month = wide[(wide.index > m.as_of) & (wide.index <= end)]
        if month.empty:
            continue
        window = dr[(dr["date"] <= m.as_of) & (dr["date"] > m.as_of - pd.Timedelta(days=400))]
        caps = inputs.market_caps[inputs.market_caps["date"] == m.as_of]
        ctx = hedge_context(m.as_of, m, peers, window, inputs.companies, caps)
        observed = month.notna().mean()
        targets = [t for t in m.tickers if observed.get(t, 0.0) >= MIN_COVERAGE]
        filled = month.fillna(0.0)
        t0 = time.perf_counter()
        for target in targets:
            try:
                res = solve_plan(ctx, plan_hedge(ctx, target, "factor"))
            except HedgingError:
                failed += 1
                continue
            days = month[target].notna().to_numpy()
            active = (
                month[target].to_numpy()[days]
                - filled[list(res.tickers)].to_numpy()[days] @ res.weights
            )
            rows.append(
                (
                    m.as_of,
                    target,
                    int(days.sum()),
                    res.predicted_te,
                    float(active.std(ddof=1) * np.sqrt(TRADING_DAYS_PER_YEAR)),
                    float(np.sqrt(np.mean(active**2) * TRADING_DAYS_PER_YEAR)),
                    float(active.sum()),
                    float(np.mean(active**4) / np.mean(active**2) ** 2),
                    res.solve_ms,
                )
            )
        print(
            f"  hedges {m.as_of.date()}: {len(targets)} targets in {time.perf_counter() - t0:.0f} s",
            flush=True,
        )
    out = pd.DataFrame(
        rows,
        columns=[
            "as_of",
            "target",
            "n_days",
            "predicted_te",
            "realised_te",
            "realised_rms",
            "month_active",
            "kurtosis",
            "solve_ms",
        ],
    )
    out.attrs["failed"] = failed
    return out


def bootstrap_median(
    hedges: pd.DataFrame, stat: str = "bias", n_boot: int = N_BOOTSTRAP, seed: int = 0
):
    """5 %, 50 %, 95 % of the median over months of the monthly ``stat``, targets resampled per month."""
    rng = np.random.default_rng(seed)
    per_month = []
    for _, g in hedges.groupby("as_of"):
        z2 = ((g["realised_te"] / g["predicted_te"]) ** 2).to_numpy()
        r2 = (g["realised_te"] ** 2).to_numpy()
        p2 = (g["predicted_te"] ** 2).to_numpy()
        idx = rng.integers(0, len(g), size=(n_boot, len(g)))
        if stat == "bias":
            per_month.append(np.sqrt(z2[idx].mean(axis=1)))
        elif stat == "pooled":
            per_month.append(np.sqrt(r2[idx].sum(axis=1) / p2[idx].sum(axis=1)))
        else:
            per_month.append(np.median(np.sqrt(z2[idx]), axis=1))
    med = np.median(np.vstack(per_month), axis=0)
    return tuple(np.quantile(med, [0.05, 0.5, 0.95]))


def hedge_monthly_bias(hedges: pd.DataFrame) -> pd.DataFrame:
    """USE4's test on the hedges: each target's bias over its monthly outcomes (monthly horizon)."""
    z = hedges["month_active"] / (
        hedges["predicted_te"] * np.sqrt(hedges["n_days"] / TRADING_DAYS_PER_YEAR)
    )
    frame = hedges.assign(z=z, regime=regime(hedges["as_of"] + pd.Timedelta(days=5)))
    rows = []
    for label, sub in (("all", frame), ("calm", frame[frame["regime"] == "calm"])):
        g = sub.groupby("target")["z"]
        b = pd.DataFrame({"bias": g.std(ddof=1), "t": g.count()})
        b = b[b["t"] >= 12]
        rows.append(
            (
                label,
                len(b),
                int(b["t"].median()),
                b["bias"].median(),
                band_ok(b["bias"], b["t"]).mean(),
            )
        )
    return pd.DataFrame(
        rows, columns=["months", "targets", "median T", "median bias", "share in band"]
    )


def check_no_look_ahead(
    as_of: pd.Timestamp,
    exposures: pd.DataFrame,
    factor_returns: pd.DataFrame,
    specific_returns: pd.DataFrame,
    market_caps: pd.DataFrame,
    cov_kw: dict,
    spec_kw: dict,
) -> float:
    """Largest difference between a forecast and the same forecast from inputs cut at ``as_of``."""
    full = build_models(
        pd.DatetimeIndex([as_of]),
        exposures,
        factor_returns,
        specific_returns,
        market_caps,
        cov_kw,
        spec_kw,
    )[0]

    def cut(f: pd.DataFrame) -> pd.DataFrame:
        return f[f["date"] <= as_of]

    short = build_models(
        pd.DatetimeIndex([as_of]),
        cut(exposures),
        cut(factor_returns),
        cut(specific_returns),
        cut(market_caps),
        cov_kw,
        spec_kw,
    )[0]
    return float(
        max(
            np.abs(full.factor_covariance - short.factor_covariance).max(),
            np.abs(full.specific_variance - short.specific_variance).max(),
            np.abs(full.exposures - short.exposures).max(),
        )
    )
