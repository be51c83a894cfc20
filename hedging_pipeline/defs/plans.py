"""What the automation requests: the sensor's and the nightly schedules' decisions as plain functions.

:func:`drop_plan` (the drop-folder sensor) and :func:`nightly_plan` (the nightly schedules) take what they need
(the drop folder, the instance or a snapshot of it, the asset graph) and return a plan: run requests and one note
per decision. The Dagster wrappers in ``automation.py`` only evaluate them and log the notes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import dagster as dg
import pandas as pd

from hedging_pipeline.data.calendar import MONTH_KEY_FORMAT, last_complete_month
from hedging_pipeline.data.digests import (
    PER_TICKER_INPUTS,
    RAW_ASSETS,
    DropState,
    diff_drop,
    drop_id,
    fingerprints,
    hedge_candidates,
    months_since,
    raw_assets_of,
    stale_raw_files,
)
from hedging_pipeline.data.loaders import raw_date_span
from hedging_pipeline.data.schema import TICKER_PATTERN
from hedging_pipeline.defs.partitions import PartitionSet
from hedging_pipeline.defs.stages import Stage

MAX_SINGLE_TICKER_RUNS = 5
"""Up to this many tickers get one run each; more go into one range run over the registered order."""
DROP_TAG = "hedging/raw_drop"
"""Run tag: fingerprint digest of the drop folder a refresh run loads (shared by schedule and sensor)."""
TRIGGER_TAG = "hedging/trigger"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
DATA_VERSION_TAG = "dagster/data_version"
LAST_DATE_METADATA = "last_date"
FINISHED_STATUSES = frozenset(
    {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}
)

RunStatus = Callable[[str], "str | None"]
"""drop id -> ``"success"``, ``"running"``, ``"failed"`` or ``None`` (see :func:`drop_run_status`)."""


# -- stage roles -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StageKeys:
    """Asset keys of the stages the automation drives."""

    entry: frozenset[dg.AssetKey]
    """Unpartitioned first stage: raw assets and their helpers (calendar, share counts)."""
    monthly: frozenset[dg.AssetKey]
    tickers: frozenset[dg.AssetKey]
    hedges: frozenset[dg.AssetKey]
    downstream: frozenset[dg.AssetKey]
    """Unpartitioned assets after the partitioned stages (declarative automation)."""


def stage_keys(parts: PartitionSet, stages: Iterable[Stage]) -> StageKeys:
    """Sort the stages of the code location by role."""
    entry, monthly, tickers, hedges, downstream = set(), set(), set(), set(), set()
    for stage in stages:
        pdef = stage.partitions_def
        if pdef is None:
            (entry if stage.index == 0 else downstream).update(stage.asset_keys)
        elif pdef == parts.months:
            monthly.update(stage.asset_keys)
        elif pdef == parts.hedge_months:
            hedges.update(stage.asset_keys)
        elif isinstance(pdef, dg.DynamicPartitionsDefinition) and pdef.name == parts.tickers.name:
            tickers.update(stage.asset_keys)
    return StageKeys(*(frozenset(s) for s in (entry, monthly, tickers, hedges, downstream)))


# -- instance queries --------------------------------------------------------------------------------------------
def latest_record(instance: dg.DagsterInstance, key: dg.AssetKey, partition: str | None = None):
    """Latest materialisation record of ``key`` (of one partition when given), or ``None``."""
    if partition is None:
        return instance.get_latest_materialization_event(key)
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=1
    ).records
    return records[0] if records else None


def raw_versions(instance: dg.DagsterInstance) -> dict[str, str | None]:
    """Data version (the file fingerprint) of each raw asset's latest materialisation.

    ``None`` when never materialised; ``""`` when materialised without a version (an absent optional file).
    """
    versions: dict[str, str | None] = {}
    for name, asset in RAW_ASSETS.items():
        record = latest_record(instance, dg.AssetKey(asset))
        event = record.asset_materialization if record is not None else None
        versions[name] = None if event is None else (event.tags or {}).get(DATA_VERSION_TAG, "")
    return versions


def drop_run_status(instance: dg.DagsterInstance, drop: str) -> str | None:
    """``"success"``, ``"running"`` (queued or started), ``"failed"`` or ``None`` for the refresh run ``drop``."""
    runs = instance.get_runs(filters=dg.RunsFilter(tags={DROP_TAG: drop}), limit=20)
    if not runs:
        return None
    statuses = {run.status for run in runs}
    if dg.DagsterRunStatus.SUCCESS in statuses:
        return "success"
    if statuses - FINISHED_STATUSES:
        return "running"
    return "failed"


def last_loaded_date(instance: dg.DagsterInstance) -> pd.Timestamp | None:
    """Last date of the prices the warehouse holds (metadata of the latest ``raw_prices`` materialisation)."""
    record = latest_record(instance, dg.AssetKey(RAW_ASSETS["prices"]))
    if record is None or record.asset_materialization is None:
        return None
    value = record.asset_materialization.metadata.get(LAST_DATE_METADATA)
    return pd.Timestamp(value.value) if value is not None else None


def existing_keys(keys: Iterable[str], pdef: dg.PartitionsDefinition, now: datetime) -> list[str]:
    """The keys of ``keys`` that ``pdef`` holds at ``now`` (sorted)."""
    valid = set(pdef.get_partition_keys(current_time=now))
    return sorted(k for k in keys if k in valid)


# -- run requests ------------------------------------------------------------------------------------------------
def _by_name(keys: Iterable[dg.AssetKey]) -> list[dg.AssetKey]:
    return sorted(keys, key=lambda k: k.to_user_string())


def refresh_request(
    graph,
    roles: StageKeys,
    files: Iterable[str],
    months: list[str],
    *,
    drop: str,
    trigger: str,
    run_key: str,
) -> dg.RunRequest | None:
    """One run: the raw assets of ``files``, their unpartitioned helpers and the monthly stage for ``months``.

    Monthly assets are included only when downstream of a refreshed raw asset (a fundamentals change does not
    recompute prices); the months form one single-run range.
    """
    raw = {dg.AssetKey(name) for name in raw_assets_of(files)}
    if not raw:
        return None
    below = dg.AssetSelection.assets(*raw).downstream().resolve(graph)
    keys = set(raw) | (below & roles.entry)
    tags = {DROP_TAG: drop, TRIGGER_TAG: trigger}
    monthly = below & roles.monthly
    if months and monthly:
        keys |= monthly
        tags |= {RANGE_START_TAG: months[0], RANGE_END_TAG: months[-1]}
    return dg.RunRequest(run_key=run_key, asset_selection=_by_name(keys), tags=tags)


def partition_request(
    keys: Iterable[dg.AssetKey], partitions: list[str], *, run_key: str, trigger: str
) -> dg.RunRequest:
    """A run of ``keys`` over one partition or one contiguous single-run range."""
    tags = {TRIGGER_TAG: trigger}
    if len(partitions) == 1:
        return dg.RunRequest(
            run_key=run_key, asset_selection=_by_name(keys), partition_key=partitions[0], tags=tags
        )
    tags |= {RANGE_START_TAG: partitions[0], RANGE_END_TAG: partitions[-1]}
    return dg.RunRequest(run_key=run_key, asset_selection=_by_name(keys), tags=tags)


def ticker_requests(
    roles: StageKeys, tickers: list[str], registered: list[str], *, drop: str
) -> list[dg.RunRequest]:
    """Per-ticker stage runs: one per ticker, or one range over the registered order when there are many."""
    if not tickers or not roles.tickers:
        return []
    if len(tickers) <= MAX_SINGLE_TICKER_RUNS:
        return [
            partition_request(
                roles.tickers, [t], run_key=f"tickers:{drop}:{t}", trigger="new_ticker"
            )
            for t in tickers
        ]
    order = {t: i for i, t in enumerate(registered)}
    ranked = sorted(tickers, key=order.__getitem__)
    return [
        partition_request(
            roles.tickers,
            [ranked[0], ranked[-1]],
            run_key=f"tickers:{drop}:{ranked[0]}..{ranked[-1]}",
            trigger="new_ticker",
        )
    ]


# -- the drop-folder sensor's decision ---------------------------------------------------------------------------
@dataclass(frozen=True)
class SensorInputs:
    """What the drop sensor sees at one tick: the folder, the instance's facts, the code location."""

    raw_dir: Path
    prints: Mapping[str, str | None]
    versions: Mapping[str, str | None]
    registered: list[str]
    run_status: RunStatus
    parts: PartitionSet
    roles: StageKeys
    graph: object
    now: datetime


