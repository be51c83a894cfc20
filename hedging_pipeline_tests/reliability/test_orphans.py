"""Orphans: rows an earlier drop left outside the data range go when a corrected drop arrives.

The scenario of the issue: a drop put rows past the data's real end (a bad date parse, a longer history); the file
is fixed and the run repeated. The raw stage deletes, in the transaction that swaps the raw tables, every derived
row dated outside the new drop's range, so "fix the file and run again" converges to the warehouse of a fresh run
on the good file.
"""

import shutil
from pathlib import Path

import pandas as pd
import pytest

from hedging_pipeline.warehouse.duckdb import Warehouse
from hedging_pipeline_tests.cli_runs import (
    assert_same_tables,
    run_cli,
    run_raw_stage,
    table_fingerprints,
    warehouse_tables,
)

OUTSIDE = {"after": pd.Timedelta(days=45), "before": pd.Timedelta(days=-45)}
"""Where the planted rows go: a month and a half past the drop's last price date, and before its first."""


def _plant_orphans(path: Path) -> dict[str, int]:
    """Copy edge rows of every derived table to dates outside the data range, and to a ticker not in companies."""
    wh = Warehouse(path)
    first, last = wh.query("select min(date) as lo, max(date) as hi from raw_prices").iloc[0]
    targets = {"after": last + OUTSIDE["after"], "before": first + OUTSIDE["before"]}
    planted: dict[str, int] = {}
    with wh.connect() as con:
        for table in wh.tables():
            if table.startswith("raw_") or wh.row_count(table) == 0:
                continue
            columns = wh.columns(table)
            column = next((c for c in ("date", "as_of") if c in columns), None)
            n = 0
            for edge, where in (("max", "after"), ("min", "before")):
                if column is None:
                    break
                n += con.execute(
                    f"insert into {table} select * replace (cast(? as date) as {column}) from {table} "
                    f"where {column} = (select {edge}({column}) from {table})",
                    [targets[where].date()],
                ).fetchone()[0]
            if "ticker" in columns:  # and a company that a corrected companies file no longer has
                n += con.execute(
                    f"insert into {table} select * replace ('ZZGONE' as ticker) from {table} "
                    f"where ticker = (select min(ticker) from {table})"
                ).fetchone()[0]
            planted[table] = n
    return planted


def test_raw_stage_prunes_rows_outside_the_new_range(
    reliability_raw_dir, tmp_path, raw_stage_job, earlier_warehouse, earlier_fingerprints
):
    planted_copy = tmp_path / "planted.duckdb"
    shutil.copyfile(earlier_warehouse, planted_copy)
    planted = _plant_orphans(planted_copy)
    assert {"prices", "daily_returns", "market_caps", "style_exposures", "hedge_weights"} <= set(
        planted
    )
    assert {"description_chunks", "company_embeddings", "semantic_peers"} <= set(planted)
    assert table_fingerprints(planted_copy) != earlier_fingerprints
    outcome = run_raw_stage(reliability_raw_dir, tmp_path / "home", planted_copy, raw_stage_job)
    assert outcome.success, outcome.message
    # every planted row is gone, nothing else changed: the warehouse is the earlier one again
    assert table_fingerprints(outcome.warehouse) == earlier_fingerprints


@pytest.mark.slow
def test_fix_and_rerun_equals_a_fresh_run(reliability_raw_dir, tmp_path, baseline, baseline_tables):
    # the user's home as the bad drop left it: the uninterrupted run's home (warehouse, Dagster instance, run
    # memory) with the bad drop's rows outside the range. The corrected drop arrives as new files (new mtimes)
    # holding the good content, and the command runs again in that home. Only the raw stage's prune can remove
    # the planted rows: the stale-only run recomputes nothing whose inputs did not change, so no partition
    # rewrite hides a row the prune missed.
    home = tmp_path / "home"
    shutil.copytree(baseline.home, home)
    _plant_orphans(home / "warehouse.duckdb")
    fixed = tmp_path / "fixed_drop"
    shutil.copytree(reliability_raw_dir, fixed, copy_function=shutil.copy)  # new files, new mtimes
    run = run_cli(["run"], fixed, home)
    assert run.returncode == 0, run.output[-3000:]
    raw_stage = next(line for line in run.output.splitlines() if line.startswith("[1/"))
    assert "changed files: " in raw_stage and "prices" in raw_stage, raw_stage
    assert_same_tables(
        warehouse_tables(run.warehouse), baseline_tables, "fix-and-rerun vs a fresh run"
    )
