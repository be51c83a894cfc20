"""Candidate hedge names per method: semantic peers, GICS group, correlation, largest caps.

Every function takes the universe the risk is known for, never returns the target itself, and orders
its result by the method's own preference (peer rank, correlation, cap) so that "top n" is a prefix.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np
import pandas as pd

from hedging_pipeline.data.validation import require_any_column, require_columns
from hedging_pipeline.errors import InvalidValueError
from hedging_pipeline.risk.industries import GICS_LEVELS, assign_industries
from hedging_pipeline.types import FloatArray


def peer_lists(peers: pd.DataFrame, model: str | None = None) -> dict[str, list[str]]:
    """Semantic peers per ticker, best rank first, from CONTRACT ``semantic_peers`` rows.

    Parameters
    ----------
    peers : pd.DataFrame
        ``ticker, peer, rank`` (and ``similarity, model``).
    model : str, optional
        Embedding model whose peers to use; required when the table holds several models.

    Returns
    -------
    dict
        ``ticker -> [peer, ...]`` ordered by ``rank``; a ticker is never its own peer.

    Raises
    ------
    MissingColumnError
        If a required column is missing.
    InvalidValueError
        If several models are present and ``model`` is not given (or not present).
    """
    require_columns(peers, ("ticker", "peer", "rank"), "semantic_peers")
    frame = peers
    if "model" in frame.columns:
        models = sorted(frame["model"].dropna().unique())
        if model is not None:
            if model not in models:
                raise InvalidValueError(
                    f"semantic_peers: no peers for model {model!r} (models present: {models})"
                )
            frame = frame[frame["model"] == model]
        elif len(models) > 1:
            raise InvalidValueError(
                f"semantic_peers: {len(models)} models present ({models}); say which to hedge with"
            )
    frame = frame[frame["ticker"] != frame["peer"]].sort_values(["ticker", "rank", "peer"])
    return {str(t): [str(p) for p in g["peer"]] for t, g in frame.groupby("ticker", sort=True)}


def choose_peer_model(peers: pd.DataFrame, preferred: str | None) -> str | None:
    """The embedding model whose peers to hedge with.

    ``preferred`` (the configured model) when the table has its peers, else the only model present;
    None for an empty table.

    Raises
    ------
    InvalidValueError
        If several models are present and none is ``preferred``.
    """
    if peers.empty or "model" not in peers.columns:
        return None
    models = sorted(peers["model"].dropna().unique())
    if preferred in models:
        return preferred
    if len(models) == 1:
        return str(models[0])
    raise InvalidValueError(
        f"semantic_peers: peers of {len(models)} models ({models}) and none of the configured "
        f"model {preferred!r}; materialise semantic_peers for it or name the model to use"
    )


def semantic_candidates(
    peers: dict[str, list[str]], target: str, universe: Collection[str], n: int
) -> list[str]:
    """Return the target's ``n`` best-ranked semantic peers that have risk (in ``universe``)."""
    return [p for p in peers.get(target, []) if p != target and p in universe][:n]


def gics_groups(companies: pd.DataFrame, universe: Collection[str], min_members: int) -> pd.Series:
    """Label each ticker with its GICS group (finest level, merged up to ``min_members`` names).

    Uses the risk model's industry rule (``risk.industries.assign_industries``) started at the
    finest GICS column in ``companies`` (sub-industry when present), so every group has
    ``min_members`` names.

    Returns
    -------
    pd.Series
        ``ticker -> group label`` over ``universe``.
    """
    require_any_column(companies, GICS_LEVELS, "companies")
    finest = [c for c in GICS_LEVELS if c in companies.columns]
    known = set(companies["ticker"].astype(str))
    tickers = sorted(t for t in universe if t in known)
    groups = assign_industries(companies, tickers, level=finest[-1], min_members=min_members)
    return groups.set_index("ticker")["industry"]


def gics_candidates(groups: pd.Series, target: str) -> list[str]:
    """Names of the target's GICS group other than the target (sorted); empty if it has no group."""
    if target not in groups.index:
        return []
    label = groups.loc[target]
    return sorted(t for t in groups.index[groups.to_numpy() == label] if t != target)


def correlation_ranking(
    window: pd.DataFrame, min_days: int | None = None
) -> tuple[tuple[str, ...], FloatArray]:
    """Correlation matrix of a wide returns window.

    Parameters
    ----------
    window : pd.DataFrame
        Wide daily returns (dates x tickers), NaN = no return.
    min_days : int, optional
        None: complete columns only (Pearson). Given: every column with at least ``min_days``
        returns, each standardised over its own observed days and counted 0 on the days it did not
        trade (the sample covariance's convention, ``estimators``), so a name with a gap in the
        window still gets correlation candidates.

    Returns
    -------
    tickers : tuple of str
    corr : FloatArray
        ``(n, n)`` correlations.
    """
    counts = window.notna().sum().to_numpy()
    keep = counts == len(window) if min_days is None else counts >= min_days
    kept = window.loc[:, keep]
    values = kept.to_numpy(dtype=np.float64)
    observed = ~np.isnan(values)
    mean = np.where(observed, values, 0.0).sum(axis=0) / np.maximum(observed.sum(axis=0), 1)
    centred = np.where(observed, values - mean, 0.0)
    norm = np.sqrt(np.einsum("ij,ij->j", centred, centred))
    norm = np.where(norm > 0, norm, np.inf)
    z = centred / norm
    return tuple(str(c) for c in kept.columns), z.T @ z


