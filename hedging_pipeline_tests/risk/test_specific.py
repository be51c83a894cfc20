from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.integrate import quad
from scipy.stats import norm

from hedging_pipeline.errors import (
    DuplicateRowsError,
    InsufficientHistoryError,
    InvalidValueError,
    MissingColumnError,
)
from hedging_pipeline.risk.specific import (
    estimate_specific_risk,
    huber_consistency,
    shrink_to_size_groups,
    size_groups,
)


@pytest.fixture(scope="module")
def planted():
    rng = np.random.default_rng(0)
    n, t = 50, 600
    dates = pd.bdate_range("2012-01-02", periods=t)
    tickers = [f"T{i:02d}" for i in range(n)]
    vol = rng.uniform(0.005, 0.03, n)
    e = rng.standard_normal((t, n)) * vol
    spec = pd.DataFrame(
        {"date": np.repeat(dates, n), "ticker": np.tile(tickers, t), "ret": e.reshape(-1)}
    )
    cap = np.exp(rng.normal(23, 1, n))
    caps = pd.DataFrame(
        {"date": np.repeat(dates, n), "ticker": np.tile(tickers, t), "market_cap": np.tile(cap, t)}
    )
    return spec, caps, vol, dates, cap


def test_recovers_planted_specific_volatility_without_shrinkage(planted):
    spec, caps, vol, dates, _ = planted
    out = estimate_specific_risk(spec, caps, [dates[-1]], shrinkage=0.0)
    assert list(out.columns) == ["date", "ticker", "vol"]
    est = out["vol"].to_numpy() / np.sqrt(252)
    np.testing.assert_allclose(est, vol, rtol=0.1)
    e = spec.pivot(index="date", columns="ticker", values="ret").to_numpy()[-504:]
    np.testing.assert_allclose(out["vol"], np.sqrt((e**2).mean(axis=0) * 252), rtol=1e-12)


def test_shrinkage_formula_by_hand():
    sigma = np.array([0.01, 0.02, 0.04, 0.03, 0.05, 0.08])
    cap = np.array([1.0, 2.0, 3.0, 10.0, 20.0, 30.0])
    out = shrink_to_size_groups(sigma, cap, shrinkage=0.1, n_groups=2)
    assert list(size_groups(cap, 2)) == [0, 0, 0, 1, 1, 1]
    for members in ([0, 1, 2], [3, 4, 5]):
        s, w = sigma[members], cap[members]
        prior = (w * s).sum() / w.sum()
        spread = np.sqrt(((s - prior) ** 2).mean())
        v = 0.1 * np.abs(s - prior) / (spread + 0.1 * np.abs(s - prior))
        np.testing.assert_allclose(out[members], v * prior + (1 - v) * s, rtol=1e-14)
        # Shrinkage pulls every estimate toward its group's mean, never past it.
        lo, hi = np.minimum(s, prior), np.maximum(s, prior)
        assert ((out[members] >= lo) & (out[members] <= hi)).all()
        assert (out[members] != s).any()


def test_stock_with_short_history_gets_its_size_group_mean(planted):
    spec, caps, _, dates, cap = planted
    young = spec[~((spec["ticker"] == "T07") & (spec["date"] < dates[-40]))]
    out = estimate_specific_risk(young, caps, [dates[-1]]).set_index("ticker")["vol"]
    full = estimate_specific_risk(spec, caps, [dates[-1]]).set_index("ticker")["vol"]
    group = size_groups(cap, 10)
    peers = [f"T{i:02d}" for i in np.flatnonzero(group == group[7]) if i != 7]
    base = estimate_specific_risk(
        spec[spec["ticker"] != "T07"], caps[caps["ticker"] != "T07"], [dates[-1]], shrinkage=0.0
    )
    # With T07 unestimated its value is the cap-weighted mean of its group's raw estimates.
    raw = estimate_specific_risk(spec, caps, [dates[-1]], shrinkage=0.0).set_index("ticker")["vol"]
    w = pd.Series(cap, index=[f"T{i:02d}" for i in range(50)])
    expected = (raw[peers] * w[peers]).sum() / w[peers].sum()
    assert out["T07"] == pytest.approx(expected, rel=1e-12)
    assert out["T07"] != pytest.approx(full["T07"], rel=1e-6)
    assert len(base) == 49


def test_ewma_weights_recent_days_more(planted):
    spec, caps, _, dates, _ = planted
    loud = spec.copy()
    late = loud["date"] > dates[-20]
    loud.loc[late, "ret"] *= 5.0
    roll = estimate_specific_risk(loud, caps, [dates[-1]], shrinkage=0.0)["vol"]
    ewma = estimate_specific_risk(
        loud, caps, [dates[-1]], method="ewma", half_life_days=10, shrinkage=0.0
    )
    assert (ewma["vol"].to_numpy() > 1.5 * roll.to_numpy()).all()


def test_no_look_ahead_and_annualised(planted):
    spec, caps, _, dates, _ = planted
    moved = spec.copy()
    moved.loc[moved["date"] > dates[550], "ret"] = 1.0
    a = estimate_specific_risk(spec, caps, [dates[550]], newey_west_lags=2)
    b = estimate_specific_risk(moved, caps, [dates[550]], newey_west_lags=2)
    pd.testing.assert_frame_equal(a, b)
    assert (a["vol"] > 0.05).all() and (a["vol"] < 0.8).all()  # annual units


