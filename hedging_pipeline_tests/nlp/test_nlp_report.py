from __future__ import annotations

import io

import numpy as np
import pandas as pd
from matplotlib import image as mpimg

from hedging_pipeline.reporting.nlp_report import (
    ai_view_markdown,
    cluster_scatter_png,
    evaluation_markdown,
    peers_markdown,
)


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
        {"model": ["m1", "m2"], "silhouette_gics": [0.01, 0.05], "ari_gics": [0.1, 0.2]}
    )
    md = evaluation_markdown(evaluation)
    assert md.index("m2") < md.index("m1")
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
