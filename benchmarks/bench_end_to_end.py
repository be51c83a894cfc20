"""End-to-end benchmark (issues 8 and 15): full history, no-change re-run, nightly increment (CLI and sensor).

Runs on two drop folders made from the raw data: ``raw_before`` without the last trading day and ``raw_after``
with it (the other files are copied with their modification times, so only ``prices`` differs, as in a real
nightly drop). In one session, on one machine state:

1. **full**: ``hedging-pipeline run`` on ``raw_before`` from an empty ``HEDGING_HOME``: wall time, peak RSS;
2. **no-change re-run**: ``run`` again on the same files (target <= 2 % of full, 0 hedges, 0 chunks);
3. **increment (CLI)**: ``run`` on ``raw_after`` (target <= 5 % of full);
4. **increment (sensor path)**: on a copy of the home taken after step 2, what a daemon does: the drop sensor's
   tick on ``raw_before`` (baseline), its tick on ``raw_after``, each requested run executed in process, the
   next ticks and the declarative-automation tick until nothing is requested (``benchmarks/sensor_path.py``);
5. optionally (``--naive``) the naive nightly: ``run --force`` (recompute everything).

Per-stage seconds come from the CLI's own lines (``[i/n] stage: ...`` then ``done in X s``).

Usage: ``.venv/bin/python benchmarks/bench_end_to_end.py [--raw ../shared/data] [--keep DIR] [--naive]``
"""

import argparse
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "hedging_pipeline"]
STAGE_LINE = re.compile(r"^\[(\d+)/(\d+)\] ([^:]+): (.*)$")
DONE_LINE = re.compile(r"^\s+done in ([0-9.]+) s")
HEDGE_LINE = re.compile(r"hedges \S+: ([0-9,]+) hedges, ([0-9,]+) reused")
CHUNK_LINE = re.compile(r"([0-9,]+) chunks? (?:embedded|to embed)")


def run_cli(args: list[str], env: dict[str, str], log: Path) -> tuple[float, int]:
    """Run the CLI, return (wall seconds, exit status); output goes to ``log``."""
    started = time.monotonic()
    with open(log, "w") as handle:
        status = subprocess.call(
            CLI + args, env=env, stdout=handle, stderr=subprocess.STDOUT, cwd=ROOT
        )
    return time.monotonic() - started, status


def stage_seconds(log: Path) -> dict[str, float]:
    """Seconds per stage from a CLI log (0 for stages with nothing to do)."""
    seconds: dict[str, float] = {}
    current = None
    for line in log.read_text().splitlines():
        if match := STAGE_LINE.match(line):
            current = match.group(3)
            seconds.setdefault(current, 0.0)
        elif (match := DONE_LINE.match(line)) and current is not None:
            seconds[current] += float(match.group(1))
    return seconds


def resolved_hedges(log: Path) -> int:
    """Hedges solved (not reused) according to the log's per-month lines."""
    total = 0
    for match in HEDGE_LINE.finditer(log.read_text()):
        total += int(match.group(1).replace(",", "")) - int(match.group(2).replace(",", ""))
    return total


def split_last_day(raw: Path, work: Path) -> tuple[Path, Path, pd.Timestamp]:
    """Two drop folders: without the last trading day, and complete (other files keep their mtimes)."""
    before, after = work / "raw_before", work / "raw_after"
    for folder in (before, after):
        folder.mkdir(parents=True)
    for path in raw.iterdir():
        if path.suffix in (".parquet", ".csv") and not path.name.startswith("prices"):
            shutil.copy2(path, before / path.name)
            shutil.copy2(before / path.name, after / path.name)
    prices = pd.read_parquet(raw / "prices.parquet")
    last = prices["date"].max()
    prices.loc[prices["date"] < last].to_parquet(before / "prices.parquet", index=False)
    prices.to_parquet(after / "prices.parquet", index=False)
    return before, after, pd.Timestamp(last)


def breakdown(name: str, wall: float, full: float, log: Path) -> list[str]:
    """Lines describing one CLI run."""
    lines = [f"{name}: {wall:.1f} s wall = {wall / full:.1%} of full; stages:"]
    for stage, seconds in stage_seconds(log).items():
        lines.append(f"    {stage:<18} {seconds:7.1f} s")
    lines.append(f"    hedges re-solved: {resolved_hedges(log)}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--keep", help="work directory to keep (default: a temporary one)")
    parser.add_argument("--naive", action="store_true", help="also time run --force")
    args = parser.parse_args()
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="hp_bench_"))
    work.mkdir(parents=True, exist_ok=True)
    before, after, last = split_last_day(Path(args.raw), work)
    home = work / "home"
    env = dict(
        os.environ, HEDGING_HOME=str(home), HEDGING_RAW_DIR=str(before), PYTHONUNBUFFERED="1"
    )
    load = os.getloadavg()
    full_s, status = run_cli(["run"], env, work / "full.log")
    peak_rss_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2
    if status != 0:
        print(f"full run failed (exit {status}); see {work / 'full.log'}")
        return 1
    report = [
        f"full run from an empty home: {full_s:.1f} s, peak RSS {peak_rss_gb:.2f} GB; stages:"
    ]
    report += [f"    {k:<18} {v:7.1f} s" for k, v in stage_seconds(work / "full.log").items()]
    same_s, status = run_cli(["run"], env, work / "nochange.log")
    report += breakdown("no-change re-run", same_s, full_s, work / "nochange.log")
    shutil.copytree(home, work / "home_sensor", symlinks=True)
    env["HEDGING_RAW_DIR"] = str(after)
    inc_s, status = run_cli(["run"], env, work / "increment.log")
    if status != 0:
        print(f"increment failed (exit {status}); see {work / 'increment.log'}")
        return 1
    report += breakdown("nightly increment (CLI run)", inc_s, full_s, work / "increment.log")
    sensor_env = dict(env, HEDGING_HOME=str(work / "home_sensor"))
    started = time.monotonic()
    with open(work / "sensor.log", "w") as handle:
        status = subprocess.call(
            [sys.executable, str(ROOT / "benchmarks" / "sensor_path.py"), str(before), str(after)],
            env=sensor_env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    process_s = time.monotonic() - started
    found = re.search(r"SENSOR_INCREMENT_S=([0-9.]+)", (work / "sensor.log").read_text())
    sensor_s = float(found.group(1)) if found else process_s
    report.append(
        f"nightly increment (sensor path, exit {status}): {sensor_s:.1f} s = {sensor_s / full_s:.1%}"
        f" of full: from the first tick on the new drop to the last run, one run-worker start"
        f" charged per run ({process_s:.1f} s with the benchmark process's imports and baseline"
        " ticks; see sensor.log for each request)"
    )
    if args.naive:
        naive_s, _ = run_cli(["run", "--force"], env, work / "naive.log")
        report.append(
            f"naive nightly (run --force): {naive_s:.1f} s = {naive_s / full_s:.1%} of full"
        )

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}"
    )
    print(f"date: {pd.Timestamp.now():%Y-%m-%d %H:%M}; load average at start {load[0]:.1f}")
    print(f"raw data: {args.raw} (last day {last.date()} held back for the increment)")
    print("\n".join(report))
    print(f"load average at end {os.getloadavg()[0]:.1f}; logs: {work}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
