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

Settings: ``HEDGING_SCHEDULE_TZ``, ``HEDGING_SCHEDULE_CRON``, ``HEDGING_AUTOMATION`` (``on``: schedules and
sensors start RUNNING; ``off``: they are declared STOPPED and can be started from the UI).
"""

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dagster as dg
import numpy as np
import pandas as pd
from dagster._utils.schedules import is_valid_cron_string  # Dagster's own cron check

from hedging_pipeline.data.calendar import MONTH_KEY_FORMAT
from hedging_pipeline.data.loaders import file_fingerprint, find_raw_file, raw_date_span, read_table
from hedging_pipeline.data.schema import TICKER_PATTERN
from hedging_pipeline.defs.partitions import PartitionSet, last_complete_month
from hedging_pipeline.defs.stages import Stage
from hedging_pipeline.errors import ConfigurationError, DataError
from hedging_pipeline.settings import Settings

SCHEDULE_TZ_ENV = "HEDGING_SCHEDULE_TZ"
SCHEDULE_CRON_ENV = "HEDGING_SCHEDULE_CRON"
AUTOMATION_ENV = "HEDGING_AUTOMATION"
DEFAULT_SCHEDULE_TZ = "America/New_York"
DEFAULT_SCHEDULE_CRON = "30 18 * * 1-5"
"""18:30 Monday to Friday: after the US close (16:00) and the vendors' end-of-day files."""
AUTOMATION_SWITCH = {"on": True, "off": False}
SENSOR_INTERVAL_S = 60
AUTOMATION_INTERVAL_S = 30
MAX_SINGLE_TICKER_RUNS = 5
"""Up to this many tickers get one run each; more go into one range run over the registered order."""
DIGEST_CHARS = 12

SCHEDULE_NAME = "nightly_refresh"
HEDGE_SCHEDULE_NAME = "nightly_hedges"
SENSOR_NAME = "raw_drop_sensor"
AUTOMATION_SENSOR_NAME = "downstream_automation"

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

RAW_ASSETS: dict[str, str] = {
    "companies": "raw_companies",
    "prices": "raw_prices",
    "fundamentals": "raw_fundamentals",
    "descriptions": "raw_descriptions",
    "exposures": "raw_exposures",
}
"""Drop-folder file name (without suffix) -> the raw asset that loads it."""
MONTHLY_FILES = {"prices": "date", "exposures": "date"}
"""Files digested per calendar month of this column; a changed month is recomputed."""
CARRY_FORWARD_FILES = {"fundamentals": "period_end"}
"""Point-in-time files: a change in month m affects every month from m on."""
TICKER_FILES = ("companies", "descriptions")
UNDATED = "undated"
PER_TICKER_INPUTS = ("companies", "descriptions")
"""Raw files the per-ticker stage reads: it waits until the warehouse holds their current version."""


# -- configuration -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AutomationConfig:
    """Operational settings of the schedule and sensors.

    Attributes
    ----------
    timezone : str
        IANA zone the cron is read in (``HEDGING_SCHEDULE_TZ``).
    cron : str
        Cron of the nightly refresh (``HEDGING_SCHEDULE_CRON``).
    running : bool
        Whether the schedule and sensors start RUNNING (``HEDGING_AUTOMATION=on``) or STOPPED (``off``).
    """

    timezone: str = DEFAULT_SCHEDULE_TZ
    cron: str = DEFAULT_SCHEDULE_CRON
    running: bool = True


