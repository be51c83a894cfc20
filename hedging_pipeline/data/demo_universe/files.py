"""Writing the demo universe: Arrow schemas of the real files and atomic writes."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

PARQUET_COMPRESSION = "zstd"

FUNDAMENTAL_COLUMNS = (
    "ticker", "source_ticker", "source", "fiscal_year", "period_end", "revenue", "net_income",
    "total_assets", "total_liabilities", "total_equity", "long_term_debt", "short_term_debt",
    "cash_and_equiv", "shares_outstanding", "eps", "gross_profit", "operating_income",
    "current_assets", "current_liabilities", "capex", "cfo", "rnd_expense", "interest_expense",
    "income_tax_expense",
    "accounts_receivable", "inventory", "ppe", "goodwill", "cfi", "cff", "depr_amort", "dividends",
    "share_repurchases", "sga_expense", "cogs",
)  # fmt: skip
"""Columns of the real ``fundamentals.parquet``, in its order."""

_STRING = pa.large_string()
_RAW_SCHEMAS: dict[str, pa.Schema] = {
    "prices": pa.schema(
        [("date", pa.timestamp("us")), ("ticker", _STRING)]
        + [(c, pa.float64()) for c in ("open", "high", "low", "close", "adj_close")]
        + [("volume", pa.int64()), ("dividend", pa.float64()), ("split_coefficient", pa.float64())]
    ),
    "fundamentals": pa.schema(
        [("ticker", _STRING), ("source_ticker", _STRING), ("source", _STRING)]
        + [("fiscal_year", pa.int64()), ("period_end", pa.timestamp("ns"))]
        + [(c, pa.float64()) for c in FUNDAMENTAL_COLUMNS[5:]]
    ),
    "descriptions": pa.schema(
        [(c, _STRING) for c in ("ticker", "source_ticker", "title", "source")]
        + [("as_of", pa.timestamp("us")), ("text", _STRING)]
    ),
}
"""Arrow schemas of the real files (PROVENANCE.md); ``companies`` depends on the snapshot year."""


def schema_for(stem: str, frame: pd.DataFrame) -> pa.Schema | None:
    """Arrow schema of the raw file ``stem``; None (inferred) for the truth files."""
    if stem in _RAW_SCHEMAS:
        return _RAW_SCHEMAS[stem]
    if stem == "companies":
        fields = []
        for column in frame.columns:
            if column == "in_prices":
                fields.append((column, pa.bool_()))
            elif column.startswith("market_cap_usd_"):
                fields.append((column, pa.float64()))
            else:
                fields.append((column, _STRING))
        return pa.schema(fields)
    return None  # truth files: inferred


def write_atomic(path: Path, payload: bytes) -> None:
    """Write ``payload`` to a temporary name, then rename it to ``path``."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(payload)
    os.replace(temporary, path)


def write_parquet(frame: pd.DataFrame, path: Path, schema: pa.Schema | None) -> None:
    """Write ``frame`` as zstd Parquet with ``schema``, atomically (temporary name, then rename)."""
    table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    pq.write_table(table, temporary, compression=PARQUET_COMPRESSION)
    os.replace(temporary, path)
