"""Determinism: two runs on the same inputs give the same tables, every table the warehouse holds."""

from hedging_pipeline_tests.reliability.conftest import (
    assert_same_tables,
    table_differences,
    warehouse_tables,
)

FOUNDATION_TABLES = {"raw_companies", "raw_prices", "prices", "daily_returns", "market_caps"}


def test_two_uninterrupted_runs_give_identical_tables(session_runs, baseline_tables):
    second = session_runs.second
    assert second.returncode == 0, f"second run failed:\n{second.output[-4000:]}"
    # whatever the code location holds today is compared: tables added later are picked up automatically
    assert FOUNDATION_TABLES <= set(baseline_tables), sorted(baseline_tables)
    filled = [t for t, frame in baseline_tables.items() if len(frame)]
    assert len(filled) >= len(FOUNDATION_TABLES)
    assert_same_tables(
        warehouse_tables(second.warehouse), baseline_tables, "second run vs first run"
    )


def test_table_comparison_detects_a_tiny_change(baseline_tables):
    # the comparison itself must see a 1e-9 relative change in one value and a lost row
    table = max(
        (t for t, f in baseline_tables.items() if f.select_dtypes("float").size),
        key=lambda t: len(baseline_tables[t]),
    )
    frame = baseline_tables[table]
    column = next(c for c in frame.columns if frame[c].dtype.kind == "f" and frame[c].notna().any())
    row = int(frame[column].notna().to_numpy().nonzero()[0][0])
    nudged = frame.copy()
    nudged.loc[row, column] = frame.loc[row, column] * (1 + 1e-9) + 1e-9
    problems = table_differences({**baseline_tables, table: nudged}, baseline_tables)
    assert problems and problems[0].startswith(f"{table}.{column}: 1 of")
    shorter = table_differences({**baseline_tables, table: frame.iloc[1:]}, baseline_tables)
    assert shorter == [f"{table}: {len(frame) - 1} rows != {len(frame)} rows"]
