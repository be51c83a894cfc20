from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from hedging_pipeline.errors import (
    InsufficientHistoryError,
    InvalidValueError,
    MissingColumnError,
    UnknownTickerError,
)
from hedging_pipeline.hedging.candidates import (
    capped_weights,
    choose_peer_model,
    correlation_candidates,
    correlation_ranking,
    peer_lists,
)
from hedging_pipeline.hedging.methods import (
    DIAGNOSTIC_COLUMNS,
    WEIGHT_COLUMNS,
    HedgeSettings,
    compute_hedges,
    hedge_context,
    hedge_one,
    risk_kind,
)
from hedging_pipeline.hedging.registry import HEDGE_STAGE_METHODS as METHODS
from hedging_pipeline.hedging.registry import REGISTRY
from hedging_pipeline.nlp.peers import DEFAULT_N_PEERS

TOL = 0.005


@pytest.fixture(scope="module")
def hedges(month):
    return compute_hedges(
        month.as_of, month.model, month.peers, month.returns, month.companies, month.market_caps
    )


def _basket(weights, ticker, method):
    rows = weights[(weights["ticker"] == ticker) & (weights["method"] == method)]
    return dict(zip(rows["hedge_ticker"], rows["weight"], strict=True))


def test_frames_follow_the_contract(hedges, month):
    weights, diag = hedges
    assert tuple(weights.columns) == WEIGHT_COLUMNS
    assert tuple(diag.columns) == DIAGNOSTIC_COLUMNS
    assert (weights["as_of"] == month.as_of).all() and (diag["as_of"] == month.as_of).all()
    assert len(diag) == len(month.model.tickers) * len(METHODS)
    assert set(diag["method"]) == set(METHODS)
    assert (diag["status"] != "infeasible").all()
    assert not diag.duplicated(["ticker", "method"]).any()


def test_every_stored_hedge_meets_the_constraints(hedges):
    weights, diag = hedges
    grouped = weights.groupby(["ticker", "method"])
    np.testing.assert_allclose(grouped["weight"].sum(), 1.0, atol=1e-9)
    assert grouped.size().max() <= 10
    assert weights["weight"].max() <= 0.25 + 1e-12
    assert (weights["weight"] > 0).all()
    assert (weights["ticker"] != weights["hedge_ticker"]).all()
    assert not weights.duplicated(["ticker", "method", "hedge_ticker"]).any()
    optimised = diag[diag["status"] != "fixed_weights"]
    assert (optimised["status"] == "certified").all()
    assert optimised["gap"].max() <= TOL
    assert (diag["lower_bound"] <= diag["objective"] * (1 + 1e-12)).all()
    np.testing.assert_allclose(diag["predicted_te"] ** 2, diag["objective"], rtol=1e-12)
    counts = grouped.size().rename("n").reset_index()
    merged = diag.merge(counts, on=["ticker", "method"])
    assert (merged["n"] == merged["n_names"]).all()


def test_factor_is_never_beaten_by_a_subset_of_its_candidates(hedges):
    # hybrid, gics, correlation and market use the same model risk on fewer names
    _, diag = hedges
    wide = diag.pivot(index="ticker", columns="method", values="objective")
    for method in ("hybrid", "gics", "correlation", "market"):
        assert (wide["factor"] * (1 - TOL) <= wide[method] * (1 + 1e-12)).all(), method
    assert wide["factor"].median() < wide["market"].median()


def test_candidates_follow_each_method(hedges, month):
    weights, _ = hedges
    peers = peer_lists(month.peers)
    sector = dict(zip(month.companies["ticker"], month.companies["gics_sector"], strict=True))
    caps = month.market_caps[month.market_caps["date"] == month.as_of].set_index("ticker")
    for target in month.model.tickers[::5]:
        top10 = peers[target][:10]
        equal = _basket(weights, target, "nlp_equal")
        assert set(equal) == set(top10)
        np.testing.assert_allclose(list(equal.values()), 0.1)
        assert set(_basket(weights, target, "hybrid")) <= set(peers[target])
        assert set(_basket(weights, target, "nlp")) <= set(peers[target])
        assert {sector[t] for t in _basket(weights, target, "gics")} == {sector[target]}
        market = _basket(weights, target, "market")
        largest = caps["market_cap"].drop(target).nlargest(10)
        assert set(market) == set(largest.index)
        expected = capped_weights(largest.to_numpy(), 0.25)
        np.testing.assert_allclose([market[t] for t in largest.index], expected, rtol=1e-12)


