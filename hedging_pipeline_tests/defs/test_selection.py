"""Stale-only selection and per-partition status on a toy graph shaped like the project's.

raw (unpartitioned) -> returns (months) -> model (months, 2-month look-back) -> hedges (hedge months)
-> backtest (unpartitioned). Content comes from ``VALUES`` so a test can change one month's rows.
"""

import dagster as dg
import pandas as pd
import pytest

from hedging_pipeline.defs import selection as sel
from hedging_pipeline.defs.common import EMPTY_BY_DESIGN, add_partition_metadata, frame_metadata
from hedging_pipeline.defs.partitions import PartitionSet
from hedging_pipeline.defs.stages import compute_stages

MONTHLY = {"fmt": "%Y-%m", "cron_schedule": "0 0 1 * *", "timezone": "UTC"}
MONTHS = dg.TimeWindowPartitionsDefinition(start="2020-01", end="2020-07", **MONTHLY)
HEDGE_MONTHS = dg.TimeWindowPartitionsDefinition(start="2020-03", end="2020-07", **MONTHLY)
RANGE = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")
VALUES: dict[str, float] = {}
EMPTY_MONTH = "2020-02"


def _days(context) -> pd.DatetimeIndex:
    window = context.partition_time_window
    days = pd.bdate_range(window.start.replace(tzinfo=None), window.end.replace(tzinfo=None))
    return days[days < window.end.replace(tzinfo=None)]


@dg.asset
def raw():
    return dg.MaterializeResult(metadata=frame_metadata(pd.DataFrame({"x": [1, 2]})))


@dg.asset(partitions_def=MONTHS, deps=[raw], backfill_policy=dg.BackfillPolicy.single_run())
def returns(context: dg.AssetExecutionContext):
    days = _days(context)
    frame = pd.DataFrame(
        {"date": days, "ret": [VALUES.get(d.strftime("%Y-%m"), 0.01) for d in days]}
    )
    frame = frame[frame["date"].dt.strftime("%Y-%m") != EMPTY_MONTH]  # a month without rows
    add_partition_metadata(context, frame)
    return dg.MaterializeResult(metadata=frame_metadata(frame))


