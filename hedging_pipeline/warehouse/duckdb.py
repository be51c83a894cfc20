"""The DuckDB warehouse: parameterised reads and transactional per-partition writes.

Every write replaces a well-defined slice of one table (a date window, a set of key values, or the whole table)
inside a single transaction: the slice's rows are deleted and the new rows inserted, so a re-run of a partition
is idempotent and a failed write leaves the earlier rows intact.

Identifiers (tables, columns) are validated against a strict pattern; values are always bound parameters.
DuckDB allows one writing process per file, so connections are short-lived and a lock held by another process
is retried with exponential backoff.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from hedging_pipeline.errors import ConfigurationError, DataError, HedgingError

IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
DATE_COLUMNS = frozenset({"date", "as_of", "period_end"})
"""Columns stored as SQL ``DATE`` and returned as ``datetime64[ns]``."""

LOCK_TIMEOUT_S = 300.0
LOCK_BACKOFF_START_S = 0.05
LOCK_BACKOFF_MAX_S = 2.0


class WarehouseLockedError(DataError):
    """Another process held the DuckDB file for longer than the lock timeout."""


class WarehouseWriteError(HedgingError):
    """The warehouse cannot be opened or written: read-only or missing folder, no permission, full disk."""


_STORAGE_REASONS = (
    (("no space left", "disk is full", "file too large", "enospc", "efbig"), "the disk is full"),
    (("read-only", "permission denied", "access denied", "not permitted"), "it is not writable"),
    (("not a directory", "no such file"), "its folder cannot be created"),
)


def is_storage_failure(exc: BaseException) -> bool:
    """Whether an error (DuckDB, SQLite, OS) says the disk is full or a file cannot be written."""
    lower = str(exc).lower()
    return any(n in lower for needles, _ in _STORAGE_REASONS for n in needles)


def _is_storage_error(exc: BaseException) -> bool:
    """A lock conflict or a storage failure (as opposed to bad SQL or values, which are programming errors)."""
    return _is_lock_error(exc) or is_storage_failure(exc)


def warehouse_write_error(path: Path, exc: BaseException) -> HedgingError:
    """One-line error for a failure to open or write the warehouse, saying why and what to do.

    Lock conflicts become :class:`WarehouseLockedError`; storage failures (full disk, read-only or unwritable
    ``HEDGING_HOME``) :class:`WarehouseWriteError`; anything else keeps DuckDB's first line.
    """
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    lower = first.lower()
    if _is_lock_error(exc):
        return WarehouseLockedError(
            f"warehouse {path} is locked by another process ({first}); wait for it or stop it"
        )
    for needles, reason in _STORAGE_REASONS:
        if any(n in lower for n in needles):
            return WarehouseWriteError(
                f"warehouse {path}: cannot write, {reason} ({first}); free space or set HEDGING_HOME "
                "to a writable folder, then re-run (earlier tables are unchanged)"
            )
    return WarehouseWriteError(f"warehouse {path}: {first}")


class MissingTableError(DataError):
    """A table that a computation reads has not been materialised yet."""


def _check_identifier(name: str) -> str:
    if not IDENTIFIER.match(name):
        raise ConfigurationError(
            f"invalid warehouse identifier {name!r} (expected [a-z_][a-z0-9_]*)"
        )
    return name


def _is_lock_error(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "lock" in text and ("conflicting" in text or "could not set" in text)


def _lock_holder(exc: BaseException) -> str:
    """``held by PID n`` when DuckDB's message names the process holding the lock."""
    found = re.search(r"\(PID (\d+)\)", str(exc))
    return f"held by PID {found.group(1)}" if found else "holder unknown"


