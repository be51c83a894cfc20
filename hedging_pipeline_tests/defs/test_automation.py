"""Operations: "the next trading day arrives", a new ticker, the nightly schedule, declarative automation.

Each scenario copies the demo drop folder and the panels warehouse, materialises the raw assets for real in an
ephemeral instance, and records the rest of the graph as materialised (runless events: the ticks only read
the event log). Refresh runs that a tick requests are executed for real for the raw and panel assets and
recorded for the others, so the next tick sees what a daemon would see.
"""

import shutil
from datetime import datetime
from zoneinfo import ZoneInfo

import dagster as dg
import pandas as pd
import pytest

from hedging_pipeline import settings as hp_settings
from hedging_pipeline.data import digests as drop
from hedging_pipeline.data.tables import RAW_TABLES
from hedging_pipeline.definitions import build_definitions
from hedging_pipeline.defs import automation as ops
from hedging_pipeline.defs import plans
from hedging_pipeline.defs.common import GROUP_PANELS, GROUP_RAW
from hedging_pipeline.defs.partitions import build_partitions
from hedging_pipeline.errors import ConfigurationError
from hedging_pipeline_tests.conftest import make_settings

EXECUTED_GROUPS = {GROUP_RAW, GROUP_PANELS}
"""Assets executed for real when a tick's run is "launched"; the others are recorded as materialised."""
BASELINE_MONTHS = 3
NEW_TICKER = "ZZZT"
NY = ZoneInfo("America/New_York")
JANUARY = [str(d.date()) for d in pd.bdate_range("2023-01-03", "2023-01-31")]


