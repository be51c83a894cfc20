"""Read and validate the raw drop folder (Parquet or CSV), one validator per file shape.

Every problem becomes a :class:`~hedging_pipeline.errors.DataError` whose single-line message names the file,
the column, the offending value and its row (or ticker and date), and says what was expected.
"""

from __future__ import annotations

import datetime as dt
import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from hedging_pipeline.data.plausibility import infer_as_of
from hedging_pipeline.data.quality import load_quality_config
from hedging_pipeline.data.schema import (
    COMPANIES,
    DESCRIPTIONS,
    EXPOSURES,
    FUNDAMENTALS,
    MARKET_CAP_SNAPSHOT,
    PORT_HEADERS,
    PRICES,
    TICKER_PATTERN,
    RawFileSchema,
)
from hedging_pipeline.errors import (
    DataError,
    DuplicateRowsError,
    InvalidValueError,
    MissingColumnError,
    MissingFileError,
    UnknownTickerError,
)

SUFFIXES = (".parquet", ".csv", ".csv.gz")
MAX_SHOWN = 5
"""How many offending values an error message lists before summarising."""
MAX_VALUE_CHARS = 60
MAX_RAW_FILE_BYTES = 4 * 1024**3
"""Refuse raw files above 4 GiB rather than exhausting memory."""
MANIFEST_NAME = "drop.toml"
"""Optional file of the drop folder declaring its as-of date and date formats (see :class:`DropManifest`)."""


@dataclass(frozen=True)
class DropManifest:
    """What a drop folder may declare about itself in ``drop.toml``.

    Attributes
    ----------
    as_of : pd.Timestamp or None
        The drop's as-of date (``as_of = 2020-04-21``): rows dated later are refused. Inferred when absent.
    date_formats : mapping of str to str
        strptime format per file stem (``[date_formats] prices = "%d/%m/%Y"``; key ``default`` for every file):
        how to read text dates that would otherwise be ambiguous.
    """

    as_of: pd.Timestamp | None = None
    date_formats: Mapping[str, str] = field(default_factory=dict)

    def date_format(self, name: str) -> str | None:
        """The declared format of file ``name`` (``None``: detect it)."""
        return self.date_formats.get(name) or self.date_formats.get("default")


