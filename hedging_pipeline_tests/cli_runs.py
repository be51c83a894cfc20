"""Full ``hedging-pipeline run`` fixtures: CLI runs in subprocesses on a private copy of the demo drop folder, and
table snapshots (a pytest plugin of the root ``conftest.py``, so every test folder sees the fixtures).

A full run on the demo data takes about a minute of CPU, so the runs that tests check or compare against are session
fixtures, started side by side: ``test_cli.py`` checks one's output and warehouse, ``reliability/`` compares them.
"""

import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hedging_pipeline
from hedging_pipeline.warehouse.duckdb import Warehouse
from hedging_pipeline_tests.conftest import demo_drop, make_settings
from hedging_pipeline_tests.session_share import Claim, build_once, claim, xdist_worker

CLI_TIMEOUT_S = 900
"""Upper bound for one full CLI run on the demo data (about a minute alone on 2 cores)."""
RESTART_MIN_TIMEOUT_S = 240.0
RESTART_TIMEOUT_FACTOR = 2.0
"""A restart after a crash may take this multiple of the uninterrupted run (at least the minimum)."""
ORPHAN_GRACE_S = 60.0
"""By then a restarted CLI has recovered the killed run (it does so before its first stage)."""
RESTART_POLL_S = 2.0

TOLERANCE = 1e-12
"""Numbers agree when |a - b| <= TOLERANCE * max(1, |b|)."""

VOLATILE_COLUMNS = frozenset(
    {"run_id", "computed_at", "created_at", "updated_at", "materialized_at"}
)
VOLATILE_SUFFIXES = ("_ms", "_seconds")
"""Columns that record wall-clock facts (solver time, run ids), not results; left out of comparisons."""

TEST_ENV = {
    "HEDGING_EMBEDDING_MODEL": "hashing",
    "HEDGING_DEVICE": "cpu",
    "HEDGING_BACKTEST_MONTHS": "3",
    "HEDGING_EXECUTOR": "in_process",
    "PYTHONUNBUFFERED": "1",
}


def cli_command() -> list[str]:
    """The ``hedging-pipeline`` console script of this interpreter (``python -m hedging_pipeline`` otherwise)."""
    script = Path(sys.executable).parent / "hedging-pipeline"
    return [str(script)] if script.exists() else [sys.executable, "-m", "hedging_pipeline"]


def cli_env(
    raw_dir: Path,
    home: Path,
    extra: Mapping[str, str | None] | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Environment of one CLI process: its own raw folder and home, the fake embedder, no inherited instance.

    ``extra`` overrides the test settings; a ``None`` value unsets the variable. ``environ`` is the environment
    to start from (this process's by default; a snapshot for processes started from a background thread while
    a test may be changing ``os.environ``).
    """
    environ = os.environ if environ is None else environ
    env = {k: v for k, v in environ.items() if not k.startswith(("HEDGING_", "DAGSTER_"))}
    env.update(TEST_ENV)
    # subprocesses import the same hedging_pipeline as this test process (a checkout copy included)
    package_root = str(Path(hedging_pipeline.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    env["HEDGING_RAW_DIR"] = str(raw_dir)
    env["HEDGING_HOME"] = str(home)
    for key, value in (extra or {}).items():
        if value is None:
            env.pop(key, None)  # unset, as a user who never heard of the variable
        else:
            env[key] = value
    return env


@dataclass(frozen=True)
class CliRun:
    """A finished CLI process: exit status, merged stdout/stderr and its home."""

    returncode: int
    output: str
    home: Path
    seconds: float

    @property
    def warehouse(self) -> Path:
        """The run's DuckDB file."""
        return self.home / "warehouse.duckdb"

    def error_lines(self) -> list[str]:
        """Lines the CLI printed as errors (``error: ...``)."""
        return [line for line in self.output.splitlines() if line.startswith("error:")]


class CliProcess:
    """A CLI subprocess writing its merged output to a log file (so a test can poll it)."""

    def __init__(
        self,
        args: Sequence[str],
        raw_dir: Path,
        home: Path,
        *,
        extra_env: Mapping[str, str | None] | None = None,
        log: Path | None = None,
        environ: Mapping[str, str] | None = None,
        niceness: int = 0,
    ) -> None:
        self.home = Path(home)
        self.log = Path(log or self.home.parent / f"{self.home.name}.log")
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self._handle = self.log.open("w")
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [*cli_command(), *args],
            env=cli_env(raw_dir, home, extra_env, environ),
            stdout=self._handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=str(self.home.parent),
        )
        if niceness:  # before the CLI starts its own step and worker processes, which inherit it
            os.setpriority(os.PRIO_PROCESS, self.process.pid, niceness)

    def output(self) -> str:
        """Everything printed so far."""
        return self.log.read_text(errors="replace")

    def wait(self, timeout: float = CLI_TIMEOUT_S) -> CliRun:
        """Wait for the exit (SIGKILL after ``timeout``) and return the result."""
        try:
            rc = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            self._handle.close()
            pytest.fail(
                f"CLI {self.process.args[1:]} in {self.home} did not finish in {timeout:.0f} s; last "
                f"output:\n{self.output()[-3000:]}"
            )
        self._handle.close()
        return CliRun(rc, self.output(), self.home, time.monotonic() - self.started)

    def kill(self) -> int:
        """SIGKILL the process (no clean-up runs) and reap it."""
        self.process.kill()
        rc = self.process.wait()
        self._handle.close()
        return rc