@dg.asset(
    partitions_def=MONTHS,
    deps=[
        dg.AssetDep(
            returns,
            partition_mapping=dg.TimeWindowPartitionMapping(
                start_offset=-2, allow_nonexistent_upstream_partitions=True
            ),
        )
    ],
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def model(context: dg.AssetExecutionContext):
    rows = []
    for key in context.partition_keys:
        month = pd.Period(key, freq="M")
        window = [(month - k).strftime("%Y-%m") for k in range(3)]
        rows.append(
            {"date": month.end_time.normalize(), "vol": sum(VALUES.get(m, 0.01) for m in window)}
        )
    frame = pd.DataFrame(rows)
    add_partition_metadata(context, frame)
    return dg.MaterializeResult(metadata=frame_metadata(frame))


@dg.asset(partitions_def=HEDGE_MONTHS, deps=[model], backfill_policy=dg.BackfillPolicy.single_run())
def hedges(context: dg.AssetExecutionContext):
    rows = []
    for key in context.partition_keys:
        month = pd.Period(key, freq="M")
        weight = sum(VALUES.get((month - k).strftime("%Y-%m"), 0.01) for k in range(3))
        rows.append({"as_of": month.end_time.normalize(), "weight": weight})
    frame = pd.DataFrame(rows)
    add_partition_metadata(context, frame, date_column="as_of")
    return dg.MaterializeResult(metadata=frame_metadata(frame, date_column="as_of"))


@dg.asset(deps=[hedges])
def backtest():
    return dg.MaterializeResult(metadata=frame_metadata(pd.DataFrame({"x": [1]})))


ASSETS = [raw, returns, model, hedges, backtest]


class Toy:
    def __init__(self):
        VALUES.clear()
        self.instance = dg.DagsterInstance.ephemeral()
        self.stages = compute_stages(ASSETS)
        self.by_key = {k: a for a in ASSETS for k in a.keys}
        self.parts = PartitionSet(
            data_start=pd.Timestamp("2020-01-01"),
            data_end=pd.Timestamp("2020-06-30"),
            months=MONTHS,
            hedge_months=HEDGE_MONTHS,
            tickers=dg.DynamicPartitionsDefinition(name="toy_tickers"),
        )
        self.mark = 0

    def run(self, assets, first=None, last=None):
        tags = {} if first is None else dict(zip(RANGE, (first, last), strict=True))
        result = dg.materialize(assets, instance=self.instance, tags=tags, selection=assets)
        assert result.success
        return result

    def full(self):
        self.run([raw])
        self.run([returns, model], "2020-01", "2020-06")
        self.run([hedges], "2020-03", "2020-06")
        self.run([backtest])
        self.advance()

    def advance(self):
        self.mark = sel.watermark(self.instance, self.by_key)

    def plan(self):
        selection = sel.Selection(
            instance=self.instance,
            assets=self.by_key,
            parts=self.parts,
            log=sel.ChangeLog(self.instance, self.mark),
            stale_files=[],
            changes=None,
            entry_keys=frozenset(self.stages[0].asset_keys),
        )
        plans = {}
        for stage in self.stages:
            pdef = stage.partitions_def
            window = None if pdef is None else pdef.get_partition_keys()
            plans[stage.name] = sel.plan_stage(selection, stage, window)
        return plans


def _names(plan):
    return {k.to_user_string() for k in plan.keys} if not plan.empty else set()


@pytest.fixture(scope="module")
def toy():
    """One full run shared by the read-only tests (a same-rows re-run leaves it as it was)."""
    world = Toy()
    world.full()
    return world


@pytest.fixture
def fresh_toy():
    world = Toy()
    world.full()
    return world


def test_each_partition_of_a_range_run_reports_its_own_rows_and_span(toy):
    records = toy.instance.fetch_materializations(dg.AssetKey("returns"), limit=100).records
    latest = {}
    for record in records:
        latest.setdefault(record.partition_key, record.asset_materialization.metadata)
    assert sorted(latest) == ["2020-01", "2020-02", "2020-03", "2020-04", "2020-05", "2020-06"]
    march = latest["2020-03"]
    assert march["dagster/row_count"].value == len(pd.bdate_range("2020-03-01", "2020-03-31")) == 22
    assert (march["first_date"].value, march["last_date"].value) == ("2020-03-02", "2020-03-31")
    assert EMPTY_BY_DESIGN not in march
    february = latest[EMPTY_MONTH]
    assert february["dagster/row_count"].value == 0
    assert "by design" in february[EMPTY_BY_DESIGN].value
    digests = {latest[m]["content_digest"].value for m in ("2020-03", "2020-04")}
    assert len(digests) == 2  # each month's own content, not the run's


def test_nothing_is_stale_after_a_full_run(toy):
    plans = toy.plan()
    assert all(plan.empty for plan in plans.values()), plans


def test_a_rerun_with_the_same_rows_marks_nothing_stale(toy):
    toy.run([returns], "2020-03", "2020-03")  # manual re-run of one month, same data
    plans = toy.plan()
    assert all(plan.empty for plan in plans.values()), plans


@pytest.mark.slow
def test_a_changed_month_marks_its_models_hedges_and_backtest_stale_until_refreshed(fresh_toy):
    toy = fresh_toy
    VALUES["2020-03"] = 0.05  # a corrected month, re-materialised by hand
    toy.run([returns], "2020-03", "2020-03")
    plans = toy.plan()
    monthly = next(p for name, p in plans.items() if name.startswith("1-"))
    # the models reading March (look-back 2 months): March, April, May
    assert monthly.blocks == (("2020-03", "2020-05"),)
    # hedges and backtest are not stale yet: their parents have not changed (the model runs first)
    toy.run([returns, model], *monthly.blocks[0])
    plans = toy.plan()
    hedge_plan = next(p for p in plans.values() if p.blocks and p.blocks[0][0] >= "2020-03")
    assert hedge_plan.blocks == (("2020-03", "2020-05"),)
    toy.run([hedges], *hedge_plan.blocks[0])
    plans = toy.plan()
    assert {n for p in plans.values() for n in _names(p)} == {"backtest"}
    toy.run([backtest])
    assert all(plan.empty for plan in toy.plan().values())


def test_children_of_follows_the_look_back_forward():
    assert sel.children_of("2020-03", (-2, 0)) == ["2020-05", "2020-04", "2020-03"]
    assert sel.children_of("2020-03", (0, 0)) == ["2020-03"]


def test_month_partitions_end_with_the_data_not_the_wall_clock(demo_settings):
    from hedging_pipeline.defs.partitions import build_partitions

    parts = build_partitions(demo_settings)  # demo data: 2020-01-02 .. 2022-12-30
    assert parts.data_end == pd.Timestamp("2022-12-30")
    # through the month after the data (the month a next drop opens), never up to today
    assert parts.months.get_last_partition_key() == "2023-01"
    assert parts.hedge_months.get_last_partition_key() == "2023-01"
    assert len(parts.months.get_partition_keys()) == 37
