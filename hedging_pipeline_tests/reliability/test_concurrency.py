"""Concurrency: four runs launched at once on overlapping assets, one instance and one warehouse.

The warehouse starts as a copy of the uninterrupted run's. The four runs: the raw stage (rewrites the raw tables
the others read), the monthly stage twice over the same months (the same assets and partitions written twice at
once), and the hedges of the last months (reading risk tables the monthly runs do not touch). A reference copy
runs the monthly stage once, alone. Whatever the interleaving, every table must come out as in the reference: a
lost row, a half-applied write or a lock error shows up as a difference or a failed run. Inside one instance
the ``warehouse`` pool (limit 1) serialises DuckDB writers across the runs; what still collides is retried
with backoff by the warehouse.

(The reference, not the uninterrupted run, is the yardstick: the risk model's numbers for a month depend at the
1e-9 level on the range of months a run solves together, which is a property of the model, not of concurrency.)
"""

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from hedging_pipeline.definitions import build_definitions
from hedging_pipeline.defs.partitions import build_partitions
from hedging_pipeline.defs.stages import compute_stages
from hedging_pipeline.instance import ensure_instance_dir
from hedging_pipeline_tests.cli_runs import (
    CLI_TIMEOUT_S,
    TEST_ENV,
    CliProcess,
    assert_same_tables,
    cli_env,
    warehouse_tables,
)
from hedging_pipeline_tests.conftest import make_settings

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"
FRESH_STARTS = 3
MONTHS_BACK = 12
MONTHS_RUN = 3
LOCK_WORDS = (
    "could not set lock",
    "conflicting lock",
    "WarehouseLockedError",
    "database is locked",
)


def _stage_with(stages, asset: str):
    return next((s for s in stages if dg.AssetKey(asset) in s.asset_keys), None)


def _job_command(job: str, tags: dict[str, str] | None = None) -> list[str]:
    command = [sys.executable, "-m", "dagster", "job", "execute"]
    command += ["-m", "hedging_pipeline.definitions", "-j", job]
    if tags:
        command += ["--tags", json.dumps(tags)]
    return command


def _copy_home(baseline, raw_dir: Path, home: Path) -> Path:
    home.mkdir()
    shutil.copyfile(baseline.warehouse, home / "warehouse.duckdb")
    ensure_instance_dir(make_settings(raw_dir, home), export=False)
    # create the SQLite storage once: processes that all find it missing race on its schema migration
    # (test_runs_starting_together_on_a_fresh_home_share_one_instance covers the CLI's first start)
    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        assert instance.get_runs() == []
    return home


def _start(command: list[str], raw_dir: Path, home: Path, log: Path) -> subprocess.Popen:
    env = cli_env(raw_dir, home, {"DAGSTER_HOME": str(home / "dagster")})
    return subprocess.Popen(
        command, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, cwd=str(home.parent)
    )


def test_four_concurrent_runs_on_overlapping_assets(baseline, reliability_raw_dir, tmp_path):
    shared = _copy_home(baseline, reliability_raw_dir, tmp_path / "shared")
    reference = _copy_home(baseline, reliability_raw_dir, tmp_path / "reference")
    settings = make_settings(
        reliability_raw_dir, shared, backtest_months=int(TEST_ENV["HEDGING_BACKTEST_MONTHS"])
    )
    repo = build_definitions(settings).get_repository_def()
    stages = compute_stages(list({id(a): a for a in repo.assets_defs_by_key.values()}.values()))
    raw = _stage_with(stages, "raw_prices")
    panels = _stage_with(stages, "prices")
    last = build_partitions(settings).data_end.strftime("%Y-%m")
    months = [k for k in panels.partitions_def.get_partition_keys() if k <= last]
    # a quarter well before the hedged months, so the hedges read risk nobody rewrites
    window = {RANGE_START: months[-MONTHS_BACK], RANGE_END: months[-MONTHS_BACK + MONTHS_RUN - 1]}
    monthly = _job_command(panels.job_name, window)
    runs = {"raw": _job_command(raw.job_name), "monthly_a": monthly, "monthly_b": monthly}
    hedges = _stage_with(stages, "hedge_weights")
    if hedges is not None:
        keys = hedges.partitions_def.get_partition_keys()
        runs["hedges"] = _job_command(hedges.job_name, {RANGE_START: keys[-1], RANGE_END: keys[-1]})
    else:  # before the hedges exist: a third writer of the same months
        runs["monthly_c"] = monthly
    processes = {
        name: _start(command, reliability_raw_dir, shared, tmp_path / f"{name}.log")
        for name, command in runs.items()
    }
    processes["reference"] = _start(
        monthly, reliability_raw_dir, reference, tmp_path / "reference.log"
    )
    deadline = time.monotonic() + CLI_TIMEOUT_S
    codes = {}
    for name, process in processes.items():
        try:
            codes[name] = process.wait(timeout=max(deadline - time.monotonic(), 1.0))
        except subprocess.TimeoutExpired:
            for other in processes.values():
                other.kill()
            pytest.fail(f"{name} did not finish:\n{(tmp_path / f'{name}.log').read_text()[-3000:]}")
    outputs = {name: (tmp_path / f"{name}.log").read_text(errors="replace") for name in processes}
    failed = {name: outputs[name][-3000:] for name, rc in codes.items() if rc != 0}
    assert not failed, f"runs failed: {failed}"
    for name, text in outputs.items():
        assert not [w for w in LOCK_WORDS if w in text], f"{name} met a lock error:\n{text[-3000:]}"

    with dg.DagsterInstance.from_config(str(shared / "dagster")) as instance:
        statuses = sorted(r.status.value for r in instance.get_runs())
        held = instance.event_log_storage.get_concurrency_info("warehouse").claimed_slots
    assert statuses == ["SUCCESS"] * len(runs)
    assert not held
    assert_same_tables(
        warehouse_tables(shared / "warehouse.duckdb"),
        warehouse_tables(reference / "warehouse.duckdb"),
        "after four concurrent runs vs the same monthly run alone",
    )


def test_runs_starting_together_on_a_fresh_home_share_one_instance(reliability_raw_dir, tmp_path):
    # three CLIs find no instance and create it at the same moment; each must then fail on the bad file (and
    # only on it), and the instance must stay usable (no duplicated schema version rows)
    raw = tmp_path / "raw"
    shutil.copytree(reliability_raw_dir, raw)
    companies = pd.read_parquet(raw / "companies.parquet")
    companies.loc[3, "gics_sector"] = ""
    companies.to_parquet(raw / "companies.parquet", index=False)
    home = tmp_path / "home"
    processes = [
        CliProcess(["run"], raw, home, log=tmp_path / f"run{i}.log") for i in range(FRESH_STARTS)
    ]
    runs = [p.wait() for p in processes]
    for run in runs:
        assert run.error_lines() == [
            line for line in run.output.splitlines() if "column 'gics_sector' is empty" in line
        ], run.output[-3000:]
        assert len(run.error_lines()) == 1
    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        statuses = [r.status for r in instance.get_runs()]
    assert statuses == [dg.DagsterRunStatus.FAILURE] * FRESH_STARTS