class Warehouse:
    """A DuckDB file holding one table per asset (long format).

    Parameters
    ----------
    path : Path or str
        The ``.duckdb`` file; its folder is created on first write.
    lock_timeout_s : float
        How long to keep retrying when another process holds the file.
    """

    def __init__(self, path: Path | str, *, lock_timeout_s: float = LOCK_TIMEOUT_S) -> None:
        self.path = Path(path)
        self.lock_timeout_s = lock_timeout_s

    def __repr__(self) -> str:
        return f"Warehouse({str(self.path)!r})"

    # -- connections -------------------------------------------------------------------------------------------
    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Open a short-lived connection, retrying while another process holds the file lock.

        Raises
        ------
        WarehouseLockedError
            If the lock is still held after ``lock_timeout_s`` seconds.
        """
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise warehouse_write_error(self.path, exc) from exc
        deadline = time.monotonic() + self.lock_timeout_s
        delay = LOCK_BACKOFF_START_S
        while True:
            try:
                con = duckdb.connect(str(self.path))
                break
            except duckdb.Error as exc:
                if not _is_lock_error(exc) or time.monotonic() > deadline:
                    if _is_lock_error(exc):
                        raise WarehouseLockedError(
                            f"warehouse {self.path} stayed locked by another process for "
                            f"{self.lock_timeout_s:.0f} s ({_lock_holder(exc)}); close other DuckDB "
                            "clients and retry"
                        ) from exc
                    raise warehouse_write_error(self.path, exc) from exc
                time.sleep(delay * (1.0 + random.random()))  # jitter avoids lock-step retries
                delay = min(delay * 2.0, LOCK_BACKOFF_MAX_S)
        try:
            yield con
        finally:
            con.close()

    # -- reads -------------------------------------------------------------------------------------------------
    def tables(self) -> list[str]:
        """Names of the tables in the main schema, sorted."""
        if not self.path.exists():
            return []
        with self.connect() as con:
            return _table_names(con)

    def has_table(self, table: str) -> bool:
        """Whether ``table`` exists."""
        return _check_identifier(table) in self.tables()

    def _missing(self, table: str) -> MissingTableError:
        return MissingTableError(
            f"warehouse table {table!r} does not exist in {self.path}; materialise the asset "
            f"{table!r} first (hedging-pipeline run)"
        )

    def read(
        self,
        table: str,
        *,
        start: pd.Timestamp | str | None = None,
        end: pd.Timestamp | str | None = None,
        date_column: str = "date",
        tickers: Sequence[str] | None = None,
        columns: Sequence[str] | None = None,
        where: Mapping[str, Sequence[Any]] | None = None,
    ) -> pd.DataFrame:
        """Read rows of ``table``, optionally within ``[start, end]`` and for some tickers.

        Parameters
        ----------
        table : str
            Table name.
        start, end : Timestamp or str, optional
            Inclusive bounds on ``date_column``.
        date_column : str
            Column the bounds apply to.
        tickers : sequence of str, optional
            Keep only these tickers (column ``ticker``).
        columns : sequence of str, optional
            Columns to return (all by default).
        where : mapping of column -> values, optional
            Further ``column IN values`` filters.

        Returns
        -------
        pd.DataFrame
            Sorted by the date column and ``ticker`` when present; date columns as ``datetime64[ns]``.

        Raises
        ------
        MissingTableError
            If the table has not been materialised yet.
        """
        _check_identifier(table)
        if not self.path.exists():  # checked before connecting: a read never creates the file
            raise self._missing(table)
        cols = "*" if columns is None else ", ".join(_check_identifier(c) for c in columns)
        clauses: list[str] = []
        params: list[Any] = []
        if start is not None:
            clauses.append(f"{_check_identifier(date_column)} >= ?")
            params.append(pd.Timestamp(start).date())
        if end is not None:
            clauses.append(f"{_check_identifier(date_column)} <= ?")
            params.append(pd.Timestamp(end).date())
        filters = dict(where or {})
        if tickers is not None:
            filters["ticker"] = list(tickers)
        for column, values in filters.items():
            clauses.append(f"{_check_identifier(column)} in (select unnest(?))")
            params.append([_to_param(v) for v in values])
        sql = f"select {cols} from {table}"
        if clauses:
            sql += " where " + " and ".join(clauses)
        # one connection for the check and the read (each costs ~40 ms to open on a 10 MB warehouse)
        with self.connect() as con:
            if table not in _table_names(con):
                raise self._missing(table)
            frame = con.execute(sql, params).df()
        return _normalise_read(frame)

    def query(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        """Run a parameterised SELECT and return a frame (values always through ``params``)."""
        with self.connect() as con:
            frame = con.execute(sql, list(params)).df()
        return _normalise_read(frame)

    def columns(self, table: str) -> list[str]:
        """Column names of ``table`` (empty when it does not exist)."""
        _check_identifier(table)
        if not self.path.exists():
            return []
        with self.connect() as con:
            rows = con.execute(
                "select column_name from information_schema.columns "
                "where table_schema = 'main' and table_name = ? order by ordinal_position",
                [table],
            ).fetchall()
        return [r[0] for r in rows]

    def split_factors_before(self, table: str, date: pd.Timestamp) -> pd.Series:
        """Product of each ticker's ``split_coefficient`` strictly before ``date`` (index ticker).

        Empty when the table has no ``split_coefficient`` column.
        """
        if "split_coefficient" not in self.columns(table):
            return pd.Series(dtype="float64")
        frame = self.query(
            f"select ticker, product(split_coefficient) as factor from {_check_identifier(table)} "
            "where date < ? and split_coefficient > 0 group by ticker",
            [pd.Timestamp(date).date()],
        )
        return frame.set_index("ticker")["factor"].astype("float64")

    def row_count(self, table: str) -> int:
        """Rows in ``table`` (0 when it does not exist)."""
        _check_identifier(table)
        if not self.path.exists():
            return 0
        with self.connect() as con:
            if table not in _table_names(con):
                return 0
            return int(con.execute(f"select count(*) from {table}").fetchone()[0])

    def table_counts(self) -> dict[str, int]:
        """Row count of every table."""
        names = self.tables()
        if not names:
            return {}
        with self.connect() as con:
            return {
                t: int(con.execute(f"select count(*) from {_check_identifier(t)}").fetchone()[0])
                for t in names
            }

    # -- writes ------------------------------------------------------------------------------------------------
    def write_partition(
        self,
        table: str,
        frame: pd.DataFrame,
        *,
        start: pd.Timestamp | str,
        end: pd.Timestamp | str,
        date_column: str = "date",
    ) -> int:
        """Replace the rows of ``table`` with ``date_column`` in ``[start, end]`` by ``frame``.

        Rows of ``frame`` outside the window are a programming error and raise.

        Returns
        -------
        int
            Rows inserted.
        """
        _check_identifier(date_column)
        lo, hi = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
        if len(frame):
            dates = pd.to_datetime(frame[date_column])
            outside = frame.loc[(dates < lo) | (dates > hi), date_column]
            if len(outside):
                raise DataError(
                    f"write to {table!r}: {len(outside)} rows have {date_column} outside the partition "
                    f"window {lo.date()}..{hi.date()} (first: {pd.Timestamp(outside.iloc[0]).date()})"
                )
        delete = (f"{date_column} >= ? and {date_column} <= ?", [lo.date(), hi.date()])
        return self._replace(table, frame, delete)

    def replace_rows(
        self, table: str, frame: pd.DataFrame, *, keys: Mapping[str, Sequence[Any]]
    ) -> int:
        """Replace the rows of ``table`` whose key columns take the given values by ``frame``.

        ``keys={"as_of": [d], "ticker": ["AAPL", "MSFT"]}`` deletes rows with ``as_of = d`` and ``ticker`` in
        the list, then inserts ``frame``, in one transaction.
        """
        if not keys:
            raise ValueError("replace_rows needs at least one key column; use replace_table")
        clauses, params = [], []
        for column, values in keys.items():
            clauses.append(f"{_check_identifier(column)} in (select unnest(?))")
            params.append([_to_param(v) for v in values])
        return self._replace(table, frame, (" and ".join(clauses), params))

    def replace_table(self, table: str, frame: pd.DataFrame) -> int:
        """Replace the whole content of ``table`` by ``frame`` (schema follows ``frame``)."""
        _check_identifier(table)
        for column in frame.columns:
            _check_identifier(str(column))
        prepared = _prepare_write(frame)
        with self.connect() as con, self._transaction(con):
            con.register("_incoming", prepared)
            con.execute(f"create or replace table {table} as {_incoming_select(prepared)}")
            con.unregister("_incoming")
        return len(frame)

    def replace_tables(
        self,
        frames: Mapping[str, pd.DataFrame],
        *,
        keep_range: tuple[pd.Timestamp, pd.Timestamp] | None = None,
        keep_tickers: Sequence[str] | None = None,
        protected_prefix: str = "raw_",
    ) -> dict[str, int]:
        """Replace several whole tables in one transaction: all of them change, or none.

        Parameters
        ----------
        frames : mapping of table -> frame
            The new content of each table (schema follows the frame).
        keep_range : (first, last) dates, optional
            The new data range: rows of every other table (not starting with ``protected_prefix``) whose
            ``date`` or ``as_of`` lies outside it are deleted in the same transaction, so rows that an earlier
            drop put outside the range (a bad date, a longer history) do not outlive it.
        keep_tickers : sequence of str, optional
            The new universe: rows of every other table whose ``ticker`` is not in it are deleted too.

        Returns
        -------
        dict of str to int
            Rows written per table, plus ``pruned:<table>`` entries for the rows removed.
        """
        for table, frame in frames.items():
            _check_identifier(table)
            for column in frame.columns:
                _check_identifier(str(column))
        prepared = {t: _prepare_write(f) for t, f in frames.items()}
        counts = {t: len(f) for t, f in frames.items()}
        with self.connect() as con, self._transaction(con):
            for table, frame in prepared.items():
                con.register("_incoming", frame)
                con.execute(f"create or replace table {table} as {_incoming_select(frame)}")
                con.unregister("_incoming")
            if keep_range is not None:
                counts.update(_prune_outside(con, keep_range, set(frames), protected_prefix))
            if keep_tickers is not None:
                counts.update(_prune_tickers(con, keep_tickers, set(frames), protected_prefix))
        return counts

    @contextmanager
    def _transaction(self, con: duckdb.DuckDBPyConnection) -> Iterator[None]:
        """Commit on success; on failure roll back (if a transaction is still open) and re-raise the cause."""
        con.begin()
        try:
            yield
            con.commit()
        except BaseException as exc:
            try:
                con.rollback()
            except duckdb.Error:
                pass  # the failure already ended the transaction; the original error is the one to report
            if isinstance(exc, duckdb.Error) and _is_storage_error(exc):
                raise warehouse_write_error(self.path, exc) from exc
            raise

    def _replace(self, table: str, frame: pd.DataFrame, delete: tuple[str, list[Any]]) -> int:
        _check_identifier(table)
        for column in frame.columns:
            _check_identifier(str(column))
        prepared = _prepare_write(frame)
        with self.connect() as con, self._transaction(con):
            con.register("_incoming", prepared)
            con.execute(
                f"create table if not exists {table} as {_incoming_select(prepared)} limit 0"
            )
            existing = {
                r[0]
                for r in con.execute(
                    "select column_name from information_schema.columns "
                    "where table_schema = 'main' and table_name = ?",
                    [table],
                ).fetchall()
            }
            for column in prepared.columns:
                if column not in existing:  # additive schema evolution only
                    sql_type = con.execute(
                        f"select typeof({column}) from ({_incoming_select(prepared)}) limit 1"
                    ).fetchone()
                    sql_type = sql_type[0] if sql_type else "VARCHAR"
                    con.execute(f"alter table {table} add column {column} {sql_type}")
            sql, params = delete
            con.execute(f"delete from {table} where {sql}", params)
            if len(prepared):
                con.execute(f"insert into {table} by name {_incoming_select(prepared)}")
            con.unregister("_incoming")
        return len(frame)


def _table_names(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Names of the tables in the main schema, sorted."""
    rows = con.execute(
        "select table_name from information_schema.tables where table_schema = 'main' "
        "order by table_name"
    ).fetchall()
    return [r[0] for r in rows]