def load_automation_config(env: Mapping[str, str] | None = None) -> AutomationConfig:
    """Read the operational settings from ``env`` (``os.environ`` by default).

    Raises
    ------
    ConfigurationError
        If the time zone is unknown, the cron is invalid or the switch is neither ``on`` nor ``off``.
    """
    env = os.environ if env is None else env
    timezone = env.get(SCHEDULE_TZ_ENV, "").strip() or DEFAULT_SCHEDULE_TZ
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigurationError(
            f"{SCHEDULE_TZ_ENV}={timezone!r} is not an IANA time zone (e.g. America/New_York)"
        ) from None
    cron = env.get(SCHEDULE_CRON_ENV, "").strip() or DEFAULT_SCHEDULE_CRON
    if not is_valid_cron_string(cron):
        raise ConfigurationError(f"{SCHEDULE_CRON_ENV}={cron!r} is not a valid cron string")
    switch = env.get(AUTOMATION_ENV, "").strip().lower() or "on"
    if switch not in AUTOMATION_SWITCH:
        raise ConfigurationError(f"{AUTOMATION_ENV}={switch!r} must be 'on' or 'off'")
    return AutomationConfig(timezone=timezone, cron=cron, running=AUTOMATION_SWITCH[switch])


# -- drop-folder content (pure: no Dagster) -----------------------------------------------------------------------
def fingerprints(raw_dir) -> dict[str, str | None]:
    """Size+mtime fingerprint of every raw file (``None`` when absent)."""
    return {name: file_fingerprint(raw_dir, name) for name in RAW_ASSETS}


def drop_id(prints: Mapping[str, str | None]) -> str:
    """Short digest of the drop folder's fingerprints: names one refresh run."""
    text = json.dumps(dict(sorted(prints.items())))
    return hashlib.sha1(text.encode()).hexdigest()[:DIGEST_CHARS]


def _group_digests(frame: pd.DataFrame, keys: pd.Series) -> dict[str, str]:
    """Order-independent digest of the rows of each key (sum of row hashes modulo 2**64)."""
    if frame.empty:
        return {}
    try:
        hashed = pd.util.hash_pandas_object(frame, index=False)
    except TypeError:  # unhashable cells (lists, dicts): hash their text
        hashed = pd.util.hash_pandas_object(frame.astype(str), index=False)
    rows = hashed.to_numpy(np.uint64)
    sums = pd.Series(rows, index=keys.to_numpy()).groupby(level=0).sum()  # wraps modulo 2**64
    return {str(k): f"{int(v) & 0xFFFFFFFFFFFFFFFF:016x}"[:DIGEST_CHARS] for k, v in sums.items()}


def _month_keys(values: pd.Series) -> pd.Series:
    """``YYYY-MM`` of each date (``undated`` when missing); formats each distinct month once."""
    dates = pd.to_datetime(values, errors="coerce")
    codes = (dates.dt.year * 100 + dates.dt.month).fillna(-1).astype("int64")
    names = {c: UNDATED if c < 0 else f"{c // 100:04d}-{c % 100:02d}" for c in codes.unique()}
    return codes.map(names)


def _ticker_keys(values: pd.Series) -> pd.Series:
    return values.astype(str).str.strip().str.upper()


def content_digests(raw_dir, name: str) -> dict[str, str] | None:
    """Per-month or per-ticker digests of one raw file; ``None`` when it is absent or unreadable.

    An unreadable file still triggers its raw asset (whose run reports the one-line error); it just cannot say
    which months or tickers changed.
    """
    path = find_raw_file(raw_dir, name, required=False)
    if path is None:
        return None
    try:
        frame = read_table(path)
    except DataError:
        return None
    column = MONTHLY_FILES.get(name) or CARRY_FORWARD_FILES.get(name)
    if column is not None:
        if column not in frame.columns:
            return None
        return _group_digests(frame, _month_keys(frame[column]))
    if "ticker" not in frame.columns:
        return None
    return _group_digests(frame, _ticker_keys(frame["ticker"]))


def _changed_keys(old: Mapping[str, str], new: Mapping[str, str]) -> set[str]:
    return {k for k in set(old) | set(new) if old.get(k) != new.get(k)}


def month_range(first: str, last: str) -> list[str]:
    """Every ``YYYY-MM`` key from ``first`` to ``last`` inclusive."""
    if first > last:
        return []
    return [p.strftime(MONTH_KEY_FORMAT) for p in pd.period_range(first, last, freq="M")]


