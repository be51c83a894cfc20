"""Materialise only the semantic assets through Dagster on the configured raw folder, timed.

    HEDGING_HOME=$PWD/data/home nice -n 5 python benchmarks/run_semantic_stage.py [--stage all|text|universe]

``text`` runs raw_companies, raw_descriptions, description_chunks and company_embeddings (every
ticker in one single-run backfill); ``universe`` runs semantic_peers, embedding_evaluation and
company_clusters on what is stored; ``all`` runs both. The instance lives under HEDGING_HOME (the
project's own), so the runs show in the UI. Prints each stage's wall time and the evaluation table.
"""

from __future__ import annotations

import argparse
import time

import dagster as dg

from hedging_pipeline.defs.partitions import TICKERS_PARTITION, build_partitions
from hedging_pipeline.defs.raw import build_raw_assets
from hedging_pipeline.defs.resources import build_resources
from hedging_pipeline.defs.semantic import build_semantic_defs
from hedging_pipeline.instance import ensure_instance_dir
from hedging_pipeline.settings import load_settings
from hedging_pipeline.warehouse.duckdb import Warehouse

TEXT = ("description_chunks", "company_embeddings")
UNIVERSE = ("semantic_peers", "embedding_evaluation", "company_clusters")


def main() -> None:
    """Run the chosen stage(s) and print timings and the stored evaluation."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stage", choices=("all", "text", "universe"), default="all")
    args = parser.parse_args()
    settings = load_settings()
    ensure_instance_dir(settings)
    print(settings.describe_raw_source(), "->", settings.home)
    instance = dg.DagsterInstance.get()
    resources = build_resources(settings)
    parts = build_partitions(settings)
    assets = {a.key.to_user_string(): a for a in build_semantic_defs(parts, settings).assets}
    wh = Warehouse(settings.warehouse_path)
    if args.stage in ("all", "text"):
        raw = {a.key.to_user_string(): a for a in build_raw_assets(parts)}
        started = time.perf_counter()
        selected = [raw["raw_companies"], raw["raw_descriptions"]]
        assert dg.materialize(selected, instance=instance, resources=resources).success
        tickers = sorted(wh.read("raw_companies")["ticker"])
        instance.add_dynamic_partitions(TICKERS_PARTITION, tickers)
        tags = {
            "dagster/asset_partition_range_start": tickers[0],
            "dagster/asset_partition_range_end": tickers[-1],
        }
        result = dg.materialize(
            [assets[n] for n in TEXT], instance=instance, resources=resources, tags=tags
        )
        assert result.success
        print(f"text stage ({len(tickers)} tickers): {time.perf_counter() - started:.0f} s")
    if args.stage in ("all", "universe"):
        started = time.perf_counter()
        result = dg.materialize(
            [assets[n] for n in UNIVERSE], instance=instance, resources=resources
        )
        assert result.success
        print(f"universe stage: {time.perf_counter() - started:.0f} s")
        print(wh.read("embedding_evaluation").to_string())


if __name__ == "__main__":
    main()
