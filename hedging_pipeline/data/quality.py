"""Data-quality rules evaluated on panels before they are written, and their configuration.

Pure functions; the Dagster layer turns each :class:`QualityResult` into an asset check result. The bounds of the
raw-drop plausibility rules and the documented exceptions of the WARN checks live in one file,
``hedging_pipeline/config/quality.toml``, read by :func:`load_quality_config`.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd

from hedging_pipeline.errors import ConfigurationError

MIN_DAILY_COVERAGE = 0.5
"""A trading day whose panel holds fewer than this fraction of the day's traded tickers is flagged."""
EXTREME_RETURN = 0.5
"""Absolute daily return above which a row is reported for review (most are real events)."""


@dataclass(frozen=True)
class QualityResult:
    """Outcome of one rule: whether it passed, a one-line summary and details for metadata."""

    passed: bool
    summary: str
    details: dict[str, object] = field(default_factory=dict)


def unique_keys(frame: pd.DataFrame, keys: Sequence[str]) -> QualityResult:
    """No two rows share ``keys``."""
    dup = frame.duplicated(list(keys), keep=False)
    if not dup.any():
        return QualityResult(True, f"{len(frame):,} rows, ({', '.join(keys)}) unique")
    first = frame.loc[dup].iloc[0]
    where = ", ".join(f"{k}={first[k]}" for k in keys)
    return QualityResult(False, f"{int(dup.sum())} rows with duplicate keys, first at {where}")


def non_null(frame: pd.DataFrame, columns: Sequence[str]) -> QualityResult:
    """Required columns hold no NaN / infinite values."""
    for column in columns:
        values = frame[column]
        bad = values.isna()
        if pd.api.types.is_float_dtype(values):
            bad |= ~np.isfinite(values.to_numpy())
        if bad.any():
            row = frame.loc[bad].iloc[0]
            label = _row_label(row)
            return QualityResult(
                False, f"{int(bad.sum())} null/infinite {column!r} values, first {label}"
            )
    return QualityResult(True, f"no null values in {', '.join(columns)}")


def positive(frame: pd.DataFrame, columns: Sequence[str]) -> QualityResult:
    """Columns are strictly positive where present."""
    for column in columns:
        bad = frame[column] <= 0
        if bad.any():
            row = frame.loc[bad].iloc[0]
            return QualityResult(
                False, f"{int(bad.sum())} non-positive {column!r} values, first {_row_label(row)}"
            )
    return QualityResult(True, f"{', '.join(columns)} > 0 everywhere")


def coverage_per_date(
    frame: pd.DataFrame, expected: pd.Series, *, min_fraction: float = MIN_DAILY_COVERAGE
) -> QualityResult:
    """Each date's row count is at least ``min_fraction`` of the ``expected`` count (index date)."""
    if expected.empty:
        return QualityResult(True, "no trading days in the window")
    counts = frame.groupby("date").size().reindex(expected.index, fill_value=0)
    ratio = counts / expected.clip(lower=1)
    low = ratio[ratio < min_fraction]
    details = {"min_coverage": float(ratio.min()), "n_dates": int(len(ratio))}
    if low.empty:
        return QualityResult(
            True, f"every day covers >= {min_fraction:.0%} of traded tickers", details
        )
    return QualityResult(
        False,
        f"{len(low)} day(s) below {min_fraction:.0%} coverage, first {low.index[0].date()} "
        f"({low.iloc[0]:.0%})",
        details,
    )


def extreme_returns(
    frame: pd.DataFrame,
    *,
    threshold: float = EXTREME_RETURN,
    exceptions: Sequence[Mapping[str, object]] = (),
) -> QualityResult:
    """Report daily returns with ``|ret| > threshold`` that are not documented exceptions (passes when none).

    The summary names the new ones (ticker, date, return) and counts the documented ones it matched.
    """
    bad = frame.loc[frame["ret"].abs() > threshold, ["date", "ticker", "ret"]]
    new, known = split_known(bad, exceptions)
    details = {"documented_exceptions": int(len(known))}
    if new.empty:
        return QualityResult(
            True, f"no |ret| > {threshold:.0%} beyond {len(known)} documented exception(s)", details
        )
    rows = new.sort_values("ret", key=np.abs, ascending=False).head(10)
    listed = "; ".join(f"{r.ticker} {r.date.date()} {r.ret:+.1%}" for r in rows.itertuples())
    return QualityResult(
        False,
        f"{len(new)} returns with |ret| > {threshold:.0%} (not documented): {listed}",
        details,
    )


@dataclass(frozen=True)
class PlausibilityRules:
    """Bounds of the raw-drop plausibility rules (``[plausibility]`` of ``quality.toml``)."""

    max_daily_price_ratio: float
    as_of_min_coverage: float


