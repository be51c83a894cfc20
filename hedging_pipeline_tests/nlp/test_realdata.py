"""The semantic pipeline on a slice of the real descriptions (packaged model, CPU)."""

from __future__ import annotations

import pytest

from hedging_pipeline.nlp.chunking import ChunkingConfig, chunk_descriptions
from hedging_pipeline.nlp.evaluation import evaluate_embeddings
from hedging_pipeline.nlp.headers import gics_labels_in_headers
from hedging_pipeline.nlp.peers import embeddings_matrix, nearest_peers
from hedging_pipeline.nlp.vectors import embed_companies

pytestmark = pytest.mark.realdata

SEMIS = ["NVDA", "AMD", "INTC", "MU", "TXN", "QCOM", "AVGO", "ADI"]
BANKS = ["JPM", "BAC", "C", "WFC", "USB", "PNC"]
UTILITIES = ["DUK", "SO", "AEP", "XEL", "ED", "D"]
OIL = ["XOM", "CVX", "COP", "EOG", "OXY"]


@pytest.fixture(scope="module")
def slice_run(real_descriptions, real_companies, minilm):
    tickers = SEMIS + BANKS + UTILITIES + OIL + ["AAL"]  # AAL has no description
    config = ChunkingConfig(max_tokens=minilm.max_tokens, overlap_tokens=32, max_chunks=2)
    chunks = chunk_descriptions(
        real_descriptions,
        real_companies,
        tickers,
        minilm.count_tokens,
        model_id=minilm.model_id,
        config=config,
    )
    return chunks, embed_companies(chunks.chunks, minilm)


def test_real_chunks_carry_headers_and_fit(slice_run, real_companies, minilm):
    chunks, _ = slice_run
    assert chunks.failed_tickers == ("AAL",)
    frame = chunks.chunks
    assert frame["ticker"].nunique() == 25
    names = real_companies.set_index("ticker")
    for row in frame.itertuples():
        assert row.text.startswith(f"Title: {names.loc[row.ticker, 'name']}\n")
    # the default (seed's) header carries no sector or sub-industry beside the name
    assert gics_labels_in_headers(frame, real_companies).empty
    assert not frame["text"].str.split("\n", n=1).str[0].str.contains("Sector:").any()
    assert (frame["n_tokens"] <= minilm.max_tokens).all()
    assert minilm.count_tokens(frame["text"].tolist()) == frame["n_tokens"].tolist()


def test_real_peers_stay_in_their_industry(slice_run, minilm):
    _, run = slice_run
    tickers, matrix = embeddings_matrix(run.embeddings, minilm.model_id)
    peers = nearest_peers(tickers, matrix, k=3, model=minilm.model_id)
    group = {t: g for g, names in enumerate([SEMIS, BANKS, UTILITIES, OIL]) for t in names}
    top1 = peers[peers["rank"] == 1]
    same = (top1["ticker"].map(group) == top1["peer"].map(group)).mean()
    assert same >= 0.9, top1
    sectors = [
        "IT" if t in SEMIS else "Fin" if t in BANKS else "Util" if t in UTILITIES else "Energy"
        for t in tickers
    ]
    result = evaluate_embeddings(tickers, matrix, sectors, model=minilm.model_id)
    assert result.silhouette_gics > 0.1
    assert result.ari_gics > 0.6
