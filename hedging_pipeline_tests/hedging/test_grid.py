"""The method grid: registry, shrunk sample covariance, blend, same-issuer rule."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from sklearn.covariance import ledoit_wolf_shrinkage

from hedging_pipeline.errors import InvalidValueError
from hedging_pipeline.hedging.candidates import issuer_ids, one_class_per_issuer
from hedging_pipeline.hedging.estimators import blend_risk, shrunk_sample_risk
from hedging_pipeline.hedging.methods import compute_hedges
from hedging_pipeline.hedging.problem import risk_from_model
from hedging_pipeline.hedging.registry import (
    ALIASES,
    CANDIDATE_RULES,
    HEDGE_STAGE_METHODS,
    REGISTRY,
    RISK_RULES,
    method_table,
    resolve_method,
)
from hedging_pipeline.types import METHODS

from .synthetic import SyntheticMonth

RENAME = {"S0N00": "GOOGL", "S0N01": "GOOG", "S0N02": "NWSA", "S0N03": "NWS"}
CIK = {"GOOGL": "0001652044", "GOOG": "0001652044", "NWSA": "0001564708", "NWS": "0001564708"}


def test_registry_is_the_grid_plus_fixed_rules():
    cells = {(s.candidates, s.risk) for s in REGISTRY.values() if s.optimised}
    assert cells == {(c, r) for c in CANDIDATE_RULES for r in RISK_RULES}
    assert set(METHODS) <= set(REGISTRY)
    assert resolve_method("semantic_sample").name == "nlp"
    assert resolve_method("universe_factor").name == "factor"
    assert resolve_method("correlation_factor") is REGISTRY["correlation"]
    assert (REGISTRY["index"].candidates, REGISTRY["index"].risk) == ("index", "fixed")
    assert len(ALIASES) == 12 and len(method_table()) == len(REGISTRY)
    assert "index" not in HEDGE_STAGE_METHODS and "market" in HEDGE_STAGE_METHODS
    with pytest.raises(InvalidValueError, match="unknown hedge method 'nope'"):
        resolve_method("nope")


def _wide(month: SyntheticMonth) -> pd.DataFrame:
    wide = month.returns.pivot(index="date", columns="ticker", values="ret")
    return wide.loc[: month.as_of].iloc[-252:]


def test_shrunk_sample_is_ledoit_wolf_on_single_index_residuals(month):
    wide = _wide(month)
    risk = shrunk_sample_risk(wide, month.as_of, 126)
    values = wide.to_numpy()
    z = (values - values.mean(0)) / values.std(0)  # standardised, (T, n)
    market = z.mean(1) / np.sqrt(len(z))  # cross-sectional mean of the unit columns
    u = z / np.sqrt(len(z))
    beta = market @ u / (market @ market)
    resid = u - np.outer(market, beta)
    standard = resid / np.sqrt((resid**2).sum(0)) * np.sqrt(len(z))
    delta = ledoit_wolf_shrinkage(standard, assume_centered=True)
    ee = resid.T @ resid
    corr = (
        (market @ market) * np.outer(beta, beta) + (1 - delta) * ee + delta * np.diag(np.diag(ee))
    )
    vol = values.std(0, ddof=1) * np.sqrt(252)
    expected = corr * np.outer(vol, vol)
    np.testing.assert_allclose(risk.covariance(list(wide.columns)), expected, rtol=1e-9)
    np.testing.assert_allclose(np.diag(expected), vol**2, rtol=1e-9)  # own variances kept
    assert 0.0 < delta < 1.0
    # a name with gaps is kept, with (about) its own variance over the days it traded
    gappy = wide.copy()
    gappy.iloc[:50, 0] = np.nan
    risk_gap = shrunk_sample_risk(gappy, month.as_of, 126)
    own = gappy.iloc[:, 0].dropna()
    assert risk_gap.covariance([gappy.columns[0]])[0, 0] == pytest.approx(own.var() * 252, rel=0.1)


def test_blend_is_the_equal_mix(month):
    factor = risk_from_model(month.model)
    sample = shrunk_sample_risk(_wide(month), month.as_of, 126)
    names = list(month.model.tickers[:6])
    mixed = blend_risk(factor, sample, 0.5).covariance(names)
    expected = 0.5 * factor.covariance(names) + 0.5 * sample.covariance(names)
    np.testing.assert_allclose(mixed, expected, rtol=1e-12)


def test_one_class_per_issuer_keeps_the_largest_class():
    issuers = issuer_ids(
        pd.DataFrame({"ticker": [*CIK, "MSFT", "META"], "cik": [*CIK.values(), None, "1326801"]})
    )
    caps = pd.Series({"GOOG": 7.2e11, "GOOGL": 7.3e11, "NWS": 9.5e9, "NWSA": 9.4e9})
    names = ["GOOG", "MSFT", "NWSA", "NWS", "META"]
    assert one_class_per_issuer(names, "GOOGL", issuers, caps) == ["MSFT", "NWS", "META"]
    assert one_class_per_issuer(names, "MSFT", issuers, caps) == ["GOOG", "NWS", "META"]
    assert one_class_per_issuer(["GOOG", "GOOGL"], "AAPL", issuers, caps) == ["GOOGL"]


def _share_classes(month: SyntheticMonth) -> SyntheticMonth:
    """The month with GOOG/GOOGL and NWS/NWSA: same issuer, nearly the same returns."""
    rn = lambda frame, cols: frame.replace({c: RENAME for c in cols})  # noqa: E731
    returns = rn(month.returns, ["ticker"])
    wide = returns.pivot(index="date", columns="ticker", values="ret")
    noise = np.random.default_rng(3).normal(scale=1e-3, size=(len(wide), 2))
    wide["GOOG"] = wide["GOOGL"] + noise[:, 0]
    wide["NWS"] = wide["NWSA"] + noise[:, 1]
    returns = wide.stack().rename("ret").reset_index()
    companies = rn(month.companies, ["ticker"]).assign(cik=lambda f: f["ticker"].map(CIK))
    model = replace(month.model, tickers=tuple(RENAME.get(t, t) for t in month.model.tickers))
    return SyntheticMonth(
        month.as_of,
        model,
        returns,
        rn(month.peers, ["ticker", "peer"]),
        companies,
        rn(month.market_caps, ["ticker"]),
    )


def test_no_basket_holds_the_targets_issuer_or_two_classes(month):
    m = _share_classes(month)
    methods = ("factor", "correlation", "nlp", "correlation_sample", "universe_blend")
    weights, diag = compute_hedges(
        m.as_of, m.model, m.peers, m.returns, m.companies, m.market_caps, methods=methods
    )
    assert (diag["status"] != "infeasible").all()
    issuer = weights["hedge_ticker"].map(CIK)
    own = weights["ticker"].map(CIK)
    assert not (issuer.notna() & (issuer == own)).any()
    per_basket = weights.assign(issuer=issuer).dropna(subset=["issuer"])
    assert per_basket.groupby(["ticker", "method", "issuer"]).size().max() == 1
    # without the rule the correlation hedge of GOOGL would short GOOG (same returns, 25 % cap)
    corr = weights[(weights["ticker"] == "NWS") & (weights["method"] == "correlation_sample")]
    assert "NWSA" not in set(corr["hedge_ticker"]) and len(corr) >= 4


def test_screened_universe_is_the_union_of_the_generators(month):
    from hedging_pipeline.hedging.methods import _screened_universe, hedge_context, plan_hedge

    ctx = hedge_context(
        month.as_of, month.model, month.peers, month.returns, month.companies, month.market_caps
    )
    target = ctx.model_risk.tickers[0]
    screened = _screened_universe(ctx, target, ctx.sample_risk.positions)
    corr = plan_hedge(ctx, target, "correlation_sample").candidates
    sem = plan_hedge(ctx, target, "nlp").candidates
    plan = plan_hedge(ctx, target, "universe_sample")
    assert set(corr) | set(sem) <= set(plan.candidates) <= set(screened)
    assert len(set(screened)) == len(screened) <= 3 * ctx.settings.n_correlation_candidates
    # brute-force factor correlations: the screen holds the factor model's top names
    cov = ctx.model_risk.covariance()
    vol = np.sqrt(np.diag(cov))
    t = ctx.model_risk.positions[target]
    rho = pd.Series(cov[t] / (vol * vol[t]), ctx.model_risk.tickers).drop(target)
    top = rho.sort_values(ascending=False).index[: ctx.settings.n_correlation_candidates]
    assert set(top) <= set(screened)
    assert "universe_sample" in HEDGE_STAGE_METHODS and "universe_blend" in HEDGE_STAGE_METHODS


def _paired_panel(days: int, rho: float, reshuffle_every: int | None, seed: int) -> pd.DataFrame:
    """40 names in 20 pairs of residual correlation ``rho`` (plus a market factor); the pairs are
    drawn afresh every ``reshuffle_every`` days (None: fixed pairs)."""
    rng = np.random.default_rng(seed)
    n = 40
    market = rng.normal(scale=0.01, size=days)
    out = np.empty((days, n))
    blocks = range(0, days, reshuffle_every or days)
    for start in blocks:
        rows = slice(start, min(start + (reshuffle_every or days), days))
        m = rows.stop - rows.start
        order = rng.permutation(n)
        common = rng.normal(size=(m, n // 2))
        own = rng.normal(size=(m, n))
        resid = np.sqrt(rho) * np.repeat(common, 2, axis=1) + np.sqrt(1 - rho) * own
        out[rows][:, order] = 0.0
        block = np.empty((m, n))
        block[:, order] = resid
        out[rows] = market[rows, None] + 0.015 * block
    dates = pd.bdate_range("2018-01-01", periods=days)
    return pd.DataFrame(out, index=dates, columns=[f"N{i:02d}" for i in range(n)])


def test_holding_persistence_recovers_the_planted_slope():
    from hedging_pipeline.hedging.estimators import holding_persistence

    rho, window = 0.6, 252
    fixed = _paired_panel(504, rho, None, 0)
    # signal: 40 ordered pairs at rho; noise: every off-diagonal estimate has variance ~1/T
    n = 40
    signal = n * rho**2
    noise = n * (n - 1) / window
    b = holding_persistence(fixed, window, 21, 126, 12)
    assert b == pytest.approx(signal / (signal + noise), abs=0.08)
    # pairs redrawn every month: little carries into the held month (only pairs that happen to
    # recur; each of the window's 12 pairings holds a given pair with chance 1/39)
    drifting = _paired_panel(504, rho, 21, 1)
    assert abs(holding_persistence(drifting, window, 21, 126, 12)) < 0.2 < b - 0.4


def test_calibrated_intensity_is_the_larger_of_ledoit_wolf_and_one_minus_b():
    from hedging_pipeline.hedging.estimators import (
        holding_persistence,
        sample_intensity,
        shrunk_sample_risk,
    )

    panel = _paired_panel(504, 0.6, 21, 2)
    as_of = panel.index[-1]
    lw = sample_intensity(shrunk_sample_risk(panel.iloc[-252:], as_of, 126))
    b = holding_persistence(panel, 252, 21, 126, 12)
    calibrated = shrunk_sample_risk(panel.iloc[-252:], as_of, 126, panel)
    assert sample_intensity(calibrated) == pytest.approx(max(lw, 1 - b), abs=1e-12)
    assert sample_intensity(calibrated) > lw + 0.1  # drifting pairs: shrink harder than LW
    # each name keeps its own sample variance whatever the intensity
    names = list(panel.columns[:3])
    np.testing.assert_allclose(
        np.diag(calibrated.covariance(names)),
        panel.iloc[-252:][names].var().to_numpy() * 252,
        rtol=1e-9,
    )
