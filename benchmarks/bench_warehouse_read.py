"""Wall time of ``Warehouse.read``: the existence check and the read on one connection vs two.

``Warehouse.read`` used to call ``has_table`` (which opens a connection to list the tables) and then open a second
connection for the SELECT; it now lists the tables and reads on one. Opening a DuckDB file costs tens of
milliseconds whatever the query, and a demo ``hedging-pipeline run`` makes ~100 reads, so this is a per-run
constant. Both ways read the same rows of the same warehouse, in turn, ``--repeats`` times each:

* ``two_connections``: ``wh.has_table(table)`` then ``wh.read(table, ...)``'s SELECT on its own connection (the
  previous code path, rebuilt from the public methods: ``has_table`` + ``query``);
* ``one_connection``: ``wh.read(table, ...)``.

    python benchmarks/bench_warehouse_read.py WAREHOUSE.duckdb [--table daily_returns] [--repeats 200]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import pandas as pd

from hedging_pipeline.warehouse.duckdb import Warehouse


def two_connections(wh: Warehouse, table: str, tickers: list[str]) -> pd.DataFrame:
    """The previous path: one connection to check the table exists, one for the SELECT."""
    if not wh.has_table(table):
        raise LookupError(table)
    return wh.query(f"select * from {table} where ticker in (select unnest(?))", [tickers])


def one_connection(wh: Warehouse, table: str, tickers: list[str]) -> pd.DataFrame:
    """The current path."""
    return wh.read(table, tickers=tickers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("warehouse", type=Path)
    parser.add_argument("--table", default="daily_returns")
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    wh = Warehouse(args.warehouse)
    tickers = list(
        wh.query(f"select distinct ticker from {args.table} order by ticker limit 5")["ticker"]
    )
    a, b = two_connections(wh, args.table, tickers), one_connection(wh, args.table, tickers)
    assert len(a) == len(b), (len(a), len(b))
    times: dict[str, list[float]] = {"two_connections": [], "one_connection": []}
    for _ in range(args.repeats):  # interleaved, so drift in machine load hits both alike
        for name, read in (
            ("two_connections", two_connections),
            ("one_connection", one_connection),
        ):
            start = time.perf_counter()
            read(wh, args.table, tickers)
            times[name].append(time.perf_counter() - start)
    size_mb = args.warehouse.stat().st_size / 1e6
    print(
        f"{args.warehouse} ({size_mb:.1f} MB), table {args.table}, {len(b)} rows, {args.repeats} reads each"
    )
    for name, values in times.items():
        print(f"{name:16s} median {1e3 * statistics.median(values):6.1f} ms")
    ratio = statistics.median(times["two_connections"]) / statistics.median(times["one_connection"])
    print(f"two/one: {ratio:.2f}x")


if __name__ == "__main__":
    main()