@dataclass(frozen=True)
class QualityConfig:
    """The data-quality configuration: plausibility bounds and documented WARN-check exceptions.

    Attributes
    ----------
    plausibility : PlausibilityRules
        Bounds of the raw-drop rules.
    exceptions : mapping of str to tuple of dict
        Per WARN check name, the known and accepted findings (keys such as ``ticker``, ``date``) with a reason.
    """

    plausibility: PlausibilityRules
    exceptions: Mapping[str, tuple[Mapping[str, object], ...]]

    def exceptions_for(self, check: str) -> tuple[Mapping[str, object], ...]:
        """The documented exceptions of one check (empty when it has none)."""
        return self.exceptions.get(check, ())


def parse_quality_config(text: str, source: str = "quality.toml") -> QualityConfig:
    """Parse the TOML text of the data-quality configuration.

    Raises
    ------
    ConfigurationError
        Invalid TOML, a missing bound, or an exception without a reason.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{source}: not valid TOML ({exc})") from exc
    bounds = data.get("plausibility", {})
    try:
        rules = PlausibilityRules(
            max_daily_price_ratio=float(bounds["max_daily_price_ratio"]),
            as_of_min_coverage=float(bounds["as_of_min_coverage"]),
        )
    except KeyError as exc:
        raise ConfigurationError(f"{source}: [plausibility] lacks {exc.args[0]}") from None
    if not rules.max_daily_price_ratio > 1 or not 0 < rules.as_of_min_coverage <= 1:
        raise ConfigurationError(
            f"{source}: need max_daily_price_ratio > 1 and 0 < as_of_min_coverage <= 1"
        )
    exceptions: dict[str, tuple[Mapping[str, object], ...]] = {}
    for check, entries in data.get("exceptions", {}).items():
        for entry in entries:
            if not str(entry.get("reason", "")).strip():
                raise ConfigurationError(f"{source}: an exception of {check} has no reason")
        exceptions[check] = tuple(entries)
    return QualityConfig(rules, exceptions)


@lru_cache(maxsize=1)
def load_quality_config() -> QualityConfig:
    """The packaged ``hedging_pipeline/config/quality.toml`` (read once per process)."""
    text = resources.files("hedging_pipeline").joinpath("config/quality.toml").read_text("utf-8")
    return parse_quality_config(text)


def known_exception(
    exceptions: Sequence[Mapping[str, object]], **finding: object
) -> Mapping[str, object] | None:
    """The documented exception matching a finding (every key the exception names must agree), else ``None``.

    Dates compare as calendar days, so ``date = 2008-09-29`` in TOML matches a ``Timestamp``; an entry may name
    several tickers at once (``tickers = ["AAL", "ALK"]``), and any key may list several accepted values
    (``known_date = [2014-03-31, 2015-03-31]``).
    """
    for entry in exceptions:
        keys = [k for k in entry if k not in ("reason", "tickers")]
        if "tickers" in entry and finding.get("ticker") not in entry["tickers"]:
            continue
        if (keys or "tickers" in entry) and all(
            k in finding and _matches(entry[k], finding[k]) for k in keys
        ):
            return entry
    return None


def _matches(expected: object, found: object) -> bool:
    if isinstance(expected, list | tuple):
        return any(_same(value, found) for value in expected)
    return _same(expected, found)


def _same(expected: object, found: object) -> bool:
    if isinstance(found, pd.Timestamp) or hasattr(expected, "isoformat"):
        try:
            return pd.Timestamp(expected).normalize() == pd.Timestamp(found).normalize()
        except (ValueError, TypeError):
            return False
    return str(expected) == str(found)


def split_known(
    findings: pd.DataFrame, exceptions: Sequence[Mapping[str, object]]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split findings (rows with e.g. ticker, date) into (new, documented) by the configured exceptions."""
    if findings.empty or not exceptions:
        return findings, findings.iloc[0:0]
    known = np.array(
        [known_exception(exceptions, **row) is not None for row in findings.to_dict("records")],
        dtype=bool,
    )
    return findings.loc[~known], findings.loc[known]


def documented_tickers(check: str, tickers: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split the tickers a WARN check flags into (new, documented exceptions of ``check``)."""
    exceptions = load_quality_config().exceptions_for(check)
    known = {t for t in tickers if known_exception(exceptions, ticker=t) is not None}
    return sorted(set(tickers) - known), sorted(known)


def _row_label(row: pd.Series) -> str:
    parts = []
    if "ticker" in row.index:
        parts.append(f"ticker {row['ticker']}")
    if "date" in row.index:
        parts.append(f"on {pd.Timestamp(row['date']).date()}")
    return " ".join(parts) or f"row {row.name}"