# -- fixtures and helpers ----------------------------------------------------------------------------------------
class World:
    """A drop folder, a warehouse, an ephemeral instance and the code location built on them."""

    def __init__(self, raw_dir, settings):
        self.raw_dir = raw_dir
        self.settings = settings
        self.instance = dg.DagsterInstance.ephemeral()
        self.defs = build_definitions(settings)
        self.repo = self.defs.get_repository_def()
        self.graph = self.repo.asset_graph
        self.parts = build_partitions(settings)
        self.sensor_cursor = None
        self.automation_cursors = {}

    def reload(self):
        """The code location reloaded (definitions rebuilt from the drop folder as it is now)."""
        self.defs = build_definitions(self.settings)
        self.repo = self.defs.get_repository_def()
        self.graph = self.repo.asset_graph
        self.parts = build_partitions(self.settings)

    # state ---------------------------------------------------------------------------------------------------
    def keys_in_group(self, groups):
        return {
            k
            for k in self.graph.materializable_asset_keys
            if self.graph.get(k).group_name in groups
        }

    def execute(self, keys, tags=None, partition_key=None):
        job = self.defs.resolve_implicit_global_asset_job_def()
        result = job.execute_in_process(
            instance=self.instance,
            asset_selection=sorted(keys, key=lambda k: k.to_user_string()),
            tags=tags or {},
            partition_key=partition_key,
        )
        assert result.success

    def record(self, key, partitions=(None,)):
        for partition in partitions:
            self.instance.report_runless_asset_event(
                dg.AssetMaterialization(key, partition=partition)
            )

    def baseline(self):
        """The state after a full run over these files: every raw file loaded, recent partitions present.

        The warehouse already holds the data (panels fixture); the instance gets the events a full run leaves:
        raw materialisations carrying each file's fingerprint as data version and the last loaded date.
        """
        prints = drop.fingerprints(self.raw_dir)
        end = self.parts.data_end
        for name, asset in drop.RAW_ASSETS.items():
            self.instance.report_runless_asset_event(
                dg.AssetMaterialization(
                    asset,
                    tags={plans.DATA_VERSION_TAG: prints[name]} if prints[name] else None,
                    metadata={plans.LAST_DATE_METADATA: str(end.date())}
                    if name == "prices"
                    else None,
                )
            )
        tickers = sorted(pd.read_parquet(self.raw_dir / "companies.parquet")["ticker"])
        self.instance.add_dynamic_partitions("tickers", tickers)
        end = self.parts.data_end
        recent = [
            (end.to_period("M") - i).strftime("%Y-%m") for i in reversed(range(BASELINE_MONTHS))
        ]
        hedge_keys = set(self.parts.hedge_months.get_partition_keys())
        closed = [m for m in recent if m in hedge_keys]
        for key in self.graph.toposorted_asset_keys:  # parents first: children are newer
            node = self.graph.get(key)
            if not node.is_materializable or node.group_name == GROUP_RAW:
                continue
            pdef = node.partitions_def
            if pdef is None:
                self.record(key)
            elif pdef == self.parts.months:
                self.record(key, recent)
            elif pdef == self.parts.hedge_months:
                self.record(key, closed)
            else:
                self.record(key, tickers)

    def launch(self, request):
        """What the daemon would do with a run request: run it (raw/panels for real, the rest recorded)."""
        keys = set(request.asset_selection)
        real = keys & self.keys_in_group(EXECUTED_GROUPS)
        if real:
            self.execute(real, tags=request.tags, partition_key=request.partition_key)
        start = request.tags.get(plans.RANGE_START_TAG)
        end = request.tags.get(plans.RANGE_END_TAG)
        for key in sorted(keys - real, key=lambda k: k.to_user_string()):
            pdef = self.graph.get(key).partitions_def
            if pdef is None:
                self.record(key)
            elif request.partition_key:
                self.record(key, [request.partition_key])
            else:
                self.record(key, pdef.get_partition_keys_in_range(dg.PartitionKeyRange(start, end)))

    # ticks ---------------------------------------------------------------------------------------------------
    def sensor_tick(self):
        sensor = self.repo.get_sensor_def(ops.SENSOR_NAME)
        with (
            dg.build_sensor_context(
                instance=self.instance, repository_def=self.repo, cursor=self.sensor_cursor
            ) as context,
            dg.partition_loading_context(dynamic_partitions_store=self.instance),
        ):
            result = sensor.evaluate_tick(context)  # the daemon's context has a persistent instance
        self.sensor_cursor = result.cursor
        for request in result.dynamic_partitions_requests or []:  # the daemon applies these
            if isinstance(request, dg.AddDynamicPartitionsRequest):
                self.instance.add_dynamic_partitions(
                    request.partitions_def_name, request.partition_keys
                )
            else:
                for key in request.partition_keys:
                    self.instance.delete_dynamic_partition(request.partitions_def_name, key)
        return result

    def nightly(self, when):
        """The nightly schedules' plan at ``when`` (their bodies; the wiring is tested separately)."""
        roles = plans.stage_keys(self.parts, _stages(self))
        return plans.nightly_plan(self.instance, self.graph, self.parts, roles, self.raw_dir, when)

    def automation_tick(self, name=ops.AUTOMATION_SENSOR_NAME):
        sensor = self.repo.get_sensor_def(name)
        cursor = self.automation_cursors.get(name)
        with dg.build_sensor_context(
            instance=self.instance, repository_def=self.repo, cursor=cursor
        ) as context:
            result = sensor.evaluate_tick(context)
        self.automation_cursors[name] = result.cursor
        return result

    # data ----------------------------------------------------------------------------------------------------
    def append_prices(self, days):
        """Append trading days: each ticker's last bar, one step later (a new row per ticker and day)."""
        path = self.raw_dir / "prices.parquet"
        prices = pd.read_parquet(path)
        last = prices.loc[prices["date"] == prices["date"].max()]
        new = [last.assign(date=pd.Timestamp(day).as_unit("us")) for day in days]
        pd.concat([prices, *new], ignore_index=True).to_parquet(path, index=False)

    def correct_price(self, day):
        """A vendor correction: one close on ``day`` changes by 1 %."""
        path = self.raw_dir / "prices.parquet"
        prices = pd.read_parquet(path)
        row = prices.index[prices["date"] == pd.Timestamp(day)][0]
        prices.loc[row, "close"] *= 1.01
        prices.to_parquet(path, index=False)

    def fail(self, request):
        """Record a failed run of ``request`` (same tags), as the daemon would after a step failure."""
        self.instance.add_run(
            dg.DagsterRun(
                job_name="__ASSET_JOB", status=dg.DagsterRunStatus.FAILURE, tags=request.tags
            )
        )

    def monthly_below(self, raw_asset):
        below = dg.AssetSelection.assets(raw_asset).downstream().resolve(self.graph)
        return {k for k in below if self.graph.get(k).partitions_def == self.parts.months}