def test_no_look_ahead(hedges, month):
    weights, diag = hedges
    rng = np.random.default_rng(3)
    returns = month.returns.copy()
    later = returns["date"] > month.as_of
    returns.loc[later, "ret"] = rng.normal(0, 0.05, size=int(later.sum()))
    caps = month.market_caps.copy()
    caps.loc[caps["date"] > month.as_of, "market_cap"] *= rng.uniform(
        0.1, 10, (caps["date"] > month.as_of).sum()
    )
    w2, d2 = compute_hedges(month.as_of, month.model, month.peers, returns, month.companies, caps)
    pd.testing.assert_frame_equal(weights, w2)
    cols = [c for c in DIAGNOSTIC_COLUMNS if c != "solve_ms"]
    pd.testing.assert_frame_equal(diag[cols], d2[cols])
    # ...while a change on or before as_of does move the sample-risk hedges
    returns.loc[returns["date"] == month.as_of, "ret"] += 0.05
    _, d3 = compute_hedges(month.as_of, month.model, month.peers, returns, month.companies, caps)
    nlp = d3["method"] == "nlp"
    assert (d3.loc[nlp, "fingerprint"] != diag.loc[nlp, "fingerprint"]).all()
    assert (
        d3.loc[d3["method"] == "factor", "fingerprint"]
        == diag.loc[diag["method"] == "factor", "fingerprint"]
    ).all()


def test_unchanged_fingerprints_are_reused_and_changed_inputs_resolved(hedges, month):
    weights, diag = hedges
    args = month.frames
    w2, d2 = compute_hedges(*args, previous=(weights, diag))
    assert d2.attrs["reused"] == len(diag)
    pd.testing.assert_frame_equal(weights, w2)
    pd.testing.assert_frame_equal(diag, d2)
    # new peers for one ticker: only its peer-based hedges are re-solved
    target = month.model.tickers[0]
    peers = month.peers.copy()
    mine = peers["ticker"] == target
    peers.loc[mine, "peer"] = peers.loc[mine, "peer"].to_numpy()[::-1]
    w3, d3 = compute_hedges(
        month.as_of,
        month.model,
        peers,
        month.returns,
        month.companies,
        month.market_caps,
        previous=(weights, diag),
    )
    changed = d3["fingerprint"] != diag["fingerprint"]
    assert set(d3.loc[changed, "method"]) == {"nlp", "nlp_equal", "hybrid", "semantic_blend"}
    assert set(d3.loc[changed, "ticker"]) == {target}
    assert d3.attrs["reused"] == len(diag) - 4
    assert _basket(w3, target, "nlp_equal").keys() == set(peers.loc[mine, "peer"][:10])


def test_targets_without_text_fall_back_to_correlation_peers(month):
    settings = HedgeSettings()
    peers = month.peers[month.peers["ticker"] != "S0N00"]
    weights, diag = compute_hedges(
        month.as_of,
        month.model,
        peers,
        month.returns,
        month.companies,
        month.market_caps,
        methods=("factor", "nlp", "hybrid"),
        targets=["S0N00", "ZZZ"],
        settings=settings,
    )
    by_key = diag.set_index(["ticker", "method"])
    assert (by_key.loc["S0N00", "status"] == "certified").all()
    assert by_key.loc[("S0N00", "factor"), "fallback"] == ""
    assert by_key.loc[("S0N00", "nlp"), "fallback"] == "correlation"
    assert by_key.loc[("S0N00", "hybrid"), "fallback"] == "correlation"
    wide = month.returns.pivot(index="date", columns="ticker", values="ret").loc[: month.as_of]
    tickers, corr = correlation_ranking(wide.iloc[-settings.sample_window_days :])
    top = correlation_candidates(tickers, corr, "S0N00", tickers, DEFAULT_N_PEERS)

    assert set(_basket(weights, "S0N00", "hybrid")) <= set(top)
    assert (
        "ticker 'ZZZ' is not in the model risk as of 2020-02-24"
        in by_key.loc[("ZZZ", "factor"), "message"]
    )
    assert set(weights["ticker"]) == {"S0N00"}
    assert diag.loc[diag["status"] == "infeasible", "predicted_te"].isna().all()


def test_errors_name_ticker_and_date(month):
    args = month.frames
    ctx = hedge_context(*args)
    with pytest.raises(
        UnknownTickerError, match="ticker 'ZZZ' is not in the model risk as of 2020-02-24"
    ):
        hedge_one(ctx, "ZZZ", "factor")
    with pytest.raises(InvalidValueError, match="unknown hedge method 'pca'"):
        hedge_one(ctx, "S0N00", "pca")
    early = replace(month.model, as_of=month.as_of + pd.Timedelta(days=1))
    with pytest.raises(
        InvalidValueError, match="risk model dated 2020-02-25 .* 2020-02-24 \\(look-ahead\\)"
    ):
        hedge_context(month.as_of, early, *args[2:])
    short = month.returns[month.returns["date"] > month.as_of - pd.Timedelta(days=60)]
    ctx_short = hedge_context(
        month.as_of, month.model, month.peers, short, month.companies, month.market_caps
    )
    with pytest.raises(
        InsufficientHistoryError, match="ticker 'S0N00', nlp: returns window as of 2020-02-24 has"
    ):
        hedge_one(ctx_short, "S0N00", "nlp")
    two = pd.concat([month.peers, month.peers.assign(model="other")])
    with pytest.raises(InvalidValueError, match="2 models present"):
        hedge_context(month.as_of, month.model, two, *args[3:])
    with pytest.raises(MissingColumnError, match=r"daily_returns: missing column\(s\) ret"):
        hedge_context(
            month.as_of, month.model, month.peers, month.returns.drop(columns="ret"), *args[4:]
        )
    with pytest.raises(MissingColumnError, match=r"semantic_peers: missing column\(s\) rank"):
        hedge_context(month.as_of, month.model, month.peers.drop(columns="rank"), *args[3:])