def months_since(previous_end: pd.Timestamp | None, new_end: pd.Timestamp, start: pd.Timestamp):
    """Months to refresh when the data's last date moves from ``previous_end`` to ``new_end``.

    The month of ``previous_end`` is included only when it was still open (its last business day missing);
    with no previous end, every month from ``start``.
    """
    last = new_end.strftime(MONTH_KEY_FORMAT)
    if previous_end is None:
        return month_range(start.strftime(MONTH_KEY_FORMAT), last)
    first = previous_end.to_period("M")
    if last_complete_month(previous_end) >= first:
        first = first + 1
    return month_range(first.strftime(MONTH_KEY_FORMAT), last)


def closed_months(previous_end: pd.Timestamp | None, new_end: pd.Timestamp | None) -> list[str]:
    """Months that the new data closed (complete at ``new_end``, not at ``previous_end``)."""
    if new_end is None:
        return []
    last = last_complete_month(new_end)
    if previous_end is None:
        return [last.strftime(MONTH_KEY_FORMAT)]
    first = last_complete_month(previous_end) + 1
    return month_range(first.strftime(MONTH_KEY_FORMAT), last.strftime(MONTH_KEY_FORMAT))


@dataclass(frozen=True)
class DropChanges:
    """What changed in the drop folder between two sensor ticks.

    Attributes
    ----------
    files : tuple of str
        Raw files whose fingerprint changed.
    months : tuple of str
        ``YYYY-MM`` months whose rows changed (prices, exposures; fundamentals carried forward; every month when a
        company's attributes changed).
    added_tickers, removed_tickers, described_tickers : tuple of str
        Companies added or removed, and tickers whose per-ticker inputs (description or company row) changed.
    closed : tuple of str
        Months that the new last date closed.
    data_end : pd.Timestamp or None
        Last date of the prices file.
    """

    files: tuple[str, ...]
    months: tuple[str, ...]
    added_tickers: tuple[str, ...]
    removed_tickers: tuple[str, ...]
    described_tickers: tuple[str, ...]
    closed: tuple[str, ...]
    data_end: pd.Timestamp | None


@dataclass(frozen=True)
class DropState:
    """The sensor's cursor: what it last saw and the work it still has to request.

    Attributes
    ----------
    prints : dict
        Fingerprint per raw file at the last tick.
    digests : dict
        Content digests per file (month or ticker -> digest); an unreadable file keeps its last good digests.
    data_end : str or None
        Last date of prices at the last tick (``YYYY-MM-DD``).
    drop : str or None
        Tag value of the last refresh run requested.
    months : tuple of str
        Months of that refresh run, kept until it succeeds (a failed run carries them into the next one).
    refresh_files : tuple of str
        Raw files of that refresh run.
    hedge_months : tuple of str
        Closed months whose hedges wait for the refresh run.
    tickers : tuple of str
        Tickers whose per-ticker work waits for the raw companies and descriptions.
    """

    prints: dict[str, str | None] = field(default_factory=dict)
    digests: dict[str, dict[str, str]] = field(default_factory=dict)
    data_end: str | None = None
    drop: str | None = None
    months: tuple[str, ...] = ()
    refresh_files: tuple[str, ...] = ()
    hedge_months: tuple[str, ...] = ()
    tickers: tuple[str, ...] = ()

    def to_json(self) -> str:
        """Serialise as the sensor cursor."""
        payload = {
            "prints": self.prints,
            "digests": self.digests,
            "data_end": self.data_end,
            "drop": self.drop,
            "months": list(self.months),
            "refresh_files": list(self.refresh_files),
            "hedge_months": list(self.hedge_months),
            "tickers": list(self.tickers),
        }
        return json.dumps(payload, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | None) -> "DropState | None":
        """Parse a cursor (``None`` for a sensor that never ticked)."""
        if not text:
            return None
        data = json.loads(text)
        return cls(
            prints=data.get("prints", {}),
            digests=data.get("digests", {}),
            data_end=data.get("data_end"),
            drop=data.get("drop"),
            months=tuple(data.get("months", ())),
            refresh_files=tuple(data.get("refresh_files", ())),
            hedge_months=tuple(data.get("hedge_months", ())),
            tickers=tuple(data.get("tickers", ())),
        )


