"""End-to-end benchmark (issue 8): full history from an empty home, then the nightly increment.

Runs ``hedging-pipeline run`` as a subprocess twice on a copy of the raw drop folder:

1. **full**: the raw data without its last trading day, from an empty ``HEDGING_HOME``: wall time and peak RSS
   of the process tree (``/usr/bin/time``-style, via ``resource.getrusage(RUSAGE_CHILDREN)``).
2. **increment**: the last trading day appended (as a nightly drop would), then
   ``hedging-pipeline run --start <that day>``: wall time as a fraction of the full run.

Naive comparison in the same run: the increment is compared with simply re-running everything.

Usage: ``.venv/bin/python benchmarks/bench_end_to_end.py [--raw ../shared/data] [--keep DIR]``
"""

import argparse
import os
import platform
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


def run_cli(args: list[str], env: dict[str, str], log: Path) -> tuple[float, int]:
    """Run the CLI, return (wall seconds, exit status); output goes to ``log``."""
    started = time.monotonic()
    with open(log, "w") as handle:
        status = subprocess.call(CLI + args, env=env, stdout=handle, stderr=subprocess.STDOUT, cwd=ROOT)
    return time.monotonic() - started, status


def split_last_day(raw: Path, work: Path) -> tuple[Path, Path, pd.Timestamp]:
    """Two drop folders: without the last trading day, and complete."""
    before, after = work / "raw_before", work / "raw_after"
    for folder in (before, after):
        folder.mkdir(parents=True)
        for path in raw.iterdir():
            if path.suffix in (".parquet", ".csv") and not path.name.startswith("prices"):
                shutil.copy(path, folder / path.name)
    prices = pd.read_parquet(raw / "prices.parquet")
    last = prices["date"].max()
    prices.loc[prices["date"] < last].to_parquet(before / "prices.parquet", index=False)
    prices.to_parquet(after / "prices.parquet", index=False)
    return before, after, pd.Timestamp(last)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--keep", help="work directory to keep (default: a temporary one)")
    parser.add_argument("--skip-naive", action="store_true", help="skip the naive full re-run")
    args = parser.parse_args()
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="hp_bench_"))
    work.mkdir(parents=True, exist_ok=True)
    before, after, last = split_last_day(Path(args.raw), work)
    home = work / "home"
    env = dict(os.environ, HEDGING_HOME=str(home), HEDGING_RAW_DIR=str(before), PYTHONUNBUFFERED="1")

    full_s, status = run_cli(["run"], env, work / "full.log")
    peak_rss_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2
    if status != 0:
        print(f"full run failed (exit {status}); see {work / 'full.log'}")
        return 1
    env["HEDGING_RAW_DIR"] = str(after)
    inc_s, status = run_cli(["run", "--start", last.strftime("%Y-%m-%d")], env, work / "increment.log")
    if status != 0:
        print(f"increment failed (exit {status}); see {work / 'increment.log'}")
        return 1
    naive_s = None if args.skip_naive else run_cli(["run"], env, work / "naive_rerun.log")[0]

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}")
    print(f"date: {pd.Timestamp.now():%Y-%m-%d %H:%M}")
    print(f"raw data: {args.raw} (last day {last.date()} held back for the increment)")
    print(f"full run from an empty home: {full_s:.0f} s, peak RSS {peak_rss_gb:.2f} GB")
    print(f"nightly increment (--start {last.date()}): {inc_s:.0f} s = {inc_s / full_s:.1%} of full")
    if naive_s is not None:
        print(f"naive nightly (re-run everything): {naive_s:.0f} s = {naive_s / full_s:.1%} of full")
    print(f"logs: {work}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
