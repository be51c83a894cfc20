"""Compare two warehouse files table by table (refactor check: "the tables are identical").

Usage::

    python scripts/compare_warehouses.py BEFORE.duckdb AFTER.duckdb [--atol 1e-12] [--rtol 0] [--skip T,...]
        [--skip-columns TABLE.COLUMN,...]

Each table present in either file is compared: same columns, same number of rows, then rows sorted by every
non-floating column (keys) and, within equal keys, by the floating columns; floating values must agree within
``atol + rtol * |before|`` (NaN equals NaN); everything else must be equal. List columns (embeddings) are compared
element-wise. ``--skip-columns`` drops columns that legitimately differ between two runs (e.g.
``hedge_diagnostics.solve_ms``, a wall time) before comparing. Prints one line per table and exits 1 when any
table differs.
"""

from __future__ import annotations

import argparse
import sys

import duckdb
import numpy as np
import pandas as pd


def _read(path: str) -> dict[str, pd.DataFrame]:
    con = duckdb.connect(path, read_only=True)
    try:
        names = con.execute(
            "select table_schema, table_name from information_schema.tables order by 1, 2"
        ).fetchall()
        out = {}
        for schema, name in names:
            key = name if schema == "main" else f"{schema}.{name}"
            out[key] = con.execute(f'select * from "{schema}"."{name}"').df()
        return out
    finally:
        con.close()


def _is_list(series: pd.Series) -> bool:
    first = series.dropna().head(1)
    return len(first) > 0 and isinstance(first.iloc[0], (list, tuple, np.ndarray))


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    keys = [
        c
        for c in frame.columns
        if not pd.api.types.is_float_dtype(frame[c]) and not _is_list(frame[c])
    ]
    floats = [c for c in frame.columns if pd.api.types.is_float_dtype(frame[c])]
    order = keys + floats
    if not order:
        return frame.reset_index(drop=True)
    return frame.sort_values(order, kind="mergesort", na_position="last").reset_index(drop=True)


def compare_frames(a: pd.DataFrame, b: pd.DataFrame, atol: float, rtol: float) -> str | None:
    """Return None when the frames agree, else a one-line description of the first difference."""
    if sorted(a.columns) != sorted(b.columns):
        return f"columns differ: {sorted(set(a.columns) ^ set(b.columns))}"
    if len(a) != len(b):
        return f"row counts differ: {len(a)} vs {len(b)}"
    b = b[list(a.columns)]
    a, b = _sorted(a), _sorted(b)
    worst = 0.0
    for col in a.columns:
        x, y = a[col], b[col]
        if pd.api.types.is_float_dtype(x) and pd.api.types.is_float_dtype(y):
            xv, yv = x.to_numpy(float), y.to_numpy(float)
            both_nan = np.isnan(xv) & np.isnan(yv)
            diff = np.where(both_nan, 0.0, np.abs(xv - yv))
            diff = np.where(np.isnan(diff), np.inf, diff)
            bad = diff > atol + rtol * np.abs(np.nan_to_num(xv))
            worst = max(worst, float(diff.max()) if len(diff) else 0.0)
            if bad.any():
                i = int(np.argmax(bad))
                return (
                    f"column {col!r} row {i}: {xv[i]!r} vs {yv[i]!r} (max |diff| {diff.max():.3g})"
                )
        elif _is_list(x) or _is_list(y):
            for i, (u, v) in enumerate(zip(x, y, strict=True)):
                u, v = np.asarray(u, float), np.asarray(v, float)
                if u.shape != v.shape or np.any(np.abs(u - v) > atol + rtol * np.abs(u)):
                    return f"column {col!r} row {i}: list values differ"
        else:
            xs, ys = x.astype(object), y.astype(object)
            neq = ~((xs == ys) | (xs.isna() & ys.isna()))
            if neq.any():
                i = int(np.argmax(neq.to_numpy()))
                return f"column {col!r} row {i}: {xs.iloc[i]!r} vs {ys.iloc[i]!r}"
    return None if worst == 0.0 else f"agree (max |diff| {worst:.3g})"


def main(argv: list[str] | None = None) -> int:
    """Compare two warehouses; print one line per table; exit 1 when any differs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--atol", type=float, default=1e-12)
    parser.add_argument("--rtol", type=float, default=0.0)
    parser.add_argument("--skip", default="", help="comma-separated tables to ignore")
    parser.add_argument(
        "--skip-columns",
        default="hedge_diagnostics.solve_ms",
        help="comma-separated TABLE.COLUMN to ignore (default: the solver's wall time)",
    )
    args = parser.parse_args(argv)
    skip = {s for s in args.skip.split(",") if s}
    skip_columns: dict[str, list[str]] = {}
    for item in filter(None, args.skip_columns.split(",")):
        table, _, column = item.partition(".")
        if not column:
            parser.error(f"--skip-columns: {item!r} is not TABLE.COLUMN")
        skip_columns.setdefault(table, []).append(column)
    before, after = _read(args.before), _read(args.after)
    failed = 0
    for name in sorted(set(before) | set(after)):
        if name in skip:
            print(f"skip     {name}")
            continue
        if name not in before or name not in after:
            print(f"MISSING  {name} (only in {'before' if name in before else 'after'})")
            failed += 1
            continue
        dropped = skip_columns.get(name, [])
        problem = compare_frames(
            before[name].drop(columns=dropped, errors="ignore"),
            after[name].drop(columns=dropped, errors="ignore"),
            args.atol,
            args.rtol,
        )
        if problem is None or problem.startswith("agree"):
            print(
                f"same     {name} ({len(before[name])} rows){'' if problem is None else ', ' + problem}"
            )
        else:
            print(f"DIFFERS  {name}: {problem}")
            failed += 1
    print(f"{failed} table(s) differ" if failed else "all tables identical within tolerance")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
