"""Run-failure alerts through a pluggable sink, and freshness checks on the nightly outputs."""

from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from hedging_pipeline import alerts
from hedging_pipeline.defs.alerts import (
    FRESHNESS_CHECK_NAME,
    FRESHNESS_JOB_NAME,
    build_alert_defs,
    build_failure_sensor,
)
from hedging_pipeline.errors import ConfigurationError
from hedging_pipeline.settings import OperationsSettings, load_operations_settings
from hedging_pipeline_tests.conftest import make_settings

MONTHLY = {"fmt": "%Y-%m", "cron_schedule": "0 0 1 * *", "timezone": "UTC"}
MONTHS = dg.TimeWindowPartitionsDefinition(start="2020-01", end="2020-06", **MONTHLY)


@dg.op
def load_prices():
    raise ValueError("prices.parquet: column 'close' is missing")


@dg.job
def nightly():
    load_prices()


def test_a_failed_run_becomes_one_alert_line_and_one_webhook_post(tmp_path):
    posted = []
    log = tmp_path / "ops" / "alerts.log"
    sink = alerts.FanOutSink(
        [
            alerts.LogFileSink(log),
            alerts.WebhookSink("https://hooks.example/x", post=lambda u, p: posted.append((u, p))),
        ]
    )
    instance = dg.DagsterInstance.ephemeral()
    result = nightly.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    context = dg.build_run_status_sensor_context(
        sensor_name="run_failure_alert",
        dagster_event=result.get_run_failure_event(),
        dagster_instance=instance,
        dagster_run=result.dagster_run,
    ).for_run_failure()
    build_failure_sensor(sink, running=True)(context)
    lines = log.read_text().splitlines()
    assert len(lines) == 1
    at, title, job, run_id, message = lines[0].split("\t")
    assert (title, job, run_id) == ("hedging-pipeline run failed", "nightly", result.run_id)
    assert "load_prices" in message
    assert posted[0][0] == "https://hooks.example/x"
    assert posted[0][1]["run_id"] == result.run_id and posted[0][1]["job"] == "nightly"


def test_the_sink_is_chosen_by_settings(tmp_path):
    settings = make_settings(tmp_path / "raw", tmp_path / "home")
    default = alerts.build_sink(settings, OperationsSettings())
    assert [type(s).__name__ for s in default.sinks] == ["LogFileSink"]
    assert default.sinks[0].path == tmp_path / "home" / "alerts.log"
    env = {
        "HEDGING_ALERT_WEBHOOK_URL": "https://hooks.example/y",
        "HEDGING_FRESHNESS_LAG_HOURS": "6",
    }
    ops = load_operations_settings(env)
    assert ops.freshness_lag_hours == 6.0
    both = alerts.build_sink(settings, ops)
    assert [type(s).__name__ for s in both.sinks] == ["LogFileSink", "WebhookSink"]
    with pytest.raises(ConfigurationError, match="HEDGING_ALERT_WEBHOOK_URL='ftp://x'"):
        load_operations_settings({"HEDGING_ALERT_WEBHOOK_URL": "ftp://x"})
    with pytest.raises(ConfigurationError, match="HEDGING_FRESHNESS_LAG_HOURS='-1'"):
        load_operations_settings({"HEDGING_FRESHNESS_LAG_HOURS": "-1"})


def test_freshness_rule():
    loaded = datetime(2020, 4, 21, 22, 0, tzinfo=UTC)
    lag = timedelta(hours=30)
    assert alerts.freshness("2020-04", loaded, loaded + timedelta(hours=1), loaded, lag).passed
    due = alerts.freshness("2020-04", loaded, None, loaded + timedelta(hours=29), lag)
    assert due.passed and "due" in due.description
    late = alerts.freshness("2020-04", loaded, None, loaded + timedelta(hours=31), lag)
    assert not late.passed and "missing 31.0 h" in late.description
    old = alerts.freshness(
        "2020-04", loaded, loaded - timedelta(days=1), loaded + timedelta(hours=31), lag
    )
    assert not old.passed and "older than the prices" in old.description
    kept = alerts.freshness(
        "2020-03",
        loaded,
        loaded - timedelta(days=20),
        loaded + timedelta(hours=31),
        lag,
        presence_only=True,
    )
    assert kept.passed
    assert alerts.expected_month(datetime(2020, 4, 21), closed=True) == "2020-03"
    assert alerts.expected_month(datetime(2020, 4, 30), closed=True) == "2020-04"
    assert alerts.expected_month(datetime(2020, 4, 21), closed=False) == "2020-04"


def test_freshness_checks_fail_when_the_nightly_outputs_lag_the_prices(tmp_path):
    specs = [
        dg.AssetSpec("raw_prices"),
        dg.AssetSpec("factor_returns", partitions_def=MONTHS),
        dg.AssetSpec("hedge_weights", partitions_def=MONTHS),
    ]
    settings = make_settings(tmp_path / "raw", tmp_path / "home")
    ops = OperationsSettings(freshness_lag_hours=1e-6, running=False)
    checks = build_alert_defs(settings, ops, {s.key for s in specs})
    defs = dg.Definitions.merge(dg.Definitions(assets=specs), checks)
    instance = dg.DagsterInstance.ephemeral()
    instance.report_runless_asset_event(
        dg.AssetMaterialization("raw_prices", metadata={"last_date": "2020-04-21"})
    )

    def verdicts():
        result = defs.resolve_job_def(FRESHNESS_JOB_NAME).execute_in_process(instance=instance)
        found = {}
        for evaluation in result.get_asset_check_evaluations():
            assert evaluation.check_name == FRESHNESS_CHECK_NAME
            found[evaluation.asset_key.to_user_string()] = evaluation.passed
        return found

    assert verdicts() == {"factor_returns": False, "hedge_weights": False}
    instance.report_runless_asset_event(
        dg.AssetMaterialization("factor_returns", partition="2020-04")
    )
    instance.report_runless_asset_event(
        dg.AssetMaterialization("hedge_weights", partition="2020-03")
    )
    assert verdicts() == {"factor_returns": True, "hedge_weights": True}
