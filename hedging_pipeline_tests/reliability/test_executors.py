"""Executor chosen by environment, and recovery of runs whose process was killed."""

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from dataclasses import replace

import dagster as dg
import pytest
from dagster._core.utils import make_new_run_id

from hedging_pipeline.defs.executors import (
    HOST_TAG,
    PID_TAG,
    build_executor,
    recover_orphaned_runs,
    run_process_tags,
)
from hedging_pipeline.errors import ConfigurationError
from hedging_pipeline.settings import EXECUTOR_CONFIG_ENV, EXECUTOR_ENV, load_settings
from hedging_pipeline_tests.conftest import make_settings

POOL = "warehouse"


@pytest.fixture
def settings(tmp_path):
    return make_settings(tmp_path / "raw", tmp_path / "home")


def _executor_settings(settings, env):
    """``settings`` with the executor fields that ``load_settings`` reads from ``env``."""
    loaded = load_settings(env)
    return replace(settings, executor=loaded.executor, executor_config=loaded.executor_config)


def test_default_is_multiprocess(settings):
    assert load_settings({}).executor == "multiprocess"
    assert build_executor(_executor_settings(settings, {})) is dg.multiprocess_executor
    in_process = _executor_settings(settings, {EXECUTOR_ENV: " In-Process "})
    assert build_executor(in_process) is dg.in_process_executor


def test_executor_config_from_json_is_validated(settings):
    configured = build_executor(
        _executor_settings(
            settings, {EXECUTOR_ENV: "multiprocess", EXECUTOR_CONFIG_ENV: '{"max_concurrent": 3}'}
        )
    )
    assert configured.name == "multiprocess"
    assert configured is not dg.multiprocess_executor
    with pytest.raises(ConfigurationError, match=r"executor multiprocess: .*max_concurrent"):
        build_executor(
            _executor_settings(settings, {EXECUTOR_CONFIG_ENV: '{"max_concurrent": "many"}'})
        )
    with pytest.raises(ConfigurationError, match=r"HEDGING_EXECUTOR_CONFIG is not valid JSON"):
        load_settings({EXECUTOR_CONFIG_ENV: "{max_concurrent: 3"})
    with pytest.raises(ConfigurationError, match=r"must be a JSON object, got list"):
        load_settings({EXECUTOR_CONFIG_ENV: "[3]"})


def test_unknown_executor_names_the_choices():
    with pytest.raises(ConfigurationError, match=r"HEDGING_EXECUTOR='spark' is not one of .*k8s"):
        load_settings({EXECUTOR_ENV: "spark"})


@pytest.mark.parametrize(
    ("name", "package"), [("celery", "dagster-celery"), ("k8s", "dagster-k8s")]
)
def test_optional_executor_without_its_package_says_what_to_install(settings, name, package):
    module = package.replace("-", "_")
    try:
        __import__(module)
    except ImportError:
        pass
    else:  # pragma: no cover - the package is installed here; the import path is exercised instead
        assert build_executor(replace(settings, executor=name)).name == name
        return
    with pytest.raises(
        ConfigurationError, match=rf"needs the package {package}.*pip install {package}=="
    ):
        build_executor(replace(settings, executor=name))


def test_jobs_of_the_code_location_use_the_configured_executor(monkeypatch, demo_raw_dir, tmp_path):
    # importing the module builds its default defs from the environment: keep that on the demo data
    monkeypatch.setenv("HEDGING_RAW_DIR", str(demo_raw_dir))
    monkeypatch.setenv("HEDGING_HOME", str(tmp_path / "home"))
    from hedging_pipeline.definitions import build_definitions

    monkeypatch.setenv(EXECUTOR_ENV, "in_process")
    assert load_settings().executor == "in_process"
    defs = build_definitions(make_settings(demo_raw_dir, tmp_path / "home", executor="in_process"))
    job = defs.resolve_job_def("stage_0_unpartitioned")
    assert job.executor_def.name == "in_process"
    defs = build_definitions(make_settings(demo_raw_dir, tmp_path / "home"))
    assert defs.resolve_job_def("stage_0_unpartitioned").executor_def.name == "multiprocess"


