"""A map of the universe: UMAP (cosine) to 2-D for the plot and ~5-D for HDBSCAN, plus AI roles.

* :func:`cluster_companies` embeds the unit company vectors with UMAP twice (2-D for the scatter, a
  few dimensions for clustering, where density is better preserved), then clusters the latter with
  HDBSCAN; ``cluster = -1`` is noise. UMAP is seeded, which also makes it single-threaded and
  reproducible.
* :func:`ai_roles` scores descriptions with two keyword lists: *makers* build what AI runs on or is
  (semiconductors, GPUs and accelerators, data centres and cloud platforms, foundation models);
  *users* mention applying AI or machine learning without making it. :func:`ai_cluster_view` lists
  which clusters hold which names.
* :func:`between_clusters` lists the companies that sit between two clusters (the seed's "hybrid"
  companies, e.g. a retailer that also runs a cloud): those whose nearest neighbours, in the
  embedding space itself, split between two clusters.
"""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.cluster import HDBSCAN

from hedging_pipeline.errors import InvalidValueError
from hedging_pipeline.nlp.embedding import l2_normalise
from hedging_pipeline.types import FloatArray

NOISE = -1
"""HDBSCAN's label for companies in no cluster."""

UMAP_N_NEIGHBORS = 15
UMAP_MIN_DIST_PLOT = 0.1
"""Some spread in the plot so labels do not sit on top of each other."""
UMAP_MIN_DIST_CLUSTER = 0.0
"""Tight packing for clustering (the UMAP documentation's advice for HDBSCAN)."""
CLUSTER_DIMENSIONS = 5
MIN_CLUSTER_SIZE = 8
MAX_CLUSTER_FRACTION = 0.3
"""A cluster holding more than this share of the companies triggers a re-selection with that cap.
HDBSCAN's excess-of-mass selection sometimes prefers a two-way split of the whole map (seen on the
real universe for one UMAP seed: 2 clusters, ARI 0.06, instead of 13-14 clusters, ARI 0.48-0.57)."""
MAX_NOISE_AFTER_CAP = 0.5
"""The capped selection is kept only if it leaves at most this share of companies as noise (a
universe that really has a dominant group keeps its uncapped clusters)."""
MIN_COMPANIES_TO_MAP = 10
"""Below this, UMAP's neighbourhood graph is not meaningful."""

BETWEEN_NEIGHBOURS = 10
"""Nearest companies (cosine, full embedding) that vote for a company's clusters: the hedge
basket's 10-name cap, the same k as the peer precision of the evaluation."""
BETWEEN_MIN_RATIO = 0.5
"""A company is between clusters when its second cluster holds at least half as many of its
clustered neighbours as its first (e.g. 6 and 3 of 10, not 8 and 2)."""
BETWEEN_MIN_VOTES = 3
"""...and at least this many of them: a 10-name basket drawn from the neighbours then takes at
least 30 % from the second cluster. (With 2, a noise company whose 10 neighbours hold only 4
clustered ones split 2-2 would count; on the real universe that listed 110 companies, mostly such
noise points.)"""

MAKER_PATTERNS: tuple[str, ...] = (
    r"semiconductors?",
    r"\bgpus?\b",
    r"graphics processing units?",
    r"accelerated computing",
    r"\b(?:ai )?accelerators?\b",
    r"\bchips?\b",
    r"micro ?processors?",
    r"\bcpus?\b",
    r"\bwafers?\b",
    r"data cent(?:er|re)s?",
    r"hyperscale",
    r"\btpus?\b",
    r"tensor processing",
    r"deepmind",
    r"\bopenai\b",
    r"\bazure\b",
    r"web services",
    r"cloud (?:computing|platforms?|infrastructure|services)",
    r"foundation models?",
    r"large language models?",
    r"\bllms?\b",
    r"ai (?:infrastructure|models?|chips?|supercomput\w*)",
)
"""Makers: the AI supply chain (chips, accelerators, data centres, cloud, model builders)."""

