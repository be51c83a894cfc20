"""Bad input through the ``hedging-pipeline`` command: arguments, environment, a bad raw file, a linked drop.

Every failure must be exactly one ``error: ...`` line naming what is wrong, exit status 1 and no traceback, and
the warehouse (a copy of the uninterrupted run's) must be unchanged afterwards. A few cases run the console
script as a user does (separate processes, started at once); the rest call its ``main`` in this process, which
is the same code without the interpreter start-up.
"""

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest

from hedging_pipeline.cli import main
from hedging_pipeline_tests.reliability.conftest import (
    TEST_ENV,
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
    process: bool = False
    """Run the console script in its own process (else ``cli.main`` in this one)."""


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
        process=True,
    ),
    CliCase(
        "linked_drop_folder",
        ["run"],
        r"^raw_prices: prices\.parquet: column 'close' is -3",
        raw="linked",
        process=True,
    ),
]


@dataclass(frozen=True)
class Folders:
    root: Path
    raw: dict[str, Path]
    before: dict[str, tuple[int, int]]
    warehouse: Path

    def home(self, case: CliCase) -> Path:
        """A home holding a copy of the uninterrupted run's warehouse."""
        home = self.root / case.name
        home.mkdir()
        shutil.copyfile(self.warehouse, home / "warehouse.duckdb")
        return home


@pytest.fixture(scope="module")
def folders(baseline, reliability_raw_dir, tmp_path_factory) -> Folders:
    root = tmp_path_factory.mktemp("cli_corpus")
    bad = root / "bad_raw"
    shutil.copytree(reliability_raw_dir, bad)
    prices = pd.read_parquet(bad / "prices.parquet")
    prices.loc[1234, "close"] = -3.0
    prices.to_parquet(bad / "prices.parquet", index=False)
    linked = root / "current"
    os.symlink(bad, linked)
    raw = {"clean": reliability_raw_dir, "bad_prices": bad, "linked": linked}
    return Folders(root, raw, table_fingerprints(baseline.warehouse), baseline.warehouse)


@pytest.fixture(scope="module")
def process_runs(folders) -> dict[str, CliRun]:
    """The console-script cases, all started at once."""
    processes = {
        case.name: CliProcess(
            case.args, folders.raw[case.raw], folders.home(case), extra_env=case.env
        )
        for case in CASES
        if case.process
    }
    return {name: process.wait() for name, process in processes.items()}


def _run_in_process(case: CliCase, folders: Folders, monkeypatch, capsys) -> CliRun:
    home = folders.home(case)
    for key in list(os.environ):
        if key.startswith(("HEDGING_", "DAGSTER_")):
            monkeypatch.delenv(key)
    env = {
        **TEST_ENV,
        "HEDGING_RAW_DIR": str(folders.raw[case.raw]),
        "HEDGING_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster"),  # the CLI exports it; monkeypatch restores it
        **case.env,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    capsys.readouterr()
    returncode = main(case.args)
    captured = capsys.readouterr()
    return CliRun(returncode, captured.out + captured.err, home, 0.0)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_cli_bad_input_gives_one_error_line(case, folders, process_runs, monkeypatch, capsys):
    if case.process:
        run = process_runs[case.name]
    else:
        run = _run_in_process(case, folders, monkeypatch, capsys)
    assert run.returncode == 1, f"exit {run.returncode}:\n{run.output[-3000:]}"
    assert "Traceback" not in run.output, run.output[-3000:]
    errors = run.error_lines()
    assert len(errors) == 1, run.output[-3000:]
    message = errors[0].removeprefix("error: ")
    assert re.search(case.error, message), message
    # whatever the CLI got to do before it stopped, the earlier warehouse content is intact
    assert table_fingerprints(run.warehouse) == folders.before


def test_linked_drop_folder_is_resolved_and_named(process_runs, folders):
    first_line = process_runs["linked_drop_folder"].output.splitlines()[0]
    assert first_line.endswith(f"HEDGING_RAW_DIR at {folders.raw['bad_prices'].resolve()}"), (
        first_line
    )
