"""Stage jobs: the asset graph cut into runs that each share one partitions definition.

Dagster runs one partitions definition per run, so "materialise everything" is a sequence of single-run
backfills: raw files (unpartitioned) -> daily panels and factor model (months of daily rows) ->
per-ticker text work (dynamic tickers) -> universe-wide NLP (unpartitioned) -> hedges (hedge months) -> backtest.
The cut is computed from the graph, so assets added later land in the right stage automatically.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import dagster as dg


@dataclass(frozen=True)
class Stage:
    """One run of the full materialisation: assets sharing a partitions definition."""

    index: int
    name: str
    job_name: str
    asset_keys: tuple[dg.AssetKey, ...]
    partitions_def: dg.PartitionsDefinition | None


def _partitions_label(pdef: dg.PartitionsDefinition | None) -> str:
    if pdef is None:
        return "unpartitioned"
    if isinstance(pdef, dg.DynamicPartitionsDefinition):
        return f"dynamic_{pdef.name}"
    if isinstance(pdef, dg.TimeWindowPartitionsDefinition):
        return "monthly"
    return type(pdef).__name__.lower()


def compute_stages(assets: list[dg.AssetsDefinition]) -> list[Stage]:
    """Order assets into stages: an asset joins its parent's stage when they share partitions, else a later one."""
    specs: dict[dg.AssetKey, tuple[dg.PartitionsDefinition | None, set[dg.AssetKey]]] = {}
    for assets_def in assets:
        for key in assets_def.keys:
            deps = set(assets_def.asset_deps.get(key, set()))
            specs[key] = (assets_def.partitions_def, deps)
    level: dict[dg.AssetKey, int] = {}

    def visit(key: dg.AssetKey, trail: tuple[dg.AssetKey, ...] = ()) -> int:
        if key in level:
            return level[key]
        pdef, deps = specs[key]
        result = 0
        for dep in deps:
            if dep not in specs or dep in trail:
                continue
            dep_level = visit(dep, (*trail, key))
            same = specs[dep][0] == pdef
            result = max(result, dep_level if same else dep_level + 1)
        level[key] = result
        return result

    for key in specs:
        visit(key)
    groups: dict[tuple[int, str], list[dg.AssetKey]] = defaultdict(list)
    pdefs: dict[tuple[int, str], dg.PartitionsDefinition | None] = {}
    for key, lvl in level.items():
        label = _partitions_label(specs[key][0])
        groups[(lvl, label)].append(key)
        pdefs[(lvl, label)] = specs[key][0]
    stages = []
    for i, (lvl, label) in enumerate(sorted(groups)):
        keys = tuple(sorted(groups[(lvl, label)], key=lambda k: k.to_user_string()))
        stages.append(
            Stage(
                index=i,
                name=f"{lvl}-{label}",
                job_name=f"stage_{i}_{label}",
                asset_keys=keys,
                partitions_def=pdefs[(lvl, label)],
            )
        )
    return stages


def stage_jobs(stages: list[Stage]) -> list[dg.UnresolvedAssetJobDefinition]:
    """One asset job per stage (visible in the UI as the building blocks of ``hedging-pipeline run``)."""
    return [
        dg.define_asset_job(
            name=stage.job_name,
            selection=dg.AssetSelection.assets(*stage.asset_keys),
            description=f"Stage {stage.index} of the full run: "
            + ", ".join(k.to_user_string() for k in stage.asset_keys),
        )
        for stage in stages
    ]
