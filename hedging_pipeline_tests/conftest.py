"""Shared fixtures: the real-data folder (skipped loudly when absent) and demo-universe settings."""

import os
import warnings
from pathlib import Path

import pytest

from hedging_pipeline.settings import SHARED_DATA_DIR, Settings
from hedging_pipeline_tests.session_share import build_once

pytest_plugins = ("hedging_pipeline_tests.cli_runs",)
"""The full-run session fixtures (``session_runs``, ``baseline``, ...) for every test folder."""

REAL_DATA_DIR = Path(os.environ.get("HEDGING_TEST_REAL_DATA", str(SHARED_DATA_DIR)))


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """``../shared/data``; tests that need it are skipped with a loud warning when it is absent."""
    if not (REAL_DATA_DIR / "prices.parquet").exists():
        message = (
            f"REAL DATA MISSING: {REAL_DATA_DIR} has no prices.parquet; real-data tests are SKIPPED "
            "(CI has the data: this skip must not happen there)"
        )
        warnings.warn(message, stacklevel=1)
        print(f"\n*** {message} ***")
        pytest.skip(message)
    return REAL_DATA_DIR


DEMO_RAW = pytest.StashKey[Path]()


def demo_drop(config: pytest.Config) -> Path:
    """The session's generated demo drop folder, made on first use (also by hooks, before any fixture)."""
    if DEMO_RAW not in config.stash:
        from hedging_pipeline.data.demo import generate_demo_universe

        def generate(folder: Path) -> None:
            folder.mkdir()
            generate_demo_universe(folder, n_tickers=30, start="2020-01-01", end="2022-12-31")

        # one folder for every test process of the session (see session_share)
        config.stash[DEMO_RAW] = build_once(config, "demo_raw", generate)
    return config.stash[DEMO_RAW]


@pytest.fixture(scope="session")
def demo_raw_dir(pytestconfig) -> Path:
    """A small generated demo drop folder (30 tickers, 2020-2022), shared by the session."""
    return demo_drop(pytestconfig)


def make_settings(raw_dir: Path, home: Path, **overrides) -> Settings:
    """Settings for an isolated test home."""
    values = dict(
        raw_dir=raw_dir,
        raw_source="env",
        home=home,
        embedding_model="hashing",
        device="cpu",
        backtest_months=6,
    )
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def demo_settings(demo_raw_dir, tmp_path) -> Settings:
    """Settings pointing at the demo drop folder and a fresh home under ``tmp_path``."""
    return make_settings(demo_raw_dir, tmp_path / "home")


@pytest.fixture(autouse=True)
def _isolated_defs_state_storage():
    """Give every test a clean Dagster "current defs-state storage".

    Dagster keeps it in a context variable set by ``with instance:``; an instance or schedule context
    that is not closed leaves it pointing at a dead instance, and every later ``get_repository_def()``
    then fails with "undefined DagsterInstance weakref". Resetting it per test keeps tests independent.
    """
    from dagster._core.storage.defs_state.base import set_defs_state_storage

    with set_defs_state_storage(None):
        yield
