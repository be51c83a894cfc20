"""Company vectors: chunk embeddings pooled per company, embedded only when their content changed.

:func:`embed_companies` turns ``description_chunks`` rows into one unit vector per company with an
:class:`~hedging_pipeline.nlp.embedding.Embedder`, skipping companies whose content fingerprint
(:func:`embedding_fingerprint`) matches the stored one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hedging_pipeline.data.tables import EMBEDDING_COLUMNS
from hedging_pipeline.data.validation import require_columns
from hedging_pipeline.errors import ConfigurationError, InvalidValueError
from hedging_pipeline.nlp.embedding import (
    POOLING_METHODS,
    Embedder,
    Pooling,
    ProgressCallback,
    l2_normalise,
)
from hedging_pipeline.types import FloatArray


@dataclass(frozen=True)
class PooledEmbeddings:
    """One vector per company.

    Attributes
    ----------
    tickers : tuple of str
        Sorted tickers, row order of ``embeddings``.
    embeddings : FloatArray
        Unit rows, shape ``(n_companies, d)``.
    n_chunks : tuple of int
        Chunks pooled into each row.
    """

    tickers: tuple[str, ...]
    embeddings: FloatArray
    n_chunks: tuple[int, ...]


def pool_chunk_embeddings(
    owners: Sequence[str],
    chunk_embeddings: FloatArray,
    *,
    method: Pooling = "mean",
    n_tokens: Sequence[int] | None = None,
) -> PooledEmbeddings:
    """Pool chunk vectors into one unit vector per company.

    ``mean``: ``v = normalise(sum_c u_c / n)`` over the company's L2-normalised chunk vectors
    ``u_c``; ``token_weighted``: weights ``n_tokens_c / sum n_tokens``.

    Parameters
    ----------
    owners : sequence of str
        Ticker of each chunk, length ``n_chunks``.
    chunk_embeddings : FloatArray
        Shape ``(n_chunks, d)``.
    method : {"mean", "token_weighted"}
        Pooling rule.
    n_tokens : sequence of int, optional
        Chunk token counts (required for ``token_weighted``).

    Returns
    -------
    PooledEmbeddings
        Sorted by ticker.

    Raises
    ------
    ConfigurationError
        If ``method`` is unknown or ``token_weighted`` lacks ``n_tokens``.
    InvalidValueError
        If lengths disagree or an embedding is not finite.
    """
    if method not in POOLING_METHODS:
        raise ConfigurationError(
            f"embedding: pooling must be one of {POOLING_METHODS}, got {method!r}"
        )
    vectors = np.asarray(chunk_embeddings, dtype=np.float64)
    owner_array = np.asarray(owners, dtype=object)
    if vectors.ndim != 2 or len(owner_array) != len(vectors):
        raise InvalidValueError(
            f"embedding: {len(owner_array)} chunk owners for chunk embeddings of shape "
            f"{vectors.shape}; expected one owner per row"
        )
    if not np.isfinite(vectors).all():
        bad = sorted(set(owner_array[~np.isfinite(vectors).all(axis=1)]))
        raise InvalidValueError(f"embedding: non-finite chunk embeddings for tickers {bad[:10]}")
    if method == "token_weighted":
        if n_tokens is None or len(n_tokens) != len(vectors):
            raise ConfigurationError("embedding: token_weighted pooling needs n_tokens per chunk")
        weights = np.asarray(n_tokens, dtype=np.float64)
    else:
        weights = np.ones(len(vectors))
    tickers, inverse = np.unique(owner_array.astype(str), return_inverse=True)
    sums = np.zeros((len(tickers), vectors.shape[1]))
    np.add.at(sums, inverse, l2_normalise(vectors) * weights[:, None])
    counts = np.bincount(inverse, minlength=len(tickers))
    # dividing by the weight total does not change the direction; normalising gives the pooled unit
    return PooledEmbeddings(
        tickers=tuple(tickers.tolist()),
        embeddings=l2_normalise(sums),
        n_chunks=tuple(int(c) for c in counts),
    )


def embedding_fingerprint(chunk_fingerprint: str, pooling: str) -> str:
    """Fingerprint of a company vector: its chunks' content fingerprint and the pooling rule.

    Parameters
    ----------
    chunk_fingerprint : str
        ``description_chunks.fingerprint`` (text, header, model, chunking settings).
    pooling : str
        Pooling method.

    Returns
    -------
    str
        Hex SHA-256 (first 32 characters).
    """
    payload = f"{chunk_fingerprint}|pooling={pooling}".encode()
    return hashlib.sha256(payload).hexdigest()[:32]


@dataclass(frozen=True)
class EmbeddingRun:
    """Company vectors of one run and what was (not) recomputed.

    Attributes
    ----------
    embeddings : pd.DataFrame
        Columns ticker, model, embedding (float32 array), fingerprint (:func:`embedding_fingerprint`),
        n_chunks, header (the chunks' header option; None when the chunks do not say), for the
        companies whose fingerprint changed (or was missing); sorted by ticker.
    skipped : tuple of str
        Tickers whose stored fingerprint matched (not re-embedded).
    n_chunks_embedded : int
        Chunks sent to the model in this run.
    """

    embeddings: pd.DataFrame
    skipped: tuple[str, ...]
    n_chunks_embedded: int


def embed_companies(
    chunks: pd.DataFrame,
    embedder: Embedder,
    *,
    stored_fingerprints: Mapping[str, str] | None = None,
    pooling: Pooling = "mean",
    progress: ProgressCallback | None = None,
) -> EmbeddingRun:
    """Embed the chunks of companies whose fingerprint changed and pool them per company.

    Parameters
    ----------
    chunks : pd.DataFrame
        Columns ticker, chunk_index, text, n_tokens, fingerprint (from ``chunk_descriptions``).
    embedder : Embedder
        The model.
    stored_fingerprints : mapping, optional
        ``{ticker: fingerprint}`` of the embeddings already in the warehouse for ``embedder``
        (the ``fingerprint`` column this function writes).
    pooling : {"mean", "token_weighted"}
        Chunk pooling.
    progress : callable, optional
        Passed to ``embedder.embed``.

    Returns
    -------
    EmbeddingRun
        New rows and the skipped tickers.

    Raises
    ------
    MissingColumnError
        If ``chunks`` lacks a column.
    InvalidValueError
        If the chunks were counted with another model's tokenizer (column ``model``).
    """
    require_columns(chunks, ("ticker", "chunk_index", "text", "n_tokens", "fingerprint"), "chunks")
    if "model" in chunks.columns:
        other = sorted(set(chunks["model"].dropna().astype(str)) - {embedder.model_id})
        if other:
            raise InvalidValueError(
                f"description_chunks: chunks were sized with the tokenizer of {other}, not of "
                f"{embedder.model_id!r}; re-materialise description_chunks with this model"
            )
    stored = dict(stored_fingerprints or {})
    ordered = chunks.sort_values(["ticker", "chunk_index"], kind="stable")
    fingerprints = ordered.groupby("ticker", sort=True)["fingerprint"].first()
    fingerprints = fingerprints.map(lambda f: embedding_fingerprint(str(f), pooling))
    unchanged = fingerprints.index[
        [stored.get(t) == f for t, f in zip(fingerprints.index, fingerprints, strict=True)]
    ]
    todo = ordered[~ordered["ticker"].isin(set(unchanged))]
    header = ordered["header"] if "header" in ordered.columns else pd.Series(None, ordered.index)
    headers = header.groupby(ordered["ticker"], sort=True).first()
    if todo.empty:
        empty = pd.DataFrame({c: pd.Series(dtype=object) for c in EMBEDDING_COLUMNS})
        return EmbeddingRun(empty, tuple(unchanged), 0)
    vectors = embedder.embed(todo["text"].tolist(), task="search_document", progress=progress)
    pooled = pool_chunk_embeddings(
        todo["ticker"].tolist(), vectors, method=pooling, n_tokens=todo["n_tokens"].tolist()
    )
    frame = pd.DataFrame(
        {
            "ticker": list(pooled.tickers),
            "model": embedder.model_id,
            "embedding": list(pooled.embeddings.astype(np.float32)),
            "fingerprint": fingerprints.loc[list(pooled.tickers)].to_numpy(),
            "n_chunks": list(pooled.n_chunks),
            "header": headers.loc[list(pooled.tickers)].to_numpy(),
        }
    )
    return EmbeddingRun(frame, tuple(unchanged), len(todo))