def run_cli(
    args: Sequence[str],
    raw_dir: Path,
    home: Path,
    *,
    extra_env: Mapping[str, str] | None = None,
    timeout: float = CLI_TIMEOUT_S,
) -> CliRun:
    """Run the CLI to completion."""
    return CliProcess(args, raw_dir, home, extra_env=extra_env).wait(timeout)


# -- table snapshots -----------------------------------------------------------------------------------------------
def _comparable_columns(frame: pd.DataFrame) -> list[str]:
    return [
        c
        for c in frame.columns
        if c not in VOLATILE_COLUMNS and not str(c).endswith(VOLATILE_SUFFIXES)
    ]


def canonical(frame: pd.DataFrame) -> pd.DataFrame:
    """Frame with volatile columns dropped, columns by name, rows sorted by every column (keys first)."""
    frame = frame[sorted(_comparable_columns(frame))]
    keys = [c for c in frame.columns if not pd.api.types.is_float_dtype(frame[c])]
    values = [c for c in frame.columns if c not in keys]
    sortable = frame.copy()
    for column in keys:
        if frame[column].dtype == object:
            sortable[column] = frame[column].map(repr)  # mixed None/str/bytes sort by their repr
    order = sortable.sort_values(keys + values, kind="stable", na_position="last").index
    return frame.loc[order].reset_index(drop=True)


def warehouse_tables(path: Path) -> dict[str, pd.DataFrame]:
    """Every table of a warehouse, canonical."""
    wh = Warehouse(path)
    return {table: canonical(wh.read(table)) for table in wh.tables()}


def table_fingerprints(path: Path) -> dict[str, tuple[int, int]]:
    """(rows, order-independent hash of all rows) per table: a cheap "nothing changed" check."""
    wh = Warehouse(path)
    out = {}
    with wh.connect() as con:
        for table in wh.tables():
            rows, digest = con.execute(
                f"select count(*), coalesce(sum(hash(t)::hugeint), 0) from {table} as t"
            ).fetchone()
            out[table] = (int(rows), int(digest))
    return out


def _values_equal(got: pd.Series, expected: pd.Series) -> np.ndarray:
    if pd.api.types.is_float_dtype(expected) or pd.api.types.is_float_dtype(got):
        a = got.to_numpy(dtype="float64")
        b = expected.to_numpy(dtype="float64")
        close = np.abs(a - b) <= TOLERANCE * np.maximum(1.0, np.abs(b))
        return close | (np.isnan(a) & np.isnan(b)) | (a == b)
    pairs = zip(got.to_numpy(dtype=object), expected.to_numpy(dtype=object), strict=True)
    return np.array([_cell_equal(x, y) for x, y in pairs], dtype=bool)


def _cell_equal(a, b) -> bool:
    """One cell: scalars equal (both missing counts), arrays (embeddings, weight lists) within tolerance."""
    if isinstance(a, np.ndarray | list | tuple) or isinstance(b, np.ndarray | list | tuple):
        try:
            x, y = np.asarray(a, dtype="float64"), np.asarray(b, dtype="float64")
        except (TypeError, ValueError):
            return list(a) == list(b)
        if x.shape != y.shape:
            return False
        close = np.abs(x - y) <= TOLERANCE * np.maximum(1.0, np.abs(y))
        return bool(np.all(close | (np.isnan(x) & np.isnan(y))))
    if a is None or b is None or (isinstance(a, float) and np.isnan(a)):
        return pd.isna(a) and pd.isna(b)
    if isinstance(a, float) or isinstance(b, float):
        return bool(abs(a - b) <= TOLERANCE * max(1.0, abs(b)))
    return bool(a == b) or (pd.isna(a) and pd.isna(b))


