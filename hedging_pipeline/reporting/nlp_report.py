"""Pictures and tables of the semantic area: the labelled cluster map, peers, model comparison."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from hedging_pipeline.nlp.clustering import central_members
from hedging_pipeline.reporting.plots import figure_to_png, plt
from hedging_pipeline.reporting.tables import frame_to_markdown

NOISE_COLOUR = "#bbbbbb"
LEGEND_FACE = "#888888"
"""Fill of the legend's markers (in the plot, the fill is the cluster's colour)."""
NAMES_PER_CLUSTER_LABEL = 3
"""Tickers printed next to each cluster's number (those closest to its centre)."""
FIGURE_SIZE = (11.0, 8.5)
FEATURED_PEERS = 5
"""Peers shown per company in the peers preview."""


@dataclass(frozen=True)
class MarkerStyle:
    """How one kind of point is drawn; the legend draws its entry from the same style.

    Attributes
    ----------
    label : str
        Legend text.
    marker : str
        Matplotlib marker.
    size : float
        Scatter size ``s`` (points squared); the legend's ``markersize`` is its square root.
    edge : str
        Edge colour (``none`` for no edge).
    face : str or None
        Fixed fill; None fills with the cluster's colour.
    linewidth : float
        Edge width.
    """

    label: str
    marker: str
    size: float
    edge: str
    face: str | None = None
    linewidth: float = 0.6


NOISE_STYLE = MarkerStyle("noise (no cluster)", "o", 10, "none", face=NOISE_COLOUR)
ROLE_STYLES = {
    "other": MarkerStyle("company", "o", 16, "none"),
    "user": MarkerStyle("AI user", "s", 26, "black"),
    "maker": MarkerStyle("AI maker", "^", 46, "black"),
}
BETWEEN_STYLE = MarkerStyle("between two clusters", "o", 150, "crimson", face="none", linewidth=1.2)


def _legend_handle(style: MarkerStyle) -> Line2D:
    """A legend entry drawn exactly like the style's points (neutral fill where colour = cluster)."""
    return Line2D(
        [],
        [],
        linestyle="none",
        marker=style.marker,
        markersize=float(np.sqrt(style.size)),
        markerfacecolor=style.face if style.face is not None else LEGEND_FACE,
        markeredgecolor=style.edge,
        markeredgewidth=style.linewidth if style.edge != "none" else 0.0,
        label=style.label,
    )


def _scatter(ax, part: pd.DataFrame, style: MarkerStyle, colours) -> None:
    ax.scatter(
        part["x"],
        part["y"],
        s=style.size,
        marker=style.marker,
        c=colours if style.face is None else None,
        color=style.face if style.face not in (None, "none") else None,
        facecolors="none" if style.face == "none" else None,
        edgecolors=style.edge,
        linewidths=style.linewidth if style.edge != "none" else 0.0,
        label=style.label,
    )


def draw_cluster_map(
    ax,
    clusters: pd.DataFrame,
    *,
    roles: pd.DataFrame | None = None,
    between: pd.DataFrame | None = None,
) -> list[MarkerStyle]:
    """Draw the map on ``ax``; return the styles drawn, in legend order.

    Parameters
    ----------
    ax : matplotlib Axes
        Where to draw.
    clusters : pd.DataFrame
        Columns ticker, cluster (-1 = noise), x, y.
    roles : pd.DataFrame, optional
        Columns ticker, role (``maker``/``user``/``other``).
    between : pd.DataFrame, optional
        Column ticker: companies between two clusters, ringed and named.

    Returns
    -------
    list of MarkerStyle
        One per kind of point present, the legend's entries.
    """
    frame = clusters.copy()
    role_of = {} if roles is None else dict(zip(roles["ticker"], roles["role"], strict=True))
    frame["role"] = frame["ticker"].map(role_of).fillna("other")
    labels = sorted(c for c in frame["cluster"].unique() if c >= 0)
    palette = plt.get_cmap("tab20")
    colour = {c: palette(i % palette.N) for i, c in enumerate(labels)}
    noise = frame["cluster"] < 0
    drawn = []
    if noise.any():
        _scatter(ax, frame[noise], NOISE_STYLE, None)
        drawn.append(NOISE_STYLE)
    for role, style in ROLE_STYLES.items():
        part = frame[~noise & (frame["role"] == role)]
        if len(part):
            _scatter(ax, part, style, [colour[c] for c in part["cluster"]])
            drawn.append(style)
    hybrid = frame[frame["ticker"].isin(set(between["ticker"]) if between is not None else ())]
    if len(hybrid):
        _scatter(ax, hybrid, BETWEEN_STYLE, None)
        drawn.append(BETWEEN_STYLE)
    for cluster, names in central_members(frame, NAMES_PER_CLUSTER_LABEL).items():
        centre = frame.loc[frame["cluster"] == cluster, ["x", "y"]].to_numpy().mean(axis=0)
        ax.annotate(
            f"C{cluster}: {', '.join(names)}",
            centre,
            fontsize=7,
            weight="bold",
            ha="center",
            bbox={"boxstyle": "round,pad=0.2", "fc": "white", "alpha": 0.7, "lw": 0},
        )
    named = frame[(frame["role"] == "maker") | frame["ticker"].isin(set(hybrid["ticker"]))]
    for row in named.itertuples(index=False):
        ax.annotate(
            row.ticker, (row.x, row.y), fontsize=6, xytext=(3, 3), textcoords="offset points"
        )
    ax.legend(
        handles=[_legend_handle(s) for s in drawn],
        loc="best",
        fontsize=8,
        title="fill colour = cluster",
        title_fontsize=8,
    )
    return drawn