def _materialisations(world, key):
    return len(world.instance.fetch_materializations(dg.AssetKey(key), limit=100).records)


def _keys(request):
    return {k.to_user_string() for k in request.asset_selection}


def _month_range(request):
    return request.tags.get(plans.RANGE_START_TAG), request.tags.get(plans.RANGE_END_TAG)


@pytest.fixture
def world(panels_settings, demo_raw_dir, tmp_path):
    """The demo drop folder (a private copy) over the materialised panels warehouse, baseline recorded."""
    raw_dir = tmp_path / "raw"
    shutil.copytree(demo_raw_dir, raw_dir)
    settings = make_settings(raw_dir, panels_settings.home)
    world = World(raw_dir, settings)
    world.baseline()
    return world


# -- configuration and pure planning ------------------------------------------------------------------------------
def test_configuration_defaults_and_overrides():
    config = hp_settings.load_operations_settings({})
    assert (config.timezone, config.cron, config.running) == (
        "America/New_York",
        "30 18 * * 1-5",
        True,
    )
    custom = hp_settings.load_operations_settings(
        {
            hp_settings.SCHEDULE_TZ_ENV: "Europe/London",
            hp_settings.SCHEDULE_CRON_ENV: "0 22 * * 1-5",
            hp_settings.AUTOMATION_ENV: "off",
        }
    )
    assert (custom.timezone, custom.cron, custom.running) == (
        "Europe/London",
        "0 22 * * 1-5",
        False,
    )


@pytest.mark.parametrize(
    ("env", "match"),
    [
        (
            {hp_settings.SCHEDULE_TZ_ENV: "Mars/Olympus"},
            "HEDGING_SCHEDULE_TZ='Mars/Olympus' is not an IANA",
        ),
        (
            {hp_settings.SCHEDULE_CRON_ENV: "61 18 * * *"},
            "HEDGING_SCHEDULE_CRON='61 18 \\* \\* \\*' is not",
        ),
        (
            {hp_settings.AUTOMATION_ENV: "sometimes"},
            "HEDGING_AUTOMATION='sometimes' must be 'on' or 'off'",
        ),
    ],
)
def test_configuration_errors_name_the_variable(env, match):
    with pytest.raises(ConfigurationError, match=match):
        hp_settings.load_operations_settings(env)


def test_schedule_uses_the_configured_timezone(panels_settings, demo_raw_dir, monkeypatch):
    monkeypatch.setenv(hp_settings.SCHEDULE_TZ_ENV, "Asia/Tokyo")
    monkeypatch.setenv(hp_settings.AUTOMATION_ENV, "off")
    repo = build_definitions(make_settings(demo_raw_dir, panels_settings.home)).get_repository_def()
    schedule = repo.get_schedule_def(ops.SCHEDULE_NAME)
    assert schedule.execution_timezone == "Asia/Tokyo"
    assert schedule.cron_schedule == "30 18 * * 1-5"
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    assert repo.get_sensor_def(ops.SENSOR_NAME).default_status == dg.DefaultSensorStatus.STOPPED


def test_every_asset_is_described_owned_grouped_kinded_and_pooled(demo_settings):
    """Issue 7 item 4: what the UI shows for every asset before anything runs."""
    graph = build_definitions(demo_settings).get_repository_def().asset_graph
    groups = {GROUP_RAW, GROUP_PANELS, "risk_model", "nlp", "hedging", "backtest", "reports"}
    nodes = [graph.get(k) for k in graph.materializable_asset_keys]
    assert len(nodes) >= 20
    for node in nodes:
        name = node.key.to_user_string()
        assert node.description and len(node.description) > 20, name
        assert node.owners == ["team:quant-data"], name
        assert node.group_name in groups, name
        assert any(t.startswith("dagster/kind/") for t in node.tags), name
        assert node.pools and node.pools <= {"warehouse", "gpu"}, name
    assert {n.group_name for n in nodes} == groups


