"""The code location: one ``Definitions`` object assembled explicitly from ``hedging_pipeline/defs``.

``dagster dev -w workspace.yaml``, ``dagster asset materialize -m hedging_pipeline.definitions``, the CLI and the
tests all load :data:`defs`. :func:`build_definitions` builds it for any :class:`Settings` (tests use a temporary
home and raw folder).
"""

from __future__ import annotations

import dagster as dg

from hedging_pipeline.defs.automation import build_automation_defs
from hedging_pipeline.defs.backtest import build_backtest_defs
from hedging_pipeline.defs.executors import build_executor
from hedging_pipeline.defs.hedges import build_hedges_defs
from hedging_pipeline.defs.logging import progress_logger
from hedging_pipeline.defs.panels import build_panel_assets
from hedging_pipeline.defs.partitions import build_partitions
from hedging_pipeline.defs.raw import build_raw_assets
from hedging_pipeline.defs.reports import build_report_assets
from hedging_pipeline.defs.resources import build_resources
from hedging_pipeline.defs.risk import build_risk_defs
from hedging_pipeline.defs.semantic import build_semantic_defs
from hedging_pipeline.defs.stages import compute_stages, stage_jobs
from hedging_pipeline.settings import Settings, load_settings


def prepare_raw_data(settings: Settings) -> None:
    """Generate the demo universe when it is the raw source and is missing (fresh clone without data)."""
    if settings.raw_source == "demo":
        from hedging_pipeline.data.demo import ensure_demo_universe

        ensure_demo_universe(settings.raw_dir)


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    """Assemble every asset, check, job, schedule and sensor for ``settings``."""
    settings = settings or load_settings()
    prepare_raw_data(settings)
    parts = build_partitions(settings)
    areas = dg.Definitions.merge(
        dg.Definitions(assets=[*build_raw_assets(parts), *build_panel_assets(parts)]),
        build_risk_defs(parts, settings),
        build_semantic_defs(parts, settings),
        build_hedges_defs(parts, settings),
        build_backtest_defs(parts, settings),
    )
    assets = [a for a in (areas.assets or []) if isinstance(a, dg.AssetsDefinition)]
    reports = build_report_assets({k for a in assets for k in a.keys})
    areas = dg.Definitions.merge(areas, dg.Definitions(assets=reports))
    assets += reports
    stages = compute_stages(assets)
    return dg.Definitions.merge(
        areas,
        build_automation_defs(parts, settings, stages),
        dg.Definitions(
            jobs=stage_jobs(stages),
            resources=build_resources(settings),
            executor=build_executor(settings),
            loggers={"console": dg.colored_console_logger, "progress": progress_logger},
        ),
    )


defs = build_definitions()