@dataclass(frozen=True)
class DropPlan:
    """The sensor's requests at one tick and its next cursor."""

    runs: tuple[dg.RunRequest, ...]
    partitions: tuple[dg.AddDynamicPartitionsRequest | dg.DeleteDynamicPartitionsRequest, ...]
    notes: tuple[str, ...]
    state: DropState


def _day(ts: pd.Timestamp | None) -> str | None:
    return None if ts is None else ts.strftime("%Y-%m-%d")


def _baseline(seen: SensorInputs) -> DropState:
    """First tick on an instance whose warehouse already holds these files: they are the baseline."""
    changes, digests, _ = diff_drop(seen.raw_dir, None, seen.prints)
    return DropState(prints=dict(seen.prints), digests=digests, data_end=_day(changes.data_end))


def _take_drop(
    seen: SensorInputs, previous: DropState | None, state: DropState
) -> tuple[DropState, dg.RunRequest | None, str | None]:
    """A changed drop folder: the refresh run (files + months) and the next state."""
    changes, digests, _ = diff_drop(seen.raw_dir, previous, seen.prints)
    drop = drop_id(seen.prints)
    files = sorted(set(changes.files) | set(stale_raw_files(seen.prints, seen.versions)))
    unfinished = (
        set(state.months) if state.drop and seen.run_status(state.drop) != "success" else set()
    )
    months = existing_keys(set(changes.months) | unfinished, seen.parts.months, seen.now)
    if unfinished:
        files = sorted(set(files) | set(state.refresh_files))
    request = refresh_request(
        seen.graph,
        seen.roles,
        files,
        months,
        drop=drop,
        trigger="raw_drop",
        run_key=f"refresh:{drop}",
    )
    note = None
    beyond = sorted(set(changes.months) - set(months) - unfinished)
    if beyond and beyond[-1] > max(months, default=""):
        note = f"months {beyond[0]}..{beyond[-1]} are not partitions yet: reload the code location"
    if request is not None:
        note = (
            (note + "; " if note else "")
            + f"refresh {', '.join(files)}"
            + (f" and months {months[0]}..{months[-1]}" if months else "")
        )
    tickers = (set(state.tickers) | set(changes.described_tickers)) - set(changes.removed_tickers)
    state = DropState(
        prints=dict(seen.prints),
        digests=digests,
        data_end=_day(changes.data_end),
        drop=drop if request is not None else state.drop,
        months=tuple(months) if request is not None else state.months,
        refresh_files=tuple(files) if request is not None else state.refresh_files,
        hedge_months=tuple(sorted(set(state.hedge_months) | hedge_candidates(changes))),
        tickers=tuple(sorted(tickers)),
    )
    return state, request, note