def table_differences(
    got: Mapping[str, pd.DataFrame], expected: Mapping[str, pd.DataFrame]
) -> list[str]:
    """Human-readable differences between two sets of canonical tables (empty when equal)."""
    problems = []
    if set(got) != set(expected):
        problems.append(
            f"tables differ: only in first {sorted(set(got) - set(expected))}, only in second "
            f"{sorted(set(expected) - set(got))}"
        )
    for table in sorted(set(got) & set(expected)):
        a, b = got[table], expected[table]
        if list(a.columns) != list(b.columns):
            problems.append(f"{table}: columns {list(a.columns)} != {list(b.columns)}")
            continue
        if len(a) != len(b):
            problems.append(f"{table}: {len(a)} rows != {len(b)} rows")
            continue
        for column in a.columns:
            equal = _values_equal(a[column], b[column])
            if not equal.all():
                row = int(np.flatnonzero(~equal)[0])
                problems.append(
                    f"{table}.{column}: {int((~equal).sum())} of {len(a)} values differ, first at row "
                    f"{row}: {a[column].iloc[row]!r} != {b[column].iloc[row]!r}"
                )
    return problems


def assert_same_tables(
    got: Mapping[str, pd.DataFrame], expected: Mapping[str, pd.DataFrame], what: str
) -> None:
    """Fail with every difference listed."""
    problems = table_differences(got, expected)
    assert not problems, f"{what}:\n  " + "\n  ".join(problems)


# -- fixtures ----------------------------------------------------------------------------------------------------
RELIABILITY_RAW = pytest.StashKey[Path]()


def reliability_drop(config: pytest.Config) -> Path:
    """The session's private copy of the demo drop folder, made on first use."""
    if RELIABILITY_RAW not in config.stash:
        source = demo_drop(config)
        folder = build_once(config, "reliability", lambda f: shutil.copytree(source, f / "raw"))
        config.stash[RELIABILITY_RAW] = folder / "raw"
    return config.stash[RELIABILITY_RAW]


@pytest.fixture(scope="session")
def reliability_raw_dir(pytestconfig) -> Path:
    """A private copy of the demo drop folder (tests never touch the shared one)."""
    return reliability_drop(pytestconfig)


MONTHLY_STAGE = re.compile(r"^\[\d+/\d+\] \d+-monthly: ", re.MULTILINE)
"""The CLI's header line of the first stage of month partitions (daily panels and the risk model)."""


def _mid_monthly_stage(output: str) -> bool:
    """Whether the run is inside the monthly stage: one step done there and a later one started."""
    header = MONTHLY_STAGE.search(output)
    if header is None:
        return False
    rest = output[header.end() :]
    done = rest.find(": done (")
    return done >= 0 and ": started" in rest[done:]


@dataclass(frozen=True)
class CrashRun:
    """A CLI run killed with SIGKILL inside the monthly stage, then restarted in the same home."""

    killed_output: str
    killed_tables: dict[str, pd.DataFrame]
    restart: CliRun | None
    diagnosis: str
    """Why the restart has no result (it did not finish in time): held pool slots, last output."""


@dataclass(frozen=True)
class SessionRuns:
    """Full CLI runs shared by the tests, started side by side.

    ``first`` and ``second`` are uninterrupted runs in separate homes, with different ``PYTHONHASHSEED`` so
    set ordering cannot hide; ``first`` runs every step in its process (``HEDGING_EXECUTOR=in_process``, the
    other tests' setting), ``second`` with the default executor (a process per step), as a user types the
    command. ``crash`` is killed mid-way and restarted.
    """

    first: CliRun
    second: CliRun
    crash: CrashRun


def _slot_diagnosis(home: Path) -> str:
    import dagster as dg

    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        runs = [(r.run_id[:8], r.job_name, r.status.value) for r in instance.get_runs()]
        storage = instance.event_log_storage
        held = {
            key: [
                (s.run_id[:8], s.step_key) for s in storage.get_concurrency_info(key).claimed_slots
            ]
            for key in storage.get_concurrency_keys()
        }
    return f"runs {runs}; pool slots held {held}"


def _crash_and_restart(
    crash: CliProcess, raw_dir: Path, deadline_s: float, environ: Mapping[str, str], niceness: int
) -> tuple[CrashRun, CliProcess]:
    started = time.monotonic()
    while not _mid_monthly_stage(crash.output()):
        if crash.process.poll() is not None or time.monotonic() - started > deadline_s:
            rc = crash.kill()
            pytest.fail(
                f"the run to kill never reached the monthly stage (exit {rc}):\n{crash.output()[-3000:]}"
            )
        time.sleep(0.05)
    crash.kill()
    killed_output = crash.output()
    killed_tables = warehouse_tables(crash.home / "warehouse.duckdb")
    restart = CliProcess(
        ["run"],
        raw_dir,
        crash.home,
        log=crash.home.parent / "crash-restart.log",
        environ=environ,
        niceness=niceness,
    )
    return CrashRun(killed_output, killed_tables, None, ""), restart


