"""A distributed executor for real: one stage's steps on a Celery worker, through a Redis broker.

``HEDGING_EXECUTOR=celery`` with ``HEDGING_EXECUTOR_CONFIG`` naming a real local Redis (the Debian
``redis-server`` that ``scripts/test-deps/redis.sh`` installs and starts on 127.0.0.1:6399; started here on a
free port when that one is not answering). The instance keeps its runs and events in PostgreSQL (the
documented ``deploy/celery/dagster.yaml``, a throw-away cluster as in ``test_postgres.py``) when a server is
installed, else in SQLite files with a loud note. ``dagster job execute`` runs the raw stage
(``raw_drop`` -> ``trading_calendar``, ``share_counts``) on the demo drop; a separate ``celery worker``
process executes every step; its tables must equal those of the same stage executed in process.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import dagster as dg
import pytest

from hedging_pipeline.definitions import build_definitions
from hedging_pipeline.settings import PROJECT_ROOT
from hedging_pipeline_tests.cli_runs import (
    assert_same_tables,
    cli_env,
    warehouse_tables,
)
from hedging_pipeline_tests.conftest import make_settings
from hedging_pipeline_tests.reliability.test_postgres import postgres_server  # noqa: F401 - fixture

pytestmark = [pytest.mark.celery, pytest.mark.slow]

CELERY_YAML = PROJECT_ROOT / "deploy" / "celery" / "dagster.yaml"
SCRIPT_BROKER = f"redis://127.0.0.1:{os.environ.get('HEDGING_TEST_REDIS_PORT', '6399')}/15"
"""The broker ``scripts/test-deps/redis.sh`` starts (database 15: the test's own, flushed first)."""
STAGE_JOB = "stage_0_unpartitioned"
STAGE_TABLES = ("raw_companies", "raw_prices", "raw_quarantine", "trading_calendar", "share_counts")
BROKER_START_S = 20.0
WORKER_READY_S = 90.0
RUN_TIMEOUT_S = 300


def _skip_loudly(reason: str) -> None:
    message = f"CELERY TEST SKIPPED: {reason}"
    warnings.warn(message, stacklevel=2)
    print(f"\n*** {message} ***")
    pytest.skip(message)


def _redis_command(url: str, *words: str, timeout: float = 2.0) -> str | None:
    """Send one inline command to the Redis server of ``url``; its first reply line, ``None`` if unreachable."""
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname, parsed.port), timeout=timeout) as sock:
            database = parsed.path.strip("/") or "0"
            sock.sendall(f"SELECT {database}\r\n{' '.join(words)}\r\n".encode())
            reply = b""
            while reply.count(b"\r\n") < 2:
                chunk = sock.recv(1024)
                if not chunk:
                    break
                reply += chunk
    except OSError:
        return None
    lines = reply.decode(errors="replace").split("\r\n")
    return lines[1] if len(lines) > 1 else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def broker(tmp_path_factory) -> Iterator[str]:
    """A Redis broker URL: the one the test-deps script started, else a private server started here."""
    if _redis_command(SCRIPT_BROKER, "PING") == "+PONG":
        assert _redis_command(SCRIPT_BROKER, "FLUSHDB") == "+OK"
        yield SCRIPT_BROKER
        return
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(binary).exists():
        _skip_loudly("no Redis server; bash scripts/test-deps/redis.sh installs and starts it")
    port = _free_port()
    folder = tmp_path_factory.mktemp("redis")
    command = [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly"]
    command += ["no", "--dir", str(folder)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + BROKER_START_S
    while _redis_command(url, "PING") != "+PONG":
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            _skip_loudly(f"redis-server did not start on port {port} (exit {server.poll()})")
        time.sleep(0.2)
    try:
        yield url
    finally:
        server.terminate()
        server.wait(timeout=20)


@pytest.fixture(scope="module")
def instance_env(request, tmp_path_factory) -> dict[str, str]:
    """DAGSTER_HOME with the documented Celery instance (PostgreSQL), or SQLite with a loud note."""
    dagster_home = tmp_path_factory.mktemp("celery_home") / "dagster"
    dagster_home.mkdir()
    try:
        server = request.getfixturevalue("postgres_server")
    except pytest.skip.Exception as skipped:
        message = f"CELERY TEST ON SQLITE STORAGE: no PostgreSQL ({skipped})"
        warnings.warn(message, stacklevel=1)
        print(f"\n*** {message} ***")
        return {"DAGSTER_HOME": str(dagster_home)}
    shutil.copyfile(CELERY_YAML, dagster_home / "dagster.yaml")  # the documented file, unchanged
    return {"DAGSTER_HOME": str(dagster_home), **server.env()}


def _start_worker(env: dict[str, str], config_dir: Path, log: Path) -> subprocess.Popen:
    """``celery -A dagster_celery.app worker`` (what ``dagster-celery worker start`` runs), one process."""
    worker_env = dict(env, PYTHONPATH=f"{env['PYTHONPATH']}:{config_dir}")
    command = [sys.executable, "-m", "celery", "-A", "dagster_celery.app", "worker"]
    command += ["--pool", "solo", "--prefetch-multiplier=1", "-l", "INFO", "-n", "hedging-test@%h"]
    return subprocess.Popen(
        command, env=worker_env, stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=config_dir
    )


def _wait_ready(worker: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + WORKER_READY_S
    while "ready." not in log.read_text(errors="replace"):
        assert worker.poll() is None, f"celery worker exited:\n{log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"celery worker not ready:\n{log.read_text()[-3000:]}"
        time.sleep(0.5)


def _in_process_tables(raw_dir: Path, home: Path) -> dict:
    defs = build_definitions(make_settings(raw_dir, home))
    result = defs.resolve_job_def(STAGE_JOB).execute_in_process(
        instance=dg.DagsterInstance.ephemeral()
    )
    assert result.success
    return {
        t: f for t, f in warehouse_tables(home / "warehouse.duckdb").items() if t in STAGE_TABLES
    }


def test_a_stage_on_a_celery_worker_reproduces_the_in_process_tables(
    broker, instance_env, reliability_raw_dir, tmp_path, monkeypatch
):
    home = tmp_path / "celery"
    config = {"broker": broker, "backend": broker}
    env = cli_env(
        reliability_raw_dir,
        home,
        {
            **instance_env,
            "HEDGING_EXECUTOR": "celery",
            "HEDGING_EXECUTOR_CONFIG": json.dumps(config),
        },
    )
    config_dir = tmp_path / "worker"  # the module ``dagster-celery worker start -y`` would write
    config_dir.mkdir()
    (config_dir / "dagster_celery_config.py").write_text(
        f"broker_url = {broker!r}\nresult_backend = {broker!r}\n"
    )
    log = tmp_path / "worker.log"
    worker = _start_worker(env, config_dir, log)
    try:
        _wait_ready(worker, log)
        command = [sys.executable, "-m", "dagster", "job", "execute"]
        command += ["-m", "hedging_pipeline.definitions", "-j", STAGE_JOB]
        done = subprocess.run(
            command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=RUN_TIMEOUT_S
        )
        output = done.stdout + done.stderr
        assert done.returncode == 0, output[-4000:] + log.read_text()[-3000:]
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(timeout=30)

    # the run and its materialisations are in the shared instance (PostgreSQL when available), and every
    # step ran in the worker process, not in the run's own process
    for name, value in instance_env.items():
        monkeypatch.setenv(name, value)  # the instance yaml reads the PostgreSQL variables
    with dg.DagsterInstance.from_config(instance_env["DAGSTER_HOME"]) as instance:
        (run,) = instance.get_runs()
        assert run.status == dg.DagsterRunStatus.SUCCESS
        event = instance.get_latest_materialization_event(dg.AssetKey("raw_quarantine"))
        assert event is not None and event.run_id == run.run_id
        messages = [(entry.step_key, entry.message) for entry in instance.all_logs(run.run_id)]
    worker_log = log.read_text(errors="replace")
    for step in ("raw_drop", "trading_calendar", "share_counts"):
        assert any(k == step and "celery" in m.lower() for k, m in messages), (step, messages)
        assert f'Started execution of step "{step}"' in worker_log, step

    got = {
        t: f for t, f in warehouse_tables(home / "warehouse.duckdb").items() if t in STAGE_TABLES
    }
    assert set(got) == set(STAGE_TABLES)
    expected = _in_process_tables(reliability_raw_dir, tmp_path / "in_process")
    assert_same_tables(got, expected, "celery worker vs in-process run of the raw stage")