def test_errors(planted):
    spec, caps, _, dates, _ = planted
    with pytest.raises(InsufficientHistoryError, match=f"100 dates up to {dates[99].date()}"):
        estimate_specific_risk(spec, caps, [dates[99]])
    kept = estimate_specific_risk(spec, caps, [dates[99], dates[-1]], skip_insufficient=True)
    assert list(kept["date"].unique()) == [dates[-1]]
    with pytest.raises(InsufficientHistoryError, match="no market caps within 10 days"):
        estimate_specific_risk(spec, caps[caps["date"] < dates[500]], [dates[-1]])
    with pytest.raises(InvalidValueError, match="method must be 'rolling' or 'ewma'"):
        estimate_specific_risk(spec, caps, [dates[-1]], method="garch")
    with pytest.raises(MissingColumnError, match="specific_returns: missing column"):
        estimate_specific_risk(spec.drop(columns="ret"), caps, [dates[-1]])
    with pytest.raises(DuplicateRowsError, match="market_caps: .*ticker T00"):
        estimate_specific_risk(spec, pd.concat([caps.iloc[:1], caps]), [dates[-1]])
    with pytest.raises(
        InvalidValueError, match="no stock has 10000 specific returns in the window ending"
    ):
        estimate_specific_risk(spec, caps, [dates[-1]], min_observations=10_000)


def test_huber_scale_is_consistent_and_ignores_an_earnings_jump(planted):
    spec, caps, vol, dates, _ = planted
    plain = estimate_specific_risk(spec, caps, [dates[-1]], shrinkage=0.0)["vol"].to_numpy()
    huber = estimate_specific_risk(spec, caps, [dates[-1]], shrinkage=0.0, scale="huber")
    # Normal returns: both estimate the planted vol (consistency factor β(1.5) = 0.7785).
    brute = quad(lambda z: min(z * z, 2.25) * norm.pdf(z), -12, 12, points=[-1.5, 1.5])[0]
    assert huber_consistency(1.5) == pytest.approx(brute, rel=1e-9)
    np.testing.assert_allclose(huber["vol"].to_numpy() / np.sqrt(252), vol, rtol=0.12)
    ratio = huber["vol"].to_numpy() / plain
    assert abs(ratio.mean() - 1) < 0.01 and np.abs(ratio - 1).max() < 0.1
    # One 20-sigma "earnings day" 10 days ago: the second moment jumps, Huber barely moves.
    jump = spec.copy()
    hit = (jump["ticker"] == "T03") & (jump["date"] == dates[-10])
    jump.loc[hit, "ret"] = 20 * vol[3]
    kw = {"shrinkage": 0.0, "method": "ewma"}
    before = estimate_specific_risk(spec, caps, [dates[-1]], **kw).set_index("ticker")["vol"]
    after = estimate_specific_risk(jump, caps, [dates[-1]], **kw).set_index("ticker")["vol"]
    h_before = estimate_specific_risk(spec, caps, [dates[-1]], scale="huber", **kw)
    h_after = estimate_specific_risk(jump, caps, [dates[-1]], scale="huber", **kw)
    h_b, h_a = (f.set_index("ticker")["vol"]["T03"] for f in (h_before, h_after))
    assert after["T03"] / before["T03"] > 1.5
    assert h_a / h_b < 1.05
    assert h_a / np.sqrt(252) == pytest.approx(vol[3], rel=0.15)


def test_shrinkage_moves_noisy_estimates_toward_planted_vols():
    rng = np.random.default_rng(3)
    n, t = 200, 600
    dates = pd.bdate_range("2012-01-02", periods=t)
    tickers = [f"T{i:03d}" for i in range(n)]
    cap = np.exp(rng.normal(23, 1.5, n))
    # True vols depend on size (small caps riskier), with dispersion inside each size decile.
    vol = 0.03 * np.exp(-0.3 * (np.log(cap) - 23)) * rng.lognormal(0, 0.15, n)
    e = rng.standard_t(4, (t, n)) / np.sqrt(2) * vol
    spec = pd.DataFrame(
        {"date": np.repeat(dates, n), "ticker": np.tile(tickers, t), "ret": e.reshape(-1)}
    )
    caps = pd.DataFrame({"date": dates[-1], "ticker": tickers, "market_cap": cap})
    kw = {"method": "ewma", "half_life_days": 21}  # noisy estimates: few effective days
    raw = estimate_specific_risk(spec, caps, [dates[-1]], shrinkage=0.0, **kw)["vol"]
    shrunk = estimate_specific_risk(spec, caps, [dates[-1]], **kw)["vol"]
    truth = vol * np.sqrt(252)
    err_raw = np.sqrt(np.mean((raw.to_numpy() - truth) ** 2))
    err_shrunk = np.sqrt(np.mean((shrunk.to_numpy() - truth) ** 2))
    assert err_shrunk < 0.92 * err_raw  # 0.106 vs 0.123 (annualised vol units)
    # On fat-tailed (t4) returns a robust scale estimates the body, not the variance: about 0.82x.
    huber = estimate_specific_risk(spec, caps, [dates[-1]], shrinkage=0.0, scale="huber", **kw)
    assert np.mean(raw.to_numpy() / truth) == pytest.approx(0.98, abs=0.03)
    assert np.mean(huber["vol"].to_numpy() / truth) == pytest.approx(0.82, abs=0.03)
