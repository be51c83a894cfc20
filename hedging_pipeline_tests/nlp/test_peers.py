from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hedging_pipeline.errors import ConfigurationError, DuplicateRowsError, InvalidValueError
from hedging_pipeline.nlp.peers import embeddings_matrix, nearest_peers


def planted_groups(n_groups=5, per_group=8, dim=32, noise=0.05, seed=0):
    """Unit vectors around ``n_groups`` random centres; tickers G{g}_{i}."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_groups, dim))
    rows, tickers, groups = [], [], []
    for g in range(n_groups):
        for i in range(per_group):
            rows.append(centres[g] + noise * np.linalg.norm(centres[g]) * rng.normal(size=dim))
            tickers.append(f"G{g}_{i}")
            groups.append(g)
    return tickers, np.asarray(rows), np.asarray(groups)


def reference_peers(tickers, embeddings, k):
    """Slow reference: per company, sort every other company by (similarity desc, ticker)."""
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    out = []
    for i, t in enumerate(tickers):
        scored = sorted(
            ((-float(unit[i] @ unit[j]), u) for j, u in enumerate(tickers) if j != i),
        )
        for rank, (neg, u) in enumerate(scored[:k], start=1):
            out.append((t, u, rank, -neg))
    frame = pd.DataFrame(out, columns=["ticker", "peer", "rank", "similarity"])
    return frame.sort_values(["ticker", "rank"]).reset_index(drop=True)


def test_vectorised_peers_match_the_reference_loop():
    rng = np.random.default_rng(3)
    tickers = [f"T{i:02d}" for i in rng.permutation(40)]
    embeddings = rng.normal(size=(40, 16))
    ours = nearest_peers(tickers, embeddings, k=7, model="m")
    ref = reference_peers(tickers, embeddings, 7)
    assert list(ours.columns) == ["ticker", "peer", "rank", "similarity", "model"]
    pd.testing.assert_frame_equal(
        ours.drop(columns="model").sort_values(["ticker", "rank"]).reset_index(drop=True),
        ref,
        check_exact=False,
        atol=1e-12,
    )
    assert (ours["model"] == "m").all()


def test_planted_peers_are_recovered_and_self_is_excluded():
    tickers, embeddings, groups = planted_groups()
    peers = nearest_peers(tickers, embeddings, k=7, model="m")
    group_of = dict(zip(tickers, groups, strict=True))
    assert (peers["ticker"] != peers["peer"]).all()
    assert (peers["ticker"].map(group_of) == peers["peer"].map(group_of)).all()
    assert peers.groupby("ticker")["similarity"].apply(lambda s: s.is_monotonic_decreasing).all()
    assert peers["similarity"].between(-1, 1).all()


def test_ties_are_broken_by_ticker_and_k_is_capped():
    embeddings = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    peers = nearest_peers(["D", "C", "B", "A"], embeddings, k=10, model="m")
    assert len(peers) == 4 * 3
    d = peers[peers["ticker"] == "D"]
    assert d["peer"].tolist() == ["B", "C", "A"]
    assert d["rank"].tolist() == [1, 2, 3]
    np.testing.assert_allclose(d["similarity"], [1.0, 1.0, 0.0], atol=1e-12)


def test_peer_errors():
    with pytest.raises(ConfigurationError, match="k must be >= 1"):
        nearest_peers(["A", "B"], np.eye(2), k=0, model="m")
    with pytest.raises(DuplicateRowsError, match="ticker\\(s\\) \\['A'\\] appear more than once"):
        nearest_peers(["A", "A", "B"], np.eye(3), model="m")
    with pytest.raises(InvalidValueError, match="non-finite embedding for ticker\\(s\\) \\['B'\\]"):
        nearest_peers(["A", "B"], np.array([[1.0, 0.0], [np.inf, 0.0]]), model="m")
    with pytest.raises(InvalidValueError, match="need at least 2 companies"):
        nearest_peers(["A"], np.eye(1), model="m")
    with pytest.raises(InvalidValueError, match="3 tickers for embeddings of shape \\(2, 2\\)"):
        nearest_peers(["A", "B", "C"], np.eye(2), model="m")


def test_embeddings_matrix_unpacks_one_model():
    frame = pd.DataFrame(
        {
            "ticker": ["B", "A", "A"],
            "model": ["m", "m", "other"],
            "embedding": [[0.0, 1.0], [1.0, 0.0], [0.5, 0.5, 0.5]],
        }
    )
    tickers, matrix = embeddings_matrix(frame, "m")
    assert tickers == ("A", "B")
    np.testing.assert_array_equal(matrix, [[1.0, 0.0], [0.0, 1.0]])
    with pytest.raises(InvalidValueError, match="no rows for model 'x' \\(models present"):
        embeddings_matrix(frame, "x")
    bad = frame.assign(model="m")
    with pytest.raises(InvalidValueError, match="vectors of lengths \\[2, 3\\]"):
        embeddings_matrix(bad, "m")


def test_stored_peers_are_the_hedges_semantic_candidates():
    from hedging_pipeline.hedging.methods import HedgeSettings
    from hedging_pipeline.nlp.peers import DEFAULT_N_PEERS

    assert DEFAULT_N_PEERS == HedgeSettings().n_semantic_candidates == 30
