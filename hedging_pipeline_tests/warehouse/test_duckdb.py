"""Warehouse: idempotent partition replace, atomic failure, parameterised values, identifiers."""

import duckdb
import pandas as pd
import pytest

from hedging_pipeline.errors import ConfigurationError, DataError
from hedging_pipeline.warehouse.duckdb import MissingTableError, Warehouse


def frame(dates, tickers, values):
    return pd.DataFrame({"date": pd.to_datetime(dates), "ticker": tickers, "ret": values})


@pytest.fixture
def wh(tmp_path):
    return Warehouse(tmp_path / "w.duckdb", lock_timeout_s=5)


def test_rewriting_one_partition_touches_only_its_rows(wh):
    wh.write_partition(
        "r",
        frame(["2024-01-02", "2024-02-01"], ["A", "A"], [1.0, 2.0]),
        start="2024-01-01",
        end="2024-02-29",
    )
    wh.write_partition(
        "r", frame(["2024-01-02"], ["A"], [9.0]), start="2024-01-01", end="2024-01-31"
    )
    wh.write_partition(
        "r", frame(["2024-01-02"], ["A"], [9.0]), start="2024-01-01", end="2024-01-31"
    )
    out = wh.read("r")
    assert out["ret"].tolist() == [9.0, 2.0]
    assert out["date"].dtype == "datetime64[ns]"
    assert wh.query("select typeof(date) as t from r limit 1")["t"][0] == "DATE"


def test_rows_outside_window_are_refused(wh):
    with pytest.raises(
        DataError,
        match=r"outside the partition window 2024-01-01..2024-01-31 \(first: 2024-02-01\)",
    ):
        wh.write_partition(
            "r", frame(["2024-02-01"], ["A"], [1.0]), start="2024-01-01", end="2024-01-31"
        )


def test_failed_write_leaves_previous_rows(wh):
    wh.write_partition(
        "r", frame(["2024-01-02"], ["A"], [1.0]), start="2024-01-01", end="2024-01-31"
    )
    bad = pd.DataFrame(
        {"date": pd.to_datetime(["2024-01-03"]), "ticker": ["B"], "ret": ["not a number"]}
    )
    with pytest.raises(duckdb.Error):
        wh.write_partition("r", bad, start="2024-01-01", end="2024-01-31")
    assert wh.read("r")["ret"].tolist() == [1.0]


def test_hostile_values_are_data_not_sql(wh):
    hostile = "A';DROP TABLE r;--"
    wh.replace_table("r", frame(["2024-01-02", "2024-01-02"], [hostile, "B"], [1.0, 2.0]))
    assert wh.read("r", tickers=[hostile])["ticker"].tolist() == [hostile]
    wh.replace_rows("r", frame(["2024-01-02"], [hostile], [3.0]), keys={"ticker": [hostile]})
    assert sorted(wh.read("r")["ret"]) == [2.0, 3.0]


def test_identifiers_are_validated(wh):
    with pytest.raises(ConfigurationError, match="invalid warehouse identifier"):
        wh.read("r; drop table x")
    with pytest.raises(ConfigurationError, match="invalid warehouse identifier"):
        wh.replace_table("r", pd.DataFrame({"bad column": [1]}))


def test_missing_table_names_the_asset(wh):
    with pytest.raises(MissingTableError, match=r"warehouse table 'prices' does not exist"):
        wh.read("prices")
    wh.write_partition(
        "r", frame(["2024-01-02"], ["A"], [1.0]), start="2024-01-01", end="2024-01-31"
    )
    with pytest.raises(MissingTableError, match=r"warehouse table 'prices' does not exist"):
        wh.read("prices")  # the file exists now: the check runs on the read's own connection
    assert wh.row_count("prices") == 0 and wh.row_count("r") == 1


def test_reads_never_create_the_warehouse_file(tmp_path):
    wh = Warehouse(tmp_path / "none" / "warehouse.duckdb")
    with pytest.raises(MissingTableError, match=r"warehouse table 'prices' does not exist"):
        wh.read("prices")
    assert wh.row_count("prices") == 0 and wh.tables() == [] and not wh.has_table("prices")
    assert not wh.path.exists()


def test_additive_schema_evolution(wh):
    wh.write_partition(
        "r", frame(["2024-01-02"], ["A"], [1.0]), start="2024-01-01", end="2024-01-31"
    )
    wh.write_partition(
        "r",
        frame(["2024-02-02"], ["A"], [2.0]).assign(extra=5),
        start="2024-02-01",
        end="2024-02-29",
    )
    out = wh.read("r")
    assert out["extra"].isna().tolist() == [True, False]


def test_split_factors_before(wh):
    raw = pd.DataFrame(
        {
            "date": pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-04"]),
            "ticker": ["A", "A", "A"],
            "split_coefficient": [2.0, 1.0, 3.0],
        }
    )
    wh.replace_table("raw_prices", raw)
    assert wh.split_factors_before("raw_prices", pd.Timestamp("2024-01-04"))["A"] == 2.0


def test_lock_held_by_another_process_is_retried(tmp_path):
    path = tmp_path / "w.duckdb"
    Warehouse(path).replace_table("r", frame(["2024-01-02"], ["A"], [1.0]))
    import subprocess
    import sys
    import time

    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(path)!r}); print('ok', flush=True); "
            "time.sleep(1.5); c.close()",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "ok"
    started = time.monotonic()
    rows = Warehouse(path, lock_timeout_s=30).read("r")
    holder.wait()
    assert len(rows) == 1
    assert time.monotonic() - started > 0.5  # it waited for the other writer instead of failing


def test_replace_tables_is_all_or_none_and_prunes_orphans(tmp_path):
    wh = Warehouse(tmp_path / "w.duckdb")
    days = pd.to_datetime(["2024-01-02", "2024-01-03", "2024-02-01"])
    wh.replace_table("raw_a", pd.DataFrame({"x": [1]}))
    wh.replace_table("prices", pd.DataFrame({"date": days, "ticker": ["A", "B", "A"]}))
    wh.replace_table("notes", pd.DataFrame({"ticker": ["A", "GONE"], "text": ["a", "g"]}))
    bad = pd.DataFrame({"y": ["not a date"]}).rename(columns={"y": "date"})
    with pytest.raises(Exception):  # noqa: B017 - whatever DuckDB raises, nothing may change
        wh.replace_tables({"raw_a": pd.DataFrame({"x": [2]}), "raw_b": bad.astype("object")})
    assert wh.read("raw_a")["x"].tolist() == [1] and not wh.has_table("raw_b")
    counts = wh.replace_tables(
        {"raw_a": pd.DataFrame({"x": [3]})},
        keep_range=(pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-31")),
        keep_tickers=["A", "B"],
    )
    assert counts == {"raw_a": 1, "pruned:prices": 1, "pruned:notes": 1}
    assert wh.read("prices")["date"].tolist() == list(days[:2])
    assert wh.read("notes")["ticker"].tolist() == ["A"]
