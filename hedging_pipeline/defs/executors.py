"""Executor selection by configuration, and recovery of runs whose worker process died.

The executor of every job comes from the environment, so moving from one machine to Celery workers or Kubernetes
pods is a configuration change, not a code change:

* ``HEDGING_EXECUTOR``: ``multiprocess`` (default: each step in a child process), ``in_process`` (all steps in
  the run worker; cheapest on small machines), ``celery`` (needs ``dagster-celery``) or ``k8s`` (each step a
  Kubernetes Job; needs ``dagster-k8s``). The optional packages are imported only when chosen.
* ``HEDGING_EXECUTOR_CONFIG``: optional JSON object, the executor's own config (e.g.
  ``{"max_concurrent": 2}``, ``{"broker": "pyamqp://guest@rabbitmq//"}``, ``{"job_namespace": "hedging"}``);
  validated when the code location loads.

Both are read by :func:`hedging_pipeline.settings.load_settings` (``Settings.executor``,
``Settings.executor_config``); this module turns them into an executor definition.

``hedging-pipeline run`` executes its stage jobs in process (``execute_in_process``), whatever the executor; the
executor applies to runs launched from the UI, schedules, sensors, backfills and ``dagster job execute``.

A run worker killed with SIGKILL (OOM killer, a reboot, ``kill -9``) leaves its run ``STARTED`` for ever and keeps
the pool slots its steps held, so every later run waits on the ``warehouse`` pool. :func:`recover_orphaned_runs`
finds such runs (every process that executed them is gone), marks them failed and frees their slots.
"""

import importlib
import os
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg

from hedging_pipeline.errors import ConfigurationError
from hedging_pipeline.settings import EXECUTOR_CONFIG_ENV, EXECUTOR_ENV, Settings

OPTIONAL_EXECUTORS: Mapping[str, tuple[str, str, str]] = {
    "celery": ("dagster_celery", "celery_executor", "dagster-celery"),
    "k8s": ("dagster_k8s", "k8s_job_executor", "dagster-k8s"),
}
"""Executor name -> (module, attribute, PyPI package) of the executors shipped outside ``dagster``."""

INTEGRATION_VERSION = "0.29.27"
"""Version of the dagster-* integration packages that matches dagster 1.13.27."""

HOST_TAG = "hedging/host"
PID_TAG = "hedging/pid"
"""Run tags naming the process that executes a run (set by ``hedging-pipeline run``)."""

ACTIVE_STATUSES = (
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
)
"""Statuses of a run whose worker should still be alive."""

PID_REUSE_SLACK_S = 2.0
"""A live process created this long after a run recorded its pid is another process that reused the pid."""


def _import_executor(name: str) -> dg.ExecutorDefinition:
    module_name, attribute, package = OPTIONAL_EXECUTORS[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        raise ConfigurationError(
            f"{EXECUTOR_ENV}={name} needs the package {package}, which is not installed; "
            f"pip install {package}=={INTEGRATION_VERSION} (or unset {EXECUTOR_ENV})"
        ) from None
    return getattr(module, attribute)


def _validate(executor: dg.ExecutorDefinition, config: dict[str, Any]) -> None:
    from dagster._config import process_config  # the public API validates only at launch time

    result = process_config(executor.config_schema.config_type, config)
    if not result.success:
        first = result.errors[0].message.splitlines()[0] if result.errors else "invalid"
        raise ConfigurationError(f"{EXECUTOR_CONFIG_ENV} for executor {executor.name}: {first}")


def build_executor(settings: Settings) -> dg.ExecutorDefinition:
    """The executor of every job: ``settings.executor`` configured with ``settings.executor_config``.

    Parameters
    ----------
    settings : Settings
        The code location's settings (``HEDGING_EXECUTOR``, ``HEDGING_EXECUTOR_CONFIG``).

    Returns
    -------
    dg.ExecutorDefinition
        ``multiprocess_executor`` by default; configured with ``HEDGING_EXECUTOR_CONFIG`` when given.

    Raises
    ------
    ConfigurationError
        Missing optional package, or a config that the executor rejects.
    """
    name = settings.executor
    if name == "multiprocess":
        executor = dg.multiprocess_executor
    elif name == "in_process":
        executor = dg.in_process_executor
    else:
        executor = _import_executor(name)
    config = settings.executor_config
    if config is None:
        return executor
    _validate(executor, config)
    return executor.configured(config, name=executor.name)


# -- orphaned runs -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OrphanedRun:
    """A run left active by a worker process that no longer exists.

    Attributes
    ----------
    run_id : str
    job_name : str
    status : str
        Status before recovery (``STARTED``, ``STARTING`` or ``CANCELING``).
    pids : tuple of int
        Processes that executed the run (all gone).
    freed_slots : int
        Pool slots the run held (freed by the recovery; still held after a dry run).
    """

    run_id: str
    job_name: str
    status: str
    pids: tuple[int, ...]
    freed_slots: int


def run_process_tags() -> dict[str, str]:
    """Tags that name the current process as a run's executor (for :func:`recover_orphaned_runs`)."""
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())}


