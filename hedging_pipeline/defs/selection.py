"""Stale-only selection for ``hedging-pipeline run``: which assets and partitions of each stage to run.

A stage runs only what is stale:

* **raw files** (first stage): the raw assets whose file fingerprint differs from the data version of their
  last materialisation, and the unpartitioned helpers below them (calendar, share counts);
* **months** and **tickers**: the partitions whose raw rows changed (content digests of the drop folder,
  compared with those of the last successful run: ``data/drop.py``), the partitions never materialised, and
  the partitions whose partitioned parents changed since the last successful run. A changed month also makes
  every later month stale (rolling windows read it), so the months form one range up to the last month;
* **everything after** (universe-wide assets, hedge months, backtest): an asset (partition) runs when it was
  never materialised or when a parent (a mapped parent partition) was re-materialised with different content
  after it. "Different content" compares the user-provided data version or the ``content_digest`` metadata of
  the parent's new materialisation with its previous one; a re-run that produced the same rows changes nothing.

The run's memory is ``run_state.json`` in ``HEDGING_HOME``: the drop folder's digests and the event-log
*watermark* (highest storage id) at the end of the last fully successful run. A failed run leaves it unchanged,
so the next run still sees every change since the last good one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import pandas as pd

from hedging_pipeline.data.digests import (
    DropChanges,
    DropState,
    diff_drop,
    raw_assets_of,
    stale_raw_files,
)
from hedging_pipeline.defs.partitions import PartitionSet
from hedging_pipeline.defs.plans import DATA_VERSION_TAG, raw_versions
from hedging_pipeline.defs.stages import Stage

STATE_FILE = "run_state.json"
CONTENT_DIGEST = "content_digest"
"""Metadata entry holding a digest of the rows an asset wrote (``defs/common.py:frame_metadata``)."""
USER_VERSION_TAG = "dagster/data_version_is_user_provided"
MAX_RECORDS = 10_000
"""Dagster's cap on records per query."""
MAX_COMPARED = 64
"""Partitions whose content is compared one by one; beyond this many re-written partitions, all count changed."""


# -- the run's memory --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunState:
    """What the last fully successful ``run`` saw: the drop folder's digests and the event-log watermark."""

    drop: DropState = field(default_factory=DropState)
    watermark: int = 0