SESSION_RUN_ENV: dict[str, dict[str, str | None]] = {
    "first": {"PYTHONHASHSEED": "1"},
    "second": {"PYTHONHASHSEED": "2", "HEDGING_EXECUTOR": None},  # unset: the default
    "crash": {"PYTHONHASHSEED": "3"},
}
BACKGROUND_NICENESS = 5
"""The session's runs start right after collection, beside the in-process tests that come first, at this
niceness: on 2 cores they take the core a single-process test leaves idle instead of half of its core."""
SESSION_RUNS = pytest.StashKey["SessionRunsLauncher | SessionRunsWaiter"]()


class SessionRunsLauncher:
    """Starts the session's three runs at once and watches them from a background thread.

    The thread kills the ``crash`` run inside the monthly stage and restarts it, then waits for all; tests
    needing the runs call :meth:`result`. Processes get an environment snapshot taken here (tests change
    ``os.environ`` meanwhile) and ``BACKGROUND_NICENESS``.
    """

    def __init__(self, raw_dir: Path, root: Path, shared: Claim | None = None) -> None:
        self.raw_dir = raw_dir
        self.shared = shared
        self.environ = dict(os.environ)
        self.processes = {
            name: CliProcess(
                ["run"],
                raw_dir,
                root / name,
                extra_env=env,
                environ=self.environ,
                niceness=BACKGROUND_NICENESS,
            )
            for name, env in SESSION_RUN_ENV.items()
        }
        self._outcome: SessionRuns | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._watch, name="session-runs", daemon=True)
        self._thread.start()

    def result(self) -> SessionRuns:
        """The runs, once all have finished (re-raises what stopped the watcher)."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._outcome is not None
        return self._outcome

    def stop(self) -> None:
        """Kill what still runs (the session ends before every run was needed).

        When other test processes may still need the runs (``shared``), wait for them instead.
        """
        if self.shared is not None:
            self._thread.join()
            return
        for process in list(self.processes.values()):
            if process.process.poll() is None:
                process.kill()
        self._thread.join(timeout=60)

    def _watch(self) -> None:
        try:
            self._outcome = self._crash_restart_and_wait()
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread by result()
            self._error = exc
            for process in list(self.processes.values()):
                if process.process.poll() is None:
                    process.kill()
        if self.shared is not None:
            error = None if self._error is None else f"{type(self._error).__name__}: {self._error}"
            self.shared.publish(self._outcome, error=error)

    def _crash_restart_and_wait(self) -> SessionRuns:
        processes = self.processes
        crash, restart = _crash_and_restart(
            processes["crash"], self.raw_dir, CLI_TIMEOUT_S, self.environ, BACKGROUND_NICENESS
        )
        processes["restart"] = restart
        problem = ""
        while restart.process.poll() is None:
            elapsed = time.monotonic() - restart.started
            first_done = processes["first"].process.poll() is not None
            budget = CLI_TIMEOUT_S
            if first_done:
                first_seconds = time.monotonic() - processes["first"].started
                budget = max(RESTART_MIN_TIMEOUT_S, RESTART_TIMEOUT_FACTOR * first_seconds)
            # a restart that leaves the killed run's pool slot held waits for it for ever (busily): stop it
            # as soon as it is clearly past the point where it should have recovered the killed run
            if elapsed > ORPHAN_GRACE_S and _orphans(restart.home):
                problem = (
                    f"after {elapsed:.0f} s the restart had not recovered the killed run, so its steps wait "
                    "for the pool slot the dead process holds (hedging-pipeline run must call "
                    "recover_orphaned_runs before its stages)"
                )
            elif elapsed > budget:
                problem = f"restart did not finish in {budget:.0f} s"
            if problem:
                problem += (
                    f"; {_slot_diagnosis(restart.home)}; last output:\n{restart.output()[-2000:]}"
                )
                restart.kill()
                break
            time.sleep(RESTART_POLL_S)
        first = processes["first"].wait()
        second = processes["second"].wait()
        result = None if problem else restart.wait()
        return SessionRuns(
            first, second, CrashRun(crash.killed_output, crash.killed_tables, result, problem)
        )


class SessionRunsWaiter:
    """The session's runs as another test process (xdist worker) computes them: wait for its published result."""

    def __init__(self, shared: Claim) -> None:
        self.shared = shared

    def result(self) -> SessionRuns:
        """The runs, once the owning process has published them."""
        # the owner's three runs plus a restart, each bounded by CLI_TIMEOUT_S, run side by side
        return self.shared.wait(3 * CLI_TIMEOUT_S, "the session's full CLI runs")

    def stop(self) -> None:
        """Nothing runs here."""


