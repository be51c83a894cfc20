"""Instance storage in PostgreSQL: the documented ``deploy/dagster-postgres.yaml``, used verbatim, on a real server.

The test starts its own throw-away cluster (``initdb`` + ``pg_ctl`` from the Debian ``postgresql`` package, on a
free port, as the ``postgres`` user when run as root), materialises two raw assets with ``dagster asset
materialize`` and the multiprocess executor (child processes write events to PostgreSQL too), and reads the run,
its materialisations and the pool slots back from PostgreSQL.
"""

import glob
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from hedging_pipeline.settings import PROJECT_ROOT
from hedging_pipeline.warehouse.duckdb import Warehouse
from hedging_pipeline_tests.cli_runs import cli_env

pytestmark = pytest.mark.postgres

DEPLOY_YAML = PROJECT_ROOT / "deploy" / "dagster-postgres.yaml"
PG_USER = "dagster"
PG_DB = "dagster"
START_TIMEOUT_S = 60
MATERIALIZE_TIMEOUT_S = 300


def _skip_loudly(reason: str) -> None:
    message = f"POSTGRES TEST SKIPPED: {reason}"
    warnings.warn(message, stacklevel=2)
    print(f"\n*** {message} ***")
    pytest.skip(message)


def _server_bin() -> Path | None:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Server:
    host: str
    port: int

    def env(self) -> dict[str, str]:
        """The variables ``deploy/dagster-postgres.yaml`` reads."""
        return {
            "DAGSTER_PG_HOST": self.host,
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_USER": PG_USER,
            "DAGSTER_PG_PASSWORD": "",
            "DAGSTER_PG_DB": PG_DB,
        }

    def query(self, sql: str) -> list[tuple]:
        import psycopg2

        with (
            psycopg2.connect(host=self.host, port=self.port, user=PG_USER, dbname=PG_DB) as con,
            con.cursor() as cur,
        ):
            cur.execute(sql)
            return cur.fetchall()


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[Server]:
    """A PostgreSQL cluster in a temporary folder, started for this module and removed afterwards."""
    try:
        import dagster_postgres  # noqa: F401
        import psycopg2
    except ImportError:
        _skip_loudly("dagster-postgres is not installed (pip install 'dagster-postgres==0.29.27')")
    bin_dir = _server_bin()
    if bin_dir is None:
        _skip_loudly(
            "no PostgreSQL server (initdb); bash scripts/test-deps/postgres.sh installs it"
        )
    prefix: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="hedging-pg-"))
    if os.geteuid() == 0:  # initdb refuses to run as root
        user = pwd.getpwnam("postgres")
        os.chown(root, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    data, log = root / "data", root / "server.log"
    port = _free_port()

    def run(*args: str) -> None:
        done = subprocess.run([*prefix, *args], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{args[0]} failed: {done.stderr[-2000:]}"

    run(str(bin_dir / "initdb"), "-D", str(data), "-U", PG_USER, "-A", "trust", "-E", "UTF8")
    options = (
        f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={root} -c fsync=off"
    )
    run(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "-t",
        str(START_TIMEOUT_S), "start")  # fmt: skip
    try:
        con = psycopg2.connect(host="127.0.0.1", port=port, user=PG_USER, dbname="postgres")
        con.autocommit = True
        with con.cursor() as cur:
            cur.execute(f"create database {PG_DB}")
        con.close()
        yield Server("127.0.0.1", port)
    finally:
        subprocess.run(
            [*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=120,
        )
        shutil.rmtree(root, ignore_errors=True)


def test_runs_and_materialisations_are_stored_in_postgres(
    postgres_server, reliability_raw_dir, tmp_path
):
    home = tmp_path / "home"
    dagster_home = home / "dagster"
    dagster_home.mkdir(parents=True)
    shutil.copyfile(DEPLOY_YAML, dagster_home / "dagster.yaml")  # the documented file, unchanged
    env = cli_env(
        reliability_raw_dir,
        home,
        {
            **postgres_server.env(),
            "DAGSTER_HOME": str(dagster_home),
            "HEDGING_EXECUTOR": "multiprocess",
            "HEDGING_EXECUTOR_CONFIG": json.dumps({"max_concurrent": 2}),
        },
    )
    command = [sys.executable, "-m", "dagster", "asset", "materialize"]
    command += ["-m", "hedging_pipeline.definitions", "--select", "raw_companies,raw_prices"]
    done = subprocess.run(
        command,
        env=env,
        cwd=str(tmp_path),
        capture_output=True,
        text=True,
        timeout=MATERIALIZE_TIMEOUT_S,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Executing steps using multiprocess executor" in done.stdout + done.stderr

    runs = postgres_server.query("select run_id, status from runs")
    assert [status for _, status in runs] == ["SUCCESS"]
    materialised = postgres_server.query(
        "select asset_key from event_logs where dagster_event_type = 'ASSET_MATERIALIZATION'"
    )
    assert sorted(json.loads(key)[0] for (key,) in materialised) == ["raw_companies", "raw_prices"]
    # the steps took (and gave back) the "warehouse" pool slot kept in PostgreSQL
    slots = postgres_server.query("select concurrency_key, run_id from concurrency_slots")
    assert ("warehouse", None) in slots
    assert all(run_id is None for _, run_id in slots)
    # nothing went to the default SQLite files
    assert not list(dagster_home.rglob("*.db"))

    # the instance API reads the same storage back
    os.environ.update(postgres_server.env())
    try:
        with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
            (run,) = instance.get_runs()
            assert run.status == dg.DagsterRunStatus.SUCCESS
            event = instance.get_latest_materialization_event(dg.AssetKey("raw_prices"))
            assert event is not None and event.run_id == run.run_id
    finally:
        for key in postgres_server.env():
            os.environ.pop(key, None)

    prices = pd.read_parquet(reliability_raw_dir / "prices.parquet")
    assert Warehouse(home / "warehouse.duckdb").row_count("raw_prices") == len(prices)