AI_PATTERNS: tuple[str, ...] = (
    r"artificial intelligence",
    r"\bai\b",
    r"\bgenai\b",
    r"generative",
    r"machine learning",
    r"deep learning",
    r"neural networks?",
)
"""Mentions of using AI."""

MAKER_DENSITY = 2.0
"""Maker-term hits per 1,000 words from which a company counts as an AI maker."""
USER_DENSITY = 0.5
"""AI-term hits per 1,000 words from which a non-maker counts as an AI user."""
WORDS_PER_DENSITY = 1000

ROLES = ("maker", "user", "other")

_MAKER = re.compile("|".join(f"(?:{p})" for p in MAKER_PATTERNS), re.IGNORECASE)
_AI = re.compile("|".join(f"(?:{p})" for p in AI_PATTERNS), re.IGNORECASE)


@dataclass(frozen=True)
class ClusterMap:
    """UMAP + HDBSCAN result.

    Attributes
    ----------
    frame : pd.DataFrame
        Columns ticker, cluster (-1 = noise), x, y (2-D UMAP); sorted by ticker.
    n_clusters : int
        Clusters found (noise excluded).
    noise_fraction : float
        Share of companies labelled noise.
    """

    frame: pd.DataFrame
    n_clusters: int
    noise_fraction: float


def exact_cosine_knn(unit: FloatArray, n_neighbors: int) -> tuple[np.ndarray, np.ndarray]:
    """The exact ``n_neighbors`` nearest rows of each row of ``unit`` by cosine distance.

    This is UMAP's own neighbour search below 4,096 points (every pairwise distance, then a stable
    sort of each row), with UMAP's arithmetic, so UMAP given these neighbours computes the same map
    to the bit; done here because UMAP's version compiles numba kernels (its ``cosine`` and
    ``fast_knn_indices``) in every new process, ~10 s of CPU each time. Above 4,096 points UMAP
    would switch to approximate NN-descent; this stays exact. Cost: ``n² d`` float32 products and
    ``8 n²`` bytes: 0.7 s and 2 MB for 500 companies with 768-d embeddings (the real universe), 14 s
    at 2,000, 50 s and 130 MB at 4,096 (2-core machine); a universe of more than a few thousand
    names needs an approximate search instead.

    Parameters
    ----------
    unit : FloatArray
        Company vectors, shape ``(n, d)``.
    n_neighbors : int
        Neighbours per row, the row itself included (UMAP's convention), ``<= n``.

    Returns
    -------
    tuple of np.ndarray
        ``(indices, distances)``, shape ``(n, n_neighbors)`` each: int32 row numbers and float32
        cosine distances, nearest first; ties in row order (an exact duplicate with a lower row
        number comes before the row itself).
    """
    # UMAP's own arithmetic (its numba ``cosine`` on the float32 rows its input check makes):
    # products in float32, sums in float64, the distance stored in float32
    rows = np.asarray(unit, dtype=np.float32)
    gram = np.stack([(rows * row).sum(axis=1, dtype=np.float64) for row in rows])
    squares = np.diag(gram).copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        cosine = 1.0 - gram / np.sqrt(np.outer(squares, squares))
    zero = squares == 0.0
    cosine[zero[:, None] | zero[None, :]] = 1.0  # a zero vector is at distance 1 from any other...
    cosine[zero[:, None] & zero[None, :]] = 0.0  # ...and 0 from another zero vector
    distances = cosine.astype(np.float32)
    indices = np.argsort(distances, axis=1, kind="stable")[:, :n_neighbors]
    return indices.astype(np.int32), np.take_along_axis(distances, indices, axis=1)


