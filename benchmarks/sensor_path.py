"""The nightly increment through the sensor path, as a daemon would run it, in one process.

``python benchmarks/sensor_path.py RAW_BEFORE RAW_AFTER`` with ``HEDGING_HOME`` holding a warehouse and instance
built from ``RAW_BEFORE``: a drop-sensor tick on ``RAW_BEFORE`` (baseline), then ticks on ``RAW_AFTER`` (the
code location reloaded with the new drop folder) with every requested run executed in process, then ticks of
the declarative-automation sensor, until nothing more is requested. Prints one line per request.

Timed as the increment: from the code-location reload on the new drop to the end of the last run (ticks
included); the baseline ticks are the state a running daemon already holds and are not timed. A daemon runs each
request in a fresh run worker, so each run is charged this process's imports plus one code-location load
(``SENSOR_INCREMENT_S``, read by ``bench_end_to_end.py``).
"""

import os
import sys
import time
from pathlib import Path

IMPORTS_STARTED = time.monotonic()

import dagster as dg  # noqa: E402 - timed: a run worker pays these imports too

from hedging_pipeline.definitions import build_definitions  # noqa: E402
from hedging_pipeline.defs.automation import (  # noqa: E402
    AUTOMATION_SENSOR_NAME,
    PARTITION_AUTOMATION_SENSOR_NAME,
    SENSOR_NAME,
)
from hedging_pipeline.instance import ensure_instance_dir  # noqa: E402
from hedging_pipeline.settings import load_settings  # noqa: E402

IMPORT_S = time.monotonic() - IMPORTS_STARTED
MAX_TICKS = 6
SENSORS = (SENSOR_NAME, PARTITION_AUTOMATION_SENSOR_NAME, AUTOMATION_SENSOR_NAME)


def tick(repo, instance, name: str, cursor: str | None):
    """Evaluate one tick of sensor ``name``; apply its partition requests; (requests, cursor)."""
    sensor = repo.get_sensor_def(name)
    with (
        dg.build_sensor_context(instance=instance, repository_def=repo, cursor=cursor) as context,
        dg.partition_loading_context(dynamic_partitions_store=instance),
    ):
        result = sensor.evaluate_tick(context)
    for request in result.dynamic_partitions_requests or []:
        if isinstance(request, dg.AddDynamicPartitionsRequest):
            instance.add_dynamic_partitions(request.partitions_def_name, request.partition_keys)
        else:
            for key in request.partition_keys:
                instance.delete_dynamic_partition(request.partitions_def_name, key)
    return list(result.run_requests or []), result.cursor


RANGE = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")


def _runs(request) -> list[tuple[list, str | None, dict]]:
    """(asset keys, partition key, tags) of each run a request stands for.

    Declarative-automation requests carry an asset-graph subset (what a daemon turns into a backfill): one
    single-run range per partitioned asset here, and one run for the unpartitioned ones.
    """
    subset = request.asset_graph_subset
    if subset is None:
        return [(list(request.asset_selection), request.partition_key, dict(request.tags))]
    runs = []
    for key, partitions in subset.partitions_subsets_by_asset_key.items():
        keys = sorted(partitions.get_partition_keys())
        if keys:
            runs.append(([key], None, dict(zip(RANGE, (keys[0], keys[-1]), strict=True))))
    if subset.non_partitioned_asset_keys:
        runs.append((sorted(subset.non_partitioned_asset_keys), None, {}))
    return runs


def execute(defs, instance, request) -> float:
    """Run one request in process (one run per asset-graph slice); seconds."""
    total = 0.0
    for keys, partition_key, tags in _runs(request):
        started = time.monotonic()
        job = defs.resolve_implicit_global_asset_job_def()
        result = job.execute_in_process(
            instance=instance,
            asset_selection=keys,
            partition_key=partition_key,
            tags=tags,
            raise_on_error=False,
        )
        seconds = time.monotonic() - started
        total += seconds
        names = ", ".join(k.to_user_string() for k in keys)
        span = partition_key or "..".join(filter(None, (tags.get(t) for t in RANGE)))
        status = "ok" if result.success else "FAILED"
        print(f"  {seconds:6.1f} s  {status}  {names} {span}", flush=True)
    return total


def main(before: str, after: str) -> int:
    started = time.monotonic()
    os.environ["HEDGING_RAW_DIR"] = before
    settings = load_settings()
    ensure_instance_dir(settings)
    instance = dg.DagsterInstance.get()
    repo = build_definitions(settings).get_repository_def()
    cursors = {}
    for name in SENSORS:  # the state a running daemon holds before the new drop: not timed
        requests, cursors[name] = tick(repo, instance, name, None)
        print(
            f"{name} baseline tick: {len(requests)} requests ({time.monotonic() - started:.1f} s)"
        )
    os.environ["HEDGING_RAW_DIR"] = after
    began = time.monotonic()
    defs = build_definitions(load_settings())  # the code location reloaded on the new drop
    repo = defs.get_repository_def()
    load_s = (
        time.monotonic() - began + IMPORT_S
    )  # what a fresh run worker pays before its first step
    ran, n_runs = 0.0, 0
    for name in SENSORS:
        cursor = cursors[name]
        for _ in range(MAX_TICKS):
            requests, cursor = tick(repo, instance, name, cursor)
            print(f"{name} tick: {len(requests)} requests")
            if not requests:
                break
            ran += sum(execute(defs, instance, r) for r in requests)
            n_runs += sum(len(_runs(r)) for r in requests)
    increment = time.monotonic() - began
    # A daemon starts a run worker per run: charge each run the imports and one code-location load.
    print(
        f"increment {increment:.1f} s (ticks, {n_runs} runs "
        f"{ran:.1f} s); with a run-worker start ({load_s:.1f} s) per run: "
        f"{increment + n_runs * load_s:.1f} s"
    )
    print(f"SENSOR_INCREMENT_S={increment + n_runs * load_s:.3f}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    raise SystemExit(main(sys.argv[1], sys.argv[2]))