def _prune_outside(
    con: duckdb.DuckDBPyConnection,
    keep_range: tuple[pd.Timestamp, pd.Timestamp],
    skip: set[str],
    protected_prefix: str,
) -> dict[str, int]:
    """Delete rows dated outside ``keep_range`` from every derived table (``date`` or ``as_of`` column)."""
    lo, hi = (pd.Timestamp(d).date() for d in keep_range)
    rows = con.execute(
        "select table_name, column_name from information_schema.columns where table_schema = 'main' "
        "and column_name in ('date', 'as_of') order by table_name, column_name"
    ).fetchall()
    pruned: dict[str, int] = {}
    for table, column in rows:
        if table in skip or table.startswith(protected_prefix) or not IDENTIFIER.match(table):
            continue
        where = f"{column} < ? or {column} > ?"
        n = con.execute(f"select count(*) from {table} where {where}", [lo, hi]).fetchone()[0]
        if n:
            con.execute(f"delete from {table} where {where}", [lo, hi])
            pruned[f"pruned:{table}"] = pruned.get(f"pruned:{table}", 0) + int(n)
    return pruned


def _prune_tickers(
    con: duckdb.DuckDBPyConnection, keep: Sequence[str], skip: set[str], protected_prefix: str
) -> dict[str, int]:
    """Delete rows of tickers outside the universe ``keep`` from every derived table with a ``ticker``."""
    tables = con.execute(
        "select table_name from information_schema.columns where table_schema = 'main' "
        "and column_name = 'ticker' order by table_name"
    ).fetchall()
    pruned: dict[str, int] = {}
    for (table,) in tables:
        if table in skip or table.startswith(protected_prefix) or not IDENTIFIER.match(table):
            continue
        where = "ticker not in (select unnest(?))"
        n = con.execute(f"select count(*) from {table} where {where}", [list(keep)]).fetchone()[0]
        if n:
            con.execute(f"delete from {table} where {where}", [list(keep)])
            key = f"pruned:{table}"
            pruned[key] = pruned.get(key, 0) + int(n)
    return pruned


def _to_param(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return value.date()
    return value


def _prepare_write(frame: pd.DataFrame) -> pd.DataFrame:
    """Copy ``frame`` with a clean index and date columns as ``datetime64`` (cast to SQL DATE on insert)."""
    out = frame.reset_index(drop=True).copy()
    for column in out.columns:
        if column in DATE_COLUMNS:
            out[column] = pd.to_datetime(out[column])
    return out


def _incoming_select(frame: pd.DataFrame) -> str:
    """``select`` over the registered frame that stores date columns as SQL DATE."""
    casts = [f"cast({c} as date) as {c}" for c in frame.columns if c in DATE_COLUMNS]
    replace = f" replace ({', '.join(casts)})" if casts else ""
    return f"select *{replace} from _incoming"


def _normalise_read(frame: pd.DataFrame) -> pd.DataFrame:
    for column in frame.columns:
        if column in DATE_COLUMNS:
            frame[column] = pd.to_datetime(frame[column]).astype("datetime64[ns]")
    sort = [c for c in ("date", "as_of", "ticker") if c in frame.columns]
    if sort and len(frame):
        frame = frame.sort_values(sort, kind="stable").reset_index(drop=True)
    return frame