def test_months_to_refresh_follow_the_last_date():
    start = pd.Timestamp("2020-01-02")
    # mid-month to the next day: only the open month
    assert drop.months_since(pd.Timestamp("2022-11-28"), pd.Timestamp("2022-11-29"), start) == [
        "2022-11"
    ]
    # previous month already complete (30 Dec 2022 is its last business day): only the new month
    assert drop.months_since(pd.Timestamp("2022-12-30"), pd.Timestamp("2023-01-03"), start) == [
        "2023-01"
    ]
    # the previous month was open when last loaded: it closes now, so both
    assert drop.months_since(pd.Timestamp("2022-11-29"), pd.Timestamp("2022-12-01"), start) == [
        "2022-11",
        "2022-12",
    ]
    assert drop.months_since(None, pd.Timestamp("2020-03-05"), start) == [
        "2020-01",
        "2020-02",
        "2020-03",
    ]
    assert drop.closed_months(pd.Timestamp("2022-11-29"), pd.Timestamp("2022-11-30")) == ["2022-11"]
    assert drop.closed_months(pd.Timestamp("2022-11-28"), pd.Timestamp("2022-11-29")) == []
    assert drop.closed_months(pd.Timestamp("2022-10-14"), pd.Timestamp("2023-01-03")) == [
        "2022-10",
        "2022-11",
        "2022-12",
    ]


def test_content_digests_localise_changes(demo_raw_dir, tmp_path):
    raw = tmp_path / "raw"
    shutil.copytree(demo_raw_dir, raw)
    before = drop.DropState(prints=drop.fingerprints(raw), digests={})
    _, digests, _ = drop.diff_drop(raw, None, before.prints)
    state = drop.DropState(prints=before.prints, digests=digests, data_end="2022-12-30")

    prices = pd.read_parquet(raw / "prices.parquet")
    shuffled = prices.sample(frac=1.0, random_state=7)  # same rows, another order: no change at all
    shuffled.to_parquet(raw / "prices.parquet", index=False)
    unchanged, _, _ = drop.diff_drop(raw, state, drop.fingerprints(raw))
    assert unchanged.files == ("prices",) and unchanged.months == ()
    row = prices.index[(prices["date"] == "2021-06-15")][0]
    prices.loc[row, "close"] *= 1.01  # a vendor correction in June 2021
    prices.to_parquet(raw / "prices.parquet", index=False)
    fundamentals = pd.read_parquet(raw / "fundamentals.parquet")
    cut = fundamentals["period_end"] == fundamentals["period_end"].max()
    fundamentals.loc[cut.idxmax(), "revenue"] *= 2  # a restated filing for the latest period
    fundamentals.to_parquet(raw / "fundamentals.parquet", index=False)

    changes, _, _ = drop.diff_drop(raw, state, drop.fingerprints(raw))
    latest = pd.Timestamp(fundamentals["period_end"].max()).strftime("%Y-%m")
    carried = drop.month_range(latest, "2022-12")
    assert set(changes.files) == {"prices", "fundamentals"}
    assert set(changes.months) == {"2021-06", *carried}  # the corrected month + carried filings
    assert changes.closed == ()  # the last date did not move
    assert changes.added_tickers == changes.removed_tickers == changes.described_tickers == ()


