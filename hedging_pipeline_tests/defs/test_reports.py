"""Reports are assets downstream of the tables they are built from."""

import dagster as dg
import pandas as pd

from hedging_pipeline.definitions import build_definitions
from hedging_pipeline.defs.reports import COMPANY_MAP_FILE, build_report_assets
from hedging_pipeline.defs.resources import build_resources
from hedging_pipeline.warehouse.duckdb import Warehouse
from hedging_pipeline_tests.conftest import make_settings


def test_reports_sit_below_their_tables(demo_settings):
    graph = build_definitions(demo_settings).get_repository_def().asset_graph
    parents = {
        name: {k.to_user_string() for k in graph.get(dg.AssetKey(name)).parent_keys}
        for name in ("backtest_report", "company_map")
    }
    assert {"backtest_results", "backtest_summary", "hedge_weights"} <= parents["backtest_report"]
    assert parents["company_map"] == {"company_clusters"}


def test_company_map_is_rendered_from_the_clusters_table(demo_raw_dir, tmp_path):
    settings = make_settings(demo_raw_dir, tmp_path / "home")
    clusters = pd.DataFrame(
        {
            "ticker": ["AAA", "BBB", "CCC", "DDD"],
            "cluster": [0, 0, 1, -1],
            "x": [0.0, 0.1, 1.0, 2.0],
            "y": [0.0, 0.2, 1.0, -1.0],
            "model": "hashing",
        }
    )
    Warehouse(settings.warehouse_path).replace_table("company_clusters", clusters)
    (company_map,) = build_report_assets({dg.AssetKey("company_clusters")})
    result = dg.materialize([company_map], resources=build_resources(settings))
    assert result.success
    png = settings.reports_dir / COMPANY_MAP_FILE
    assert png.read_bytes().startswith(b"\x89PNG")
