"""The TF-IDF + LSA baseline: planted vocabularies are recovered, output fits company_embeddings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hedging_pipeline.data.tables import EMBEDDING_COLUMNS
from hedging_pipeline.errors import InvalidValueError, MissingColumnError
from hedging_pipeline.nlp.baseline import LSA_MODEL_ID, lsa_company_embeddings
from hedging_pipeline.nlp.peers import embeddings_matrix, nearest_peers

TOPICS = {
    "chips": "semiconductor wafer foundry lithography transistor processor fabrication",
    "banks": "deposit loan mortgage lending branch credit savings",
    "oil": "crude drilling pipeline refinery barrel upstream offshore",
    "power": "electricity grid transmission generation regulated kilowatt substation",
}


def _chunks(per_topic: int = 6, seed: int = 0) -> tuple[pd.DataFrame, dict[str, str]]:
    rng = np.random.default_rng(seed)
    rows, topic_of = [], {}
    for topic, vocabulary in TOPICS.items():
        words = vocabulary.split()
        for i in range(per_topic):
            ticker = f"{topic[:2].upper()}{i}"
            topic_of[ticker] = topic
            for c in range(2):
                body = " ".join(rng.choice(words, size=30)) + " company operates annual report"
                rows.append((ticker, c, f"Title: {ticker} Inc.\n{body}", "title"))
    frame = pd.DataFrame(rows, columns=["ticker", "chunk_index", "text", "header"])
    return frame.sample(frac=1.0, random_state=1), topic_of  # order must not matter


def test_lsa_recovers_planted_topics_and_fits_the_table():
    chunks, topic_of = _chunks()
    frame = lsa_company_embeddings(chunks, n_components=8)
    assert tuple(frame.columns) == EMBEDDING_COLUMNS
    assert frame["ticker"].tolist() == sorted(topic_of)
    assert (frame["model"] == LSA_MODEL_ID).all() and (frame["header"] == "title").all()
    assert (frame["n_chunks"] == 2).all() and frame["fingerprint"].nunique() == 1
    tickers, matrix = embeddings_matrix(frame, LSA_MODEL_ID)
    np.testing.assert_allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-6)
    assert matrix.shape == (24, 8)
    peers = nearest_peers(tickers, matrix, k=5, model=LSA_MODEL_ID)
    same = peers["ticker"].map(topic_of) == peers["peer"].map(topic_of)
    assert same.all()
    again = lsa_company_embeddings(chunks.sample(frac=1.0, random_state=7), n_components=8)
    np.testing.assert_array_equal(np.stack(again["embedding"]), np.stack(frame["embedding"]))


def test_lsa_rank_is_capped_and_bad_input_is_named():
    chunks, _ = _chunks(per_topic=2)
    assert len(lsa_company_embeddings(chunks)["embedding"].iloc[0]) == 7  # 8 companies - 1
    with pytest.raises(InvalidValueError, match="2 companies with chunks; need at least 3"):
        lsa_company_embeddings(chunks[chunks["ticker"].isin(["CH0", "BA0"])])
    # one company per topic: no word is shared by 2 companies without being in more than half
    single, _ = _chunks(per_topic=1)
    with pytest.raises(InvalidValueError, match="lsa baseline: .*no terms remain"):
        lsa_company_embeddings(single)
    with pytest.raises(MissingColumnError, match="description_chunks"):
        lsa_company_embeddings(chunks.drop(columns="text"))
