from __future__ import annotations

from dataclasses import fields

import numpy as np
import pandas as pd
import pytest

from hedging_pipeline.errors import InvalidValueError, MissingColumnError
from hedging_pipeline.nlp.evaluation import (
    DEFAULT_PRECISION_K,
    EVALUATION_COLUMNS,
    GICS_METRICS,
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
    ).assign(header="title")
    companies = pd.DataFrame({"ticker": tickers, "gics_sector": [f"S{g}" for g in groups]})
    result = evaluate_models(frame, companies)
    table = result.table
    assert result.skipped == ()
    assert tuple(table.columns) == EVALUATION_COLUMNS
    assert {f.name for f in fields(EmbeddingEvaluation)} | {"header", "gics_in_text"} == set(
        EVALUATION_COLUMNS
    )
    assert not table["gics_in_text"].any() and (table["header"] == "title").all()
    assert table["model"].tolist() == ["good", "noise"]
    good, noise = table.set_index("model").loc["good"], table.set_index("model").loc["noise"]
    assert good["ari_gics"] == pytest.approx(1.0) and abs(noise["ari_gics"]) < 0.2
    assert good["silhouette_gics"] > 0.5 > noise["silhouette_gics"]
    assert (table["n_companies"] == 36).all()
    with pytest.raises(MissingColumnError, match="companies: missing column\\(s\\) gics_sector"):
        evaluate_models(frame, companies.drop(columns="gics_sector"))
    # a model stored for two companies only is skipped with its reason, the others still scored
    tiny = pd.DataFrame({"ticker": tickers[:2], "model": "tiny", "embedding": list(x[:2])})
    partial = evaluate_models(pd.concat([frame, tiny.assign(header="title")]), companies)
    assert partial.table["model"].tolist() == ["good", "noise"]
    assert len(partial.skipped) == 1
    assert "model 'tiny' has vectors for 2 of 36 companies" in partial.skipped[0]


def _two_models(tickers, x, headers):
    rng = np.random.default_rng(1)
    other = x + 0.01 * rng.normal(size=x.shape)
    return pd.concat(
        [
            pd.DataFrame(
                {"ticker": tickers, "model": "a", "embedding": list(x), "header": headers[0]}
            ),
            pd.DataFrame(
                {"ticker": tickers, "model": "b", "embedding": list(other), "header": headers[1]}
            ),
        ]
    )


def test_gics_scores_are_withheld_when_the_text_holds_a_gics_label():
    tickers, x, groups = planted_groups(n_groups=3, per_group=10, noise=0.05, seed=6)
    companies = pd.DataFrame({"ticker": tickers, "gics_sector": [f"S{g}" for g in groups]})
    table = evaluate_models(_two_models(tickers, x, ["title", "title+sector"]), companies).table
    a, b = table.set_index("model").loc["a"], table.set_index("model").loc["b"]
    assert not a["gics_in_text"] and a["ari_gics"] == pytest.approx(1.0)
    assert b["gics_in_text"] and b["header"] == "title+sector"
    assert all(np.isnan(b[m]) for m in GICS_METRICS)
    assert b["n_companies"] == 30
    # rows that do not say which header made them count as possibly labelled
    unknown = evaluate_models(
        _two_models(tickers, x, ["title", "title"]).drop(columns="header"), companies
    ).table
    assert unknown["gics_in_text"].all() and unknown["header"].eq("unknown").all()
    assert unknown["silhouette_gics"].isna().all()


def test_models_are_compared_on_the_same_companies_with_sub_industry_precision():
    tickers, x, groups = planted_groups(n_groups=3, per_group=10, noise=0.05, seed=7)
    frame = _two_models(tickers, x, ["title", "title"])
    frame = frame[~((frame["model"] == "b") & frame["ticker"].isin(tickers[:2]))]  # b lacks 2
    # sub-industries split each planted group in two halves (the halves are not separable)
    subs = [f"S{g}-{i % 2}" for i, g in enumerate(groups)]
    companies = pd.DataFrame(
        {"ticker": tickers, "gics_sector": [f"S{g}" for g in groups], "gics_sub_industry": subs}
    )
    table = evaluate_models(frame, companies).table
    assert (table["n_companies"] == 28).all()
    expected = peer_sector_precision(
        [t for t in tickers if t not in tickers[:2]],
        x[2:],
        subs[2:],
        k=DEFAULT_PRECISION_K,
    )
    row = table.set_index("model").loc["a"]
    assert row["peer_sub_industry_precision"] == pytest.approx(expected)
    assert 0.2 < expected < 0.8 and row["precision_k"] == DEFAULT_PRECISION_K