# -- the sensor --------------------------------------------------------------------------------------------------
def test_next_trading_day_requests_only_its_month_then_nothing(world):
    first = world.sensor_tick()
    assert not first.run_requests  # the warehouse already holds these files: a baseline, no work
    assert world.automation_tick().run_requests == []  # first automation tick: nothing updated yet

    world.append_prices(["2023-01-03"])
    result = world.sensor_tick()
    [refresh] = result.run_requests
    monthly = world.monthly_below("raw_prices")
    assert {"prices", "daily_returns", "market_caps"} <= {k.to_user_string() for k in monthly}
    # raw_prices is one output of the raw_drop multi-asset: the drop-wide quarantine comes along, the
    # other files' outputs do not
    assert _keys(refresh) == {
        "raw_prices",
        "raw_quarantine",
        "trading_calendar",
        "share_counts",
    } | {k.to_user_string() for k in monthly}
    assert _month_range(refresh) == ("2023-01", "2023-01")  # December was complete already
    assert refresh.tags[plans.DROP_TAG] == drop.drop_id(drop.fingerprints(world.raw_dir))
    assert not result.dynamic_partitions_requests

    second = world.sensor_tick()
    assert not second.run_requests and not second.dynamic_partitions_requests

    # The run happens; unpartitioned assets below the refreshed month follow declaratively, once.
    before = {k: _materialisations(world, k) for k in RAW_TABLES}
    world.launch(refresh)
    rewritten = {k for k in RAW_TABLES if _materialisations(world, k) > before[k]}
    assert rewritten == {"raw_prices", "raw_quarantine"}  # the op ran for its selected outputs only
    assert not world.sensor_tick().run_requests  # January is not closed: no hedges
    follow = world.automation_tick().run_requests
    followed = set().union(*(_keys(r) for r in follow)) if follow else set()
    below_prices = dg.AssetSelection.assets("raw_prices").downstream().resolve(world.graph)
    expected = {
        k.to_user_string()
        for k in plans.stage_keys(world.parts, _stages(world)).downstream
        if k in below_prices and _parents_have_data(world, k)
    }
    assert followed == expected
    assert "semantic_peers" not in followed  # text work does not depend on prices
    for request in follow:
        world.launch(request)
    assert world.automation_tick().run_requests == []


def test_month_close_hedges_follow_a_successful_refresh_only(world):
    world.sensor_tick()
    world.correct_price("2022-06-15")  # a vendor correction in June
    [june] = world.sensor_tick().run_requests
    assert _month_range(june) == ("2022-06", "2022-06")
    world.fail(june)  # the refresh fails: nothing of it lands

    world.append_prices(JANUARY)  # January arrives complete: the month closes
    [refresh] = world.sensor_tick().run_requests
    assert _month_range(refresh) == ("2022-06", "2023-01")  # June carried over, one single run
    state = drop.DropState.from_json(world.sensor_cursor)
    assert state.months == ("2022-06", "2023-01") and state.data_end == "2023-01-31"
    assert "2023-01" in state.hedge_months
    assert not world.sensor_tick().run_requests  # hedges wait while the refresh runs
    world.fail(refresh)
    assert not world.sensor_tick().run_requests  # ... and never follow a failed one

    world.launch(refresh)  # re-executed after the fix (same tags): a success
    roles = plans.stage_keys(world.parts, _stages(world))
    requests = world.sensor_tick().run_requests
    if roles.hedges:  # June 2022 is before the backtest window: only January's hedges
        [hedges] = requests
        assert hedges.partition_key == "2023-01" and set(hedges.asset_selection) == roles.hedges
        world.launch(hedges)
    else:  # the hedge assets have not landed in this checkout: the month waits in the cursor
        assert requests == []
    state = drop.DropState.from_json(world.sensor_cursor)
    assert state.months == () and state.hedge_months == (() if roles.hedges else ("2023-01",))
    assert not world.sensor_tick().run_requests

    world.append_prices(["2023-02-01"])
    world.reload()  # partitions end at the data (+1 month): a later month needs a reload
    [february] = world.sensor_tick().run_requests
    assert _month_range(february) == ("2023-02", "2023-02")


def test_refresh_run_status_reads_the_drop_tag():
    instance = dg.DagsterInstance.ephemeral()
    assert plans.drop_run_status(instance, "d0") is None
    cases = {
        "d1": [dg.DagsterRunStatus.STARTING],
        "d2": [dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.FAILURE],
        "d3": [dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED],
        "d4": [dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.SUCCESS],  # re-executed after a fix
    }
    for drop_key, statuses in cases.items():
        for status in statuses:
            instance.add_run(
                dg.DagsterRun(
                    job_name="__ASSET_JOB", status=status, tags={plans.DROP_TAG: drop_key}
                )
            )
    assert {d: plans.drop_run_status(instance, d) for d in cases} == {
        "d1": "running",
        "d2": "running",
        "d3": "failed",
        "d4": "success",
    }


