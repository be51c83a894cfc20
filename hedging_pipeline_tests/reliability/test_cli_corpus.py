"""Bad input through the ``hedging-pipeline`` command: arguments, environment, a bad raw file, a linked drop.

Every failure must be exactly one ``error: ...`` line naming what is wrong, exit status 1 and no traceback, and
the warehouse (a copy of the uninterrupted run's) must be unchanged afterwards. A few cases run the console
script as a user does (separate processes, started at once); the rest call its ``main`` in this process, which
is the same code without the interpreter start-up.
"""

import os
import re
import resource
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest

from hedging_pipeline.cli import main
from hedging_pipeline_tests.cli_runs import (
    TEST_ENV,
    CliProcess,
    CliRun,
    cli_command,
    cli_env,
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
    CliCase(
        "unknown_hedge_ticker", ["hedge", "ZZZZ"], r"^unknown ticker 'ZZZZ' \(\d+ companies known\)"
    ),
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
        r"^HEDGING_EXECUTOR=k8s needs the package dagster-k8s",
        env={
            "HEDGING_EXECUTOR": "k8s"
        },  # dagster-celery is a test dependency (Celery test); k8s is not
    ),
    CliCase(
        "bad_raw_file",
        ["run"],
        r"^raw_drop: prices\.parquet: column 'close' is -3 \(must be > 0\) for ticker \w+ on "
        r"\d{4}-\d\d-\d\d$",
        raw="bad_prices",
        process=True,
    ),
    CliCase(
        "absurd_price",
        ["run"],
        r"^raw_drop: prices\.parquet: column 'close' moves from [\d.]+ to 1e\+12 \(x[\d.e+]+\) for ticker "
        r"\w+ on \d{4}-\d\d-\d\d, beyond the 50x one-day bound and not explained by a split",
        raw="absurd_price",
        process=True,  # a second in-process Dagster run in one pytest process logs its traceback
    ),
    CliCase(
        "future_dated_rows",
        ["run"],
        r"^raw_drop: prices\.parquet: 2 row\(s\) dated after the drop's as-of date 2022-12-30 ",
        raw="future_rows",
        process=True,
    ),
    CliCase(
        "unwritable_home",
        ["run"],
        r"^cannot write /sys/hedging-home\S*: Operation not permitted; set HEDGING_HOME to a writable "
        r"folder",
        env={"HEDGING_HOME": "/sys/hedging-home"},
    ),
    CliCase(
        "home_below_a_file",
        ["run"],
        r"^cannot write /\S+/a-file/home/dagster: Not a directory; set HEDGING_HOME",
        env={"HEDGING_HOME": "{root}/a-file/home"},
    ),
    CliCase(
        "linked_drop_folder",
        ["run"],
        r"^raw_drop: prices\.parquet: column 'close' is -3",
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


def _absurd_price(frame: pd.DataFrame) -> pd.DataFrame:
    frame.loc[1234, "close"] = 1e12  # finite, positive, absurd
    return frame


def _future_rows(frame: pd.DataFrame) -> pd.DataFrame:
    late = frame.iloc[[0, 1]].assign(date=pd.to_datetime(["2029-01-02", "2031-06-30"]))
    return pd.concat([frame, late], ignore_index=True)


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
    for name, change in (("absurd_price", _absurd_price), ("future_rows", _future_rows)):
        raw[name] = root / f"raw_{name}"
        shutil.copytree(reliability_raw_dir, raw[name])
        frame = change(pd.read_parquet(raw[name] / "prices.parquet"))
        frame.to_parquet(raw[name] / "prices.parquet", index=False)
    (root / "a-file").write_text("a file where HEDGING_HOME expects a folder")
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


def _run_in_process(
    case: CliCase, folders: Folders, monkeypatch, capsys, home: Path | None = None
) -> CliRun:
    home = home or folders.home(case)
    for key in list(os.environ):
        if key.startswith(("HEDGING_", "DAGSTER_")):
            monkeypatch.delenv(key)
    env = {
        **TEST_ENV,
        "HEDGING_RAW_DIR": str(folders.raw[case.raw]),
        "HEDGING_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster"),  # the CLI exports it; monkeypatch restores it
        **{k: v.format(root=folders.root) for k, v in case.env.items()},
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


def test_locked_warehouse_gives_one_line(folders):
    case = CliCase("locked_warehouse", ["run"], "")
    home = folders.home(case)
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, str(home / "warehouse.duckdb")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        run = CliProcess(
            case.args, folders.raw["clean"], home, extra_env={"HEDGING_LOCK_TIMEOUT_S": "1"}
        ).wait()
    finally:
        holder.kill()
        holder.wait()
    assert run.returncode == 1, run.output[-3000:]
    assert "Traceback" not in run.output
    errors = run.error_lines()
    assert len(errors) == 1, run.output[-3000:]
    assert re.search(
        rf"^error: raw_drop: warehouse \S+ stayed locked by another process for 1 s \(held by PID "
        rf"{holder.pid}\); close other DuckDB clients and retry$",
        errors[0],
    ), errors[0]
    assert table_fingerprints(run.warehouse) == folders.before


LOCK_HOLDER = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("locked", flush=True)
time.sleep(120)
"""


def _limit_file_size(limit: int):
    def apply() -> None:
        signal.signal(
            signal.SIGXFSZ, signal.SIG_IGN
        )  # a write past the limit fails (EFBIG), no signal
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


FULL_DISK_BYTES = 1 << 20
"""File-size limit of the full-disk case: above every file of a new Dagster instance after the raw stage (~150 KB
each), below the raw stage's warehouse write (the drop's tables, ~2 MB of DuckDB write-ahead log on the demo data).
So the first warehouse write, the raw stage's one-transaction swap of every raw table, meets the full disk."""


def test_full_disk_gives_one_line(folders, tmp_path):
    # a file-size limit makes every write that grows a file past it fail as on a full disk
    case = CliCase("full_disk", ["run"], "")
    home = folders.home(case)
    env = cli_env(folders.raw["clean"], home)
    result = subprocess.run(
        [*cli_command(), "run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        preexec_fn=_limit_file_size(FULL_DISK_BYTES),
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, output[-3000:]
    assert re.search(r"(File too large|disk is full)", errors[0]), errors[0]
    assert f"warehouse {home / 'warehouse.duckdb'}" in errors[0], errors[
        0
    ]  # the warehouse write failed
    assert table_fingerprints(home / "warehouse.duckdb") == folders.before
