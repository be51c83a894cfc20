"""The raw drop folder's content, digested: which files, months and tickers changed between two looks.

Pure (no Dagster): the drop-folder sensor, the nightly schedules and ``hedging-pipeline run`` all decide what is
stale from these digests. A file's *fingerprint* (name, size, mtime) says cheaply whether it may have changed;
its *content digests* (one per calendar month of a date column, or one per ticker) say what changed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from hedging_pipeline.data.calendar import MONTH_KEY_FORMAT, last_complete_month
from hedging_pipeline.data.loaders import file_fingerprint, find_raw_file, raw_date_span, read_table
from hedging_pipeline.data.tables import RAW_ASSETS
from hedging_pipeline.errors import DataError

DIGEST_CHARS = 12
UNDATED = "undated"

MONTHLY_FILES = {"prices": "date", "exposures": "date"}
"""Files digested per calendar month of this column; a changed month is recomputed."""
CARRY_FORWARD_FILES = {"fundamentals": "period_end"}
"""Point-in-time files: a change in month m affects every month from m on."""
PER_TICKER_INPUTS = ("companies", "descriptions")
"""Raw files the per-ticker stage reads (digested per ticker)."""

Digests = dict[str, dict[str, str]]
"""File name -> (month or ticker -> digest)."""


# -- fingerprints and digests ------------------------------------------------------------------------------------
def fingerprints(raw_dir: Path) -> dict[str, str | None]:
    """Size+mtime fingerprint of every raw file (``None`` when absent)."""
    return {name: file_fingerprint(raw_dir, name) for name in RAW_ASSETS}


def drop_id(prints: Mapping[str, str | None]) -> str:
    """Short digest of the drop folder's fingerprints: names one refresh run."""
    text = json.dumps(dict(sorted(prints.items())))
    return hashlib.sha1(text.encode()).hexdigest()[:DIGEST_CHARS]


def group_digests(frame: pd.DataFrame, keys: pd.Series) -> dict[str, str]:
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


def frame_digest(frame: pd.DataFrame) -> str:
    """Order-independent digest of a whole frame (its columns and rows): a content data version."""
    columns = hashlib.sha1("|".join(map(str, frame.columns)).encode()).hexdigest()[:DIGEST_CHARS]
    rows = group_digests(frame, pd.Series(np.zeros(len(frame), dtype=np.int64)))
    return f"{columns}-{rows.get('0', 'empty')}"


def _month_keys(values: pd.Series) -> pd.Series:
    """``YYYY-MM`` of each date (``undated`` when missing); formats each distinct month once."""
    dates = pd.to_datetime(values, errors="coerce")
    codes = (dates.dt.year * 100 + dates.dt.month).fillna(-1).astype("int64")
    names = {c: UNDATED if c < 0 else f"{c // 100:04d}-{c % 100:02d}" for c in codes.unique()}
    return codes.map(names)


def _ticker_keys(values: pd.Series) -> pd.Series:
    return values.astype(str).str.strip().str.upper()


def content_digests(raw_dir: Path, name: str) -> dict[str, str] | None:
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
        return group_digests(frame, _month_keys(frame[column]))
    if "ticker" not in frame.columns:
        return None
    return group_digests(frame, _ticker_keys(frame["ticker"]))


def changed_keys(old: Mapping[str, str], new: Mapping[str, str]) -> set[str]:
    """Keys whose digest differs (added, removed or modified)."""
    return {k for k in set(old) | set(new) if old.get(k) != new.get(k)}


def stale_raw_files(
    prints: Mapping[str, str | None], versions: Mapping[str, str | None]
) -> list[str]:
    """Raw files whose current fingerprint differs from the warehouse copy's data version.

    ``versions``: ``None`` when the raw asset was never materialised, ``""`` when materialised without a
    version (an absent optional file). An absent optional file is stale only while never materialised.
    """
    stale = []
    for name in RAW_ASSETS:
        if prints.get(name) is None:
            if versions.get(name) is None:
                stale.append(name)
        elif prints[name] != versions.get(name):
            stale.append(name)
    return stale


# -- months ------------------------------------------------------------------------------------------------------
def month_range(first: str, last: str) -> list[str]:
    """Every ``YYYY-MM`` key from ``first`` to ``last`` inclusive."""
    if first > last:
        return []
    return [p.strftime(MONTH_KEY_FORMAT) for p in pd.period_range(first, last, freq="M")]