def session_runs_launcher(config: pytest.Config) -> SessionRunsLauncher | SessionRunsWaiter:
    """The session's launcher, started on first use (by one test process when xdist runs several)."""
    if SESSION_RUNS not in config.stash:
        shared = claim(config, "runs")
        if shared.owner:
            try:
                config.stash[SESSION_RUNS] = SessionRunsLauncher(
                    reliability_drop(config), shared.folder, shared if xdist_worker() else None
                )
            except BaseException as exc:
                # the other workers must not wait for runs that never started
                shared.publish(error=f"the runs did not start: {type(exc).__name__}: {exc}")
                raise
        else:
            config.stash[SESSION_RUNS] = SessionRunsWaiter(shared)
    return config.stash[SESSION_RUNS]


NOT_RUNNING_TESTS = (
    "collectonly",
    "setuponly",
    "setupplan",
    "showfixtures",
    "show_fixtures_per_test",
)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the session's runs as soon as the collected tests are known to need them."""
    if any(getattr(session.config.option, name, False) for name in NOT_RUNNING_TESTS):
        return
    if any("session_runs" in getattr(item, "fixturenames", ()) for item in session.items):
        session_runs_launcher(session.config)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """No run outlives the session."""
    launcher = session.config.stash.get(SESSION_RUNS, None)
    if launcher is not None:
        launcher.stop()


@pytest.fixture(scope="session")
def session_runs(pytestconfig) -> SessionRuns:
    """Two uninterrupted runs and one killed-and-restarted run of ``hedging-pipeline run`` on the demo data."""
    return session_runs_launcher(pytestconfig).result()


def _orphans(home: Path) -> list:
    import dagster as dg

    from hedging_pipeline.defs.executors import recover_orphaned_runs

    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        return recover_orphaned_runs(instance, dry_run=True)


@pytest.fixture(scope="session")
def baseline(session_runs) -> CliRun:
    """The first uninterrupted run, required to have succeeded."""
    run = session_runs.first
    assert run.returncode == 0, (
        f"uninterrupted run in {run.home} failed (exit {run.returncode}):\n{run.output[-4000:]}"
    )
    return run


@pytest.fixture(scope="session")
def baseline_tables(baseline) -> dict[str, pd.DataFrame]:
    """Canonical tables of the first uninterrupted run."""
    return warehouse_tables(baseline.warehouse)


# -- the raw stage on a copy of a complete warehouse ----------------------------------------------------------
@pytest.fixture(scope="session")
def raw_stage_job(reliability_raw_dir, tmp_path_factory) -> str:
    """Name of the stage job holding the raw assets (the first run of ``hedging-pipeline run``)."""
    import dagster as dg

    from hedging_pipeline.definitions import build_definitions
    from hedging_pipeline.defs.stages import compute_stages

    settings = make_settings(reliability_raw_dir, tmp_path_factory.mktemp("stage_names"))
    repo = build_definitions(settings).get_repository_def()
    stages = compute_stages(list({id(a): a for a in repo.assets_defs_by_key.values()}.values()))
    return next(s.job_name for s in stages if dg.AssetKey("raw_prices") in s.asset_keys)


@pytest.fixture(scope="session")
def earlier_warehouse(baseline) -> Path:
    """The warehouse of the uninterrupted run: the "earlier content" every case must leave intact."""
    return baseline.warehouse


@pytest.fixture(scope="session")
def earlier_fingerprints(earlier_warehouse) -> dict[str, tuple[int, int]]:
    return table_fingerprints(earlier_warehouse)


@dataclass(frozen=True)
class Outcome:
    success: bool
    message: str
    warehouse: Path


def run_raw_stage(raw_dir: Path, home: Path, earlier: Path, job_name: str) -> Outcome:
    """Run the raw stage job on ``raw_dir`` against a copy of the ``earlier`` warehouse."""
    import dagster as dg

    from hedging_pipeline.cli import _first_error
    from hedging_pipeline.definitions import build_definitions

    home.mkdir(parents=True)
    shutil.copyfile(earlier, home / "warehouse.duckdb")
    defs = build_definitions(make_settings(raw_dir, home))
    with dg.DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def(job_name).execute_in_process(
            instance=instance, raise_on_error=False
        )
    message = "" if result.success else _first_error(result)
    return Outcome(result.success, message, home / "warehouse.duckdb")
