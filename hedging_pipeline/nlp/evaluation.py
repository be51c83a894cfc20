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
* ``peer_sector_precision`` / ``peer_sub_industry_precision``: share of each company's top-k
  semantic peers that share its sector / sub-industry, the quantity that matters for hedging.

Hygiene: these scores are only reported for embeddings whose text holds no GICS label. Each row
says which chunk header made its text (``header``); a model whose header writes a GICS label
(``title+sector``), or whose rows do not say, gets ``gics_in_text = True`` and no GICS scores.
All models are scored on the same companies (those every compared model has a vector for), so
the rows compare side by side.
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
from hedging_pipeline.nlp.headers import header_carries_gics
from hedging_pipeline.nlp.peers import embeddings_matrix, nearest_peers
from hedging_pipeline.types import FloatArray

DEFAULT_PRECISION_K = 10
"""Peers per company in ``peer_sector_precision`` (the hedge basket's name cap)."""

KMEANS_N_INIT = 10
"""k-means restarts; the best inertia wins."""

MIN_COMPANIES = 3
"""Silhouette needs at least 2 labels and more companies than labels."""

MIN_COVERAGE = 0.9
"""A model with vectors for fewer than this share of the companies any model covers is not
compared (it would shrink the common set); it is listed as skipped."""

GICS_METRICS = (
    "silhouette_gics",
    "ari_gics",
    "ami_gics",
    "peer_sector_precision",
    "peer_sub_industry_precision",
)
"""Scores against GICS: withheld (NaN) for embeddings whose text holds a GICS label."""


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
    peer_sub_industry_precision : float
        Mean share of the top-k peers in the company's own GICS sub-industry (NaN when not given).
    precision_k : int
        Peers per company in the two precisions.
    """

    model: str
    silhouette_gics: float
    ari_gics: float
    ami_gics: float
    peer_sector_precision: float
    n_companies: int
    n_sectors: int
    peer_sub_industry_precision: float = float("nan")
    precision_k: int = DEFAULT_PRECISION_K

    def to_frame(self) -> pd.DataFrame:
        """One ``embedding_evaluation`` row."""
        return pd.DataFrame([asdict(self)])


def peer_sector_precision(
    tickers: Sequence[str], embeddings: FloatArray, sectors: Sequence[str | None], k: int
) -> float:
    """Mean over companies of the share of their top-``k`` cosine peers in the same sector.

    Used for any label (sector, sub-industry); companies without a label (None) are not scored
    as targets, and a peer without one never matches.

    Parameters
    ----------
    tickers : sequence of str
        Row order of ``embeddings``.
    embeddings : FloatArray
        Shape ``(n, d)``.
    sectors : sequence of str or None
        Label of each company.
    k : int
        Peers per company (capped at ``n - 1``).

    Returns
    -------
    float
        In [0, 1].
    """
    peers = nearest_peers(tickers, embeddings, k=k, model="-")
    labels = pd.Series(list(sectors), index=[str(t) for t in tickers], dtype=object)
    labels = labels[labels.notna() & (labels.astype(str).str.strip() != "")].astype(str)
    own = peers["ticker"].map(labels)
    scored = own.notna().to_numpy()
    if not scored.any():
        return float("nan")
    same = own.to_numpy()[scored] == peers["peer"].map(labels).to_numpy()[scored]
    return float(same.mean())


def evaluate_embeddings(
    tickers: Sequence[str],
    embeddings: FloatArray,
    sectors: Sequence[str | None],
    *,
    model: str,
    sub_industries: Sequence[str | None] | None = None,
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
    sub_industries : sequence of str or None, optional
        GICS sub-industry per company, for ``peer_sub_industry_precision``.
    seed : int
        k-means seed.
    precision_k : int
        Peers per company for the precisions.

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
    subs = [s for s, k in zip(sub_industries or [None] * len(keep), keep, strict=True) if k]
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
        peer_sub_industry_precision=peer_sector_precision(names, unit, subs, precision_k),
        precision_k=precision_k,
    )


@dataclass(frozen=True)
class ModelEvaluations:
    """``embedding_evaluation`` rows and the models that could not be scored.

    Attributes
    ----------
    table : pd.DataFrame
        One row per compared model, columns :data:`EVALUATION_COLUMNS`, sorted by model; GICS
        scores are NaN where ``gics_in_text``.
    skipped : tuple of str
        One message per model left out (too few companies or sectors, or too little coverage).
    """

    table: pd.DataFrame
    skipped: tuple[str, ...] = ()


def model_header(embeddings: pd.DataFrame, model: str) -> str:
    """The header option of ``model``'s rows: one value, ``mixed: a, b``, or ``unknown``."""
    if "header" not in embeddings.columns:
        return "unknown"
    values = embeddings.loc[embeddings["model"] == model, "header"]
    found = sorted(set(values.dropna().astype(str)))
    if len(found) == 1 and values.notna().all():
        return found[0]
    return f"mixed: {', '.join(found)}" if len(found) > 1 else "unknown"


