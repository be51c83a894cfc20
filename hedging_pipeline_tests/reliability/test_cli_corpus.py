"""Bad input through the real ``hedging-pipeline`` command: arguments, environment, a bad raw file, a linked drop.

Each case is a separate process (the console script, as a user runs it), all started at once. Every failure must
be exactly one ``error: ...`` line naming what is wrong, a non-zero exit status and no traceback, and the
warehouse (a copy of the uninterrupted run's) must be unchanged afterwards.
"""

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest

from hedging_pipeline_tests.reliability.conftest import (
    CliProcess,
    CliRun,
    table_fingerprints,
)

A_TICKER = "ARSB"
"""A ticker of the 30-ticker demo universe (see ``generate_demo_universe``)."""


@dataclass(frozen=True)
class CliCase:
    name: str
    args: list[str]
    error: str
    """Regex the single error line must match (after ``error: ``)."""
    env: dict[str, str] = field(default_factory=dict)
    raw: str = "clean"
    """Which drop folder: ``clean``, ``bad_prices`` or ``linked`` (a link to the bad one)."""


CASES = [
    CliCase(
        "start_not_a_date", ["run", "--start", "2021-13-45"], r"^--start '2021-13-45' is not a date"
    ),
    CliCase("end_not_a_date", ["run", "--end", "31/31/2021"], r"^--end '31/31/2021' is not a date"),
    CliCase(
        "start_after_end",
        ["run", "--start", "2022-06-01", "--end", "2021-01-01"],
        r"^--start 2022-06-01 is after --end 2021-01-01",
    ),
    CliCase(
        "hostile_tickers_option",
        ["run", "--tickers", "AAA;rm -rf /"],
        r"^--tickers: invalid ticker 'AAA;RM -RF /'",
    ),
    CliCase(
        "hostile_hedge_ticker",
        ["hedge", "'; DROP TABLE hedge_weights;--"],
        r"^--tickers: invalid ticker \"'; DROP TABLE HEDGE_WEIGHTS;--\"",
    ),
    CliCase(
        "negative_notional",
        ["hedge", A_TICKER, "--notional", "-5"],
        r"^--notional -5 must be positive",
    ),
    CliCase(
        "nan_notional",
        ["hedge", A_TICKER, "--notional", "nan"],
        r"^--notional nan must be positive and finite",
    ),
    CliCase(
        "infinite_notional",
        ["hedge", A_TICKER, "--notional", "inf"],
        r"^--notional inf must be positive and finite",
    ),
    CliCase("as_of_not_a_date", ["hedge", A_TICKER, "--as-of", "someday"], r"^--as-of 'someday'"),
    CliCase("unknown_hedge_ticker", ["hedge", "ZZZZ"], r"^ticker 'ZZZZ' is not in the model"),
    CliCase(
        "months_not_a_number",
        ["run"],
        r"^HEDGING_BACKTEST_MONTHS='abc' is not an integer",
        env={"HEDGING_BACKTEST_MONTHS": "abc"},
    ),
    CliCase(
        "unknown_device",
        ["run"],
        r"^HEDGING_DEVICE='tpu' is not one of",
        env={"HEDGING_DEVICE": "tpu"},
    ),
    CliCase(
        "executor_package_missing",
        ["run"],
        r"^HEDGING_EXECUTOR=celery needs the package dagster-celery",
        env={"HEDGING_EXECUTOR": "celery"},
    ),
    CliCase(
        "bad_raw_file",
        ["run"],
        r"^raw_prices: prices\.parquet: column 'close' is -3 \(must be > 0\) for ticker \w+ on "
        r"\d{4}-\d\d-\d\d$",
        raw="bad_prices",
    ),
    CliCase(
        "linked_drop_folder",
        ["run"],
        r"^raw_prices: prices\.parquet: column 'close' is -3",
        raw="linked",
    ),
]


@dataclass(frozen=True)
class CorpusRuns:
    results: dict[str, CliRun]
    before: dict[str, tuple[int, int]]
    bad_raw: Path


@pytest.fixture(scope="module")
def cli_corpus(baseline, reliability_raw_dir, tmp_path_factory) -> CorpusRuns:
    """Every case started at once, each in its own home holding a copy of the uninterrupted run's warehouse."""
    root = tmp_path_factory.mktemp("cli_corpus")
    bad = root / "bad_raw"
    shutil.copytree(reliability_raw_dir, bad)
    prices = pd.read_parquet(bad / "prices.parquet")
    prices.loc[1234, "close"] = -3.0
    prices.to_parquet(bad / "prices.parquet", index=False)
    linked = root / "current"
    os.symlink(bad, linked)
    folders = {"clean": reliability_raw_dir, "bad_prices": bad, "linked": linked}
    processes = {}
    for case in CASES:
        home = root / case.name
        home.mkdir()
        shutil.copyfile(baseline.warehouse, home / "warehouse.duckdb")
        processes[case.name] = CliProcess(case.args, folders[case.raw], home, extra_env=case.env)
    results = {name: process.wait() for name, process in processes.items()}
    return CorpusRuns(results, table_fingerprints(baseline.warehouse), bad)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_cli_bad_input_gives_one_error_line(cli_corpus, case):
    run = cli_corpus.results[case.name]
    assert run.returncode == 1, f"exit {run.returncode}:\n{run.output[-3000:]}"
    assert "Traceback" not in run.output, run.output[-3000:]
    errors = run.error_lines()
    assert len(errors) == 1, run.output[-3000:]
    message = errors[0].removeprefix("error: ")
    assert re.search(case.error, message), message
    # whatever the CLI got to do before it stopped, the earlier warehouse content is intact
    assert table_fingerprints(run.warehouse) == cli_corpus.before


def test_linked_drop_folder_is_resolved_and_named(cli_corpus):
    first_line = cli_corpus.results["linked_drop_folder"].output.splitlines()[0]
    assert first_line.endswith(f"HEDGING_RAW_DIR at {cli_corpus.bad_raw.resolve()}"), first_line