# -- orphaned runs -------------------------------------------------------------------------------------------------
HOLDER = textwrap.dedent(
    """
    import sys, time
    import dagster as dg

    @dg.asset(pool="warehouse")
    def holder():
        print("holding", flush=True)
        time.sleep(600)

    with dg.DagsterInstance.from_config(sys.argv[1]) as instance:
        dg.materialize([holder], instance=instance, tags=dict(a.split("=", 1) for a in sys.argv[2:]))
    """
)


@pytest.fixture
def instance_dir(tmp_path):
    folder = tmp_path / "dagster"
    folder.mkdir()
    (folder / "dagster.yaml").write_text(
        "telemetry: {enabled: false}\nconcurrency: {pools: {default_limit: 1, granularity: op}}\n"
    )
    return folder


def _start_holder(instance_dir, tmp_path, tags=()):
    script = tmp_path / "holder.py"
    script.write_text(HOLDER)
    process = subprocess.Popen(
        [sys.executable, str(script), str(instance_dir), *tags],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("DAGSTER_")},
    )
    assert process.stdout.readline().strip() == "holding"
    return process


def _held_slots(instance):
    return [s.run_id for s in instance.event_log_storage.get_concurrency_info(POOL).claimed_slots]


def test_killed_run_is_recovered_and_its_slot_freed(instance_dir, tmp_path):
    process = _start_holder(instance_dir, tmp_path)
    with dg.DagsterInstance.from_config(str(instance_dir)) as instance:
        (run,) = instance.get_runs()
        assert _held_slots(instance) == [run.run_id]
        assert recover_orphaned_runs(instance) == []  # alive: left alone
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTED
        (seen,) = recover_orphaned_runs(instance, dry_run=True)
        assert (seen.run_id, seen.freed_slots) == (run.run_id, 1)
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTED
        assert _held_slots(instance) == [run.run_id]  # the dry run changed nothing
        (orphan,) = recover_orphaned_runs(instance)
        assert (orphan.run_id, orphan.status, orphan.pids) == (
            run.run_id,
            "STARTED",
            (process.pid,),
        )
        assert orphan.freed_slots == 1
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
        assert _held_slots(instance) == []
        assert recover_orphaned_runs(instance) == []  # idempotent

        # the pool is usable again: a new warehouse step runs instead of waiting for ever
        @dg.asset(pool=POOL)
        def after():
            return 1

        started = time.monotonic()
        assert dg.materialize([after], instance=instance).success
        assert time.monotonic() - started < 30


def test_runs_of_other_hosts_and_runs_without_a_process_are_left_alone(instance_dir):
    with dg.DagsterInstance.from_config(str(instance_dir)) as instance:
        elsewhere = dg.DagsterRun(
            job_name="stage_0_unpartitioned",
            run_id=make_new_run_id(),
            status=dg.DagsterRunStatus.STARTED,
            tags={HOST_TAG: "elsewhere.example", PID_TAG: "999999"},
        )
        unknown = dg.DagsterRun(
            job_name="stage_0_unpartitioned",
            run_id=make_new_run_id(),
            status=dg.DagsterRunStatus.STARTED,
        )
        here = dg.DagsterRun(
            job_name="stage_0_unpartitioned",
            run_id=make_new_run_id(),
            status=dg.DagsterRunStatus.STARTED,
            tags={HOST_TAG: socket.gethostname(), PID_TAG: "999999999"},  # above any pid_max
        )
        for run in (elsewhere, unknown, here):
            instance.add_run(run)
        recovered = recover_orphaned_runs(instance)
        assert [r.run_id for r in recovered] == [here.run_id]
        status = {r.run_id: r.status for r in instance.get_runs()}
        assert status[elsewhere.run_id] == status[unknown.run_id] == dg.DagsterRunStatus.STARTED
        assert status[here.run_id] == dg.DagsterRunStatus.FAILURE


def test_liveness_sees_exited_and_reused_pids(tmp_path):
    from hedging_pipeline.defs.executors import _alive

    now = time.time()
    assert _alive(os.getpid(), now)
    # a pid recorded an hour ago cannot belong to this younger process: the pid was reused
    assert not _alive(os.getpid(), now - 3600)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not _alive(child.pid, now)
    assert run_process_tags()[PID_TAG] == str(os.getpid())