def diff_drop(
    raw_dir, previous: DropState | None, prints: Mapping[str, str | None]
) -> tuple[DropChanges, dict[str, dict[str, str]], pd.Timestamp | None]:
    """Compare the drop folder with the previous state (``None``: everything is new).

    Returns
    -------
    (DropChanges, dict, pd.Timestamp or None)
        The changes, the new digests per file and the prices' first date.
    """
    old_prints = previous.prints if previous else {}
    old_digests = previous.digests if previous else {}
    files = tuple(n for n in RAW_ASSETS if prints.get(n) != old_prints.get(n))
    digests: dict[str, dict[str, str]] = {}
    for name in RAW_ASSETS:
        if name not in files and name in old_digests:
            digests[name] = old_digests[name]
            continue
        found = content_digests(raw_dir, name) if prints.get(name) else {}
        if found is not None:
            digests[name] = found
        elif (
            name in old_digests
        ):  # unreadable: its raw run reports why; compare later drops with the last good one
            digests[name] = old_digests[name]
    span = raw_date_span(raw_dir)
    start, end = span if span else (None, None)
    old_end = pd.Timestamp(previous.data_end) if previous and previous.data_end else None
    data_months = month_range(*(d.strftime(MONTH_KEY_FORMAT) for d in span)) if span else []

    months: set[str] = set()
    for name in files:
        new = digests.get(name)
        if name in MONTHLY_FILES or name in CARRY_FORWARD_FILES:
            if new is None or name not in old_digests:
                months.update(data_months)  # unknown content or no baseline: everything
                continue
            changed = _changed_keys(old_digests[name], new)
            if name in CARRY_FORWARD_FILES and changed:
                dated = sorted(k for k in changed if k != UNDATED)
                first = dated[0] if dated and UNDATED not in changed else None
                months.update(m for m in data_months if first is None or m >= first)
            else:
                months.update(k for k in changed if k != UNDATED)
    old_companies = old_digests.get("companies")
    new_companies = digests.get("companies", {})
    added: set[str] = set()
    removed: set[str] = set()
    described: set[str] = set()
    if "companies" in files:
        if old_companies is None:
            added = set(new_companies)
        else:
            added = set(new_companies) - set(old_companies)
            removed = set(old_companies) - set(new_companies)
            modified = {
                t
                for t in set(new_companies) & set(old_companies)
                if new_companies[t] != old_companies[t]
            }
            if modified:  # sectors and cap snapshots enter every month's exposures
                months.update(data_months)
                described |= modified
    if "descriptions" in files:
        old = old_digests.get("descriptions", {})
        described |= _changed_keys(old, digests.get("descriptions", {}))
    described = (described | added) & set(new_companies)
    changes = DropChanges(
        files=files,
        months=tuple(sorted(m for m in months if m in set(data_months))),
        added_tickers=tuple(sorted(added)),
        removed_tickers=tuple(sorted(removed)),
        described_tickers=tuple(sorted(described)),
        closed=tuple(closed_months(old_end, end)) if end is not None and end != old_end else (),
        data_end=end,
    )
    return changes, digests, start


# -- Dagster helpers ---------------------------------------------------------------------------------------------
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


def _latest(instance: dg.DagsterInstance, key: dg.AssetKey, partition: str | None = None):
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
        record = _latest(instance, dg.AssetKey(asset))
        event = record.asset_materialization if record is not None else None
        versions[name] = None if event is None else (event.tags or {}).get(DATA_VERSION_TAG, "")
    return versions


def stale_raw_files(
    prints: Mapping[str, str | None], versions: Mapping[str, str | None]
) -> list[str]:
    """Raw files whose current fingerprint differs from the warehouse copy's data version.

    An absent optional file (vendor exposures) is stale only while its asset was never materialised.
    """
    stale = []
    for name in RAW_ASSETS:
        if prints.get(name) is None:
            if versions.get(name) is None:
                stale.append(name)
        elif prints[name] != versions.get(name):
            stale.append(name)
    return stale


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


