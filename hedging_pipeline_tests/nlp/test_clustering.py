from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from hedging_pipeline.errors import InvalidValueError
from hedging_pipeline.nlp.clustering import (
    BETWEEN_MIN_RATIO,
    BETWEEN_MIN_VOTES,
    NOISE,
    ai_cluster_view,
    ai_roles,
    between_clusters,
    central_members,
    cluster_companies,
    exact_cosine_knn,
    map_universe,
    select_clusters,
)
from hedging_pipeline_tests.nlp.test_peers import planted_groups


@pytest.fixture(scope="module")
def planted_map():
    tickers, x, groups = planted_groups(n_groups=4, per_group=15, dim=24, noise=0.04, seed=11)
    return tickers, x, groups, cluster_companies(tickers, x, seed=7)


def test_planted_groups_are_recovered(planted_map):
    tickers, _, groups, result = planted_map
    frame = result.frame
    assert list(frame.columns) == ["ticker", "cluster", "x", "y"]
    assert frame["ticker"].tolist() == sorted(tickers)
    truth = pd.Series(groups, index=tickers).loc[frame["ticker"]].to_numpy()
    clustered = frame["cluster"].to_numpy() != NOISE
    assert result.n_clusters == 4
    assert result.noise_fraction == pytest.approx(1 - clustered.mean())
    assert result.noise_fraction <= 0.1
    assert adjusted_rand_score(truth[clustered], frame["cluster"].to_numpy()[clustered]) == 1.0
    # the 2-D map keeps groups apart: each company's nearest 2-D neighbour is in its group
    xy = frame[["x", "y"]].to_numpy()
    d = np.linalg.norm(xy[:, None] - xy[None], axis=2)
    np.fill_diagonal(d, np.inf)
    assert (truth[d.argmin(axis=1)] == truth).mean() >= 0.95


def test_map_universe_scores_gics_and_lists_ai_names(planted_map):
    tickers, x, groups, result = planted_map
    sectors = {t: f"S{g}" for t, g in zip(tickers, groups, strict=True)}
    maker_group = [t for t, g in zip(tickers, groups, strict=True) if g == 0]
    texts = {
        t: "We design GPUs, semiconductors and AI chips for data centers." for t in maker_group
    }
    universe = map_universe(tickers, x, texts, sectors, seed=7)
    pd.testing.assert_frame_equal(universe.clusters.frame, result.frame)
    frame = result.frame
    labels = frame["cluster"].to_numpy()
    truth = frame["ticker"].map(sectors).to_numpy()
    assert universe.ari_gics == pytest.approx(adjusted_rand_score(truth, labels))
    assert universe.ari_gics > 0.8 and universe.ami_gics > 0.8
    assert set(universe.roles.loc[universe.roles["role"] == "maker", "ticker"]) == set(maker_group)
    top = universe.ai_view.iloc[0]
    assert top["dominant"] == "maker" and top["n_makers"] >= 13
    assert universe.between.empty  # well separated planted groups: nobody in between


def test_companies_between_two_clusters_are_listed_with_both():
    tickers, x, groups = planted_groups(n_groups=3, per_group=10, dim=24, noise=0.05, seed=3)
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    centres = [unit[groups == g].mean(axis=0) for g in range(3)]
    hybrid = centres[0] / np.linalg.norm(centres[0]) + centres[1] / np.linalg.norm(centres[1])
    lean = 0.6 * centres[0] / np.linalg.norm(centres[0]) + centres[2] / np.linalg.norm(centres[2])
    names = [*tickers, "HYB", "LEAN"]
    matrix = np.vstack([unit, hybrid, lean])
    clusters = {t: int(g) for t, g in zip(tickers, groups, strict=True)}
    clusters["HYB"] = NOISE
    clusters["LEAN"] = 2
    found = between_clusters(names, matrix, clusters)
    assert found["ticker"].tolist()[:1] == ["HYB"]
    row = found.set_index("ticker").loc["HYB"]
    assert {row["nearest_cluster"], row["second_cluster"]} == {0, 1}
    assert row["cluster"] == NOISE and row["votes_nearest"] + row["votes_second"] == 10
    assert row["balance"] >= 0.5
    # a company whose neighbours are all in its own group is not listed
    assert not set(found["ticker"]) & set(tickers)
    # brute force on LEAN: count its 10 nearest neighbours' clusters by hand
    sims = matrix[:-1] @ (matrix[-1] / np.linalg.norm(matrix[-1]))
    nearest = [names[i] for i in np.argsort(-sims)[:10]]
    votes = pd.Series([clusters[t] for t in nearest if clusters[t] != NOISE]).value_counts()
    listed = "LEAN" in set(found["ticker"])
    second = votes.iloc[1] if len(votes) > 1 else 0
    assert listed == (second >= max(BETWEEN_MIN_VOTES, BETWEEN_MIN_RATIO * votes.iloc[0]))


def test_central_members_name_each_cluster():
    frame = pd.DataFrame(
        {
            "ticker": ["A", "B", "C", "D", "E"],
            "cluster": [0, 0, 0, 1, -1],
            "x": [0.0, 1.0, 10.0, 5.0, 0.0],
            "y": [0.0, 0.0, 0.0, 5.0, 0.0],
        }
    )
    assert central_members(frame, 2) == {0: ["B", "A"], 1: ["D"]}


def test_same_seed_same_map(planted_map):
    tickers, x, _, result = planted_map
    again = cluster_companies(list(reversed(tickers)), x[::-1], seed=7)
    pd.testing.assert_frame_equal(again.frame, result.frame)


