"""How well description embeddings reproduce GICS sectors, per model, to compare models.

* ``silhouette_gics``: mean silhouette of the companies with their GICS sector as the label, cosine
  distance. In [-1, 1]; above 0 means companies sit closer to their own sector than to the nearest
  other one. (The seed's prior solution reported 0.058 BGE-large, 0.040 MPNet, 0.032 BGE-small and
  -0.119 Nomic on its data.)
* ``ari_gics`` / ``ami_gics``: adjusted Rand index and adjusted mutual information between GICS
  and a clustering of the embeddings into as many clusters as there are sectors (k-means on the
  unit vectors, seeded). 0 is chance, 1 is GICS exactly. This clustering has no noise label, so
  the numbers compare models on an equal footing; the UMAP + HDBSCAN map of
  :mod:`hedging_pipeline.nlp.clustering` reports its own agreement.
* ``peer_sector_precision``: share of each company's top-k semantic peers that share its sector,
  the quantity that matters for hedging.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_mutual_info_score, adjusted_rand_score, silhouette_score

from hedging_pipeline.data.tables import EVALUATION_COLUMNS
from hedging_pipeline.data.validation import require_columns
from hedging_pipeline.errors import InvalidValueError
from hedging_pipeline.nlp.embedding import l2_normalise
from hedging_pipeline.nlp.peers import embeddings_matrix, nearest_peers
from hedging_pipeline.types import FloatArray

DEFAULT_PRECISION_K = 10
"""Peers per company in ``peer_sector_precision`` (the hedge basket's name cap)."""

KMEANS_N_INIT = 10
"""k-means restarts; the best inertia wins."""

MIN_COMPANIES = 3
"""Silhouette needs at least 2 labels and more companies than labels."""


@dataclass(frozen=True)
class EmbeddingEvaluation:
    """Agreement of one model's embeddings with GICS sectors.

    Attributes
    ----------
    model : str
        Model id.
    silhouette_gics : float
        Mean cosine silhouette with GICS sector labels, in [-1, 1].
    ari_gics : float
        Adjusted Rand index of k-means (k = number of sectors) vs GICS.
    ami_gics : float
        Adjusted mutual information of the same clustering vs GICS.
    peer_sector_precision : float
        Mean share of the top-k peers in the company's own sector.
    n_companies : int
        Companies evaluated (with an embedding and a sector).
    n_sectors : int
        Distinct sectors among them.
    """

    model: str
    silhouette_gics: float
    ari_gics: float
    ami_gics: float
    peer_sector_precision: float
    n_companies: int
    n_sectors: int

    def to_frame(self) -> pd.DataFrame:
        """One ``embedding_evaluation`` row."""
        return pd.DataFrame([asdict(self)])


def peer_sector_precision(
    tickers: Sequence[str], embeddings: FloatArray, sectors: Sequence[str], k: int
) -> float:
    """Mean over companies of the share of their top-``k`` cosine peers in the same sector.

    Parameters
    ----------
    tickers : sequence of str
        Row order of ``embeddings``.
    embeddings : FloatArray
        Shape ``(n, d)``.
    sectors : sequence of str
        Sector of each company.
    k : int
        Peers per company (capped at ``n - 1``).

    Returns
    -------
    float
        In [0, 1].
    """
    peers = nearest_peers(tickers, embeddings, k=k, model="-")
    sector_of = dict(zip(map(str, tickers), map(str, sectors), strict=True))
    same = peers["ticker"].map(sector_of).to_numpy() == peers["peer"].map(sector_of).to_numpy()
    return float(same.mean())


def evaluate_embeddings(
    tickers: Sequence[str],
    embeddings: FloatArray,
    sectors: Sequence[str | None],
    *,
    model: str,
    seed: int = 0,
    precision_k: int = DEFAULT_PRECISION_K,
) -> EmbeddingEvaluation:
    """Score one model's company embeddings against GICS sectors.

    Parameters
    ----------
    tickers : sequence of str
        Companies, row order of ``embeddings``.
    embeddings : FloatArray
        Shape ``(n, d)``.
    sectors : sequence of str or None
        GICS sector per company; companies without one are left out.
    model : str
        Model id for the result row.
    seed : int
        k-means seed.
    precision_k : int
        Peers per company for ``peer_sector_precision``.

    Returns
    -------
    EmbeddingEvaluation
        Silhouette, ARI, AMI, peer precision and counts.

    Raises
    ------
    InvalidValueError
        If shapes disagree, or fewer than ``MIN_COMPANIES`` companies or 2 sectors remain.
    """
    vectors = np.asarray(embeddings, dtype=np.float64)
    if vectors.ndim != 2 or len(tickers) != len(vectors) or len(sectors) != len(vectors):
        raise InvalidValueError(
            f"embedding_evaluation: model {model!r}: {len(tickers)} tickers, {len(sectors)} "
            f"sectors and embeddings of shape {vectors.shape}; expected one of each per company"
        )
    labels = pd.Series(list(sectors), dtype=object)
    keep = labels.notna().to_numpy() & (labels.astype(str).str.strip() != "").to_numpy()
    names = [str(t) for t, k in zip(tickers, keep, strict=True) if k]
    unit = l2_normalise(vectors[keep])
    truth = labels[keep].astype(str).to_numpy()
    n_sectors = len(np.unique(truth))
    if len(names) < MIN_COMPANIES or n_sectors < 2 or n_sectors >= len(names):
        raise InvalidValueError(
            f"embedding_evaluation: model {model!r}: {len(names)} companies with a sector in "
            f"{n_sectors} sectors; need at least {MIN_COMPANIES} companies, 2 sectors and more "
            "companies than sectors"
        )
    silhouette = float(silhouette_score(unit, truth, metric="cosine"))
    clusters = KMeans(n_clusters=n_sectors, n_init=KMEANS_N_INIT, random_state=seed).fit_predict(
        unit
    )
    return EmbeddingEvaluation(
        model=model,
        silhouette_gics=silhouette,
        ari_gics=float(adjusted_rand_score(truth, clusters)),
        ami_gics=float(adjusted_mutual_info_score(truth, clusters)),
        peer_sector_precision=peer_sector_precision(names, unit, truth, precision_k),
        n_companies=len(names),
        n_sectors=n_sectors,
    )


@dataclass(frozen=True)
class ModelEvaluations:
    """``embedding_evaluation`` rows and the models that could not be scored.

    Attributes
    ----------
    table : pd.DataFrame
        One row per scored model, columns :data:`EVALUATION_COLUMNS`, sorted by model.
    skipped : tuple of str
        One message per model left out (too few companies or sectors), naming it.
    """

    table: pd.DataFrame
    skipped: tuple[str, ...] = ()


def evaluate_models(
    embeddings: pd.DataFrame, companies: pd.DataFrame, *, seed: int = 0
) -> ModelEvaluations:
    """Evaluate every model present in ``company_embeddings`` against GICS, one row per model.

    Parameters
    ----------
    embeddings : pd.DataFrame
        ``company_embeddings`` rows (ticker, model, embedding).
    companies : pd.DataFrame
        Columns ticker, gics_sector.
    seed : int
        k-means seed.

    Returns
    -------
    ModelEvaluations
        Rows of the models that could be scored; the others are listed in ``skipped``.

    Raises
    ------
    MissingColumnError
        If a column is missing.
    """
    require_columns(companies, ("ticker", "gics_sector"), "companies")
    require_columns(embeddings, ("ticker", "model", "embedding"), "company_embeddings")
    sector_of = companies.drop_duplicates("ticker").set_index("ticker")["gics_sector"]
    rows, skipped = [], []
    for model in sorted(embeddings["model"].unique()):
        tickers, matrix = embeddings_matrix(embeddings, model)
        sectors = [sector_of.get(t) for t in tickers]
        try:
            rows.append(evaluate_embeddings(tickers, matrix, sectors, model=model, seed=seed))
        except InvalidValueError as error:
            skipped.append(str(error))
    table = pd.DataFrame([asdict(r) for r in rows], columns=list(EVALUATION_COLUMNS))
    return ModelEvaluations(table, tuple(skipped))
