"""Alerts and freshness: a run-failure sensor writing to a pluggable sink, freshness checks on nightly outputs.

* ``run_failure_alert`` (run-failure sensor): every failed run of this code location becomes one alert through
  :func:`hedging_pipeline.alerts.build_sink` (``HEDGING_HOME/alerts.log``; plus ``HEDGING_ALERT_WEBHOOK_URL``).
* ``fresh_after_new_prices`` (asset checks, WARN): the current month of ``factor_returns`` and the last closed
  month of ``hedge_weights`` must be materialised within ``HEDGING_FRESHNESS_LAG_HOURS`` of new prices arriving
  (the latest ``raw_prices`` materialisation and its ``last_date``). The ``freshness_checks`` job evaluates them
  every hour (schedule ``freshness_hourly``); they also run with their asset.
"""

from datetime import UTC, datetime, timedelta

import dagster as dg
import pandas as pd

from hedging_pipeline.alerts import Alert, AlertSink, build_sink, expected_month, freshness
from hedging_pipeline.data.tables import RAW_ASSETS
from hedging_pipeline.defs.plans import LAST_DATE_METADATA, latest_record
from hedging_pipeline.settings import OperationsSettings, Settings

FAILURE_SENSOR_NAME = "run_failure_alert"
FRESHNESS_CHECK_NAME = "fresh_after_new_prices"
FRESHNESS_JOB_NAME = "freshness_checks"
FRESHNESS_SCHEDULE_NAME = "freshness_hourly"
FRESHNESS_CRON = "15 * * * *"
FRESHNESS_TARGETS = {"factor_returns": False, "hedge_weights": True}
"""Nightly output -> whether it must hold the last *closed* month (else the month of the newest prices)."""


def alert_from_failure(context: dg.RunFailureSensorContext) -> Alert:
    """The alert of one failed run: job, run id and the failure's message."""
    run = context.dagster_run
    message = (context.failure_event.message or "run failed").strip()
    return Alert(
        title="hedging-pipeline run failed",
        job=run.job_name,
        run_id=run.run_id,
        message=message,
        at=datetime.now(tz=UTC).isoformat(timespec="seconds"),
    )


def build_failure_sensor(sink: AlertSink, running: bool) -> dg.SensorDefinition:
    """Run-failure sensor sending each failure to ``sink``."""

    @dg.run_failure_sensor(
        name=FAILURE_SENSOR_NAME,
        default_status=dg.DefaultSensorStatus.RUNNING
        if running
        else dg.DefaultSensorStatus.STOPPED,
        description="Writes an alert (log file, webhook when configured) for every failed run.",
    )
    def run_failure_alert(context: dg.RunFailureSensorContext):
        alert = alert_from_failure(context)
        sink.send(alert)
        context.log.info(f"alert sent: {alert.to_line()}")

    return run_failure_alert


def _freshness_check(key: str, closed: bool, lag: timedelta) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=key,
        name=FRESHNESS_CHECK_NAME,
        blocking=False,
        description=(
            f"The {'last closed' if closed else 'current'} month is materialised within {lag} of new "
            "prices arriving."
        ),
    )
    def check(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        raw = latest_record(context.instance, dg.AssetKey(RAW_ASSETS["prices"]))
        last = None if raw is None else raw.asset_materialization.metadata.get(LAST_DATE_METADATA)
        if last is None:
            return dg.AssetCheckResult(passed=True, description="no prices loaded yet")
        month = expected_month(pd.Timestamp(last.value), closed=closed)
        record = latest_record(context.instance, dg.AssetKey(key), month)
        verdict = freshness(
            month,
            prices_loaded_at=datetime.fromtimestamp(raw.timestamp, tz=UTC),
            output_updated_at=None
            if record is None
            else datetime.fromtimestamp(record.timestamp, tz=UTC),
            now=datetime.now(tz=UTC),
            lag=lag,
            presence_only=closed,
        )
        return dg.AssetCheckResult(
            passed=verdict.passed,
            severity=dg.AssetCheckSeverity.WARN,
            description=verdict.description,
            metadata={"month": dg.MetadataValue.text(month)},
        )

    return check


def build_alert_defs(
    settings: Settings, ops: OperationsSettings, asset_keys: set[dg.AssetKey]
) -> dg.Definitions:
    """The failure sensor, the freshness checks (for the targets present) and their hourly schedule."""
    lag = timedelta(hours=ops.freshness_lag_hours)
    checks = [
        _freshness_check(name, closed, lag)
        for name, closed in FRESHNESS_TARGETS.items()
        if dg.AssetKey(name) in asset_keys
    ]
    jobs, schedules = [], []
    if checks:
        job = dg.define_asset_job(
            FRESHNESS_JOB_NAME,
            selection=dg.AssetSelection.checks(*checks),
            description="Evaluates the freshness checks of the nightly outputs.",
        )
        jobs.append(job)
        schedules.append(
            dg.ScheduleDefinition(
                name=FRESHNESS_SCHEDULE_NAME,
                job=job,
                cron_schedule=FRESHNESS_CRON,
                execution_timezone=ops.timezone,
                default_status=dg.DefaultScheduleStatus.RUNNING
                if ops.running
                else dg.DefaultScheduleStatus.STOPPED,
            )
        )
    return dg.Definitions(
        asset_checks=checks,
        jobs=jobs,
        schedules=schedules,
        sensors=[build_failure_sensor(build_sink(settings, ops), ops.running)],
    )
