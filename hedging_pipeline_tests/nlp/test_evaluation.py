from __future__ import annotations

from dataclasses import fields

import numpy as np
import pandas as pd
import pytest

from hedging_pipeline.errors import InvalidValueError, MissingColumnError
from hedging_pipeline.nlp.evaluation import (
    EVALUATION_COLUMNS,
    EmbeddingEvaluation,
    evaluate_embeddings,
    evaluate_models,
    peer_sector_precision,
)
from hedging_pipeline_tests.nlp.test_peers import planted_groups


def reference_cosine_silhouette(x, labels):
    """Textbook silhouette with cosine distance, one company at a time."""
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    dist = 1.0 - unit @ unit.T
    scores = []
    for i in range(len(x)):
        own = labels == labels[i]
        own[i] = False
        if own.sum() == 0:
            scores.append(0.0)
            continue
        a = dist[i, own].mean()
        b = min(dist[i, labels == other].mean() for other in set(labels) if other != labels[i])
        scores.append((b - a) / max(a, b))
    return float(np.mean(scores))


def test_planted_sectors_give_high_scores_and_silhouette_matches_reference():
    tickers, x, groups = planted_groups(n_groups=4, per_group=12, noise=0.05, seed=2)
    sectors = [f"S{g}" for g in groups]
    result = evaluate_embeddings(tickers, x, sectors, model="m")
    assert result.silhouette_gics == pytest.approx(
        reference_cosine_silhouette(x, np.asarray(sectors)), abs=1e-9
    )
    assert result.silhouette_gics > 0.5
    assert result.ari_gics == pytest.approx(1.0)
    assert result.ami_gics == pytest.approx(1.0)
    assert result.peer_sector_precision == pytest.approx(1.0)
    assert (result.n_companies, result.n_sectors, result.model) == (48, 4, "m")
    row = result.to_frame()
    assert list(row.columns[:3]) == ["model", "silhouette_gics", "ari_gics"]
    assert "n_companies" in row.columns and len(row) == 1


def test_random_labels_score_near_chance():
    rng = np.random.default_rng(5)
    tickers, x, groups = planted_groups(n_groups=4, per_group=25, noise=0.3, seed=3)
    shuffled = [f"S{g}" for g in rng.permutation(groups)]
    result = evaluate_embeddings(tickers, x, shuffled, model="m")
    assert result.silhouette_gics < 0.0
    assert abs(result.ari_gics) < 0.1
    assert result.peer_sector_precision < 0.5


def test_companies_without_sector_are_left_out():
    tickers, x, groups = planted_groups(n_groups=3, per_group=6, noise=0.1)
    sectors = [f"S{g}" for g in groups]
    sectors[0], sectors[1] = None, "  "
    result = evaluate_embeddings(tickers, x, sectors, model="m")
    assert result.n_companies == 16


def test_peer_sector_precision_counts_same_sector_peers():
    x = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    # A's nearest is B (other sector); B's is A; C's is D; D's is C
    assert peer_sector_precision(["A", "B", "C", "D"], x, ["s", "t", "u", "u"], k=1) == 0.5


def test_evaluation_errors():
    tickers, x, groups = planted_groups(n_groups=2, per_group=3)
    with pytest.raises(InvalidValueError, match="model 'm': 6 tickers, 5 sectors"):
        evaluate_embeddings(tickers, x, ["S"] * 5, model="m")
    with pytest.raises(InvalidValueError, match="6 companies with a sector in 1 sectors"):
        evaluate_embeddings(tickers, x, ["S"] * 6, model="m")


def test_evaluate_models_gives_one_row_per_model():
    tickers, x, groups = planted_groups(n_groups=3, per_group=12, noise=0.05, seed=4)
    rng = np.random.default_rng(0)
    frame = pd.concat(
        [
            pd.DataFrame({"ticker": tickers, "model": "good", "embedding": list(x)}),
            pd.DataFrame(
                {"ticker": tickers, "model": "noise", "embedding": list(rng.normal(size=x.shape))}
            ),
        ]
    )
    companies = pd.DataFrame({"ticker": tickers, "gics_sector": [f"S{g}" for g in groups]})
    result = evaluate_models(frame, companies)
    table = result.table
    assert result.skipped == ()
    assert tuple(table.columns) == EVALUATION_COLUMNS
    assert tuple(f.name for f in fields(EmbeddingEvaluation)) == EVALUATION_COLUMNS
    assert table["model"].tolist() == ["good", "noise"]
    good, noise = table.set_index("model").loc["good"], table.set_index("model").loc["noise"]
    assert good["ari_gics"] == pytest.approx(1.0) and abs(noise["ari_gics"]) < 0.2
    assert good["silhouette_gics"] > 0.5 > noise["silhouette_gics"]
    assert (table["n_companies"] == 36).all()
    with pytest.raises(MissingColumnError, match="companies: missing column\\(s\\) gics_sector"):
        evaluate_models(frame, companies.drop(columns="gics_sector"))
    # a model stored for two companies only is skipped with its reason, the others still scored
    tiny = pd.DataFrame({"ticker": tickers[:2], "model": "tiny", "embedding": list(x[:2])})
    partial = evaluate_models(pd.concat([frame, tiny]), companies)
    assert partial.table["model"].tolist() == ["good", "noise"]
    assert len(partial.skipped) == 1 and "model 'tiny': 2 companies" in partial.skipped[0]