def test_exact_neighbours_are_the_brute_force_cosine_neighbours():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(40, 12))
    x[7] = 0.0  # a zero vector: distance 1 from everyone (UMAP's convention), 0 from itself
    indices, distances = exact_cosine_knn(x, 6)
    assert indices.shape == distances.shape == (40, 6)
    assert indices.dtype == np.int32 and distances.dtype == np.float32
    unit = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-300)
    brute = 1.0 - unit @ unit.T
    brute[7, :] = brute[:, 7] = 1.0
    brute[7, 7] = 0.0
    for i in range(40):
        assert indices[i, 0] == i and distances[i, 0] == 0.0  # each row first, at distance 0
        expected = np.sort(brute[i])[:6]
        np.testing.assert_allclose(distances[i], expected, atol=1e-6)
        np.testing.assert_allclose(brute[i, indices[i]], expected, atol=1e-6)
    # ties keep row order (a stable sort): duplicates of one vector list the lower row first
    twins = np.vstack([x[:5], x[:5]])
    tied, _ = exact_cosine_knn(twins, 2)
    assert tied[:5, 1].tolist() == [5, 6, 7, 8, 9] and tied[5:, 0].tolist() == [0, 1, 2, 3, 4]


def test_too_few_companies_for_a_map():
    with pytest.raises(InvalidValueError, match="5 companies with embeddings; need at least 10"):
        cluster_companies(list("ABCDE"), np.eye(5), seed=0)
    with pytest.raises(InvalidValueError, match="3 tickers for embeddings of shape"):
        cluster_companies(list("ABC"), np.eye(2))


TEXTS = {
    "NVDA": "Nvidia designs GPUs and accelerated computing platforms for data centers; its chips "
    "train large language models. Nvidia sells semiconductors and AI infrastructure.",
    "AMZN": "Amazon runs a retail marketplace and AWS, a cloud computing platform with data "
    "centers that hosts foundation models and AI chips for customers.",
    "JPM": "JPMorgan is a bank. It lends money to households and firms, takes deposits, and uses "
    "artificial intelligence and machine learning to detect fraud and serve clients. " * 2,
    "DUK": "Duke Energy generates and distributes electricity to customers in the Carolinas, "
    "Florida and the Midwest from gas, nuclear and renewable power plants. " * 3,
}


def test_ai_roles_separate_makers_users_and_others():
    roles = ai_roles(TEXTS).set_index("ticker")
    assert roles["role"].to_dict() == {
        "AMZN": "maker",
        "DUK": "other",
        "JPM": "user",
        "NVDA": "maker",
    }
    assert roles.loc["NVDA", "maker_hits"] >= 6
    assert roles.loc["JPM", "ai_hits"] == 4 and roles.loc["JPM", "maker_hits"] == 0
    assert roles.loc["DUK", "maker_hits"] == roles.loc["DUK", "ai_hits"] == 0
    n_words = len(TEXTS["JPM"].split())
    assert roles.loc["JPM", "ai_density"] == pytest.approx(1000 * 4 / n_words)


def test_ai_cluster_view_lists_names_per_cluster():
    clusters = pd.DataFrame(
        {"ticker": ["NVDA", "AMZN", "JPM", "DUK", "XYZ"], "cluster": [0, 0, 1, 1, -1]}
    )
    view = ai_cluster_view(clusters, ai_roles(TEXTS)).set_index("cluster")
    assert view.loc[0, "makers"] == "AMZN, NVDA" and view.loc[0, "users"] == ""
    assert view.loc[0, "dominant"] == "maker" and view.loc[0, "maker_share"] == 1.0
    assert view.loc[1, "users"] == "JPM" and view.loc[1, "dominant"] == "user"
    assert view.loc[1, "user_share"] == 0.5
    assert view.loc[-1, "dominant"] == "other" and view.loc[-1, "n_companies"] == 1
    assert view.index.tolist() == [0, 1, -1]  # makers first, then users


def _nested_blobs(sub_separation: float) -> np.ndarray:
    """Two far-apart groups, each of three sub-blobs of 15 points, in 2-D."""
    rng = np.random.default_rng(0)
    blobs = []
    for centre_x in (0.0, 50.0):
        for s in range(3):
            angle = 2 * np.pi * s / 3
            offset = sub_separation * np.array([np.cos(angle), np.sin(angle)])
            blobs.append(np.array([centre_x, 0.0]) + offset + 0.15 * rng.normal(size=(15, 2)))
    return np.vstack(blobs)


def test_a_dominant_two_way_split_is_reselected_with_a_size_cap():
    points = _nested_blobs(0.5)
    plain = select_clusters(points, 8, max_cluster_fraction=1.0)
    assert sorted(np.bincount(plain[plain >= 0])) == [45, 45]  # the collapse seen on real data
    capped = select_clusters(points, 8)
    sizes = np.bincount(capped[capped >= 0])
    assert len(sizes) == 6 and sizes.max() <= 0.3 * len(points)
    assert np.mean(capped == NOISE) <= 0.5
    truth = np.repeat(np.arange(6), 15)
    assert adjusted_rand_score(truth[capped >= 0], capped[capped >= 0]) > 0.9


def test_a_really_dominant_group_keeps_its_uncapped_cluster():
    tickers, x, groups = planted_groups(n_groups=2, per_group=30, dim=24, noise=0.04, seed=5)
    result = cluster_companies(tickers, x, seed=0)
    assert result.n_clusters == 2 and result.noise_fraction == 0.0
