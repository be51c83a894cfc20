"""Operations: the nightly schedules, the raw drop-folder sensor and declarative automation downstream.

Who requests what
-----------------
* ``raw_drop_sensor`` (every minute) fingerprints the drop folder (size + mtime per file). When a file changes
  it digests the file's content per month (prices, exposures; fundamentals by ``period_end``) or per ticker
  (companies, descriptions), compares with the digests in its cursor and requests:

  1. one *refresh run*: the changed raw assets, their unpartitioned helpers (calendar, share counts) and the
     monthly-stage assets downstream of them for exactly the months whose content changed (one single-run
     range); one run, so the warehouse sees raw before panels before the factor model;
  2. dynamic ``tickers`` partitions: added for new companies, deleted for removed ones;
  3. once the raw companies/descriptions in the warehouse carry the files' fingerprints (their data versions):
     the per-ticker stage (chunks, embeddings) for the new tickers and those whose description changed, only;
  4. once the refresh run has succeeded: the hedge-month stage for months that the new data closed (or that a
     correction touched).

* ``nightly_refresh`` and ``nightly_hedges`` (cron ``HEDGING_SCHEDULE_CRON``, default ``30 18 * * 1-5`` in
  ``HEDGING_SCHEDULE_TZ``, default ``America/New_York``): the stateless safety net after the close (two
  schedules because a schedule targets one job and a job one partitions definition). The first compares the raw
  files with the data versions of the last raw materialisations and refreshes the months between the previously
  loaded last date and the new one (the month to date; the month that just closed); the second requests the
  last closed month's hedges when they are missing or older than its factor model and no refresh is due. A
  refresh already launched by the sensor for the same drop is not requested twice.

* ``downstream_automation`` (declarative, ``AutomationCondition``): the unpartitioned assets after the
  partitioned stages (semantic peers, clusters, evaluation, risk diagnostics, backtest) are re-materialised when
  any parent partition updated, once no parent is in progress and every parent has data.

Why not ``AutomationCondition.eager()`` everywhere: Dagster's time-partition conditions look at the latest
partition *by the wall clock*, while this project's data is historical (the real prices end in 2020, the demo
in 2022): "the current month" has to be the month of the data's last date, which only the data can tell. The
partition mapping from an unpartitioned raw file to months would also mark every month stale on each drop.
So the entry into the monthly and hedge stages is data-aware (this module), and declarative automation
propagates to the unpartitioned assets where "any parent updated" is exactly right.

Settings (read in ``settings.py``): ``HEDGING_SCHEDULE_TZ``, ``HEDGING_SCHEDULE_CRON``, ``HEDGING_AUTOMATION``
(``on``: schedules and sensors start RUNNING; ``off``: they are declared STOPPED and can be started from the UI).

The decisions live in ``plans.py`` (:func:`~hedging_pipeline.defs.plans.drop_plan`,
:func:`~hedging_pipeline.defs.plans.nightly_plan`) and the drop-folder digests in ``data/drop.py``; this module
only declares the Dagster objects around them.
"""

from datetime import datetime
from zoneinfo import ZoneInfo

import dagster as dg

from hedging_pipeline.data.digests import DropState, fingerprints
from hedging_pipeline.defs.alerts import build_alert_defs
from hedging_pipeline.defs.partitions import PartitionSet
from hedging_pipeline.defs.plans import (
    NightlyPlan,
    SensorInputs,
    StageKeys,
    drop_plan,
    drop_run_status,
    nightly_plan,
    raw_versions,
    stage_keys,
)
from hedging_pipeline.defs.stages import Stage
from hedging_pipeline.settings import OperationsSettings, Settings, load_operations_settings

SENSOR_INTERVAL_S = 60
AUTOMATION_INTERVAL_S = 30
SCHEDULE_NAME = "nightly_refresh"
HEDGE_SCHEDULE_NAME = "nightly_hedges"
SENSOR_NAME = "raw_drop_sensor"
AUTOMATION_SENSOR_NAME = "downstream_automation"
PARTITION_AUTOMATION_SENSOR_NAME = "stale_partitions_automation"


