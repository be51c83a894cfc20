"""Raw stage cost: whole-drop validation + one-transaction swap vs the per-file loads and writes it replaced.

Usage: ``python benchmarks/bench_raw_drop.py [RAW_DIR]`` (default: ../shared/data). Writes into a temporary
warehouse; prints seconds for each approach, measured in the same process one after the other.
"""

import sys
import tempfile
import time
from pathlib import Path

from hedging_pipeline.data import loaders
from hedging_pipeline.data.drop import empty_exposures, load_drop
from hedging_pipeline.settings import SHARED_DATA_DIR
from hedging_pipeline.warehouse.duckdb import Warehouse


def per_file(raw_dir: Path, wh: Warehouse) -> float:
    """The earlier raw assets: each file loaded, checked and written on its own (five transactions)."""
    began = time.perf_counter()
    companies = loaders.load_companies(raw_dir)
    wh.replace_table("raw_companies", companies)
    prices = loaders.load_prices(raw_dir)
    loaders.check_known_tickers(prices["ticker"].unique(), companies, "prices")
    wh.replace_table("raw_prices", prices)
    wh.replace_table("raw_fundamentals", loaders.load_fundamentals(raw_dir))
    wh.replace_table("raw_descriptions", loaders.load_descriptions(raw_dir))
    exposures = loaders.load_exposures(raw_dir)
    wh.replace_table("raw_exposures", exposures if exposures is not None else empty_exposures())
    return time.perf_counter() - began


def whole_drop(raw_dir: Path, wh: Warehouse) -> tuple[float, float]:
    """The raw stage now: every file validated first (plausibility rules included), then one swap."""
    began = time.perf_counter()
    drop = load_drop(raw_dir)
    validated = time.perf_counter() - began
    wh.replace_tables(drop.tables, keep_range=(drop.start, drop.as_of))
    return validated, time.perf_counter() - began


def main() -> None:
    """Time both approaches on the drop folder given (or the real data)."""
    raw_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else SHARED_DATA_DIR
    with tempfile.TemporaryDirectory() as tmp:
        wh = Warehouse(Path(tmp) / "w.duckdb")
        naive = per_file(raw_dir, wh)
        validated, total = whole_drop(raw_dir, wh)
    print(f"per-file loads + 5 writes: {naive:.1f} s")
    print(f"whole-drop validation: {validated:.1f} s; + one-transaction swap: {total:.1f} s")


if __name__ == "__main__":
    main()
