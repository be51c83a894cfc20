"""Semantic peers: the top-k companies by cosine similarity of their description embeddings."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from hedging_pipeline.data.validation import require_columns
from hedging_pipeline.errors import ConfigurationError, DuplicateRowsError, InvalidValueError
from hedging_pipeline.nlp.embedding import l2_normalise
from hedging_pipeline.types import DEFAULT_N_PEERS, FloatArray


def _validated(tickers: Sequence[str], embeddings: FloatArray) -> tuple[np.ndarray, FloatArray]:
    """Check tickers/embeddings agree, are unique and finite; return them with unit rows."""
    names = np.asarray([str(t) for t in tickers], dtype=object)
    vectors = np.asarray(embeddings, dtype=np.float64)
    if vectors.ndim != 2 or len(names) != vectors.shape[0]:
        raise InvalidValueError(
            f"company_embeddings: {len(names)} tickers for embeddings of shape {vectors.shape}; "
            "expected one row per ticker"
        )
    unique, counts = np.unique(names.astype(str), return_counts=True)
    if (counts > 1).any():
        raise DuplicateRowsError(
            f"company_embeddings: ticker(s) {unique[counts > 1].tolist()[:10]} appear more than "
            "once for one model; keep one embedding per (ticker, model)"
        )
    finite = np.isfinite(vectors).all(axis=1)
    if not finite.all():
        raise InvalidValueError(
            f"company_embeddings: non-finite embedding for ticker(s) {names[~finite].tolist()[:10]}"
        )
    return names, l2_normalise(vectors)


def cosine_similarity_matrix(embeddings: FloatArray) -> FloatArray:
    """Return the ``(n, n)`` cosine similarity of the rows of ``embeddings`` (shape ``(n, d)``)."""
    unit = l2_normalise(np.asarray(embeddings, dtype=np.float64))
    return unit @ unit.T


def nearest_peers(
    tickers: Sequence[str],
    embeddings: FloatArray,
    *,
    k: int = DEFAULT_N_PEERS,
    model: str,
) -> pd.DataFrame:
    """Top-``k`` neighbours of every company by cosine similarity, excluding itself.

    Vectorised: one ``(n, n)`` similarity product, the diagonal masked, ``argpartition`` for the
    top ``k``, then a sort of those ``k`` by (similarity descending, peer ascending) so ties are
    broken deterministically.

    Parameters
    ----------
    tickers : sequence of str
        Company tickers, row order of ``embeddings``.
    embeddings : FloatArray
        Shape ``(n, d)``; rows are normalised here.
    k : int
        Peers per company; capped at ``n - 1``.
    model : str
        Model id stored in the ``model`` column.

    Returns
    -------
    pd.DataFrame
        Columns ticker, peer, rank (1 = most similar), similarity (cosine in [-1, 1]), model;
        ``n * min(k, n - 1)`` rows sorted by (ticker, rank).

    Raises
    ------
    ConfigurationError
        If ``k < 1``.
    InvalidValueError
        If shapes disagree, an embedding is not finite, or there are fewer than 2 companies.
    DuplicateRowsError
        If a ticker repeats.
    """
    if k < 1:
        raise ConfigurationError(f"semantic_peers: k must be >= 1, got {k}")
    names, unit = _validated(tickers, embeddings)
    n = len(names)
    if n < 2:
        raise InvalidValueError(
            f"semantic_peers: need at least 2 companies with embeddings for model {model!r}, "
            f"got {n}"
        )
    order = np.argsort(names.astype(str), kind="stable")
    names, unit = names[order], unit[order]
    k = min(k, n - 1)
    similarity = unit @ unit.T
    np.fill_diagonal(similarity, -np.inf)
    top = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
    top_sim = np.take_along_axis(similarity, top, axis=1)
    # within each row: similarity descending, then peer position (tickers are sorted) ascending
    within = np.lexsort((top, -top_sim), axis=1)
    top = np.take_along_axis(top, within, axis=1)
    top_sim = np.take_along_axis(top_sim, within, axis=1)
    return pd.DataFrame(
        {
            "ticker": np.repeat(names, k).astype(str),
            "peer": names[top.ravel()].astype(str),
            "rank": np.tile(np.arange(1, k + 1, dtype=np.int64), n),
            "similarity": np.clip(top_sim.ravel(), -1.0, 1.0),
            "model": model,
        }
    )


def embeddings_matrix(frame: pd.DataFrame, model: str) -> tuple[tuple[str, ...], FloatArray]:
    """Unpack the ``company_embeddings`` rows of one model into tickers and an ``(n, d)`` matrix.

    Parameters
    ----------
    frame : pd.DataFrame
        Columns ticker, model, embedding (sequence of floats).
    model : str
        Which model's rows to use.

    Returns
    -------
    tuple
        Sorted tickers and the float64 matrix in that order.

    Raises
    ------
    MissingColumnError
        If a column is missing.
    InvalidValueError
        If the model has no rows or its vectors differ in length.
    """
    require_columns(frame, ("ticker", "model", "embedding"), "company_embeddings")
    rows = frame[frame["model"] == model].sort_values("ticker", kind="stable")
    if rows.empty:
        raise InvalidValueError(
            f"company_embeddings: no rows for model {model!r} (models present: "
            f"{sorted(frame['model'].unique().tolist())}); materialise company_embeddings first"
        )
    lengths = rows["embedding"].map(len)
    if lengths.nunique() != 1:
        raise InvalidValueError(
            f"company_embeddings: model {model!r} has vectors of lengths "
            f"{sorted(lengths.unique().tolist())}; expected one dimension"
        )
    matrix = np.asarray(np.stack(rows["embedding"].map(np.asarray).to_list()), dtype=np.float64)
    return tuple(rows["ticker"].astype(str)), matrix