def _sensor_status(config: OperationsSettings) -> dg.DefaultSensorStatus:
    return dg.DefaultSensorStatus.RUNNING if config.running else dg.DefaultSensorStatus.STOPPED


# -- the sensor --------------------------------------------------------------------------------------------------
def build_drop_sensor(
    parts: PartitionSet, settings: Settings, roles: StageKeys, config: OperationsSettings
) -> dg.SensorDefinition:
    """The drop-folder sensor: evaluates :func:`~hedging_pipeline.defs.plans.drop_plan` each minute."""
    raw_dir = settings.raw_dir

    @dg.sensor(
        name=SENSOR_NAME,
        minimum_interval_seconds=SENSOR_INTERVAL_S,
        default_status=_sensor_status(config),
        asset_selection=dg.AssetSelection.all(),  # requests run as subsets of the implicit asset job
        description=(
            f"Watches {raw_dir}: changed files -> the months, tickers and hedge months whose inputs changed."
        ),
    )
    def raw_drop_sensor(context: dg.SensorEvaluationContext):
        instance = context.instance
        seen = SensorInputs(
            raw_dir=raw_dir,
            prints=fingerprints(raw_dir),
            versions=raw_versions(instance),
            registered=list(instance.get_dynamic_partitions(parts.tickers.name)),
            run_status=lambda drop: drop_run_status(instance, drop),
            parts=parts,
            roles=roles,
            graph=context.repository_def.asset_graph,
            now=datetime.now(tz=ZoneInfo("UTC")),
        )
        plan = drop_plan(seen, DropState.from_json(context.cursor))
        for note in plan.notes:
            context.log.info(note)
        cursor = plan.state.to_json()
        if not plan.runs and not plan.partitions:
            context.update_cursor(cursor)
            return dg.SkipReason("; ".join(plan.notes) or "no change in the drop folder")
        return dg.SensorResult(
            run_requests=list(plan.runs),
            dynamic_partitions_requests=list(plan.partitions),
            cursor=cursor,
        )

    return raw_drop_sensor


# -- the schedules -----------------------------------------------------------------------------------------------
def build_nightly_schedules(
    parts: PartitionSet, settings: Settings, roles: StageKeys, config: OperationsSettings
) -> list[dg.ScheduleDefinition]:
    """The nightly refresh and the nightly hedges after the close (see the module docstring).

    Two schedules because a schedule targets one job, and a job holds one partitions definition: months for the
    refresh (with the unpartitioned raw assets), hedge months for the hedges.
    """
    status = (
        dg.DefaultScheduleStatus.RUNNING if config.running else dg.DefaultScheduleStatus.STOPPED
    )

    def plan(context: dg.ScheduleEvaluationContext) -> NightlyPlan:
        now = context.scheduled_execution_time or datetime.now(tz=ZoneInfo("UTC"))
        result = nightly_plan(
            context.instance,
            context.repository_def.asset_graph,
            parts,
            roles,
            settings.raw_dir,
            now,
        )
        for note in result.notes:
            context.log.info(note)
        return result

    @dg.schedule(
        name=SCHEDULE_NAME,
        cron_schedule=config.cron,
        execution_timezone=config.timezone,
        default_status=status,
        target=dg.AssetSelection.assets(*(roles.entry | roles.monthly)),
        description=(
            "After the close: the changed raw files and the months since the last loaded date "
            "(month to date, and the month that closed)."
        ),
    )
    def nightly_refresh(context: dg.ScheduleEvaluationContext):
        result = plan(context)
        return result.refresh or dg.SkipReason("nothing stale; " + "; ".join(result.notes))

    schedules = [nightly_refresh]
    if roles.hedges:

        @dg.schedule(
            name=HEDGE_SCHEDULE_NAME,
            cron_schedule=config.cron,
            execution_timezone=config.timezone,
            default_status=status,
            target=dg.AssetSelection.assets(*roles.hedges),
            description="After the close: the last closed month's hedges when missing or stale.",
        )
        def nightly_hedges(context: dg.ScheduleEvaluationContext):
            result = plan(context)
            return result.hedges or dg.SkipReason("no hedge month due; " + "; ".join(result.notes))

        schedules.append(nightly_hedges)
    return schedules