def _existing(keys: Iterable[str], pdef: dg.PartitionsDefinition, now: datetime) -> list[str]:
    valid = set(pdef.get_partition_keys(current_time=now))
    return sorted(k for k in keys if k in valid)


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
    raw = {dg.AssetKey(RAW_ASSETS[f]) for f in files}
    if not raw:
        return None
    below = dg.AssetSelection.assets(*raw).downstream().resolve(graph)
    keys = set(raw) | (below & roles.entry)
    tags = {DROP_TAG: drop, TRIGGER_TAG: trigger}
    monthly = below & roles.monthly
    if months and monthly:
        keys |= monthly
        tags |= {RANGE_START_TAG: months[0], RANGE_END_TAG: months[-1]}
    return dg.RunRequest(
        run_key=run_key,
        asset_selection=sorted(keys, key=lambda k: k.to_user_string()),
        tags=tags,
    )


def _partition_request(
    keys: Iterable[dg.AssetKey], partitions: list[str], *, run_key: str, trigger: str
) -> dg.RunRequest:
    """A run of ``keys`` over one partition or one contiguous single-run range."""
    selection = sorted(keys, key=lambda k: k.to_user_string())
    tags = {TRIGGER_TAG: trigger}
    if len(partitions) == 1:
        return dg.RunRequest(
            run_key=run_key, asset_selection=selection, partition_key=partitions[0], tags=tags
        )
    tags |= {RANGE_START_TAG: partitions[0], RANGE_END_TAG: partitions[-1]}
    return dg.RunRequest(run_key=run_key, asset_selection=selection, tags=tags)


def ticker_requests(
    roles: StageKeys, tickers: list[str], registered: list[str], *, drop: str
) -> list[dg.RunRequest]:
    """Per-ticker stage runs: one per ticker, or one range over the registered order when there are many."""
    if not tickers or not roles.tickers:
        return []
    if len(tickers) <= MAX_SINGLE_TICKER_RUNS:
        return [
            _partition_request(
                roles.tickers, [t], run_key=f"tickers:{drop}:{t}", trigger="new_ticker"
            )
            for t in tickers
        ]
    order = {t: i for i, t in enumerate(registered)}
    ranked = sorted(tickers, key=order.__getitem__)
    return [
        _partition_request(
            roles.tickers,
            [ranked[0], ranked[-1]],
            run_key=f"tickers:{drop}:{ranked[0]}..{ranked[-1]}",
            trigger="new_ticker",
        )
    ]