def cluster_scatter_png(
    clusters: pd.DataFrame,
    *,
    roles: pd.DataFrame | None = None,
    between: pd.DataFrame | None = None,
    title: str = "Company map (UMAP of description embeddings, HDBSCAN clusters)",
) -> bytes:
    """The map as a PNG: coloured by cluster, clusters named, AI roles and between-cluster marked.

    Parameters
    ----------
    clusters : pd.DataFrame
        Columns ticker, cluster (-1 = noise), x, y.
    roles : pd.DataFrame, optional
        Columns ticker, role: makers are triangles with their ticker written, users squares.
    between : pd.DataFrame, optional
        Column ticker: companies between two clusters, ringed with their ticker written.
    title : str
        Figure title.

    Returns
    -------
    bytes
        PNG image.
    """
    fig, ax = plt.subplots(figsize=FIGURE_SIZE)
    draw_cluster_map(ax, clusters, roles=roles, between=between)
    n_clusters = int(clusters.loc[clusters["cluster"] >= 0, "cluster"].nunique())
    n_noise = int((clusters["cluster"] < 0).sum())
    n_between = 0 if between is None else len(between)
    ax.set_title(
        f"{title}\n{len(clusters)} companies, {n_clusters} clusters, {n_noise} noise, "
        f"{n_between} between two clusters"
    )
    ax.set_xlabel("UMAP 1")
    ax.set_ylabel("UMAP 2")
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


EVALUATION_ROWS = {
    "header": "chunk header",
    "gics_in_text": "GICS label in the text",
    "n_companies": "companies (the same for every model)",
    "silhouette_gics": "silhouette vs GICS sector (cosine)",
    "ari_gics": "ARI, k-means (k = sectors) vs GICS",
    "ami_gics": "AMI, k-means vs GICS",
    "peer_sector_precision": "top-k peers in own sector",
    "peer_sub_industry_precision": "top-k peers in own sub-industry",
    "precision_k": "k",
}
"""Rows of the side-by-side comparison (metric -> label)."""


def evaluation_markdown(evaluation: pd.DataFrame) -> str:
    """Side-by-side Markdown table of ``embedding_evaluation``: one column per model.

    Scores withheld because the model's text holds a GICS label show as ``withheld``.
    """
    if evaluation.empty:
        return "_no rows_"
    rows = [key for key in EVALUATION_ROWS if key in evaluation.columns]
    table = evaluation.set_index("model")[rows].T
    shown = table.apply(lambda column: column.map(_cell))
    shown.index = [EVALUATION_ROWS[key] for key in rows]
    shown = shown.reset_index().rename(columns={"index": "measure"})
    return frame_to_markdown(shown, max_rows=len(shown))


def _cell(value) -> str:
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, float | np.floating):
        return "withheld" if np.isnan(value) else f"{value:.3f}"
    return str(value)


def between_markdown(between: pd.DataFrame, names: dict[int, list[str]] | None = None) -> str:
    """Markdown table of the companies between two clusters, each cluster named by its centre.

    Parameters
    ----------
    between : pd.DataFrame
        :func:`~hedging_pipeline.nlp.clustering.between_clusters` rows.
    names : dict, optional
        ``{cluster: central tickers}`` to name the clusters.

    Returns
    -------
    str
        A Markdown table, or a line saying no company sits between clusters.
    """
    if between.empty:
        return "_no company sits between two clusters_"
    names = names or {}

    def named(cluster: int) -> str:
        members = names.get(int(cluster))
        if int(cluster) < 0:
            return "noise"
        return f"C{int(cluster)}" + (f" ({', '.join(members)})" if members else "")

    table = pd.DataFrame(
        {
            "ticker": between["ticker"],
            "own cluster": between["cluster"].map(named),
            "nearest cluster (neighbours)": [
                f"{named(c)}: {n}"
                for c, n in zip(between["nearest_cluster"], between["votes_nearest"], strict=True)
            ],
            "second cluster (neighbours)": [
                f"{named(c)}: {n}"
                for c, n in zip(between["second_cluster"], between["votes_second"], strict=True)
            ],
        }
    )
    return frame_to_markdown(table, max_rows=len(table))


def semantic_map_markdown(
    *,
    model: str,
    header: str,
    n_clusters: int,
    noise_fraction: float,
    gics_agreement: str,
    ai_view_md: str,
    between_md: str,
    image: str,
) -> str:
    """The semantic map report: the picture, the AI makers vs users view and the hybrids."""
    return (
        f"# Company map ({model}, chunk header `{header}`)\n\n"
        f"UMAP (cosine) + HDBSCAN on the description embeddings: {n_clusters} clusters, "
        f"{noise_fraction:.0%} noise. HDBSCAN vs GICS sectors: {gics_agreement}.\n\n"
        f"![company map]({image})\n\n"
        "## Companies between two clusters\n\n"
        "Their 10 nearest companies (cosine) split between two clusters.\n\n"
        f"{between_md}\n\n"
        f"## AI makers vs AI users\n\n{ai_view_md}\n"
    )


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