def test_new_ticker_is_registered_and_only_its_partitions_requested(world):
    world.sensor_tick()
    companies = pd.read_parquet(world.raw_dir / "companies.parquet")
    descriptions = pd.read_parquet(world.raw_dir / "descriptions.parquet")
    template = companies.iloc[[0]].assign(ticker=NEW_TICKER, name="Zeta Test Corp")
    pd.concat([companies, template]).to_parquet(world.raw_dir / "companies.parquet", index=False)
    text = descriptions.iloc[[0]].assign(
        ticker=NEW_TICKER, source_ticker=NEW_TICKER, text="Zeta Test Corp makes test equipment."
    )
    pd.concat([descriptions, text]).to_parquet(world.raw_dir / "descriptions.parquet", index=False)

    result = world.sensor_tick()
    [added] = result.dynamic_partitions_requests
    assert isinstance(added, dg.AddDynamicPartitionsRequest)
    assert added.partition_keys == [NEW_TICKER]
    [refresh] = result.run_requests
    assert {"raw_companies", "raw_descriptions"} <= _keys(refresh)
    assert (
        plans.RANGE_START_TAG not in refresh.tags
    )  # a new company without prices touches no month
    assert not _keys(refresh) & {k.to_user_string() for k in world.monthly_below("raw_prices")}
    assert NEW_TICKER in world.instance.get_dynamic_partitions("tickers")

    world.launch(refresh)
    roles = plans.stage_keys(world.parts, _stages(world))
    follow = world.sensor_tick().run_requests
    if roles.tickers:
        [per_ticker] = follow
        assert per_ticker.partition_key == NEW_TICKER
        assert set(per_ticker.asset_selection) == roles.tickers
        world.launch(per_ticker)
    else:
        assert follow == []
    assert not world.sensor_tick().run_requests

    # A delisted company: its partition is deleted, nothing is recomputed. A malformed ticker in the same
    # drop is never registered as a partition (the raw run reports it).
    gone = companies["ticker"].iloc[-1]
    hostile = template.assign(ticker="X; DROP TABLE prices")
    pd.concat([companies.iloc[:-1], template, hostile]).to_parquet(
        world.raw_dir / "companies.parquet", index=False
    )
    result = world.sensor_tick()
    requests = result.dynamic_partitions_requests
    assert [type(r) for r in requests] == [dg.DeleteDynamicPartitionsRequest]
    assert requests[0].partition_keys == [gone]
    assert [_keys(r) >= {"raw_companies"} for r in result.run_requests] == [True]
    assert gone not in world.instance.get_dynamic_partitions("tickers")
    assert all(
        not _keys(r) & {k.to_user_string() for k in roles.tickers} for r in result.run_requests
    )


# -- the schedules ----------------------------------------------------------------------------------------------
def test_nightly_plan_refreshes_the_month_then_hedges_the_closed_month(world):
    evening = datetime(2023, 1, 3, 18, 30, tzinfo=NY)
    quiet = world.nightly(evening)
    assert quiet.refresh is None and quiet.hedges is None  # December's hedges are there already

    world.append_prices(["2023-01-03"])
    plan = world.nightly(evening)
    assert _month_range(plan.refresh) == ("2023-01", "2023-01")
    assert "raw_prices" in _keys(plan.refresh) and "raw_companies" not in _keys(plan.refresh)
    assert plan.hedges is None
    world.launch(plan.refresh)
    after = world.nightly(evening)
    assert after.refresh is None and after.hedges is None

    world.append_prices(JANUARY[1:])  # the rest of January: the month closes
    plan = world.nightly(datetime(2023, 1, 31, 18, 30, tzinfo=NY))
    assert _month_range(plan.refresh) == ("2023-01", "2023-01")
    assert plan.hedges is None  # hedges wait for the month's factor model
    world.launch(plan.refresh)
    roles = plans.stage_keys(world.parts, _stages(world))
    plan = world.nightly(datetime(2023, 2, 1, 18, 30, tzinfo=NY))  # the hedge month now exists
    assert plan.refresh is None
    if roles.hedges:
        assert plan.hedges.partition_key == "2023-01"
        assert set(plan.hedges.asset_selection) == roles.hedges
        world.launch(plan.hedges)
    else:
        assert plan.hedges is None
    last = world.nightly(datetime(2023, 2, 2, 18, 30, tzinfo=NY))
    assert last.refresh is None and last.hedges is None


