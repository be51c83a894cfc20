"""Crash safety: SIGKILL a ``hedging-pipeline run`` inside the monthly stage, restart it, get the same tables."""

import dagster as dg

from hedging_pipeline_tests.cli_runs import (
    assert_same_tables,
    table_differences,
    warehouse_tables,
)

FINISHED = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}


def test_kill_happened_mid_run(session_runs, baseline_tables):
    crash = session_runs.crash
    assert "finished in" not in crash.killed_output
    # the killed run left work undone: the restart has something to repair
    assert table_differences(crash.killed_tables, baseline_tables)


def test_restart_after_sigkill_equals_uninterrupted_run(session_runs, baseline_tables):
    crash = session_runs.crash
    assert crash.restart is not None, crash.diagnosis
    restart = crash.restart
    assert restart.returncode == 0, f"restart failed:\n{restart.output[-4000:]}"
    assert_same_tables(
        warehouse_tables(restart.warehouse),
        baseline_tables,
        "restart after SIGKILL vs uninterrupted",
    )


def test_killed_run_is_failed_and_holds_no_pool_slot(session_runs):
    restart = session_runs.crash.restart
    assert restart is not None, session_runs.crash.diagnosis
    with dg.DagsterInstance.from_config(str(restart.home / "dagster")) as instance:
        statuses = {r.run_id: r.status for r in instance.get_runs()}
        storage = instance.event_log_storage
        held = [
            slot
            for key in storage.get_concurrency_keys()
            for slot in storage.get_concurrency_info(key).claimed_slots
        ]
    active = [run_id for run_id, status in statuses.items() if status not in FINISHED]
    assert not active, f"runs still marked active after the restart: {active}"
    assert dg.DagsterRunStatus.FAILURE in statuses.values()  # the killed stage run, marked failed
    assert not held, f"pool slots still held: {held}"