# -- declarative automation --------------------------------------------------------------------------------------
def downstream_condition() -> dg.AutomationCondition:
    """``eager()`` for unpartitioned assets below time-partitioned ones.

    Differences from ``eager()``: "every parent has data" instead of "no parent partition missing" (months
    beyond the data stay missing for ever), and no latest-time-window restriction (unpartitioned targets).
    """
    AC = dg.AutomationCondition
    has_data = AC.all_deps_match(~AC.missing() | AC.will_be_requested()).with_label(
        "every parent has data"
    )
    return (
        (AC.newly_missing() | AC.any_deps_updated()).since_last_handled()
        & has_data
        & ~AC.any_deps_in_progress()
        & ~AC.in_progress()
    ).with_label("downstream_eager")


def stale_partition_condition(entry: frozenset[dg.AssetKey]) -> dg.AutomationCondition:
    """Re-materialise an existing month (hedge month) partition when a mapped parent partition updated.

    What repairs a month re-run by hand: its month-end models (look-back windows included) and then the hedges
    of those months. Updates of the raw stage are ignored (the drop sensor decides from content digests which
    months they touch); missing partitions are left to the backfill or the sensor (the month after the data
    must not be filled with nothing); an update from a run that targeted this asset too does not count.
    """
    AC = dg.AutomationCondition
    updated = AC.any_deps_updated().ignore(dg.AssetSelection.assets(*entry))
    return (
        updated.since_last_handled()
        & ~AC.missing()
        & ~AC.any_deps_in_progress()
        & ~AC.in_progress()
    ).with_label("stale_partition")


def build_automation_defs(
    parts: PartitionSet, settings: Settings, stages: list[Stage]
) -> dg.Definitions:
    """Schedules, sensors and jobs that keep the warehouse fresh, freshness checks and failure alerts."""
    config = load_operations_settings()
    roles = stage_keys(parts, stages)
    sensors: list[dg.SensorDefinition] = [build_drop_sensor(parts, settings, roles, config)]
    if roles.downstream:
        sensors.append(
            dg.AutomationConditionSensorDefinition(
                AUTOMATION_SENSOR_NAME,
                target=dg.AssetSelection.assets(*roles.downstream),
                default_condition=downstream_condition(),
                use_user_code_server=True,
                minimum_interval_seconds=AUTOMATION_INTERVAL_S,
                default_status=_sensor_status(config),
                description="Re-materialises unpartitioned downstream assets when a parent updated.",
            )
        )
    if roles.monthly | roles.hedges:
        sensors.append(
            dg.AutomationConditionSensorDefinition(
                PARTITION_AUTOMATION_SENSOR_NAME,
                target=dg.AssetSelection.assets(*(roles.monthly | roles.hedges)),
                default_condition=stale_partition_condition(roles.entry),
                use_user_code_server=True,
                minimum_interval_seconds=AUTOMATION_INTERVAL_S,
                default_status=_sensor_status(config),
                description=(
                    "Re-materialises month and hedge-month partitions below a re-materialised parent "
                    "partition (e.g. a month re-run by hand -> its models -> their hedges)."
                ),
            )
        )
    assets = {k for s in stages for k in s.asset_keys}
    return dg.Definitions.merge(
        dg.Definitions(
            schedules=build_nightly_schedules(parts, settings, roles, config), sensors=sensors
        ),
        build_alert_defs(settings, config, assets),
    )