# -- the sensor --------------------------------------------------------------------------------------------------
def build_drop_sensor(
    parts: PartitionSet, settings: Settings, roles: StageKeys, config: AutomationConfig
) -> dg.SensorDefinition:
    """The drop-folder sensor (see the module docstring)."""
    raw_dir = settings.raw_dir

    @dg.sensor(
        name=SENSOR_NAME,
        minimum_interval_seconds=SENSOR_INTERVAL_S,
        default_status=dg.DefaultSensorStatus.RUNNING
        if config.running
        else dg.DefaultSensorStatus.STOPPED,
        asset_selection=dg.AssetSelection.all(),  # requests run as subsets of the implicit asset job
        description=(
            f"Watches {raw_dir}: changed files -> the months, tickers and hedge months whose inputs changed."
        ),
    )
    def raw_drop_sensor(context: dg.SensorEvaluationContext):
        instance = context.instance
        graph = context.repository_def.asset_graph
        now = datetime.now(tz=ZoneInfo("UTC"))
        previous = DropState.from_json(context.cursor)
        prints = fingerprints(raw_dir)
        versions = raw_versions(instance)
        state = previous or DropState()
        requests: list[dg.RunRequest] = []
        partition_requests = []
        notes: list[str] = []

        if previous is None and not stale_raw_files(prints, versions):
            # First tick on an instance whose warehouse already holds these files: take them as the baseline.
            changes, digests, _ = diff_drop(raw_dir, None, prints)
            changes = DropChanges((), (), changes.added_tickers, (), (), (), changes.data_end)
            state = DropState(prints=dict(prints), digests=digests, data_end=_day(changes.data_end))
            notes.append("baseline taken from the materialised raw files")
        elif previous is None or prints != previous.prints:
            changes, digests, _ = diff_drop(raw_dir, previous, prints)
            drop = drop_id(prints)
            files = sorted(set(changes.files) | set(stale_raw_files(prints, versions)))
            unfinished = (
                set(state.months)
                if state.drop and drop_run_status(instance, state.drop) != "success"
                else set()
            )
            months = _existing(set(changes.months) | unfinished, parts.months, now)
            if unfinished:
                files = sorted(set(files) | set(state.refresh_files))
            request = refresh_request(
                graph,
                roles,
                files,
                months,
                drop=drop,
                trigger="raw_drop",
                run_key=f"refresh:{drop}",
            )
            if request is not None:
                requests.append(request)
                notes.append(
                    f"refresh {', '.join(files)}"
                    + (f" and months {months[0]}..{months[-1]}" if months else "")
                )
            state = DropState(
                prints=dict(prints),
                digests=digests,
                data_end=_day(changes.data_end),
                drop=drop if request is not None else state.drop,
                months=tuple(months) if request is not None else state.months,
                refresh_files=tuple(files) if request is not None else state.refresh_files,
                hedge_months=tuple(sorted(set(state.hedge_months) | _hedge_candidates(changes))),
                tickers=tuple(
                    sorted(
                        (set(state.tickers) | set(changes.described_tickers))
                        - set(changes.removed_tickers)
                    )
                ),
            )
        else:
            changes = None

        # Ticker partitions: the companies file is the universe (malformed tickers are the raw run's error).
        universe = {t for t in state.digests.get("companies", {}) if TICKER_PATTERN.match(t)}
        registered = list(instance.get_dynamic_partitions(parts.tickers.name))
        if universe:
            new = sorted(universe - set(registered))
            gone = sorted(set(registered) - universe)
            if new:
                partition_requests.append(parts.tickers.build_add_request(new))
                notes.append(f"registered tickers {', '.join(new)}")
            if gone:
                partition_requests.append(parts.tickers.build_delete_request(gone))
                notes.append(f"removed tickers {', '.join(gone)}")
            registered = [t for t in registered if t in universe]

        # Per-ticker work once the warehouse holds the current companies and descriptions.
        ready_tickers = [t for t in state.tickers if t in set(registered)]
        inputs_loaded = all(
            prints.get(f) is None or prints.get(f) == versions.get(f) for f in PER_TICKER_INPUTS
        )
        if ready_tickers and inputs_loaded and roles.tickers:
            requests += ticker_requests(roles, ready_tickers, registered, drop=drop_id(prints))
            notes.append(f"per-ticker work for {', '.join(ready_tickers)}")
            state = _replace(
                state, tickers=tuple(t for t in state.tickers if t not in ready_tickers)
            )

        # Hedge months once the refresh run has succeeded.
        status = drop_run_status(instance, state.drop) if state.drop else "success"
        if status == "success" and state.months:
            state = _replace(state, months=(), refresh_files=())
        if state.hedge_months and roles.hedges and status == "success":
            first_key = parts.hedge_months.get_first_partition_key()
            wanted = [m for m in state.hedge_months if first_key is None or m >= first_key]
            ready = _existing(wanted, parts.hedge_months, now)
            if ready:
                requests.append(
                    _partition_request(
                        roles.hedges,
                        ready,
                        run_key=f"hedges:{state.drop}:{ready[0]}..{ready[-1]}",
                        trigger="month_closed",
                    )
                )
                notes.append(f"hedges for {', '.join(ready)}")
            state = _replace(state, hedge_months=tuple(m for m in wanted if m not in ready))
        elif state.hedge_months and status == "failed":
            notes.append(f"hedges for {', '.join(state.hedge_months)} wait: refresh run failed")

        for note in notes:
            context.log.info(note)
        cursor = state.to_json()
        if not requests and not partition_requests:
            context.update_cursor(cursor)
            return dg.SkipReason("; ".join(notes) or "no change in the drop folder")
        return dg.SensorResult(
            run_requests=requests, dynamic_partitions_requests=partition_requests, cursor=cursor
        )

    return raw_drop_sensor