@functools.cache
def _keep_umap_kernels_on_disk() -> None:
    """Let numba cache UMAP's compiled kernels on disk, as it does for functions marked ``cache=True``.

    umap-learn's kernels (``smooth_knn_dist``, ``compute_membership_strengths``, the layout epoch) are
    not marked so, and compiling them costs ~9 s of CPU in every new process: each pipeline run, each
    test run of the command. Numba keys its cache on the kernel's source file, signature and CPU (a
    new umap-learn or numba recompiles) and stores it where it stores any ``cache=True`` function
    (``__pycache__`` beside the source, else the user's cache folder, or ``NUMBA_CACHE_DIR``); the
    cached machine code is the compiled code, so the numbers do not change. Where no cache folder is
    writable, the kernels are compiled in memory as before.
    """
    import umap.layouts
    import umap.spectral
    import umap.umap_
    from numba.core.registry import CPUDispatcher

    for module in (umap.umap_, umap.layouts, umap.spectral):
        for value in vars(module).values():
            if isinstance(value, CPUDispatcher) and value.__module__ == module.__name__:
                try:
                    value.enable_caching()
                except RuntimeError:  # numba found no writable cache folder for this file
                    return


def _umap(unit: FloatArray, n_components: int, min_dist: float, n_neighbors: int, seed: int):
    """Seeded cosine UMAP of unit rows to ``n_components`` dimensions, on exact neighbours."""
    import umap  # heavy import (numba); only when a map is drawn

    _keep_umap_kernels_on_disk()
    indices, distances = exact_cosine_knn(unit, n_neighbors)
    with warnings.catch_warnings():
        # "n_jobs value 1 overridden to 1 by setting random_state": intended, for reproducibility
        warnings.filterwarnings("ignore", message=".*n_jobs.*", category=UserWarning)
        # no search index with precomputed neighbours: transform() of new points unavailable, unused
        warnings.filterwarnings("ignore", message=".*knn_search_index.*", category=UserWarning)
        reducer = umap.UMAP(
            n_components=n_components,
            n_neighbors=n_neighbors,
            min_dist=min_dist,
            metric="cosine",
            random_state=seed,
            # spectral init needs a connected graph; small universes use random init
            init="spectral" if len(unit) > 2 * n_neighbors else "random",
            precomputed_knn=(indices, distances, None),
        )
        return np.asarray(reducer.fit_transform(unit), dtype=np.float64)


def select_clusters(
    points: FloatArray,
    min_cluster_size: int,
    *,
    max_cluster_fraction: float = MAX_CLUSTER_FRACTION,
    max_noise_after_cap: float = MAX_NOISE_AFTER_CAP,
) -> np.ndarray:
    """HDBSCAN labels of ``points``, re-selected with a size cap when one cluster dominates.

    Parameters
    ----------
    points : FloatArray
        Shape ``(n, k)`` (the low-dimensional UMAP embedding).
    min_cluster_size : int
        HDBSCAN's smallest cluster.
    max_cluster_fraction : float
        When the plain selection has a cluster larger than this share of ``n``, select again with
        ``max_cluster_size = max_cluster_fraction * n``.
    max_noise_after_cap : float
        Keep the capped labels only if their noise share is at most this.

    Returns
    -------
    np.ndarray
        Integer labels, ``-1`` for noise.
    """
    n = len(points)
    labels = HDBSCAN(min_cluster_size=min_cluster_size, copy=True).fit_predict(points)
    clustered = labels[labels != NOISE]
    if clustered.size == 0 or np.bincount(clustered).max() <= max_cluster_fraction * n:
        return labels
    largest = max(min_cluster_size + 1, int(max_cluster_fraction * n))
    capped = HDBSCAN(
        min_cluster_size=min_cluster_size, max_cluster_size=largest, copy=True
    ).fit_predict(points)
    return capped if np.mean(capped == NOISE) <= max_noise_after_cap else labels


