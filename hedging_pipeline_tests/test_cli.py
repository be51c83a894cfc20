"""The ``hedging-pipeline`` command: end-to-end run on demo data, and one-line errors on bad input.

The end-to-end run is the session's (``cli_runs.session_runs``): the reliability tests compare it with other runs.
"""

import shutil

import pandas as pd
import pytest

from hedging_pipeline.cli import main
from hedging_pipeline.warehouse.duckdb import Warehouse
from hedging_pipeline_tests.cli_runs import TEST_ENV


@pytest.fixture
def cli_env(monkeypatch, demo_raw_dir, tmp_path):
    raw = tmp_path / "raw"
    shutil.copytree(demo_raw_dir, raw)
    home = tmp_path / "home"
    monkeypatch.setenv("HEDGING_RAW_DIR", str(raw))
    monkeypatch.setenv("HEDGING_HOME", str(home))
    monkeypatch.setenv("HEDGING_EMBEDDING_MODEL", "hashing")
    monkeypatch.setenv("HEDGING_BACKTEST_MONTHS", "3")
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))  # restored after the test
    return raw, home


def error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


@pytest.mark.slow
def test_run_materialises_everything_and_prints_where(
    session_runs, reliability_raw_dir, tmp_path, monkeypatch, capsys
):
    # the session's uninterrupted run with the default executor: the console script as a user runs it
    run = session_runs.second
    assert run.returncode == 0, run.output[-4000:]
    raw, home, out = reliability_raw_dir, run.home, run.output
    assert f"HEDGING_RAW_DIR at {raw}" in out
    assert f"warehouse: {home / 'warehouse.duckdb'}" in out
    wh = Warehouse(home / "warehouse.duckdb")
    prices = pd.read_parquet(raw / "prices.parquet")
    stored = wh.read("prices", columns=["date", "ticker"])
    # Every trading day and ticker of the input is in the warehouse.
    assert len(stored) == len(prices)
    assert stored["date"].nunique() == prices["date"].nunique()
    assert set(stored["ticker"]) == set(prices["ticker"])
    returns = wh.read("daily_returns")
    first_rows = prices.groupby("ticker")["date"].min()
    assert len(returns) == len(prices) - len(first_rows)  # every day but each ticker's first
    for table in ("prices", "daily_returns", "raw_quarantine"):
        assert f"  {table}" in out
    raw_stage = next(line for line in out.splitlines() if line.startswith("[1/"))
    assert "raw_quarantine" in raw_stage  # the drop-wide output of the raw_drop multi-asset
    # A second run is idempotent: same row counts everywhere. It runs on a copy of the home (warehouse,
    # Dagster instance, run memory): the session's homes stay as they are for the tests comparing them.
    again = tmp_path / "home"
    shutil.copytree(home, again)
    for key, value in {**TEST_ENV, "HEDGING_RAW_DIR": str(raw), "HEDGING_HOME": str(again)}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("HEDGING_EXECUTOR")
    monkeypatch.setenv("DAGSTER_HOME", str(again / "dagster"))  # restored after the test
    wh = Warehouse(again / "warehouse.duckdb")
    counts = wh.table_counts()
    capsys.readouterr()
    assert main(["run"]) == 0
    assert wh.table_counts() == counts
    # ... and stale-only: with nothing changed, no stage runs anything (issue 15).
    stages = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[")]
    assert stages and all("nothing to do" in line for line in stages), stages


def test_run_with_bad_file_exits_nonzero_with_one_line(cli_env, capsys):
    raw, _ = cli_env
    (raw / "companies.parquet").unlink()
    assert main(["run"]) == 1
    out = capsys.readouterr().out
    assert "error: raw_drop:" in out
    assert "required raw file 'companies' not found" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "--start", "2020-13-01"], "--start '2020-13-01' is not a date"),
        (["run", "--tickers", "A';DROP"], "--tickers: invalid ticker"),
        (["hedge", "AAA", "--notional", "-5"], "--notional -5 must be positive and finite"),
        (["hedge", "AAA", "--notional", "nan"], "--notional nan must be positive and finite"),
        (["hedge", "AAA", "--notional", "inf"], "--notional inf must be positive and finite"),
        (["hedge", "AAA", "--notional", "2e13"], "a position value in USD of at most 1e+13"),
        (["hedge", "AAA", "--max-adv", "0.1"], "--max-adv needs --notional"),
        (["hedge", "AAA", "--notional", "1e9", "--max-adv", "5"], "--max-adv 5 must be a fraction"),
        (["report", "AAA", "--notional", "0", "--out", "x.html"], "--notional 0 must be"),
        (["report", "AAA", "--out", "x.txt"], "--out x.txt: expected an .html file name"),
    ],
)
def test_bad_arguments_give_one_line(cli_env, capsys, argv, message):
    assert main(argv) == 1
    assert message in error_line(capsys)


def test_hedge_before_any_run_says_what_to_do(cli_env, capsys):
    assert main(["hedge", "AAA"]) == 1
    line = error_line(capsys)
    assert "does not exist" in line and "hedging-pipeline run" in line


def test_hedge_uses_the_assets_embedding_model_id(cli_env, capsys, monkeypatch):
    from hedging_pipeline.defs.resources import build_resources
    from hedging_pipeline.services import hedges
    from hedging_pipeline.settings import load_settings

    seen = {}

    class _Report:
        def to_text(self) -> str:
            return "report"

    def fake_hedge_for_cli(warehouse, ticker, **kwargs):
        seen.update(kwargs, ticker=ticker)
        return _Report()

    monkeypatch.setattr(hedges, "hedge_for_cli", fake_hedge_for_cli)
    monkeypatch.setenv("HEDGING_EMBEDDING_MODEL", "models/nomic-embed-text-v1.5")
    assert main(["hedge", "aaa"]) == 0
    assert capsys.readouterr().out.strip() == "report"
    assert seen["ticker"] == "AAA"
    assert seen["peer_model"] == "nomic-embed-text-v1.5"
    assert seen["peer_model"] == build_resources(load_settings())["embedding_model"].model_id