def _day(ts: pd.Timestamp | None) -> str | None:
    return None if ts is None else ts.strftime("%Y-%m-%d")


def _replace(state: DropState, **changes) -> DropState:
    return replace(state, **changes)


def _hedge_candidates(changes: DropChanges) -> set[str]:
    """Closed months whose hedges need (re)computing: newly closed, or closed and touched by a correction."""
    if changes.data_end is None:
        return set(changes.closed)
    last_closed = last_complete_month(changes.data_end).strftime(MONTH_KEY_FORMAT)
    return set(changes.closed) | {m for m in changes.months if m <= last_closed}


# -- the schedule ------------------------------------------------------------------------------------------------
def _last_loaded_date(instance: dg.DagsterInstance) -> pd.Timestamp | None:
    """Last date of the prices the warehouse holds (metadata of the latest ``raw_prices`` materialisation)."""
    record = _latest(instance, dg.AssetKey(RAW_ASSETS["prices"]))
    if record is None or record.asset_materialization is None:
        return None
    value = record.asset_materialization.metadata.get(LAST_DATE_METADATA)
    return pd.Timestamp(value.value) if value is not None else None


def _stale_month_partition(instance, roles: StageKeys, month: str) -> bool:
    """Whether some monthly-stage asset's ``month`` is missing or older than the raw prices it reads."""
    raw = _latest(instance, dg.AssetKey(RAW_ASSETS["prices"]))
    if raw is None:
        return False
    for key in roles.monthly:
        record = _latest(instance, key, month)
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
        record = _latest(instance, key, month)
        if record is None:
            return None  # the factor model of that month is not there yet: a backfill's job
        stamps.append(record.timestamp)
    newest = max(stamps, default=0.0)
    for key in roles.hedges:
        record = _latest(instance, key, month)
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
    stale = stale_raw_files(prints, raw_versions(instance))
    end_month = end.strftime(MONTH_KEY_FORMAT)
    months: list[str] = []
    if {"prices", "exposures"} & set(stale):
        months = months_since(_last_loaded_date(instance), end, start)
    elif {"fundamentals", "companies"} & set(stale):
        months = [end_month]
    elif _stale_month_partition(instance, roles, end_month):
        months, stale = [end_month], ["prices"]
    months = _existing(months, parts.months, now)
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
        if _existing([closed], parts.hedge_months, now):
            newest = _stale_hedge_month(instance, graph, roles, closed)
            if newest is not None:
                hedges = _partition_request(
                    roles.hedges, [closed], run_key=f"hedges:{closed}:{newest}", trigger="nightly"
                )
                notes.append(f"hedges for {closed}")
    elif roles.hedges:
        notes.append(f"hedges for {closed} wait for the refresh")
    return NightlyPlan(refresh, hedges, tuple(notes))


def build_nightly_schedules(
    parts: PartitionSet, settings: Settings, roles: StageKeys, config: AutomationConfig
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


def build_automation_defs(
    parts: PartitionSet, settings: Settings, stages: list[Stage]
) -> dg.Definitions:
    """Schedules, sensors and jobs that keep the warehouse fresh."""
    config = load_automation_config()
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
                default_status=dg.DefaultSensorStatus.RUNNING
                if config.running
                else dg.DefaultSensorStatus.STOPPED,
                description="Re-materialises unpartitioned downstream assets when a parent updated.",
            )
        )
    return dg.Definitions(
        schedules=build_nightly_schedules(parts, settings, roles, config), sensors=sensors
    )
