"""Synthetic hedging inputs: random factor models and a month with planted structure."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from hedging_pipeline.hedging.problem import HedgeProblem, build_problem, risk_from_model
from hedging_pipeline.risk.model import RiskModel
from hedging_pipeline.types import STYLE_FACTORS, TRADING_DAYS_PER_YEAR


def random_model(
    n: int, k: int, seed: int, as_of: str = "2020-01-31", specific_scale: float = 1.0
) -> RiskModel:
    """A factor model with market, ``k - 1`` dense factors and specific vols of 15-40 %."""
    rng = np.random.default_rng(seed)
    x = np.column_stack([np.ones(n), rng.normal(size=(n, k - 1))])
    a = rng.normal(size=(k, k)) * 0.05
    f = a @ a.T + np.diag(np.full(k, 0.01))
    f[0, 0] += 0.02
    s = rng.uniform(0.15, 0.40, size=n) * specific_scale
    return RiskModel(
        as_of=pd.Timestamp(as_of),
        tickers=tuple(f"T{i:03d}" for i in range(n)),
        factors=("market",) + tuple(f"f{j}" for j in range(1, k)),
        exposures=x,
        factor_covariance=f,
        specific_variance=s**2,
    )


def random_problem(n: int, k: int, seed: int, specific_scale: float = 1.0) -> HedgeProblem:
    """Target ``T000`` hedged with the other ``n`` names of a random model."""
    model = random_model(n + 1, k, seed, specific_scale=specific_scale)
    risk = risk_from_model(model)
    return build_problem(risk, "T000", model.tickers[1:], min_candidates=4)


@dataclass(frozen=True)
class SyntheticMonth:
    """A universe with planted sectors, a model, simulated returns, peers, companies and caps."""

    as_of: pd.Timestamp
    model: RiskModel
    returns: pd.DataFrame  # long: date, ticker, ret (runs past as_of)
    peers: pd.DataFrame
    companies: pd.DataFrame
    market_caps: pd.DataFrame  # long: date, ticker, market_cap (runs past as_of)

    @property
    def frames(self) -> tuple:
        """The leading arguments of ``hedge_context`` and ``compute_hedges``, in their order."""
        return (self.as_of, self.model, self.peers, self.returns, self.companies, self.market_caps)


N_SECTORS = 4
PER_SECTOR = 12
N_DAYS = 320
DAYS_AFTER = 20
N_PEERS = 20
DEFAULT_AS_OF = "2020-02-24"


def synthetic_month(seed: int = 7, as_of: str | None = None) -> SyntheticMonth:
    """Market + 4 sector industries + the 7 styles, as ``RiskModel.from_frames`` lays them out.

    Business days with ``as_of`` (default 2020-02-24) followed by ``DAYS_AFTER`` more days.
    """
    rng = np.random.default_rng(seed)
    n = N_SECTORS * PER_SECTOR
    tickers = tuple(f"S{i // PER_SECTOR}N{i % PER_SECTOR:02d}" for i in range(n))
    sector = np.repeat(np.arange(N_SECTORS), PER_SECTOR)
    styles = rng.normal(size=(n, len(STYLE_FACTORS)))
    x = np.column_stack([np.ones(n), np.eye(N_SECTORS)[sector], styles])
    vols = np.array([0.16] + [0.10] * N_SECTORS + [0.05, 0.04, 0.03, 0.03, 0.02, 0.02, 0.02])
    f = np.diag(vols**2)
    spec = rng.uniform(0.12, 0.30, size=n) ** 2
    end = pd.Timestamp(as_of or DEFAULT_AS_OF)
    dates = pd.bdate_range(end=end, periods=N_DAYS - DAYS_AFTER).append(
        pd.bdate_range(end + pd.offsets.BDay(1), periods=DAYS_AFTER)
    )
    as_of = dates[N_DAYS - DAYS_AFTER - 1]
    fr = rng.normal(size=(N_DAYS, x.shape[1])) * (vols / np.sqrt(TRADING_DAYS_PER_YEAR))
    er = rng.normal(size=(N_DAYS, n)) * np.sqrt(spec / TRADING_DAYS_PER_YEAR)
    ret = fr @ x.T + er
    returns = pd.DataFrame(
        {
            "date": np.repeat(dates, n),
            "ticker": np.tile(tickers, N_DAYS),
            "ret": ret.ravel(),
        }
    )
    model = RiskModel(
        as_of=as_of,
        tickers=tickers,
        factors=("market",) + tuple(f"Sector {j}" for j in range(N_SECTORS)) + STYLE_FACTORS,
        exposures=x,
        factor_covariance=f,
        specific_variance=spec,
    )
    # planted peers: same sector first, ranked by style distance, then the rest
    rows = []
    for i, t in enumerate(tickers):
        dist = np.linalg.norm(styles - styles[i], axis=1) + 10.0 * (sector != sector[i])
        order = [j for j in np.argsort(dist, kind="stable") if j != i][:N_PEERS]
        for rank, j in enumerate(order, start=1):
            rows.append((t, tickers[j], rank, float(1.0 / (1.0 + dist[j])), "fake"))
    peers = pd.DataFrame(rows, columns=["ticker", "peer", "rank", "similarity", "model"])
    companies = pd.DataFrame(
        {
            "ticker": tickers,
            "name": [f"Company {t}" for t in tickers],
            "gics_sector": [f"Sector {s}" for s in sector],
            "gics_sub_industry": [f"Sub {s}.{i % 2}" for i, s in enumerate(sector)],
        }
    )
    caps = rng.lognormal(mean=24.0, sigma=1.0, size=n)
    market_caps = pd.DataFrame(
        {
            "date": np.repeat(dates, n),
            "ticker": np.tile(tickers, N_DAYS),
            "market_cap": np.tile(caps, N_DAYS) * np.repeat(np.linspace(0.9, 1.1, N_DAYS), n),
        }
    )
    return SyntheticMonth(as_of, model, returns, peers, companies, market_caps)


def warehouse_tables(month: SyntheticMonth) -> dict[str, pd.DataFrame]:
    """The month as CONTRACT warehouse tables (the risk model on ``as_of`` only)."""
    m = month.model
    industry = np.array(m.factors[1 : -len(STYLE_FACTORS)])[
        np.argmax(m.exposures[:, 1 : 1 + len(m.factors) - 1 - len(STYLE_FACTORS)], axis=1)
    ]
    exposures = pd.DataFrame(m.exposures[:, -len(STYLE_FACTORS) :], columns=list(STYLE_FACTORS))
    exposures.insert(0, "date", month.as_of)
    exposures.insert(1, "ticker", list(m.tickers))
    exposures.insert(2, "industry", industry)
    exposures.insert(3, "market_cap", 1e10)
    k = len(m.factors)
    cov = pd.DataFrame(
        {
            "date": month.as_of,
            "factor_1": np.repeat(m.factors, k),
            "factor_2": np.tile(m.factors, k),
            "cov": m.factor_covariance.ravel(),
        }
    )
    specific = pd.DataFrame(
        {"date": month.as_of, "ticker": list(m.tickers), "vol": np.sqrt(m.specific_variance)}
    )
    return {
        "style_exposures": exposures,
        "factor_covariance": cov,
        "specific_risk": specific,
        "daily_returns": month.returns,
        "market_caps": month.market_caps,
        "raw_companies": month.companies,
        "semantic_peers": month.peers,
    }