def test_nightly_schedules_evaluate_on_a_fresh_instance(demo_raw_dir, tmp_path):
    """The schedule wiring: a persistent instance that has loaded nothing gets the whole history, hedges wait."""
    settings = make_settings(demo_raw_dir, tmp_path / "home")
    repo = build_definitions(settings).get_repository_def()
    (tmp_path / "dagster").mkdir()
    with dg.DagsterInstance.local_temp(tempdir=str(tmp_path / "dagster")) as instance:
        when = datetime(2023, 1, 3, 18, 30, tzinfo=NY)
        refresh = repo.get_schedule_def(ops.SCHEDULE_NAME)
        # ``with``: the context opens its own instance from the ref and must close it (else Dagster's
        # current defs-state storage keeps pointing at a dead instance for the rest of the session)
        with dg.build_schedule_context(
            instance=instance, repository_def=repo, scheduled_execution_time=when
        ) as context:
            [request] = refresh.evaluate_tick(context).run_requests
            assert _month_range(request) == ("2020-01", "2022-12")
            assert {"raw_prices", "raw_companies", "prices"} <= _keys(request)
            assert (
                repo.get_job(refresh.job_name).partitions_def == build_partitions(settings).months
            )
            if ops.HEDGE_SCHEDULE_NAME in {s.name for s in repo.schedule_defs}:
                hedges = repo.get_schedule_def(ops.HEDGE_SCHEDULE_NAME)
                tick = hedges.evaluate_tick(context)
                assert tick.run_requests == [] and "wait for the refresh" in tick.skip_message
    assert all(job.name for job in repo.get_all_jobs())  # every job (schedule targets too) resolves


# -- helpers that read the graph ------------------------------------------------------------------------------
def _stages(world):
    from hedging_pipeline.defs.stages import compute_stages

    return compute_stages(list({id(a): a for a in world.repo.assets_defs_by_key.values()}.values()))


def _parents_have_data(world, key):
    return all(
        world.instance.get_latest_materialization_event(p) is not None
        for p in world.graph.get(key).parent_keys
    )


def test_a_month_rerun_by_hand_reaches_its_models_then_their_hedges(world):
    """Issue 15 item 2: staleness propagates from a re-materialised month to the hedges, automatically."""
    roles = plans.stage_keys(world.parts, _stages(world))
    name = ops.PARTITION_AUTOMATION_SENSOR_NAME
    assert not world.automation_tick(name).run_requests  # baseline: nothing stale
    end = world.parts.data_end.to_period("M")
    month = (end - (BASELINE_MONTHS - 1)).strftime("%Y-%m")  # the oldest recorded month
    for key in ("factor_returns", "factor_regression_stats", "specific_returns"):  # one op
        world.record(dg.AssetKey(key), [month])  # the month's regression re-run by hand in the UI
    requests = world.automation_tick(name).run_requests
    requested = {(k.to_user_string(), p) for r in requests for k, p in _partitions(world, r)}
    assert ("factor_covariance", month) in requested and ("specific_risk", month) in requested
    later = (pd.Period(month, freq="M") + 1).strftime("%Y-%m")
    assert ("factor_covariance", later) in requested  # its look-back window reads the month too
    assert not {k for k, _ in requested} & {k.to_user_string() for k in roles.hedges}
    _record_all(world, requests)
    requests = world.automation_tick(name).run_requests
    hedged = {(k.to_user_string(), p) for r in requests for k, p in _partitions(world, r)}
    closed = set(world.parts.hedge_months.get_partition_keys()) & {month, later}
    assert closed and {p for k, p in hedged if k == "hedge_weights"} >= closed
    _record_all(world, requests)
    assert not world.automation_tick(name).run_requests  # up to date again


def _partitions(world, request):
    """(asset key, partition) pairs a request covers (automation requests carry an asset-graph subset)."""
    subset = request.asset_graph_subset
    if subset is None:
        keys = request.asset_selection or []
        yield from ((k, request.partition_key) for k in keys)
        return
    for key, partitions in subset.partitions_subsets_by_asset_key.items():
        for partition in partitions.get_partition_keys():
            yield key, partition
    for key in subset.non_partitioned_asset_keys:
        yield key, None


def _record_all(world, requests):
    """What the daemon's backfill would leave: every requested partition materialised (recorded)."""
    for request in requests:
        for key, partition in _partitions(world, request):
            world.record(key, [partition])