def read_manifest(raw_dir: Path) -> DropManifest:
    """Read ``drop.toml`` from the drop folder (an empty manifest when there is none).

    Raises
    ------
    DataError
        Invalid TOML, an unknown key or an ``as_of`` that is not a date.
    """
    path = Path(raw_dir) / MANIFEST_NAME
    if not path.is_file():
        return DropManifest()
    try:
        data = tomllib.loads(_inside_drop_folder(Path(raw_dir), path).read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{MANIFEST_NAME}: not valid TOML ({exc})") from exc
    unknown = sorted(set(data) - {"as_of", "date_formats"})
    if unknown:
        raise DataError(
            f"{MANIFEST_NAME}: unknown key(s) {', '.join(unknown)} (expected as_of, date_formats)"
        )
    as_of = data.get("as_of")
    if as_of is not None and not isinstance(as_of, dt.date):
        raise DataError(
            f"{MANIFEST_NAME}: as_of {_show(as_of)} is not a date (write as_of = 2020-04-21)"
        )
    formats = data.get("date_formats", {})
    if not isinstance(formats, dict) or not all(isinstance(v, str) for v in formats.values()):
        raise DataError(
            f'{MANIFEST_NAME}: date_formats must map file names to formats ("%d/%m/%Y")'
        )
    return DropManifest(None if as_of is None else pd.Timestamp(as_of).normalize(), dict(formats))


def _show(value: object) -> str:
    """Render a value for a one-line message: repr, control characters escaped, truncated."""
    text = repr(value)
    text = text.encode("unicode_escape", errors="backslashreplace").decode("ascii")
    if len(text) > MAX_VALUE_CHARS:
        text = text[: MAX_VALUE_CHARS - 3] + "..."
    return text


def find_raw_file(raw_dir: Path, name: str, *, required: bool = True) -> Path | None:
    """Locate ``name`` (``.parquet``, ``.csv`` or ``.csv.gz``) in the drop folder.

    Raises
    ------
    MissingFileError
        If the folder or a required file is missing.
    DataError
        If the file is a symbolic link that resolves outside the drop folder.
    """
    raw_dir = Path(raw_dir)
    if not raw_dir.is_dir():
        raise MissingFileError(
            f"raw drop folder {raw_dir} does not exist or is not a directory; set HEDGING_RAW_DIR "
            "to a folder holding prices, companies, fundamentals and descriptions files"
        )
    for suffix in SUFFIXES:
        path = raw_dir / f"{name}{suffix}"
        if path.is_file():
            return _inside_drop_folder(raw_dir, path)
    if required:
        tried = ", ".join(f"{name}{s}" for s in SUFFIXES)
        raise MissingFileError(
            f"{raw_dir}: required raw file {name!r} not found (looked for {tried})"
        )
    return None


def _inside_drop_folder(raw_dir: Path, path: Path) -> Path:
    """Refuse a raw file that is a link to somewhere outside the (resolved) drop folder.

    The drop folder itself may be a link (it is resolved once); links inside it that stay inside are fine.
    A link out of it would let whoever writes the drop folder make the pipeline read any file on the host.
    """
    root = raw_dir.resolve()
    target = path.resolve()
    if not target.is_relative_to(root):
        raise DataError(
            f"{path.name}: is a symbolic link to {target}, outside the drop folder {root}; copy the file "
            "into the drop folder (links that leave it are refused)"
        )
    return path


def read_table(path: Path) -> pd.DataFrame:
    """Read a Parquet or CSV file into a frame of raw values (CSV cells as strings).

    Raises
    ------
    DataError
        Unreadable, empty, oversized, wrongly delimited or wrongly encoded files.
    """
    size = path.stat().st_size
    if size == 0:
        raise DataError(
            f"{path.name}: file is empty (0 bytes); expected a header row and data rows"
        )
    if size > MAX_RAW_FILE_BYTES:
        raise DataError(
            f"{path.name}: file is {size / 1024**3:.1f} GiB, above the {MAX_RAW_FILE_BYTES // 1024**3} GiB "
            "limit for one raw file; split it or filter it first"
        )
    if path.suffix == ".parquet":
        try:
            frame = pq.read_table(path).to_pandas()
        except (pa.ArrowInvalid, OSError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise DataError(f"{path.name}: not a readable Parquet file ({first})") from exc
    else:
        frame = _read_csv(path)
    if frame.empty:
        raise DataError(f"{path.name}: file has a header but no data rows")
    return frame


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=True, encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path.name}: not valid UTF-8 (byte {exc.object[exc.start]:#04x} at offset {exc.start}); "
            "re-export the file as UTF-8"
        ) from exc
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"{path.name}: file is empty; expected a header row and data rows") from exc
    except pd.errors.ParserError as exc:
        first = str(exc).splitlines()[0]
        raise DataError(f"{path.name}: malformed CSV ({first})") from exc
    if frame.shape[1] == 1:
        header = str(frame.columns[0])
        for delimiter, label in ((";", "';'"), ("\t", "tab"), ("|", "'|'")):
            if delimiter in header:
                raise DataError(
                    f"{path.name}: columns are separated by {label}, not ','; the header "
                    f"{_show(header)} reads as one column; re-export the CSV comma-separated"
                )
    return frame


def _normalise_columns(frame: pd.DataFrame, schema: RawFileSchema) -> pd.DataFrame:
    renamed = {}
    for column in frame.columns:
        key = str(column).strip().lower()
        if schema is EXPOSURES and key in PORT_HEADERS:
            key = PORT_HEADERS[key]
        renamed[column] = key.replace(" ", "_")
    frame = frame.rename(columns=renamed)
    if frame.columns.duplicated().any():
        dup = frame.columns[frame.columns.duplicated()][0]
        raise DataError(f"{schema.name}: column {dup!r} appears twice after normalising headers")
    return frame


def validate_columns(frame: pd.DataFrame, schema: RawFileSchema, file_label: str) -> pd.DataFrame:
    """Check required columns and keep only the schema's columns (plus market-cap snapshots).

    Raises
    ------
    MissingColumnError
        Naming the file, the missing column and the columns found.
    """
    frame = _normalise_columns(frame, schema)
    found = list(frame.columns)
    for column in schema.required:
        if column not in frame.columns:
            raise MissingColumnError(
                f"{file_label}: missing required column {column!r} "
                f"(found: {', '.join(map(str, found[:12]))})"
            )
    for group in schema.alternatives:
        if not any(c in frame.columns for c in group):
            raise MissingColumnError(
                f"{file_label}: needs one of the columns {' or '.join(map(repr, group))} "
                f"(found: {', '.join(map(str, found[:12]))})"
            )
    keep = [c for c in schema.columns if c in frame.columns]
    if schema is COMPANIES:
        keep += [c for c in frame.columns if MARKET_CAP_SNAPSHOT.match(str(c))]
    return frame[keep].copy()


DATE_FORMATS: tuple[str, ...] = (
    "ISO8601",
    "%Y%m%d",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d.%m.%Y",
    "%d-%m-%Y",
)
"""Formats a text date column may use; one of them must read every value of the column."""
DAY_FIRST, MONTH_FIRST = "%d/%m/%Y", "%m/%d/%Y"
"""Both read e.g. ``03/04/2021``: a file fitting both is refused unless ``drop.toml`` names its format."""


def _parse_with(values: pd.Series, fmt: str) -> pd.Series:
    return pd.to_datetime(values, format=fmt, errors="coerce", utc=True).dt.tz_localize(None)


def detect_date_format(
    values: pd.Series, column: str, file_label: str, fmt: str | None = None
) -> str:
    """The one format of a text date column: ``fmt`` when configured, else the candidate reading most values.

    Dates are never parsed cell by cell: with one format per file, a file mixing ``2021-03-04`` and
    ``04/03/2021`` fails at the first value its main format cannot read, and a file whose every value reads both
    day-first and month-first is refused until ``drop.toml`` declares which (``[date_formats] prices =
    "%d/%m/%Y"``).

    Parameters
    ----------
    values : pd.Series
        The column's distinct non-empty texts.

    Raises
    ------
    InvalidValueError
        When every value reads both day-first and month-first, with an example value.
    """
    if values.empty:
        return fmt or DATE_FORMATS[0]
    if fmt:
        return fmt
    readable = {f: int(_parse_with(values, f).notna().sum()) for f in DATE_FORMATS}
    if readable[DAY_FIRST] == readable[MONTH_FIRST] == len(values):
        raise InvalidValueError(
            f"{file_label}: column {column!r} is ambiguous: every date (e.g. {_show(values.iloc[0])}) "
            "reads both day-first and month-first; declare the format in drop.toml ([date_formats] "
            f'{file_label.split(".")[0]} = "{DAY_FIRST}" or "{MONTH_FIRST}")'
        )
    return max(DATE_FORMATS, key=lambda f: readable[f])  # ties keep the earlier (ISO first)


def parse_dates(
    frame: pd.DataFrame,
    column: str,
    file_label: str,
    *,
    allow_missing: bool = False,
    fmt: str | None = None,
) -> pd.Series:
    """Parse ``column`` as dates (normalised to midnight, ``datetime64[ns]``) with one format for the file.

    Raises
    ------
    InvalidValueError
        Naming the first unparseable (or missing) value and its row, or an ambiguous day/month order.
    """
    raw = frame[column]
    if pd.api.types.is_datetime64_any_dtype(raw):
        parsed = pd.to_datetime(raw)
        if getattr(parsed.dt, "tz", None) is not None:
            parsed = parsed.dt.tz_localize(None)
    else:
        codes, uniques = pd.factorize(raw)  # parse each distinct text once (a few thousand dates)
        if len(uniques) == 0:
            codes, uniques = np.zeros(len(raw), dtype=np.intp) - 1, pd.Index([""])
        uniques = pd.Series(uniques, dtype="string").str.strip()
        present = (codes >= 0) & (uniques != "").to_numpy(dtype=bool).take(codes, mode="clip")
        found = detect_date_format(uniques[uniques != ""], column, file_label, fmt)
        by_code = _parse_with(uniques, found).to_numpy().take(codes, mode="clip")
        parsed = pd.Series(by_code, index=raw.index).where(present)
        bad = parsed.isna().to_numpy() & present
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            expected = "YYYY-MM-DD" if found == "ISO8601" else found
            raise InvalidValueError(
                f"{file_label}: column {column!r} row {row + 1}: cannot parse {_show(raw.iloc[row])} as "
                f"a date (expected {expected}, the format of the file's other dates)"
            )
    if not allow_missing and parsed.isna().any():
        row = int(np.flatnonzero(parsed.isna().to_numpy())[0])
        raise InvalidValueError(f"{file_label}: column {column!r} row {row + 1}: missing date")
    return pd.to_datetime(parsed).dt.normalize().astype("datetime64[ns]")


def parse_numeric(frame: pd.DataFrame, columns: Iterable[str], file_label: str) -> pd.DataFrame:
    """Coerce ``columns`` to float64; a non-empty value that is not a number is an error.

    Raises
    ------
    InvalidValueError
        Naming the column, the row and the value.
    """
    for column in columns:
        if column not in frame.columns:
            continue
        raw = frame[column]
        if pd.api.types.is_numeric_dtype(raw):
            frame[column] = raw.astype("float64")
            continue
        parsed = pd.to_numeric(raw, errors="coerce")
        bad = parsed.isna() & raw.notna() & (raw.astype(str).str.strip() != "")
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise InvalidValueError(
                f"{file_label}: column {column!r} row {row + 1}: {_show(raw.iloc[row])} is not a number"
            )
        frame[column] = parsed.astype("float64")
    return frame


def parse_tickers(frame: pd.DataFrame, file_label: str, column: str = "ticker") -> pd.Series:
    """Upper-case and validate tickers.

    Raises
    ------
    InvalidValueError
        Naming the first missing or malformed ticker (quotes, spaces, SQL or shell fragments).
    """
    raw = frame[column]
    if raw.isna().any():
        row = int(np.flatnonzero(raw.isna().to_numpy())[0])
        raise InvalidValueError(f"{file_label}: column {column!r} row {row + 1}: missing ticker")
    codes, uniques = pd.factorize(raw.astype(str))  # clean each distinct ticker once
    cleaned = pd.Series(uniques).str.strip().str.upper()
    tickers = pd.Series(cleaned.to_numpy()[codes], index=raw.index, dtype=object)
    valid = cleaned.str.match(TICKER_PATTERN.pattern).to_numpy()[codes]
    if not valid.all():
        row = int(np.flatnonzero(~valid)[0])
        raise InvalidValueError(
            f"{file_label}: column {column!r} row {row + 1}: invalid ticker {_show(raw.iloc[row])} "
            "(expected 1-12 of A-Z, 0-9, '.', '-')"
        )
    return tickers


def _label(path: Path) -> str:
    return path.name


def _load(raw_dir: Path, schema: RawFileSchema) -> tuple[pd.DataFrame, str]:
    path = find_raw_file(raw_dir, schema.name)
    assert path is not None  # required files raise inside find_raw_file
    label = _label(path)
    frame = validate_columns(read_table(path), schema, label)
    if "ticker" in frame.columns:
        frame["ticker"] = parse_tickers(frame, label)
    frame = parse_numeric(frame, schema.numeric, label)
    return frame, label


def load_prices(raw_dir: Path, *, date_format: str | None = None) -> pd.DataFrame:
    """Load and validate ``prices``.

    Returns
    -------
    pd.DataFrame
        Columns date, ticker, close, volume and the optional price columns present; sorted by (date, ticker);
        exact duplicate rows dropped.

    Raises
    ------
    DataError
        Missing file/column, unparseable date, NaN or non-positive close/adj_close, negative volume, conflicting
        duplicate (date, ticker) rows; each message names the file, ticker and date.
    """
    frame, label = _load(raw_dir, PRICES)
    frame["date"] = parse_dates(frame, "date", label, fmt=date_format)
    return validate_prices(frame, label)


def validate_prices(frame: pd.DataFrame, label: str = "prices") -> pd.DataFrame:
    """Row-level rules of ``prices`` (see :func:`load_prices`)."""
    for column in ("close", "adj_close"):
        if column not in frame.columns:
            continue
        values = frame[column]
        missing = values.isna()
        if column == "close" and missing.any():
            _raise_at(frame, missing, label, f"column {column!r} is NaN", InvalidValueError)
        bad = values <= 0
        if bad.any():
            row = frame.loc[bad].iloc[0]
            raise InvalidValueError(
                f"{label}: column {column!r} is {row[column]:g} (must be > 0) for ticker "
                f"{row['ticker']} on {row['date'].date()}"
            )
    if (frame["volume"] < 0).any():
        _raise_at(
            frame, frame["volume"] < 0, label, "column 'volume' is negative", InvalidValueError
        )
    dup = frame.duplicated(["date", "ticker"], keep=False)
    if dup.any():  # rare: compare whole rows only then
        frame = frame.drop_duplicates()
        dup = frame.duplicated(["date", "ticker"], keep=False)
    if dup.any():
        n = int(dup.sum())
        row = frame.loc[dup].sort_values(["date", "ticker"]).iloc[0]
        raise DuplicateRowsError(
            f"{label}: {n} rows share a (date, ticker) key with different values, first: ticker "
            f"{row['ticker']} on {row['date'].date()}; keep one row per ticker and day"
        )
    return frame.sort_values(["date", "ticker"], kind="stable").reset_index(drop=True)


def _raise_at(frame: pd.DataFrame, mask: pd.Series, label: str, what: str, error: type) -> None:
    row = frame.loc[mask].iloc[0]
    raise error(f"{label}: {what} for ticker {row['ticker']} on {pd.Timestamp(row['date']).date()}")


def load_companies(raw_dir: Path) -> pd.DataFrame:
    """Load and validate ``companies`` (one row per ticker, sector required).

    Raises
    ------
    DataError
        Missing file/column, duplicate ticker, missing name or sector.
    """
    frame, label = _load(raw_dir, COMPANIES)
    for column in ("name", "gics_sector"):
        missing = frame[column].isna() | (frame[column].astype(str).str.strip() == "")
        if missing.any():
            ticker = frame.loc[missing, "ticker"].iloc[0]
            raise InvalidValueError(f"{label}: column {column!r} is empty for ticker {ticker}")
        frame[column] = frame[column].astype(str).str.strip()
    dup = frame["ticker"].duplicated()
    if dup.any():
        raise DuplicateRowsError(
            f"{label}: ticker {frame.loc[dup, 'ticker'].iloc[0]} appears more than once; keep one row "
            "per ticker"
        )
    return frame.sort_values("ticker").reset_index(drop=True)


def load_fundamentals(raw_dir: Path, *, date_format: str | None = None) -> pd.DataFrame:
    """Load ``fundamentals`` (annual statements; ``period_end`` may be missing where ``fiscal_year`` is given).

    Raises
    ------
    DataError
        Missing file/column, unparseable ``period_end``, rows with neither ``period_end`` nor ``fiscal_year``.
    """
    frame, label = _load(raw_dir, FUNDAMENTALS)
    if "period_end" in frame.columns:
        frame["period_end"] = parse_dates(
            frame, "period_end", label, allow_missing=True, fmt=date_format
        )
    else:
        frame["period_end"] = pd.NaT
    if "fiscal_year" not in frame.columns:
        frame["fiscal_year"] = np.nan
    undated = frame["period_end"].isna() & frame["fiscal_year"].isna()
    if undated.any():
        ticker = frame.loc[undated, "ticker"].iloc[0]
        raise InvalidValueError(
            f"{label}: a row for ticker {ticker} has neither 'period_end' nor 'fiscal_year'"
        )
    if "source" not in frame.columns:
        frame["source"] = "raw"
    frame["source"] = frame["source"].fillna("raw").astype(str)
    return frame.sort_values(["ticker", "fiscal_year", "period_end"]).reset_index(drop=True)


def load_descriptions(raw_dir: Path) -> pd.DataFrame:
    """Load ``descriptions`` (ticker, text, optional title and source).

    Empty texts are kept: the NLP layer reports them per company.
    """
    frame, _ = _load(raw_dir, DESCRIPTIONS)
    for column in ("title", "source"):
        if column not in frame.columns:
            frame[column] = None
    frame["text"] = frame["text"].fillna("").astype(str)
    return frame.sort_values(["ticker", "source"], na_position="last").reset_index(drop=True)


def load_exposures(raw_dir: Path, *, date_format: str | None = None) -> pd.DataFrame | None:
    """Load vendor style exposures (e.g. a Bloomberg PORT export) when the drop folder has them.

    Returns
    -------
    pd.DataFrame or None
        date, ticker and the 7 style columns; ``None`` when there is no ``exposures`` file.
    """
    path = find_raw_file(raw_dir, EXPOSURES.name, required=False)
    if path is None:
        return None
    label = _label(path)
    frame = validate_columns(read_table(path), EXPOSURES, label)
    frame["ticker"] = parse_tickers(frame, label)
    frame["date"] = parse_dates(frame, "date", label, fmt=date_format)
    frame = parse_numeric(frame, EXPOSURES.numeric, label)
    dup = frame.duplicated(["date", "ticker"])
    if dup.any():
        row = frame.loc[dup].iloc[0]
        raise DuplicateRowsError(
            f"{label}: duplicate (date, ticker) row for ticker {row['ticker']} on {row['date'].date()}"
        )
    return frame.sort_values(["date", "ticker"]).reset_index(drop=True)


def check_known_tickers(tickers: Iterable[str], companies: pd.DataFrame, file_label: str) -> None:
    """Every ticker of a file must be in ``companies``.

    Raises
    ------
    UnknownTickerError
        Listing (up to a few of) the unknown tickers.
    """
    unknown = sorted(set(tickers) - set(companies["ticker"]))
    if unknown:
        shown = ", ".join(unknown[:MAX_SHOWN]) + (
            f" and {len(unknown) - MAX_SHOWN} more" if len(unknown) > MAX_SHOWN else ""
        )
        raise UnknownTickerError(
            f"{file_label}: {len(unknown)} ticker(s) not in companies: {shown}; add them to the companies "
            "file or remove their rows"
        )


def file_fingerprint(raw_dir: Path, name: str) -> str | None:
    """Cheap change detector for a raw file: ``"<file>:<size>:<mtime_ns>"`` (``None`` when absent)."""
    path = find_raw_file(raw_dir, name, required=False)
    if path is None:
        return None
    stat = os.stat(path)
    return f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}"


