from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from matplotlib import image as mpimg
from matplotlib.colors import to_rgba

from hedging_pipeline.reporting.nlp_report import (
    BETWEEN_STYLE,
    NOISE_STYLE,
    ROLE_STYLES,
    ai_view_markdown,
    between_markdown,
    cluster_scatter_png,
    draw_cluster_map,
    evaluation_markdown,
    peers_markdown,
    semantic_map_markdown,
)
from hedging_pipeline.reporting.plots import plt


def test_cluster_scatter_is_a_png_with_content():
    rng = np.random.default_rng(0)
    clusters = pd.DataFrame(
        {
            "ticker": [f"T{i}" for i in range(30)],
            "cluster": [0] * 10 + [1] * 10 + [-1] * 10,
            "x": np.r_[rng.normal(0, 0.2, 10), rng.normal(5, 0.2, 10), rng.uniform(-3, 8, 10)],
            "y": rng.normal(size=30),
        }
    )
    roles = pd.DataFrame({"ticker": ["T0", "T11"], "role": ["maker", "user"]})
    png = cluster_scatter_png(clusters, roles=roles)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = mpimg.imread(io.BytesIO(png))
    assert pixels.shape[0] > 500 and pixels.shape[1] > 700
    assert pixels[..., :3].std() > 0.05  # not a blank canvas


def test_markdown_tables_show_the_rows():
    peers = pd.DataFrame(
        {
            "ticker": ["A", "A", "B", "B"],
            "peer": ["B", "C", "A", "C"],
            "rank": [1, 2, 1, 2],
            "similarity": [0.9, 0.5, 0.9, 0.4],
            "model": "m",
        }
    )
    md = peers_markdown(peers, ["B"], n_peers=1)
    assert "| B" in md and "A (0.90)" in md and "C (0.40)" not in md
    assert peers_markdown(peers.iloc[0:0]) == "_no rows_"
    evaluation = pd.DataFrame(
        {
            "model": ["m1", "m2"],
            "header": ["title", "title+sector"],
            "gics_in_text": [False, True],
            "silhouette_gics": [0.01, np.nan],
            "ari_gics": [0.1, np.nan],
            "n_companies": [40, 40],
        }
    )
    md = evaluation_markdown(evaluation)
    lines = md.splitlines()
    assert "m1" in lines[0] and "m2" in lines[0]  # one column per model, side by side
    sil = next(line for line in lines if line.startswith("| silhouette"))
    assert "0.010" in sil and "withheld" in sil
    assert "title+sector" in md and "| 40 " in md
    view = pd.DataFrame(
        {
            "cluster": [0],
            "n_companies": [20],
            "n_makers": [14],
            "n_users": [0],
            "dominant": ["maker"],
            "makers": [", ".join(f"M{i}" for i in range(14))],
            "users": [""],
        }
    )
    md = ai_view_markdown(view, max_names=12)
    assert "M11" in md and "M12" not in md and "(+2)" in md


def _map_frame():
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "ticker": [f"T{i}" for i in range(30)],
            "cluster": [0] * 10 + [1] * 10 + [-1] * 10,
            "x": np.r_[rng.normal(0, 0.2, 10), rng.normal(5, 0.2, 10), rng.uniform(-3, 8, 10)],
            "y": rng.normal(size=30),
        }
    )


def test_legend_markers_are_drawn_as_the_plot_draws_them():
    from matplotlib.markers import MarkerStyle as MplMarker

    fig, ax = plt.subplots()
    roles = pd.DataFrame({"ticker": ["T0", "T11"], "role": ["maker", "user"]})
    between = pd.DataFrame({"ticker": ["T5"]})
    drawn = draw_cluster_map(ax, _map_frame(), roles=roles, between=between)
    assert drawn == [NOISE_STYLE, *ROLE_STYLES.values(), BETWEEN_STYLE]
    collections = {c.get_label(): c for c in ax.collections}
    handles = ax.get_legend().legend_handles
    assert [h.get_label() for h in handles] == [s.label for s in drawn]
    for handle, style in zip(handles, drawn, strict=True):
        drawn_points = collections[style.label]
        assert handle.get_marker() == style.marker
        expected = MplMarker(style.marker)
        path = expected.get_path().transformed(expected.get_transform())
        np.testing.assert_allclose(drawn_points.get_paths()[0].vertices, path.vertices)
        assert handle.get_markersize() ** 2 == pytest.approx(drawn_points.get_sizes()[0])
        if style.edge == "none":
            assert handle.get_markeredgewidth() == 0 and drawn_points.get_linewidths()[0] == 0
        else:
            np.testing.assert_allclose(
                to_rgba(handle.get_markeredgecolor()), drawn_points.get_edgecolors()[0]
            )
        if style.face == "none":
            assert handle.get_markerfacecolor() == "none"
            assert (
                len(drawn_points.get_facecolors()) == 0 or drawn_points.get_facecolors()[0][3] == 0
            )
        elif style.face is not None:
            np.testing.assert_allclose(
                to_rgba(handle.get_markerfacecolor()), drawn_points.get_facecolors()[0]
            )
    plt.close(fig)
    png = cluster_scatter_png(_map_frame(), roles=roles, between=between)
    assert png[:4] == b"\x89PNG"


def test_between_and_map_reports():
    between = pd.DataFrame(
        {
            "ticker": ["AMZN"],
            "cluster": [3],
            "nearest_cluster": [3],
            "second_cluster": [7],
            "votes_nearest": [5],
            "votes_second": [4],
            "balance": [0.8],
        }
    )
    md = between_markdown(between, {3: ["WMT", "COST"], 7: ["MSFT"]})
    assert "AMZN" in md and "C3 (WMT, COST): 5" in md and "C7 (MSFT): 4" in md
    assert "no company" in between_markdown(between.iloc[0:0])
    report = semantic_map_markdown(
        model="m",
        header="title",
        n_clusters=2,
        noise_fraction=0.25,
        gics_agreement="ARI 0.50",
        ai_view_md="AI",
        between_md=md,
        image="company_clusters.png",
    )
    assert "![company map](company_clusters.png)" in report and "AMZN" in report
    assert "25% noise" in report and "`title`" in report
