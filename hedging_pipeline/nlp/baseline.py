"""A non-neural baseline for company vectors: TF-IDF + truncated SVD (latent semantic analysis).

Each company's document is the text of its ``description_chunks`` joined in chunk order: the same
cleaned, header-prefixed text the transformer embeds, so the two models are compared on equal
input. The documents are weighted by TF-IDF (sublinear term frequency, English stop words removed,
words kept that occur in at least ``TFIDF_MIN_DF`` companies and at most ``TFIDF_MAX_DF`` of them),
projected on the top ``LSA_COMPONENTS`` singular vectors (Deerwester et al. 1990; 100 dimensions is
the customary LSA size and scikit-learn's suggestion), and L2-normalised, so cosine similarity
works on them as on the transformer's vectors.

The SVD basis depends on every company, so the baseline is always refitted on the whole stored
universe (about 15 s for 431 companies on the shared 2-core machine at load 17), never per company.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer

from hedging_pipeline.data.tables import EMBEDDING_COLUMNS
from hedging_pipeline.data.validation import require_columns
from hedging_pipeline.errors import InvalidValueError
from hedging_pipeline.nlp.embedding import l2_normalise

LSA_COMPONENTS = 100
"""Dimensions kept by the truncated SVD (capped below the number of companies and of words)."""
LSA_MODEL_ID = f"tfidf-lsa-{LSA_COMPONENTS}"
"""The ``model`` value of the baseline's rows in ``company_embeddings``."""
TFIDF_MIN_DF = 2
"""A word must occur in at least this many companies (a word of one company links no pair)."""
TFIDF_MAX_DF = 0.5
"""Words in more than this share of the companies (boilerplate such as "company") are dropped."""
MIN_COMPANIES = 3
"""Fewer companies give no meaningful SVD."""


def lsa_company_embeddings(
    chunks: pd.DataFrame,
    *,
    n_components: int = LSA_COMPONENTS,
    seed: int = 0,
    model_id: str = LSA_MODEL_ID,
) -> pd.DataFrame:
    """Fit TF-IDF + truncated SVD on the companies' chunk texts; one unit vector per company.

    Parameters
    ----------
    chunks : pd.DataFrame
        ``description_chunks`` rows: ticker, chunk_index, text, and optionally header (the header
        option, copied to the result) and fingerprint.
    n_components : int
        SVD dimensions, capped at ``min(n_companies, n_words) - 1``.
    seed : int
        Seed of the randomised SVD.
    model_id : str
        ``model`` column of the result.

    Returns
    -------
    pd.DataFrame
        Columns of ``company_embeddings`` (ticker, model, embedding as float32 unit vector,
        fingerprint, n_chunks, header), sorted by ticker. ``fingerprint`` hashes every
        company's text and the settings (the basis depends on all of them).

    Raises
    ------
    MissingColumnError
        If a column is missing.
    InvalidValueError
        If fewer than ``MIN_COMPANIES`` companies have text, or no word is shared by enough
        companies.
    """
    require_columns(chunks, ("ticker", "chunk_index", "text"), "description_chunks")
    ordered = chunks.sort_values(["ticker", "chunk_index"], kind="stable")
    grouped = ordered.groupby("ticker", sort=True)
    documents = grouped["text"].agg("\n".join)
    if len(documents) < MIN_COMPANIES:
        raise InvalidValueError(
            f"lsa baseline: {len(documents)} companies with chunks; need at least {MIN_COMPANIES}"
        )
    vectorizer = TfidfVectorizer(
        sublinear_tf=True,
        stop_words="english",
        min_df=TFIDF_MIN_DF,
        max_df=TFIDF_MAX_DF,
        strip_accents="unicode",
        dtype=np.float64,
    )
    try:
        weights = vectorizer.fit_transform(documents.to_list())
    except ValueError as error:  # empty vocabulary after the document-frequency limits
        raise InvalidValueError(f"lsa baseline: {error}") from error
    rank = min(n_components, weights.shape[0] - 1, weights.shape[1] - 1)
    if rank < 1:
        raise InvalidValueError(
            f"lsa baseline: {weights.shape[1]} words shared by {TFIDF_MIN_DF}+ companies; "
            "too few for an SVD"
        )
    svd = TruncatedSVD(n_components=rank, algorithm="randomized", random_state=seed)
    vectors = l2_normalise(svd.fit_transform(weights))
    settings = f"{model_id}|{rank}|{TFIDF_MIN_DF}|{TFIDF_MAX_DF}|{seed}"
    digest = hashlib.sha256(("\x1e".join([settings, *documents])).encode("utf-8"))
    header = grouped["header"].first() if "header" in ordered.columns else None
    return pd.DataFrame(
        {
            "ticker": documents.index.astype(str),
            "model": model_id,
            "embedding": list(vectors.astype(np.float32)),
            "fingerprint": digest.hexdigest()[:32],
            "n_chunks": grouped.size().to_numpy(dtype=np.int64),
            "header": header.to_numpy() if header is not None else None,
        }
    ).loc[:, list(EMBEDDING_COLUMNS)]