def raw_date_span(raw_dir: Path) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """First date and as-of date of the prices file, read cheaply (the date column only).

    The end is the drop's declared (``drop.toml``) or inferred as-of date when rows are dated later, so a few
    future-dated rows do not stretch the month partitions (the run refuses them).

    Returns ``None`` when the file is missing or unreadable: callers that only need a partition start fall back
    to a default, and the run that loads the file reports the real error.
    """
    try:
        path = find_raw_file(raw_dir, PRICES.name)
    except DataError:  # missing, or a link out of the drop folder
        return None
    if path.stat().st_size > MAX_RAW_FILE_BYTES:
        return (
            None  # the run that loads it reports the size; loading the code location must stay fast
        )
    try:
        if path.suffix == ".parquet":
            table = pq.read_table(path, columns=["date"])
        else:
            table = pa.Table.from_pandas(pd.read_csv(path, usecols=["date"]))
        dates = pd.to_datetime(table.column("date").to_pandas(), errors="coerce").dropna()
    except Exception:  # noqa: BLE001 - any problem here is reported by the run that loads the file
        return None
    if dates.empty:
        return None
    dates = dates.dt.normalize()
    try:  # rows after the drop's as-of date are refused by the run; they must not stretch the partitions
        declared = read_manifest(raw_dir).as_of
    except DataError:
        declared = None
    min_coverage = load_quality_config().plausibility.as_of_min_coverage
    as_of = declared or infer_as_of(dates, min_coverage=min_coverage)
    return pd.Timestamp(dates.min()), min(pd.Timestamp(dates.max()), as_of)