def _ticker_partitions(seen: SensorInputs, state: DropState, notes: list[str]):
    """Add/delete requests for the dynamic tickers (the companies file is the universe) and the new registry."""
    universe = {t for t in state.digests.get("companies", {}) if TICKER_PATTERN.match(t)}
    registered = list(seen.registered)
    requests = []
    if universe:
        new = sorted(universe - set(registered))
        gone = sorted(set(registered) - universe)
        if new:
            requests.append(seen.parts.tickers.build_add_request(new))
            notes.append(f"registered tickers {', '.join(new)}")
        if gone:
            requests.append(seen.parts.tickers.build_delete_request(gone))
            notes.append(f"removed tickers {', '.join(gone)}")
        registered = [t for t in registered if t in universe]
    return requests, registered


def _ticker_work(
    seen: SensorInputs, state: DropState, registered: list[str], notes: list[str]
) -> tuple[DropState, list[dg.RunRequest]]:
    """Per-ticker runs once the warehouse holds the current companies and descriptions."""
    ready = [t for t in state.tickers if t in set(registered)]
    loaded = all(
        seen.prints.get(f) is None or seen.prints.get(f) == seen.versions.get(f)
        for f in PER_TICKER_INPUTS
    )
    if not (ready and loaded and seen.roles.tickers):
        return state, []
    requests = ticker_requests(seen.roles, ready, registered, drop=drop_id(seen.prints))
    notes.append(f"per-ticker work for {', '.join(ready)}")
    return replace(state, tickers=tuple(t for t in state.tickers if t not in ready)), requests


