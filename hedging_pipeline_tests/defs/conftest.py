"""Fixtures for in-process Dagster tests: a demo warehouse with raw files and panels materialised."""

import shutil
from pathlib import Path

import dagster as dg
import pytest

from hedging_pipeline.settings import Settings
from hedging_pipeline_tests.conftest import make_settings
from hedging_pipeline_tests.session_share import build_once

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"


def run_stage_jobs(defs: dg.Definitions, instance: dg.DagsterInstance, *, upto: str | None = None):
    """Run the code location's stage jobs in order over every partition (what ``hedging-pipeline run`` does).

    Stops after the stage whose job name starts with ``upto`` when given. Returns the run results.
    """
    from hedging_pipeline.defs.stages import compute_stages

    repo = defs.get_repository_def()
    assets = list({id(a): a for a in repo.assets_defs_by_key.values()}.values())
    results = []
    for stage in compute_stages(assets):
        tags = {}
        pdef = stage.partitions_def
        if isinstance(pdef, dg.DynamicPartitionsDefinition):
            keys = list(instance.get_dynamic_partitions(pdef.name))
        elif pdef is not None:
            keys = pdef.get_partition_keys(dynamic_partitions_store=instance)
        else:
            keys = None
        if keys is not None:
            if not keys:
                continue
            tags = {RANGE_START: keys[0], RANGE_END: keys[-1]}
        result = defs.resolve_job_def(stage.job_name).execute_in_process(
            instance=instance, tags=tags
        )
        assert result.success, stage.job_name
        results.append(result)
        if upto and stage.job_name.startswith(upto):
            break
    return results


def materialize_panels(settings: Settings, instance: dg.DagsterInstance | None = None) -> None:
    """Materialise the raw assets and every month of the panels for ``settings`` (in-process)."""
    from hedging_pipeline.defs.panels import build_panel_assets
    from hedging_pipeline.defs.partitions import build_partitions
    from hedging_pipeline.defs.raw import build_raw_assets
    from hedging_pipeline.defs.resources import build_resources

    parts = build_partitions(settings)
    instance = instance or dg.DagsterInstance.ephemeral()
    resources = build_resources(settings)
    raw = build_raw_assets(parts)
    assert dg.materialize(raw, instance=instance, resources=resources).success
    months = [k for k in parts.months.get_partition_keys() if k <= parts.data_end.strftime("%Y-%m")]
    panels = build_panel_assets(parts)
    assert dg.materialize(
        [*panels, *raw],
        selection=panels,
        instance=instance,
        resources=resources,
        tags={RANGE_START: months[0], RANGE_END: months[-1]},
    ).success


@pytest.fixture(scope="session")
def panels_home(demo_raw_dir, pytestconfig) -> Path:
    """A home whose warehouse holds the raw tables and the monthly panels of the demo universe.

    Built once for every test process of the session (see ``session_share``); tests copy its warehouse.
    """

    def build(home: Path) -> None:
        home.mkdir()
        materialize_panels(make_settings(demo_raw_dir, home))

    return build_once(pytestconfig, "panels_home", build)


@pytest.fixture
def panels_settings(panels_home, demo_raw_dir, tmp_path) -> Settings:
    """Settings with a private copy of the panels warehouse (tests may write to it freely)."""
    home = tmp_path / "home"
    home.mkdir()
    shutil.copyfile(panels_home / "warehouse.duckdb", home / "warehouse.duckdb")
    return make_settings(demo_raw_dir, home)