def correlation_candidates(
    tickers: Sequence[str], corr: FloatArray, target: str, universe: Collection[str], n: int
) -> list[str]:
    """Return the ``n`` names whose returns correlate most with the target's (ties by ticker)."""
    try:
        row = corr[list(tickers).index(target)]
    except ValueError:
        return []
    order = sorted(
        (i for i, t in enumerate(tickers) if t != target and t in universe),
        key=lambda i: (-row[i], tickers[i]),
    )
    return [tickers[i] for i in order[:n]]


def risk_correlation_candidates(
    loadings: FloatArray,
    specific_variance: FloatArray,
    tickers: Sequence[str],
    target: str,
    n: int,
) -> list[str]:
    """Return the ``n`` names most correlated with the target under a risk ``Σ = B Bᵀ + diag(d)``.

    ``corr_i = (B B_tᵀ)_i / (σ_i σ_t)``; one matrix-vector product (ties by ticker). Used with the
    factor model's rows: the names the factor model sees as closest to the target.
    """
    t = list(tickers).index(target)
    cov = loadings @ loadings[t]
    vol = np.sqrt(np.einsum("ij,ij->i", loadings, loadings) + specific_variance)
    corr = cov / np.where(vol > 0, vol, np.inf)
    order = sorted((i for i in range(len(tickers)) if i != t), key=lambda i: (-corr[i], tickers[i]))
    return [tickers[i] for i in order[:n]]


def screened_universe(lists: Sequence[Sequence[str]]) -> list[str]:
    """The union of several candidate lists, sorted by ticker (a set: its order means nothing).

    The universe cells priced by a dense (sample or blend) risk are solved on this pre-screen:
    the union of every returns-, text- and factor-based generator's candidates, so their basket
    is at least as good in sample as each of those cells' under the same risk.
    """
    return sorted({name for names in lists for name in names})


def largest_names(
    caps: pd.Series, target: str, universe: Collection[str], n: int
) -> tuple[list[str], FloatArray]:
    """Return the ``n`` largest names by market cap other than the target, with their caps.

    ``caps`` must be sorted by decreasing cap (positive, finite), as ``hedge_context`` keeps it.
    """
    names: list[str] = []
    values: list[float] = []
    for ticker, cap in zip(caps.index, caps.to_numpy(dtype=np.float64), strict=True):
        if ticker != target and ticker in universe:
            names.append(str(ticker))
            values.append(float(cap))
            if len(names) == n:
                break
    return names, np.asarray(values)


def capped_weights(values: FloatArray, max_weight: float) -> FloatArray:
    """Weights proportional to ``values``, each ≤ ``max_weight``, summing to 1 (water-filling).

    Names above the cap are fixed at the cap and the rest is re-spread proportionally, until none
    exceeds it.

    Raises
    ------
    InvalidValueError
        If ``len(values) · max_weight < 1`` or a value is not positive.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.size * max_weight < 1.0 - 1e-12 or (v <= 0).any():
        raise InvalidValueError(
            f"cap weights: {v.size} positive values cannot sum to 1 under a {max_weight} cap"
        )
    capped = np.zeros(v.size, dtype=bool)
    w = v / v.sum()
    while (w > max_weight + 1e-15).any():
        capped |= w > max_weight
        if capped.all():
            return np.full(v.size, 1.0 / v.size)
        rest = 1.0 - max_weight * capped.sum()
        w = np.where(capped, max_weight, rest * v / v[~capped].sum())
    return w


def issuer_ids(companies: pd.DataFrame) -> dict[str, str]:
    """Issuer of each ticker: its ``cik`` when the companies table has one, else the ticker itself.

    Share classes of one issuer (GOOG/GOOGL, NWS/NWSA) share a CIK; a ticker without a CIK is an
    issuer of its own.
    """
    tickers = companies["ticker"].astype(str)
    if "cik" not in companies.columns:
        return dict(zip(tickers, tickers, strict=True))
    cik = companies["cik"].astype(object).where(companies["cik"].notna(), None)
    ids = [
        f"cik:{str(c).strip().lstrip('0')}" if c is not None and str(c).strip() else t
        for t, c in zip(tickers, cik, strict=True)
    ]
    return dict(zip(tickers, ids, strict=True))


def one_class_per_issuer(
    names: Sequence[str], target: str, issuers: dict[str, str], caps: pd.Series
) -> list[str]:
    """Drop the target's issuer and keep one share class per issuer, in the order of ``names``.

    Rule (deterministic): among the classes of one issuer present in ``names``, keep the one with
    the largest market cap as of the rebalance date (``caps``; a class without a cap counts as 0),
    ties by ticker. With the 25 % name cap this makes the issuer cap 25 % too, and no basket holds
    the target's own issuer (a short of another class could be a constructive sale of the position).

    Parameters
    ----------
    names : sequence of str
        Candidates in the generator's order of preference.
    target : str
    issuers : dict
        ``ticker -> issuer id`` (:func:`issuer_ids`); a ticker missing from it is its own issuer.
    caps : pd.Series
        ``ticker -> market cap`` as of the rebalance date.

    Returns
    -------
    list of str
        ``names`` without the target's issuer and without the smaller classes of any issuer.
    """
    own = issuers.get(target, target)
    best: dict[str, tuple[float, str]] = {}
    for name in names:
        issuer = issuers.get(name, name)
        if issuer == own:
            continue
        key = (-float(caps.get(name, 0.0)), name)
        if issuer not in best or key < best[issuer]:
            best[issuer] = key
    kept = {ticker for _, ticker in best.values()}
    return [n for n in names if n in kept]