def _hedge_work(
    seen: SensorInputs, state: DropState, notes: list[str]
) -> tuple[DropState, list[dg.RunRequest]]:
    """Hedge months once the refresh run has succeeded."""
    status = seen.run_status(state.drop) if state.drop else "success"
    if status == "success" and state.months:
        state = replace(state, months=(), refresh_files=())
    if state.hedge_months and status == "failed":
        notes.append(f"hedges for {', '.join(state.hedge_months)} wait: refresh run failed")
    if not (state.hedge_months and seen.roles.hedges and status == "success"):
        return state, []
    first_key = seen.parts.hedge_months.get_first_partition_key()
    wanted = [m for m in state.hedge_months if first_key is None or m >= first_key]
    ready = existing_keys(wanted, seen.parts.hedge_months, seen.now)
    requests = []
    if ready:
        requests.append(
            partition_request(
                seen.roles.hedges,
                ready,
                run_key=f"hedges:{state.drop}:{ready[0]}..{ready[-1]}",
                trigger="month_closed",
            )
        )
        notes.append(f"hedges for {', '.join(ready)}")
    return replace(state, hedge_months=tuple(m for m in wanted if m not in ready)), requests


def drop_plan(seen: SensorInputs, previous: DropState | None) -> DropPlan:
    """The drop sensor's decision at one tick (see ``automation.py``'s docstring for the policy)."""
    state = previous or DropState()
    runs: list[dg.RunRequest] = []
    notes: list[str] = []
    if previous is None and not stale_raw_files(seen.prints, seen.versions):
        state = _baseline(seen)
        notes.append("baseline taken from the materialised raw files")
    elif previous is None or dict(seen.prints) != previous.prints:
        state, request, note = _take_drop(seen, previous, state)
        runs += [request] if request is not None else []
        notes += [note] if note else []
    partitions, registered = _ticker_partitions(seen, state, notes)
    state, ticker_runs = _ticker_work(seen, state, registered, notes)
    state, hedge_runs = _hedge_work(seen, state, notes)
    return DropPlan(tuple(runs + ticker_runs + hedge_runs), tuple(partitions), tuple(notes), state)


# -- the nightly schedules' decision -----------------------------------------------------------------------------
def _stale_month_partition(instance, roles: StageKeys, month: str) -> bool:
    """Whether some monthly-stage asset's ``month`` is missing or older than the raw prices it reads."""
    raw = latest_record(instance, dg.AssetKey(RAW_ASSETS["prices"]))
    if raw is None:
        return False
    for key in roles.monthly:
        record = latest_record(instance, key, month)
        if record is None or record.timestamp < raw.timestamp:
            return True
    return False