def months_since(
    previous_end: pd.Timestamp | None, new_end: pd.Timestamp, start: pd.Timestamp
) -> list[str]:
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


def hedge_candidates(changes: DropChanges) -> set[str]:
    """Closed months whose hedges need (re)computing: newly closed, or closed and touched by a correction."""
    if changes.data_end is None:
        return set(changes.closed)
    last_closed = last_complete_month(changes.data_end).strftime(MONTH_KEY_FORMAT)
    return set(changes.closed) | {m for m in changes.months if m <= last_closed}


# -- state and diff ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DropChanges:
    """What changed in the drop folder between two looks.

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
    digests: Digests = field(default_factory=dict)
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
    def from_json(cls, text: str | None) -> DropState | None:
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


def _new_digests(
    raw_dir: Path, files: tuple[str, ...], prints: Mapping[str, str | None], old: Digests
) -> Digests:
    """Digests of the changed files; unchanged files (and unreadable ones) keep their last good digests."""
    digests: Digests = {}
    for name in RAW_ASSETS:
        if name not in files and name in old:
            digests[name] = old[name]
            continue
        found = content_digests(raw_dir, name) if prints.get(name) else {}
        if found is not None:
            digests[name] = found
        elif (
            name in old
        ):  # unreadable: its raw run reports why; compare later drops with the last good one
            digests[name] = old[name]
    return digests


def _dated_months(
    files: tuple[str, ...], old: Digests, new: Digests, data_months: list[str]
) -> set[str]:
    """Months whose rows changed in the month-digested files (fundamentals carried forward)."""
    months: set[str] = set()
    for name in files:
        if name not in MONTHLY_FILES and name not in CARRY_FORWARD_FILES:
            continue
        digests = new.get(name)
        if digests is None or name not in old:
            months.update(data_months)  # unknown content or no baseline: everything
            continue
        changed = changed_keys(old[name], digests)
        if name in CARRY_FORWARD_FILES and changed:
            dated = sorted(k for k in changed if k != UNDATED)
            first = dated[0] if dated and UNDATED not in changed else None
            months.update(m for m in data_months if first is None or m >= first)
        else:
            months.update(k for k in changed if k != UNDATED)
    return months


def _ticker_changes(
    files: tuple[str, ...], old: Digests, new: Digests
) -> tuple[set[str], set[str], set[str], set[str]]:
    """(added, removed, described, modified companies) from the per-ticker digests.

    ``described`` holds every ticker whose per-ticker inputs changed (new, modified company row, changed
    description) and is still in the universe; ``modified`` the companies whose row changed.
    """
    old_companies = old.get("companies")
    new_companies = new.get("companies", {})
    added: set[str] = set()
    removed: set[str] = set()
    modified: set[str] = set()
    if "companies" in files:
        if old_companies is None:
            added = set(new_companies)
        else:
            added = set(new_companies) - set(old_companies)
            removed = set(old_companies) - set(new_companies)
            common = set(new_companies) & set(old_companies)
            modified = {t for t in common if new_companies[t] != old_companies[t]}
    described = set(modified)
    if "descriptions" in files:
        described |= changed_keys(old.get("descriptions", {}), new.get("descriptions", {}))
    return added, removed, (described | added) & set(new_companies), modified


def diff_drop(
    raw_dir: Path, previous: DropState | None, prints: Mapping[str, str | None]
) -> tuple[DropChanges, Digests, pd.Timestamp | None]:
    """Compare the drop folder with the previous state (``None``: everything is new).

    Returns
    -------
    (DropChanges, dict, pd.Timestamp or None)
        The changes, the new digests per file and the prices' first date.
    """
    old_prints = previous.prints if previous else {}
    old = previous.digests if previous else {}
    files = tuple(n for n in RAW_ASSETS if prints.get(n) != old_prints.get(n))
    digests = _new_digests(raw_dir, files, prints, old)
    span = raw_date_span(raw_dir)
    start, end = span if span else (None, None)
    old_end = pd.Timestamp(previous.data_end) if previous and previous.data_end else None
    data_months = month_range(*(d.strftime(MONTH_KEY_FORMAT) for d in span)) if span else []
    months = _dated_months(files, old, digests, data_months)
    added, removed, described, modified = _ticker_changes(files, old, digests)
    if modified:  # sectors and cap snapshots enter every month's exposures
        months.update(data_months)
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