def _boot_time() -> float | None:
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("btime "):
                return float(line.split()[1])
    except OSError:
        return None
    return None


def _process_state(pid: int) -> tuple[bool, float | None]:
    """(alive, creation time as epoch seconds or None when unknown) of ``pid`` on this host."""
    stat = Path(f"/proc/{pid}/stat")
    try:
        text = stat.read_text()
    except FileNotFoundError:
        return False, None
    except OSError:
        text = ""
    if text:
        # fields after the parenthesised command: state is the first, starttime the 20th
        fields = text[text.rfind(")") + 2 :].split()
        if fields[0] in ("Z", "X"):
            return False, None
        boot = _boot_time()
        created = None
        if boot is not None:
            created = boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
        return True, created
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False, None
    except PermissionError:
        return True, None
    return True, None


def _run_pids(instance: dg.DagsterInstance, run: dg.DagsterRun) -> list[tuple[int, float]]:
    """(pid, time the pid was recorded) of every process that logged executing ``run``."""
    found: list[tuple[int, float]] = []
    if PID_TAG in run.tags:
        record = instance.get_run_record_by_id(run.run_id)
        started = record.start_time if record and record.start_time else time.time()
        found.append((int(run.tags[PID_TAG]), float(started)))
    records = instance.get_records_for_run(
        run.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT
    ).records
    for record in records:
        event = record.event_log_entry.dagster_event
        data = event.event_specific_data if event else None
        metadata = getattr(data, "metadata", None) or {}
        pid = metadata.get("pid")
        if pid is not None:
            found.append((int(pid.value), record.event_log_entry.timestamp))
    return found


def _is_local(instance: dg.DagsterInstance, run: dg.DagsterRun) -> bool:
    """Whether ``run`` executed on this host (its pids can be checked here)."""
    if HOST_TAG in run.tags:
        return run.tags[HOST_TAG] == socket.gethostname()
    # SQLite storage lives on one machine's disk: every run it records ran here
    return type(instance.event_log_storage).__module__.startswith(
        "dagster._core.storage.event_log.sqlite"
    )


def _alive(pid: int, recorded_at: float) -> bool:
    alive, created = _process_state(pid)
    if not alive:
        return False
    return created is None or created <= recorded_at + PID_REUSE_SLACK_S


def _held(instance: dg.DagsterInstance, run: dg.DagsterRun) -> int:
    """How many pool slots ``run`` holds."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return 0
    return sum(
        1
        for key in storage.get_concurrency_keys()
        for slot in storage.get_concurrency_info(key).claimed_slots
        if slot.run_id == run.run_id
    )


def _free_slots(instance: dg.DagsterInstance, run: dg.DagsterRun) -> int:
    """Free the pool slots (and queued slot requests) of ``run``; return how many slots it held."""
    held = _held(instance, run)
    if instance.event_log_storage.supports_global_concurrency_limits:
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
    return held


def recover_orphaned_runs(
    instance: dg.DagsterInstance, *, dry_run: bool = False
) -> list[OrphanedRun]:
    """Mark runs whose every worker process is gone as failed and free the pool slots they still hold.

    A run counts as orphaned when it is ``STARTING``, ``STARTED`` or ``CANCELING``, ran on this host (tag
    ``hedging/host``, or SQLite instance storage), and every process recorded for it (tag ``hedging/pid`` and the
    ``pid`` of its executor engine events) has exited or its pid now belongs to a younger process. Runs of
    live processes (a concurrent ``hedging-pipeline run``, the UI's run workers) and runs with no recorded
    process are left alone; runs on other hosts are the business of Dagster's run monitoring.

    Parameters
    ----------
    instance : dg.DagsterInstance
        The instance whose runs to check.
    dry_run : bool
        Only report the orphaned runs (``freed_slots`` then counts the slots they hold); change nothing.

    Returns
    -------
    list of OrphanedRun
        The runs recovered (or found, with ``dry_run``), oldest first.
    """
    records = instance.get_run_records(
        filters=dg.RunsFilter(statuses=list(ACTIVE_STATUSES)), ascending=True
    )
    recovered = []
    for record in records:
        run = record.dagster_run
        if not _is_local(instance, run):
            continue
        pids = _run_pids(instance, run)
        if not pids or any(_alive(pid, at) for pid, at in pids):
            continue
        unique = tuple(sorted({pid for pid, _ in pids}))
        if dry_run:
            recovered.append(
                OrphanedRun(
                    run.run_id, run.job_name, run.status.value, unique, _held(instance, run)
                )
            )
            continue
        instance.report_run_failed(
            run,
            message=(
                f"run worker process(es) {', '.join(map(str, unique))} exited without finishing the run "
                "(killed or crashed); marked failed by hedging-pipeline so its pool slots are freed"
            ),
        )
        freed = _free_slots(instance, run)
        recovered.append(
            OrphanedRun(
                run_id=run.run_id,
                job_name=run.job_name,
                status=run.status.value,
                pids=unique,
                freed_slots=int(freed),
            )
        )
    return recovered