def _stale_hedge_month(instance, graph, roles: StageKeys, month: str) -> int | None:
    """Newest input timestamp (as int) when the hedge stage's ``month`` is missing or older than its inputs."""
    parents = set()
    for key in roles.hedges:
        parents |= set(graph.get(key).parent_keys) & roles.monthly
    stamps = []
    for key in parents:
        record = latest_record(instance, key, month)
        if record is None:
            return None  # the factor model of that month is not there yet: a backfill's job
        stamps.append(record.timestamp)
    newest = max(stamps, default=0.0)
    for key in roles.hedges:
        record = latest_record(instance, key, month)
        if record is None or record.timestamp < newest:
            return int(newest)
    return None


@dataclass(frozen=True)
class NightlyPlan:
    """What the nightly schedules request at one tick.

    Attributes
    ----------
    refresh : dg.RunRequest or None
        Stale raw files, their helpers and the monthly stage for the months since the last loaded date.
    hedges : dg.RunRequest or None
        The last closed month's hedges, when missing or older than their factor model (and no refresh is due).
    notes : tuple of str
        One line per decision, for the tick log.
    """

    refresh: dg.RunRequest | None
    hedges: dg.RunRequest | None
    notes: tuple[str, ...]


def _nightly_months(instance, roles, stale, start, end) -> tuple[list[str], list[str]]:
    """(months, stale files) the nightly refresh covers."""
    end_month = end.strftime(MONTH_KEY_FORMAT)
    if {"prices", "exposures"} & set(stale):
        return months_since(last_loaded_date(instance), end, start), stale
    if {"fundamentals", "companies"} & set(stale):
        return [end_month], stale
    if _stale_month_partition(instance, roles, end_month):
        return [end_month], ["prices"]
    return [], stale


def nightly_plan(
    instance: dg.DagsterInstance,
    graph,
    parts: PartitionSet,
    roles: StageKeys,
    raw_dir,
    now: datetime,
) -> NightlyPlan:
    """Decide the nightly requests from the drop folder and the instance alone (no cursor).

    Months: from the month of the last date the warehouse holds (``last_date`` of the latest ``raw_prices``
    materialisation; included only while it was open) to the month of the file's last date. A refresh already
    launched for the same drop (tag ``hedging/raw_drop``, e.g. by the sensor) is not requested again. Hedges wait
    while any refresh is due or running.
    """
    span = raw_date_span(raw_dir)
    if span is None:
        return NightlyPlan(None, None, (f"no readable prices file in {raw_dir}",))
    start, end = span
    prints = fingerprints(raw_dir)
    months, stale = _nightly_months(
        instance, roles, stale_raw_files(prints, raw_versions(instance)), start, end
    )
    months = existing_keys(months, parts.months, now)
    drop = drop_id(prints)
    in_flight = drop_run_status(instance, drop)
    notes = []
    refresh = None
    due = bool(stale or months)
    if due and in_flight in (None, "failed"):
        refresh = refresh_request(
            graph,
            roles,
            stale,
            months,
            drop=drop,
            trigger="nightly",
            run_key=f"nightly:{drop}:{','.join(months)}",
        )
        notes.append(
            f"refresh {', '.join(stale)}"
            + (f" and months {months[0]}..{months[-1]}" if months else "")
        )
    elif due:
        notes.append(f"drop {drop} already handled by a {in_flight} run")
    hedges = None
    closed = last_complete_month(end).strftime(MONTH_KEY_FORMAT)
    if roles.hedges and not due and in_flight != "running":
        if existing_keys([closed], parts.hedge_months, now):
            newest = _stale_hedge_month(instance, graph, roles, closed)
            if newest is not None:
                hedges = partition_request(
                    roles.hedges, [closed], run_key=f"hedges:{closed}:{newest}", trigger="nightly"
                )
                notes.append(f"hedges for {closed}")
    elif roles.hedges:
        notes.append(f"hedges for {closed} wait for the refresh")
    return NightlyPlan(refresh, hedges, tuple(notes))
