"""Pictures and tables of the semantic area: the labelled cluster map, peers, model comparison."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from hedging_pipeline.reporting.plots import figure_to_png, plt
from hedging_pipeline.reporting.tables import frame_to_markdown

NOISE_COLOUR = "#bbbbbb"
NAMES_PER_CLUSTER_LABEL = 3
"""Tickers printed next to each cluster's number (those closest to its centre)."""
FIGURE_SIZE = (11.0, 8.5)
FEATURED_PEERS = 5
"""Peers shown per company in the peers preview."""


def cluster_scatter_png(
    clusters: pd.DataFrame,
    *,
    roles: pd.DataFrame | None = None,
    title: str = "Company map (UMAP of description embeddings, HDBSCAN clusters)",
) -> bytes:
    """Scatter the 2-D map coloured by cluster, each cluster labelled, AI makers and users marked.

    Parameters
    ----------
    clusters : pd.DataFrame
        Columns ticker, cluster (-1 = noise), x, y.
    roles : pd.DataFrame, optional
        Columns ticker, role (``maker``/``user``/``other``): makers are drawn as triangles with
        their ticker written, users as squares.
    title : str
        Figure title.

    Returns
    -------
    bytes
        PNG image.
    """
    fig, ax = plt.subplots(figsize=FIGURE_SIZE)
    frame = clusters.copy()
    role_of = {} if roles is None else dict(zip(roles["ticker"], roles["role"], strict=True))
    frame["role"] = frame["ticker"].map(role_of).fillna("other")
    labels = sorted(c for c in frame["cluster"].unique() if c >= 0)
    palette = plt.get_cmap("tab20")
    colour = {c: palette(i % palette.N) for i, c in enumerate(labels)}
    noise = frame["cluster"] < 0
    ax.scatter(frame.loc[noise, "x"], frame.loc[noise, "y"], s=10, c=NOISE_COLOUR, label="noise")
    markers = {"other": "o", "user": "s", "maker": "^"}
    sizes = {"other": 16, "user": 26, "maker": 46}
    for role, marker in markers.items():
        part = frame[~noise & (frame["role"] == role)]
        ax.scatter(
            part["x"],
            part["y"],
            s=sizes[role],
            marker=marker,
            c=[colour[c] for c in part["cluster"]],
            edgecolors="black" if role != "other" else "none",
            linewidths=0.6,
            label={"other": "company", "user": "AI user", "maker": "AI maker"}[role],
        )
    for cluster in labels:
        members = frame[frame["cluster"] == cluster]
        centre = members[["x", "y"]].to_numpy().mean(axis=0)
        distance = np.linalg.norm(members[["x", "y"]].to_numpy() - centre, axis=1)
        names = members["ticker"].to_numpy()[np.argsort(distance)][:NAMES_PER_CLUSTER_LABEL]
        ax.annotate(
            f"C{cluster}: {', '.join(names)}",
            centre,
            fontsize=7,
            weight="bold",
            ha="center",
            bbox={"boxstyle": "round,pad=0.2", "fc": "white", "alpha": 0.7, "lw": 0},
        )
    for row in frame[frame["role"] == "maker"].itertuples(index=False):
        ax.annotate(
            row.ticker, (row.x, row.y), fontsize=6, xytext=(3, 3), textcoords="offset points"
        )
    n_noise = int(noise.sum())
    ax.set_title(f"{title}\n{len(frame)} companies, {len(labels)} clusters, {n_noise} noise")
    ax.set_xlabel("UMAP 1")
    ax.set_ylabel("UMAP 2")
    ax.legend(loc="best", fontsize=8)
    return figure_to_png(fig)


def peers_markdown(
    peers: pd.DataFrame, tickers: Sequence[str] | None = None, *, n_peers: int = FEATURED_PEERS
) -> str:
    """Markdown table: for each featured ticker, its top peers with cosine similarity.

    Parameters
    ----------
    peers : pd.DataFrame
        ``semantic_peers`` rows (ticker, peer, rank, similarity).
    tickers : sequence of str, optional
        Companies to show (those present); default: the first ten tickers.
    n_peers : int
        Peers per company.

    Returns
    -------
    str
        A Markdown table, or ``_no rows_``.
    """
    if peers.empty:
        return "_no rows_"
    chosen = list(tickers) if tickers is not None else sorted(peers["ticker"].unique())[:10]
    top = peers[peers["ticker"].isin(chosen) & (peers["rank"] <= n_peers)].sort_values(
        ["ticker", "rank"]
    )
    lines = top.groupby("ticker", sort=True).apply(
        lambda g: ", ".join(
            f"{p} ({s:.2f})" for p, s in zip(g["peer"], g["similarity"], strict=True)
        ),
        include_groups=False,
    )
    table = pd.DataFrame({"ticker": lines.index, f"top {n_peers} peers (cosine)": lines.to_numpy()})
    return frame_to_markdown(table, max_rows=len(table))


def evaluation_markdown(evaluation: pd.DataFrame) -> str:
    """Markdown table of ``embedding_evaluation`` rows, best silhouette first."""
    ordered = evaluation.sort_values("silhouette_gics", ascending=False)
    return frame_to_markdown(ordered, max_rows=len(ordered), floatfmt=".3f")


def ai_view_markdown(view: pd.DataFrame, *, max_names: int = 12) -> str:
    """Markdown table of the AI makers/users per cluster (names cut to ``max_names`` each)."""
    if view.empty:
        return "_no rows_"

    def cut(names: str) -> str:
        items = [n for n in names.split(", ") if n]
        more = len(items) - max_names
        return ", ".join(items[:max_names]) + (f" (+{more})" if more > 0 else "")

    shown = view.assign(makers=view["makers"].map(cut), users=view["users"].map(cut))
    columns = ["cluster", "n_companies", "n_makers", "n_users", "dominant", "makers", "users"]
    return frame_to_markdown(shown[columns], max_rows=len(shown), floatfmt=".2f")
