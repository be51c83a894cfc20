"""Reports as assets: what people read sits in the lineage, downstream of the tables it is built from.

* ``backtest_report``: the walk-forward backtest report (Markdown + PNGs under ``HEDGING_HOME/reports/backtest``),
  from ``backtest_results``, ``backtest_summary`` and the hedges it evaluates;
* ``company_map``: the cluster map of the companies (PNG under ``HEDGING_HOME/reports``) from
  ``company_clusters``.

Each report is re-rendered only when its tables change (``hedging-pipeline run`` and the automation treat reports
like any other asset).
"""

import dagster as dg

from hedging_pipeline.defs.common import OWNER, WAREHOUSE_POOL, plot_metadata
from hedging_pipeline.defs.resources import WarehouseResource
from hedging_pipeline.reporting import backtest_report as report
from hedging_pipeline.reporting.nlp_report import cluster_scatter_png

GROUP_REPORTS = "reports"
REPORT_INPUTS = ["backtest_results", "backtest_summary", "hedge_weights", "hedge_diagnostics"]
COMPANY_MAP_FILE = "company_clusters.png"


def build_report_assets(asset_keys: set[dg.AssetKey]) -> list[dg.AssetsDefinition]:
    """The report assets whose tables exist in the code location."""
    common = {
        "owners": [OWNER],
        "group_name": GROUP_REPORTS,
        "kinds": {"markdown", "matplotlib"},
        "pool": WAREHOUSE_POOL,
    }
    assets = []
    if {dg.AssetKey(k) for k in REPORT_INPUTS} <= asset_keys:

        @dg.asset(deps=[*REPORT_INPUTS, "daily_returns"], **common)
        def backtest_report(warehouse: WarehouseResource) -> dg.MaterializeResult:
            """Walk-forward backtest report: summary per method, variance reduction, TE calibration."""
            wh = warehouse.get()
            results = wh.read("backtest_results", date_column="as_of")
            weights = wh.read("hedge_weights", date_column="as_of")
            first = weights["as_of"].min() if len(weights) else None
            built = report.build_backtest_report(
                results,
                wh.read("backtest_summary"),
                weights,
                wh.read("hedge_diagnostics", date_column="as_of"),
                wh.read("daily_returns", start=first),
            )
            written = report.write_backtest_report(built, warehouse.reports_dir)
            meta = {"report": dg.MetadataValue.path(str(written.path))}
            for name, png in written.images.items():
                meta |= plot_metadata(png, title=name.removesuffix(".png"))
            return dg.MaterializeResult(metadata=meta)

        assets.append(backtest_report)
    if dg.AssetKey("company_clusters") in asset_keys:

        @dg.asset(deps=["company_clusters"], **common)
        def company_map(warehouse: WarehouseResource) -> dg.MaterializeResult:
            """Map of the companies (UMAP of description embeddings) coloured by HDBSCAN cluster."""
            clusters = warehouse.get().read("company_clusters")
            if clusters.empty:
                return dg.MaterializeResult(
                    metadata={"skipped": "no company map (too few companies)"}
                )
            model = str(clusters["model"].iloc[0]) if "model" in clusters else "embeddings"
            png = cluster_scatter_png(clusters, title=f"Company map ({model})")
            save_to = warehouse.reports_dir / COMPANY_MAP_FILE
            return dg.MaterializeResult(
                metadata=plot_metadata(png, title="company_map", save_to=save_to)
            )

        assets.append(company_map)
    return assets