def _compared_models(embeddings: pd.DataFrame) -> tuple[list[str], set[str], list[str]]:
    """Models covering at least ``MIN_COVERAGE`` of the companies, their common tickers, notes."""
    by_model = embeddings.groupby("model")["ticker"].agg(lambda t: set(map(str, t)))
    union = set().union(*by_model) if len(by_model) else set()
    kept, skipped = [], []
    for model, tickers in sorted(by_model.items()):
        if len(tickers) >= MIN_COVERAGE * len(union):
            kept.append(model)
        else:
            skipped.append(
                f"embedding_evaluation: model {model!r} has vectors for {len(tickers)} of "
                f"{len(union)} companies (< {MIN_COVERAGE:.0%}); re-embed to compare it"
            )
    common = set.intersection(*(by_model[m] for m in kept)) if kept else set()
    return kept, common, skipped


def evaluate_models(
    embeddings: pd.DataFrame, companies: pd.DataFrame, *, seed: int = 0
) -> ModelEvaluations:
    """Evaluate the stored models against GICS on their common companies, one row per model.

    Parameters
    ----------
    embeddings : pd.DataFrame
        ``company_embeddings`` rows (ticker, model, embedding, and header: the chunk header
        option of the text; rows without it count as possibly holding a GICS label).
    companies : pd.DataFrame
        Columns ticker, gics_sector, and optionally gics_sub_industry.
    seed : int
        k-means seed.

    Returns
    -------
    ModelEvaluations
        Rows of the compared models (GICS scores withheld where the text holds a GICS label);
        the others are listed in ``skipped``.

    Raises
    ------
    MissingColumnError
        If a column is missing.
    """
    require_columns(companies, ("ticker", "gics_sector"), "companies")
    require_columns(embeddings, ("ticker", "model", "embedding"), "company_embeddings")
    info = companies.drop_duplicates("ticker").set_index("ticker")
    sub_of = info["gics_sub_industry"] if "gics_sub_industry" in info.columns else None
    models, common, skipped = _compared_models(embeddings)
    rows = []
    for model in models:
        header = model_header(embeddings, model)
        leak = header_carries_gics(header)
        shared = embeddings[embeddings["ticker"].astype(str).isin(common)]
        tickers, matrix = embeddings_matrix(shared, model)
        sectors = [info["gics_sector"].get(t) for t in tickers]
        subs = None if sub_of is None else [sub_of.get(t) for t in tickers]
        try:
            scored = evaluate_embeddings(
                tickers, matrix, sectors, model=model, sub_industries=subs, seed=seed
            )
        except InvalidValueError as error:
            skipped.append(str(error))
            continue
        row = {"header": header, "gics_in_text": leak, **asdict(scored)}
        if leak:  # the text holds the labels these scores are computed against
            row.update(dict.fromkeys(GICS_METRICS, float("nan")))
        rows.append(row)
    table = pd.DataFrame(rows, columns=list(EVALUATION_COLUMNS))
    return ModelEvaluations(table, tuple(skipped))