def load_run_state(home: Path) -> RunState | None:
    """The state of the last successful run under ``home`` (``None`` when there is none or it is unreadable)."""
    path = Path(home) / STATE_FILE
    try:
        data = json.loads(path.read_text())
        return RunState(DropState.from_json(json.dumps(data["drop"])), int(data["watermark"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save_run_state(home: Path, state: RunState) -> None:
    """Write the state atomically (a crash leaves the previous one)."""
    path = Path(home) / STATE_FILE
    tmp = path.with_suffix(".tmp")
    payload = {"drop": json.loads(state.drop.to_json()), "watermark": state.watermark}
    tmp.write_text(json.dumps(payload, sort_keys=True))
    tmp.replace(path)


def watermark(instance: dg.DagsterInstance, keys: Iterable[dg.AssetKey]) -> int:
    """Highest storage id among the latest materialisations of ``keys``."""
    ids = [0]
    for key in keys:
        records = instance.fetch_materializations(key, limit=1).records
        ids += [r.storage_id for r in records]
    return max(ids)


# -- content changes in the event log ----------------------------------------------------------------------------
def record_digest(record) -> str | None:
    """A materialisation's content identity: user-provided data version, else ``content_digest`` metadata."""
    event = record.asset_materialization
    if event is None:
        return None
    tags = event.tags or {}
    if tags.get(USER_VERSION_TAG) == "true" and tags.get(DATA_VERSION_TAG):
        return f"v:{tags[DATA_VERSION_TAG]}"
    value = event.metadata.get(CONTENT_DIGEST)
    return None if value is None else f"d:{value.value}"


class ChangeLog:
    """Materialisations after the watermark whose content differs from the one before (cached per asset)."""

    def __init__(self, instance: dg.DagsterInstance, mark: int):
        self.instance = instance
        self.mark = mark
        self._changes: dict[dg.AssetKey, dict[str | None, int]] = {}
        self._latest: dict[tuple[dg.AssetKey, str | None], int] = {}

    def changes(self, key: dg.AssetKey) -> dict[str | None, int]:
        """Partition (``None``: unpartitioned) -> storage id of its newest changed materialisation."""
        if key not in self._changes:
            self._changes[key] = self._find_changes(key)
        return self._changes[key]

    def _find_changes(self, key: dg.AssetKey) -> dict[str | None, int]:
        records = self.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=key, after_storage_id=self.mark), limit=MAX_RECORDS
        ).records
        newest: dict[str | None, object] = {}
        for record in records:  # newest first
            newest.setdefault(record.partition_key, record)
        if self.mark == 0 or len(newest) > MAX_COMPARED:
            return {p: r.storage_id for p, r in newest.items()}
        changed = {}
        for partition, record in newest.items():
            before = self.instance.fetch_materializations(
                dg.AssetRecordsFilter(
                    asset_key=key,
                    asset_partitions=None if partition is None else [partition],
                    before_storage_id=self.mark + 1,
                ),
                limit=1,
            ).records
            old = record_digest(before[0]) if before else None
            if old is None or old != record_digest(record):
                changed[partition] = record.storage_id
        return changed

    def refresh(self) -> None:
        """Forget cached answers (after a stage ran and wrote new materialisations)."""
        self._changes.clear()
        self._latest.clear()

    def latest(self, key: dg.AssetKey, partition: str | None) -> int:
        """Storage id of the latest materialisation of ``key`` (``partition``), 0 when none."""
        if (key, partition) not in self._latest:
            records = self.instance.fetch_materializations(
                dg.AssetRecordsFilter(
                    asset_key=key, asset_partitions=None if partition is None else [partition]
                ),
                limit=1,
            ).records
            self._latest[(key, partition)] = records[0].storage_id if records else 0
        return self._latest[(key, partition)]


# -- partition mappings ------------------------------------------------------------------------------------------
def _offsets(assets_def: dg.AssetsDefinition, parent: dg.AssetKey) -> tuple[int, int]:
    """(start, end) offsets of a time-window mapping from a child partition to its parent partitions."""
    mapping = assets_def.get_partition_mapping(parent)
    if isinstance(mapping, dg.TimeWindowPartitionMapping):
        return mapping.start_offset, mapping.end_offset
    return 0, 0


def children_of(month: str, offsets: tuple[int, int]) -> list[str]:
    """Child months reading parent month ``month`` through a mapping with ``offsets`` (``YYYY-MM`` keys)."""
    start, end = offsets
    period = pd.Period(month, freq="M")
    return [(period - k).strftime("%Y-%m") for k in range(start, end + 1)]


# -- the plan of one stage ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StagePlan:
    """What one stage runs: a subset of its assets over zero or more partition blocks."""

    keys: tuple[dg.AssetKey, ...]
    blocks: tuple[tuple[str, str], ...] | None
    """Contiguous (first, last) partition ranges, one run each; ``None`` for an unpartitioned stage."""
    reason: str

    @property
    def empty(self) -> bool:
        """Nothing to run."""
        return not self.keys or (self.blocks is not None and not self.blocks)


@dataclass
class Selection:
    """Everything the per-stage decisions read."""

    instance: dg.DagsterInstance
    assets: Mapping[dg.AssetKey, dg.AssetsDefinition]
    parts: PartitionSet
    log: ChangeLog
    stale_files: list[str]
    changes: DropChanges | None
    force: bool = False
    entry_keys: frozenset[dg.AssetKey] = frozenset()


def raw_changes(
    instance: dg.DagsterInstance,
    raw_dir: Path,
    prints: Mapping[str, str | None],
    state: RunState | None,
) -> tuple[list[str], DropChanges | None, DropState | None]:
    """(stale raw files, content changes since the last successful run, the new drop state)."""
    stale = stale_raw_files(prints, raw_versions(instance))
    previous = state.drop if state is not None else None
    if previous is not None and dict(prints) == previous.prints:
        return stale, None, previous
    changes, digests, _ = diff_drop(raw_dir, previous, prints)
    end = None if changes.data_end is None else changes.data_end.strftime("%Y-%m-%d")
    state_now = DropState(prints=dict(prints), digests=digests, data_end=end)
    if previous is None and not stale:
        # A warehouse loaded from these very files before this memory existed: they are the baseline
        # (missing partitions still run), as the drop sensor does on its first tick.
        return stale, None, state_now
    return stale, changes, state_now


def _blocks(keys: list[str], order: list[str]) -> tuple[tuple[str, str], ...]:
    """Contiguous runs of ``keys`` in ``order``."""
    wanted = set(keys)
    blocks, first, last = [], None, None
    for key in order:
        if key in wanted:
            first = first or key
            last = key
        elif first is not None:
            blocks.append((first, last))
            first = None
    if first is not None:
        blocks.append((first, last))
    return tuple(blocks)


def _missing(sel: Selection, stage: Stage, keys: list[str]) -> set[str]:
    """Partitions of ``keys`` that some asset of the stage never materialised."""
    missing: set[str] = set()
    for key in stage.asset_keys:
        status = sel.instance.get_status_by_partition(key, keys, stage.partitions_def) or {}
        missing |= {k for k in keys if status.get(k) != dg.AssetPartitionStatus.MATERIALIZED}
    return missing


def _parent_stale(sel: Selection, stage: Stage, keys: list[str], skip: Iterable) -> set[str]:
    """Partitions of ``keys`` (or ``{None}``) below a parent re-materialised with new content."""
    skip = set(skip)
    valid = set(keys) if stage.partitions_def is not None else {None}
    stale: set[str | None] = set()
    for child in stage.asset_keys:
        assets_def = sel.assets[child]
        for parent in assets_def.asset_deps.get(child, set()):
            if parent in skip or parent not in sel.assets:
                continue
            ppdef = sel.assets[parent].partitions_def
            for q, sid in sel.log.changes(parent).items():
                if stage.partitions_def is None:
                    targets = {None}
                elif ppdef is None:
                    targets = valid
                elif isinstance(ppdef, dg.TimeWindowPartitionsDefinition) and q is not None:
                    targets = set(children_of(q, _offsets(assets_def, parent))) & valid
                else:
                    targets = {q} & valid
                stale |= {p for p in targets if sel.log.latest(child, p) < sid}
    return stale


def plan_entry(sel: Selection, stage: Stage) -> StagePlan:
    """Raw assets of stale files and the stage's helpers below them."""
    if sel.force:
        return StagePlan(stage.asset_keys, None, "forced")
    raw = {dg.AssetKey(name) for name in raw_assets_of(sel.stale_files)}
    never = {k for k in stage.asset_keys if sel.log.latest(k, None) == 0}
    below = {k for k in stage.asset_keys if raw & _ancestors(sel, k, set(stage.asset_keys))}
    keys = tuple(k for k in stage.asset_keys if k in raw | below | never)
    files = ", ".join(sel.stale_files) or "none"
    return StagePlan(keys, None, f"changed files: {files}")


def _ancestors(sel: Selection, key: dg.AssetKey, within: set[dg.AssetKey]) -> set[dg.AssetKey]:
    """Every parent of ``key``, following parents only while they are inside ``within``."""
    found: set[dg.AssetKey] = set()
    frontier = [key]
    while frontier:
        node = frontier.pop()
        for parent in sel.assets[node].asset_deps.get(node, set()):
            if parent not in found:
                found.add(parent)
                if parent in within and parent in sel.assets:
                    frontier.append(parent)
    return found


def plan_months(sel: Selection, stage: Stage, window: list[str]) -> StagePlan:
    """Months with changed raw rows (and every later month), never materialised, or below a changed parent."""
    if sel.force or not window:
        return StagePlan(stage.asset_keys, _blocks(window, window), "forced" if window else "")
    months = _missing(sel, stage, window)
    reasons = [f"{len(months)} missing"] if months else []
    changed = [m for m in (sel.changes.months if sel.changes else ()) if m <= window[-1]]
    if changed:
        later = [m for m in window if m >= min(changed)]
        months |= set(later)
        reasons.append(f"raw rows changed from {min(changed)}")
    below = _parent_stale(sel, stage, window, sel.entry_keys)
    if below:
        months |= below
        reasons.append(f"{len(below)} below a changed parent")
    if not months:
        return StagePlan(stage.asset_keys, (), "inputs unchanged")
    ordered = sorted(months)
    return StagePlan(stage.asset_keys, ((ordered[0], ordered[-1]),), "; ".join(reasons))


def plan_tickers(sel: Selection, stage: Stage, window: list[str]) -> StagePlan:
    """Tickers whose description or company row changed, or never materialised."""
    if sel.force:
        return StagePlan(stage.asset_keys, _blocks(window, window), "forced")
    tickers = _missing(sel, stage, window)
    reasons = [f"{len(tickers)} missing"] if tickers else []
    described = set(sel.changes.described_tickers if sel.changes else ()) & set(window)
    if described:
        tickers |= described
        reasons.append(f"{len(described)} with changed inputs")
    below = _parent_stale(sel, stage, window, sel.entry_keys)
    tickers |= below
    if not tickers:
        return StagePlan(stage.asset_keys, (), "inputs unchanged")
    return StagePlan(stage.asset_keys, _blocks(sorted(tickers), window), "; ".join(reasons))


def plan_downstream(sel: Selection, stage: Stage, window: list[str] | None) -> StagePlan:
    """Assets (partitions) never materialised or below a parent re-materialised with new content."""
    if stage.partitions_def is not None:
        if sel.force:
            return StagePlan(stage.asset_keys, _blocks(window or [], window or []), "forced")
        stale = _missing(sel, stage, window or []) | _parent_stale(sel, stage, window or [], ())
        if not stale:
            return StagePlan(stage.asset_keys, (), "inputs unchanged")
        ordered = sorted(stale)
        return StagePlan(stage.asset_keys, ((ordered[0], ordered[-1]),), f"{len(stale)} stale")
    if sel.force:
        return StagePlan(stage.asset_keys, None, "forced")
    chosen: list[dg.AssetKey] = []
    for key in _toposorted(sel, stage.asset_keys):  # a chosen parent makes its child stale
        single = Stage(stage.index, stage.name, stage.job_name, (key,), None)
        parents = sel.assets[key].asset_deps.get(key, set())
        if (
            sel.log.latest(key, None) == 0
            or parents & set(chosen)
            or _parent_stale(sel, single, [], set(stage.asset_keys))
        ):
            chosen.append(key)
    names = ", ".join(k.to_user_string() for k in chosen) or "none"
    return StagePlan(tuple(chosen), None, f"stale: {names}")


def _toposorted(sel: Selection, keys: Iterable[dg.AssetKey]) -> list[dg.AssetKey]:
    """``keys`` with parents before children (ties by name)."""
    pending = sorted(keys, key=lambda k: k.to_user_string())
    done: list[dg.AssetKey] = []
    while pending:
        ready = [
            k
            for k in pending
            if not (sel.assets[k].asset_deps.get(k, set()) & (set(pending) - {k}))
        ]
        ready = ready or pending[:1]  # a cycle cannot happen in an asset graph; never loop for ever
        done += ready
        pending = [k for k in pending if k not in ready]
    return done


def plan_stage(sel: Selection, stage: Stage, window: list[str] | None) -> StagePlan:
    """The stale part of ``stage`` (``window``: its partition keys within the run's bounds)."""
    pdef = stage.partitions_def
    if pdef is None and stage.index == 0:
        return plan_entry(sel, stage)
    if pdef is not None and pdef == sel.parts.months:
        return plan_months(sel, stage, window or [])
    if isinstance(pdef, dg.DynamicPartitionsDefinition):
        return plan_tickers(sel, stage, window or [])
    return plan_downstream(sel, stage, window)