def test_a_context_without_sample_risk_hedges_factor_methods_the_same(month):
    args = month.frames
    full, lean = hedge_context(*args), hedge_context(*args, sample_risk=False)
    assert full.sample_risk is not None and full.blend_risk is not None
    assert lean.sample_risk is None and lean.blend_risk is None
    kinds = {name: risk_kind(spec) for name, spec in REGISTRY.items()}
    assert kinds["factor"] == kinds["hybrid"] == kinds["gics"] == kinds["market"] == "factor"
    assert kinds["universe_sample"] == kinds["nlp"] == kinds["nlp_equal"] == "sample"
    assert kinds["gics_blend"] == "blend"
    for method in [m for m in METHODS if kinds[m] == "factor"]:
        _, a = hedge_one(full, "S2N03", method)
        _, b = hedge_one(lean, "S2N03", method)
        assert a.tickers == b.tickers and a.predicted_te == b.predicted_te, method
        np.testing.assert_array_equal(a.weights, b.weights)
    for method in [m for m in METHODS if kinds[m] != "factor"]:
        with pytest.raises(
            InsufficientHistoryError, match=f"'S2N03', {method}: sample risk not prepared"
        ):
            hedge_one(lean, "S2N03", method)


def test_hedge_one_matches_the_batch(hedges, month):
    weights, diag = hedges
    ctx = hedge_context(
        month.as_of, month.model, month.peers, month.returns, month.companies, month.market_caps
    )
    plan, result = hedge_one(ctx, "S2N03", "hybrid")
    row = diag[(diag["ticker"] == "S2N03") & (diag["method"] == "hybrid")].iloc[0]
    assert plan.fingerprint == row["fingerprint"]
    assert result.objective == pytest.approx(row["objective"], rel=1e-12)
    assert dict(zip(result.tickers, result.weights, strict=True)) == pytest.approx(
        _basket(weights, "S2N03", "hybrid")
    )


# -------------------------------------------------------------------------------------- candidates


def test_capped_weights_water_fill():
    w = capped_weights(np.array([100.0, 50, 10, 10, 10, 10, 5, 5]), 0.25)
    assert w.sum() == pytest.approx(1.0)
    assert w[:2] == pytest.approx([0.25, 0.25])
    np.testing.assert_allclose(w[2:] / w[2:].sum(), np.array([10, 10, 10, 10, 5, 5]) / 50)
    np.testing.assert_allclose(capped_weights(np.ones(4), 0.25), 0.25)
    with pytest.raises(
        InvalidValueError, match="3 positive values cannot sum to 1 under a 0.25 cap"
    ):
        capped_weights(np.ones(3), 0.25)


def test_correlation_candidates_rank_by_correlation():
    rng = np.random.default_rng(0)
    base = rng.normal(size=300)
    wide = pd.DataFrame(
        {
            "T": base,
            "A": base + rng.normal(size=300) * 0.2,
            "B": base + rng.normal(size=300) * 1.0,
            "C": rng.normal(size=300),
            "D": base + rng.normal(size=300) * 0.5,
        }
    )
    wide.loc[5, "C"] = np.nan
    tickers, corr = correlation_ranking(wide)
    assert tickers == ("T", "A", "B", "D")
    np.testing.assert_allclose(corr, wide[list(tickers)].corr().to_numpy(), atol=1e-12)
    assert correlation_candidates(tickers, corr, "T", {"A", "B", "D", "T"}, 2) == ["A", "D"]
    assert correlation_candidates(tickers, corr, "C", {"A"}, 2) == []


def test_peer_model_choice(month):
    two = pd.concat([month.peers, month.peers.assign(model="other")])
    assert choose_peer_model(two, "other") == "other"
    assert choose_peer_model(month.peers, "configured-but-absent") == "fake"
    assert choose_peer_model(month.peers.iloc[:0], "x") is None
    with pytest.raises(InvalidValueError, match=r"peers of 2 models \(\['fake', 'other'\]\)"):
        choose_peer_model(two, "absent")
    # with the model named, the other model's peers are ignored
    shuffled = month.peers.assign(model="other", peer=month.peers["peer"].to_numpy()[::-1])
    both = pd.concat([month.peers, shuffled])
    lists = peer_lists(both, "fake")
    assert lists == peer_lists(month.peers)