def cluster_companies(
    tickers: Sequence[str],
    embeddings: FloatArray,
    *,
    seed: int = 0,
    n_neighbors: int = UMAP_N_NEIGHBORS,
    cluster_dimensions: int = CLUSTER_DIMENSIONS,
    min_cluster_size: int = MIN_CLUSTER_SIZE,
    max_cluster_fraction: float = MAX_CLUSTER_FRACTION,
) -> ClusterMap:
    """Map companies to 2-D and cluster them (UMAP cosine + HDBSCAN).

    Parameters
    ----------
    tickers : sequence of str
        Row order of ``embeddings``.
    embeddings : FloatArray
        Company vectors, shape ``(n, d)``.
    seed : int
        UMAP seed (both projections).
    n_neighbors : int
        UMAP neighbourhood size (capped at ``n - 1``).
    cluster_dimensions : int
        UMAP dimensions fed to HDBSCAN.
    min_cluster_size : int
        HDBSCAN's smallest cluster.
    max_cluster_fraction : float
        See :func:`select_clusters` (1 disables the re-selection).

    Returns
    -------
    ClusterMap
        Per-company cluster and 2-D position, cluster count and noise share.

    Raises
    ------
    InvalidValueError
        If shapes disagree, an embedding is not finite, or fewer than ``MIN_COMPANIES_TO_MAP``.
    """
    vectors = np.asarray(embeddings, dtype=np.float64)
    if vectors.ndim != 2 or len(tickers) != len(vectors):
        raise InvalidValueError(
            f"company_clusters: {len(tickers)} tickers for embeddings of shape {vectors.shape}"
        )
    if len(vectors) < MIN_COMPANIES_TO_MAP:
        raise InvalidValueError(
            f"company_clusters: {len(vectors)} companies with embeddings; need at least "
            f"{MIN_COMPANIES_TO_MAP} to draw a map"
        )
    if not np.isfinite(vectors).all():
        raise InvalidValueError("company_clusters: non-finite company embeddings")
    order = np.argsort(np.asarray(tickers, dtype=str), kind="stable")
    names = np.asarray(tickers, dtype=str)[order]
    unit = l2_normalise(vectors[order])
    neighbours = min(n_neighbors, len(unit) - 1)
    plane = _umap(unit, 2, UMAP_MIN_DIST_PLOT, neighbours, seed)
    space = _umap(unit, cluster_dimensions, UMAP_MIN_DIST_CLUSTER, neighbours, seed)
    labels = select_clusters(
        space, min(min_cluster_size, len(unit) // 2), max_cluster_fraction=max_cluster_fraction
    )
    frame = pd.DataFrame(
        {"ticker": names, "cluster": labels.astype(np.int64), "x": plane[:, 0], "y": plane[:, 1]}
    )
    clusters = np.unique(labels[labels != NOISE])
    return ClusterMap(frame, int(len(clusters)), float(np.mean(labels == NOISE)))


def ai_roles(
    texts: Mapping[str, str],
    *,
    maker_density: float = MAKER_DENSITY,
    user_density: float = USER_DENSITY,
) -> pd.DataFrame:
    """Classify companies as AI makers, AI users or other by keyword density in their descriptions.

    ``maker`` if maker-term hits per 1,000 words >= ``maker_density``; else ``user`` if AI-term
    hits per 1,000 words >= ``user_density``; else ``other``.

    Parameters
    ----------
    texts : mapping
        ``{ticker: description}`` (all sources of a company may be concatenated).
    maker_density, user_density : float
        Thresholds in hits per 1,000 words.

    Returns
    -------
    pd.DataFrame
        Columns ticker, n_words, maker_hits, ai_hits, maker_density, ai_density, role; sorted by
        ticker.
    """
    tickers = sorted(texts)
    n_words = np.array([max(len(texts[t].split()), 1) for t in tickers], dtype=np.int64)
    maker_hits = np.array([len(_MAKER.findall(texts[t])) for t in tickers], dtype=np.int64)
    ai_hits = np.array([len(_AI.findall(texts[t])) for t in tickers], dtype=np.int64)
    maker_rate = WORDS_PER_DENSITY * maker_hits / n_words
    ai_rate = WORDS_PER_DENSITY * ai_hits / n_words
    role = np.where(
        maker_rate >= maker_density, "maker", np.where(ai_rate >= user_density, "user", "other")
    )
    return pd.DataFrame(
        {
            "ticker": tickers,
            "n_words": n_words,
            "maker_hits": maker_hits,
            "ai_hits": ai_hits,
            "maker_density": maker_rate,
            "ai_density": ai_rate,
            "role": role,
        }
    )


def ai_cluster_view(clusters: pd.DataFrame, roles: pd.DataFrame) -> pd.DataFrame:
    """Which clusters hold the AI makers and which the AI users, with the names.

    Parameters
    ----------
    clusters : pd.DataFrame
        Columns ticker, cluster (from :func:`cluster_companies`).
    roles : pd.DataFrame
        Columns ticker, role (from :func:`ai_roles`); companies missing here count as ``other``.

    Returns
    -------
    pd.DataFrame
        One row per cluster (noise as -1): cluster, n_companies, n_makers, n_users, maker_share,
        user_share, makers, users (comma-separated tickers), dominant (``maker``/``user``/``other``,
        whichever role is most common among makers and users, ``other`` when neither appears);
        sorted by maker share then user share, descending.
    """
    merged = clusters[["ticker", "cluster"]].merge(
        roles[["ticker", "role"]], on="ticker", how="left"
    )
    merged["role"] = merged["role"].fillna("other")
    rows = []
    for cluster, group in merged.groupby("cluster", sort=True):
        makers = sorted(group.loc[group["role"] == "maker", "ticker"])
        users = sorted(group.loc[group["role"] == "user", "ticker"])
        n = len(group)
        dominant = (
            "other"
            if not makers and not users
            else "maker"
            if len(makers) >= len(users)
            else "user"
        )
        rows.append(
            {
                "cluster": int(cluster),
                "n_companies": n,
                "n_makers": len(makers),
                "n_users": len(users),
                "maker_share": len(makers) / n,
                "user_share": len(users) / n,
                "makers": ", ".join(makers),
                "users": ", ".join(users),
                "dominant": dominant,
            }
        )
    view = pd.DataFrame(rows)
    if view.empty:
        return view
    return view.sort_values(
        ["maker_share", "user_share", "cluster"], ascending=[False, False, True]
    ).reset_index(drop=True)


def between_clusters(
    tickers: Sequence[str],
    embeddings: FloatArray,
    clusters: Mapping[str, int],
    *,
    k: int = BETWEEN_NEIGHBOURS,
    min_ratio: float = BETWEEN_MIN_RATIO,
    min_votes: int = BETWEEN_MIN_VOTES,
) -> pd.DataFrame:
    """Companies whose nearest neighbours split between two clusters, with those two clusters.

    For each company, its ``k`` nearest other companies by cosine similarity vote with their
    HDBSCAN cluster (noise neighbours abstain). With ``n1 >= n2`` the votes of the two most voted
    clusters, the company is *between* them when ``n2 >= min_ratio * n1`` and
    ``n2 >= min_votes``. Its own cluster may be either of them, or noise.

    Parameters
    ----------
    tickers : sequence of str
        Row order of ``embeddings``.
    embeddings : FloatArray
        Company vectors, shape ``(n, d)`` (the space the clusters summarise, not the 2-D map).
    clusters : mapping
        ``{ticker: cluster}`` with ``-1`` for noise; tickers missing here abstain.
    k, min_ratio, min_votes
        See above.

    Returns
    -------
    pd.DataFrame
        Columns ticker, cluster (its own), nearest_cluster, second_cluster, votes_nearest,
        votes_second, balance (``votes_second / votes_nearest``); sorted by balance descending,
        then ticker. Ties between clusters go to the lower cluster number.
    """
    names = [str(t) for t in tickers]
    unit = l2_normalise(np.asarray(embeddings, dtype=np.float64))
    labels = np.array([clusters.get(t, NOISE) for t in names], dtype=np.int64)
    k = min(k, len(names) - 1)
    similarity = unit @ unit.T
    np.fill_diagonal(similarity, -np.inf)
    neighbours = np.argsort(-similarity, axis=1, kind="stable")[:, :k]
    rows = []
    for i, near in enumerate(neighbours):
        votes = labels[near]
        votes = votes[votes != NOISE]
        if votes.size == 0:
            continue
        found, counts = np.unique(votes, return_counts=True)
        order = np.lexsort((found, -counts))  # most votes first, lower cluster on ties
        if len(order) < 2:
            continue
        (c1, n1), (c2, n2) = (
            (found[order[0]], counts[order[0]]),
            (found[order[1]], counts[order[1]]),
        )
        if n2 >= min_ratio * n1 and n2 >= min_votes:
            rows.append((names[i], int(labels[i]), int(c1), int(c2), int(n1), int(n2), n2 / n1))
    columns = [
        "ticker",
        "cluster",
        "nearest_cluster",
        "second_cluster",
        "votes_nearest",
        "votes_second",
        "balance",
    ]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values(["balance", "ticker"], ascending=[False, True]).reset_index(drop=True)


def central_members(frame: pd.DataFrame, n: int) -> dict[int, list[str]]:
    """``{cluster: the n tickers nearest its 2-D centre}`` (noise excluded), to name clusters."""
    out: dict[int, list[str]] = {}
    for cluster, members in frame[frame["cluster"] != NOISE].groupby("cluster", sort=True):
        points = members[["x", "y"]].to_numpy()
        distance = np.linalg.norm(points - points.mean(axis=0), axis=1)
        out[int(cluster)] = (
            members["ticker"].to_numpy()[np.argsort(distance, kind="stable")][:n].tolist()
        )
    return out


@dataclass(frozen=True)
class UniverseMap:
    """The company map with its AI view and its agreement with GICS.

    Attributes
    ----------
    clusters : ClusterMap
        UMAP + HDBSCAN result.
    roles : pd.DataFrame
        :func:`ai_roles` of the mapped companies.
    ai_view : pd.DataFrame
        :func:`ai_cluster_view`.
    ari_gics, ami_gics : float
        Agreement of the HDBSCAN labels with GICS sectors over all mapped companies that have a
        sector (noise counted as one more label).
    between : pd.DataFrame
        :func:`between_clusters` of the mapped companies.
    """

    clusters: ClusterMap
    roles: pd.DataFrame
    ai_view: pd.DataFrame
    ari_gics: float
    ami_gics: float
    between: pd.DataFrame


def map_universe(
    tickers: Sequence[str],
    embeddings: FloatArray,
    texts: Mapping[str, str],
    sectors: Mapping[str, str],
    *,
    seed: int = 0,
    min_cluster_size: int = MIN_CLUSTER_SIZE,
) -> UniverseMap:
    """Cluster the universe, classify AI makers/users and say which clusters hold them.

    Parameters
    ----------
    tickers : sequence of str
        Row order of ``embeddings``.
    embeddings : FloatArray
        Company vectors, shape ``(n, d)``.
    texts : mapping
        ``{ticker: cleaned description}`` for the keyword scoring (missing tickers score 0).
    sectors : mapping
        ``{ticker: GICS sector}``.
    seed : int
        UMAP seed.
    min_cluster_size : int
        HDBSCAN's smallest cluster.

    Returns
    -------
    UniverseMap
        Clusters, roles, the per-cluster AI view, ARI/AMI against GICS and the companies between
        clusters.

    Raises
    ------
    InvalidValueError
        As :func:`cluster_companies`.
    """
    from sklearn.metrics import adjusted_mutual_info_score, adjusted_rand_score

    result = cluster_companies(tickers, embeddings, seed=seed, min_cluster_size=min_cluster_size)
    frame = result.frame
    roles = ai_roles({t: texts.get(t, "") for t in frame["ticker"]})
    truth = frame["ticker"].map(sectors)
    known = truth.notna().to_numpy()
    labels = frame["cluster"].to_numpy()[known]
    cluster_of = dict(zip(frame["ticker"], frame["cluster"].astype(int), strict=True))
    return UniverseMap(
        clusters=result,
        roles=roles,
        ai_view=ai_cluster_view(frame, roles),
        ari_gics=float(adjusted_rand_score(truth[known].astype(str), labels)),
        ami_gics=float(adjusted_mutual_info_score(truth[known].astype(str), labels)),
        between=between_clusters(tickers, embeddings, cluster_of),
    )
