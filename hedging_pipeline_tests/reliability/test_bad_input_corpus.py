"""Bad-input corpus, end to end through Dagster: each kind of bad raw file stops the raw stage with one line.

Every case starts from a copy of the demo drop folder and a copy of a complete warehouse (the uninterrupted
run's), breaks one thing, runs the code location's raw stage job (what ``hedging-pipeline run`` runs first) and
checks the one-line error the CLI would print and that every table of the warehouse is exactly as before.
Inputs that are odd but valid (rows out of order, exact duplicate rows, a UTF-8 BOM, hostile text, links inside
the drop folder) must load to the same tables as the clean data, text stored verbatim.

The corpus files are generated here from the demo data (nothing large is committed); ``corpus/`` holds the few
small hand-written files.
"""

import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hedging_pipeline.settings import load_settings
from hedging_pipeline.warehouse.duckdb import Warehouse
from hedging_pipeline_tests.cli_runs import (
    assert_same_tables,
    canonical,
    run_raw_stage,
    table_fingerprints,
)

CORPUS = Path(__file__).parent / "corpus"
SUFFIXES = (".parquet", ".csv", ".csv.gz")
HUGE_BYTES = 5 * 1024**3
"""A sparse file this large (no disk blocks) exceeds the loader's 4 GiB limit."""
HOSTILE_TICKER = "AAA'); DROP TABLE raw_prices;--"
HOSTILE_TEXT = (
    "Robert'); DROP TABLE raw_descriptions;-- \x00 NUL, \x1b[2J ANSI, \u202eRTL override\u202c, "
    'emoji \U0001f4c8, quote " and backslash \\ and a {placeholder} %s $(rm -rf /) `id`'
)


# -- drop-folder edits -------------------------------------------------------------------------------------------
def _read(raw: Path, name: str) -> pd.DataFrame:
    return pd.read_parquet(raw / f"{name}.parquet")


def _remove(raw: Path, name: str) -> None:
    for suffix in SUFFIXES:
        (raw / f"{name}{suffix}").unlink(missing_ok=True)


def _write(raw: Path, name: str, frame: pd.DataFrame, fmt: str = "parquet", **csv) -> Path:
    _remove(raw, name)
    path = raw / f"{name}.{fmt}"
    if fmt == "parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False, **csv)
    return path


def _write_bytes(raw: Path, filename: str, data: bytes) -> None:
    _remove(raw, filename.split(".")[0])
    (raw / filename).write_bytes(data)


def _edit(name: str, change: Callable[[pd.DataFrame], pd.DataFrame], fmt: str = "parquet"):
    def mutate(raw: Path) -> None:
        _write(raw, name, change(_read(raw, name).copy()), fmt)

    return mutate


def _set(name: str, row: int, column: str, value, fmt: str = "parquet"):
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        if value is None or isinstance(value, str):
            frame[column] = frame[column].astype(object)
        frame.loc[row, column] = value
        return frame

    return _edit(name, change, fmt)


def _prices_csv_bytes(raw: Path, rows: int = 200) -> str:
    return _read(raw, "prices").head(rows).to_csv(index=False, date_format="%Y-%m-%d")


def _latin1_companies(raw: Path) -> None:
    frame = _read(raw, "companies")
    frame.loc[0, "name"] = "Soci\u00e9t\u00e9 G\u00e9n\u00e9rale"
    _remove(raw, "companies")
    frame.to_csv(raw / "companies.csv", index=False, encoding="latin-1")


def _utf16_prices(raw: Path) -> None:
    _write_bytes(raw, "prices.csv", _prices_csv_bytes(raw).encode("utf-16"))


def _semicolon_prices(raw: Path) -> None:
    _write_bytes(raw, "prices.csv", _prices_csv_bytes(raw).replace(",", ";").encode())


def _tab_fundamentals(raw: Path) -> None:
    _write(raw, "fundamentals", _read(raw, "fundamentals"), "csv", sep="\t")


def _empty_prices(raw: Path) -> None:
    _write_bytes(raw, "prices.csv", b"")


def _header_only_prices(raw: Path) -> None:
    _write_bytes(raw, "prices.csv", (CORPUS / "prices_header_only.csv").read_bytes())


def _huge_prices(raw: Path) -> None:
    _remove(raw, "prices")
    with (raw / "prices.csv").open("wb") as handle:
        handle.truncate(HUGE_BYTES)  # sparse: allocates no blocks


def _truncated_parquet(raw: Path) -> None:
    data = (raw / "prices.parquet").read_bytes()
    _write_bytes(raw, "prices.parquet", data[: len(data) // 2])


def _unparseable_date_csv(raw: Path) -> None:
    frame = _read(raw, "prices").head(300).astype({"date": str})
    frame.loc[123, "date"] = "31/02/2021"
    _write(raw, "prices", frame, "csv")


def _comma_decimal_csv(raw: Path) -> None:
    frame = _read(raw, "prices").head(300)
    frame["close"] = frame["close"].astype(object)
    frame.loc[45, "close"] = "12,5"
    _write(raw, "prices", frame, "csv")


def _conflicting_duplicate(raw: Path) -> None:
    frame = _read(raw, "prices")
    twin = frame.iloc[[500]].assign(close=frame["close"].iloc[500] * 1.01)
    _write(raw, "prices", pd.concat([frame, twin], ignore_index=True))


def _unknown_ticker(raw: Path) -> None:
    frame = _read(raw, "prices")
    _write(raw, "prices", pd.concat([frame, frame.iloc[[7]].assign(ticker="ZZZZ")]))


def _prices_link_outside(raw: Path) -> None:
    outside = raw.parent / "elsewhere"
    outside.mkdir()
    shutil.move(raw / "prices.parquet", outside / "prices.parquet")
    os.symlink(outside / "prices.parquet", raw / "prices.parquet")


def _missing_companies(raw: Path) -> None:
    _remove(raw, "companies")


def _exposures_unknown_ticker(raw: Path) -> None:
    _write_bytes(raw, "exposures.csv", (CORPUS / "exposures_unknown_ticker.csv").read_bytes())


def _exposures_duplicate(raw: Path) -> None:
    _write_bytes(raw, "exposures.csv", (CORPUS / "exposures_duplicate.csv").read_bytes())


def _shuffled_prices(raw: Path) -> None:
    frame = _read(raw, "prices")
    order = np.random.default_rng(7).permutation(len(frame))
    _write(raw, "prices", frame.iloc[order].reset_index(drop=True))


def _exact_duplicates(raw: Path) -> None:
    frame = _read(raw, "prices")
    _write(raw, "prices", pd.concat([frame, frame.iloc[::97]], ignore_index=True))


def _bom_csv_prices(raw: Path) -> None:
    frame = _read(raw, "prices")
    _remove(raw, "prices")
    text = frame.to_csv(index=False, date_format="%Y-%m-%d")
    (raw / "prices.csv").write_bytes(b"\xef\xbb\xbf" + text.encode())


def _link_inside(raw: Path) -> None:
    archive = raw / "archive"
    archive.mkdir()
    shutil.move(raw / "prices.parquet", archive / "prices-2022.parquet")
    os.symlink(Path("archive") / "prices-2022.parquet", raw / "prices.parquet")


def _hostile_text(raw: Path) -> None:
    frame = _read(raw, "descriptions")
    frame.loc[0, "text"] = HOSTILE_TEXT * 2000  # about 250 kB of it
    frame.loc[1, "title"] = HOSTILE_TEXT
    _write(raw, "descriptions", frame)


def _hostile_company_name(raw: Path) -> None:
    frame = _read(raw, "companies")
    frame.loc[2, "name"] = HOSTILE_TEXT
    _write(raw, "companies", frame)


def _future_dated_rows(raw: Path) -> None:
    frame = _read(raw, "prices")
    late = frame.iloc[[0, 1, 2]].assign(
        date=pd.to_datetime(["2031-05-01", "2031-05-02", "2031-05-05"])
    )
    _write(raw, "prices", pd.concat([frame, late], ignore_index=True))


def _prices_csv(raw: Path, dates: pd.Series) -> None:
    frame = _read(raw, "prices")
    _write(raw, "prices", frame.assign(date=dates(frame["date"])), "csv")


def _mixed_date_formats(raw: Path) -> None:
    def dates(d: pd.Series) -> pd.Series:
        text = d.dt.strftime("%Y-%m-%d").copy()
        text.iloc[2000:2100] = d.iloc[2000:2100].dt.strftime(
            "%d/%m/%Y"
        )  # one block in another format
        return text

    _prices_csv(raw, dates)


def _ambiguous_day_first(raw: Path) -> None:
    frame = _read(raw, "prices")
    early = frame.loc[frame["date"].dt.day <= 12]  # every date reads both day-first and month-first
    _write(raw, "prices", early.assign(date=early["date"].dt.strftime("%d/%m/%Y")), "csv")


def _day_first_csv(raw: Path) -> None:
    _prices_csv(raw, lambda d: d.dt.strftime("%d/%m/%Y"))


def _declared_as_of_before_the_end(raw: Path) -> None:
    (raw / "drop.toml").write_text("as_of = 2022-06-30\n")


def _absurd_price(frame: pd.DataFrame) -> pd.DataFrame:
    frame.loc[1500, "close"] = 1e12
    return frame


@dataclass(frozen=True)
class Case:
    """One kind of bad (or odd but valid) input."""

    name: str
    mutate: Callable[[Path], None]
    error: str | None
    """Regex the one-line error must match; ``None`` when the input must load."""


BAD = [
    Case(
        "hostile_ticker",
        _set("prices", 10, "ticker", HOSTILE_TICKER),
        r"^raw_drop: prices\.parquet: column 'ticker' row \d+: invalid ticker "
        r"\"AAA'\); DROP TABLE",
    ),
    Case(
        "ticker_with_control_characters",
        _set("companies", 3, "ticker", "AB\nC\x1b[31m"),
        # control characters arrive escaped (the backslashes themselves escaped once more)
        r"^raw_drop: companies\.parquet: column 'ticker' row 4: invalid ticker "
        r"'AB\\\\nC\\\\x1b\[31m'",
    ),
    Case(
        "missing_column",
        _edit("prices", lambda f: f.drop(columns=["close"])),
        r"^raw_drop: prices\.parquet: missing required column 'close' \(found: ",
    ),
    Case(
        "nan_close",
        _set("prices", 1000, "close", np.nan),
        r"^raw_drop: prices\.parquet: column 'close' is NaN for ticker \w+ on \d{4}-\d\d-\d\d$",
    ),
    Case(
        "negative_price",
        _set("prices", 2000, "close", -3.0),
        r"^raw_drop: prices\.parquet: column 'close' is -3 \(must be > 0\) for ticker \w+ on \d{4}-\d\d-\d\d$",
    ),
    Case(
        "negative_volume",
        _set("prices", 3000, "volume", -100),
        r"^raw_drop: prices\.parquet: column 'volume' is negative for ticker \w+ on \d{4}-\d\d-\d\d$",
    ),
    Case(
        "conflicting_duplicate_rows",
        _conflicting_duplicate,
        r"^raw_drop: prices\.parquet: 2 rows share a \(date, ticker\) key with "
        r"different values, first: ticker \w+ on \d{4}-\d\d-\d\d",
    ),
    Case(
        "unknown_ticker",
        _unknown_ticker,
        r"^raw_drop: prices: 1 ticker\(s\) not in companies: ZZZZ;",
    ),
    Case(
        "unparseable_date",
        _unparseable_date_csv,
        r"^raw_drop: prices\.csv: column 'date' row 124: cannot parse '31/02/2021' as a date",
    ),
    Case(
        "comma_decimal",
        _comma_decimal_csv,
        r"^raw_drop: prices\.csv: column 'close' row 46: '12,5' is not a number$",
    ),
    Case(
        "semicolon_delimiter",
        _semicolon_prices,
        r"^raw_drop: prices\.csv: columns are separated by ';', not ','",
    ),
    Case(
        "tab_delimiter",
        _tab_fundamentals,
        r"^raw_drop: fundamentals\.csv: columns are separated by tab, not ','",
    ),
    Case(
        "latin1_encoding",
        _latin1_companies,
        r"^raw_drop: companies\.csv: not valid UTF-8 \(byte 0xe9 at offset \d+\); re-export",
    ),
    Case(
        "utf16_encoding",
        _utf16_prices,
        r"^raw_drop: prices\.csv: not valid UTF-8 \(byte 0xff at offset 0\)",
    ),
    Case("empty_file", _empty_prices, r"^raw_drop: prices\.csv: file is empty \(0 bytes\)"),
    Case(
        "header_only",
        _header_only_prices,
        r"^raw_drop: prices\.csv: file has a header but no data rows$",
    ),
    Case(
        "huge_file",
        _huge_prices,
        r"^raw_drop: prices\.csv: file is 5\.0 GiB, above the 4 GiB limit for one raw file",
    ),
    Case(
        "truncated_parquet",
        _truncated_parquet,
        r"^raw_drop: prices\.parquet: not a readable Parquet file \(",
    ),
    Case(
        "file_linked_outside_the_drop_folder",
        _prices_link_outside,
        r"^raw_drop: prices\.parquet: is a symbolic link to .*/elsewhere/prices\.parquet, outside "
        r"the drop folder .*/raw;",
    ),
    Case(
        "missing_file",
        _missing_companies,
        r"^raw_drop: /\S*/raw: required raw file 'companies' not found",
    ),
    Case(
        "duplicate_company",
        _edit("companies", lambda f: pd.concat([f, f.iloc[[4]]], ignore_index=True)),
        r"^raw_drop: companies\.parquet: ticker \w+ appears more than once",
    ),
    Case(
        "empty_sector",
        _set("companies", 5, "gics_sector", "  "),
        r"^raw_drop: companies\.parquet: column 'gics_sector' is empty for ticker \w+$",
    ),
    Case(
        "bad_period_end",
        _set("fundamentals", 6, "period_end", "the end of 2020", fmt="csv"),
        r"^raw_drop: fundamentals\.csv: column 'period_end' row 7: cannot parse "
        r"'the end of 2020'",
    ),
    Case(
        "undated_fundamentals",
        _edit("fundamentals", lambda f: f.assign(fiscal_year=pd.NA, period_end=pd.NaT).head(3)),
        r"^raw_drop: fundamentals\.parquet: a row for ticker \w+ has neither 'period_end' nor 'fiscal_year'$",
    ),
    Case(
        "descriptions_without_text",
        _edit("descriptions", lambda f: f.drop(columns=["text"])),
        r"^raw_drop: descriptions\.parquet: missing required column 'text'",
    ),
    Case(
        "description_without_ticker",
        _set("descriptions", 9, "ticker", None),
        r"^raw_drop: descriptions\.parquet: column 'ticker' row 10: missing ticker$",
    ),
    Case(
        "exposures_unknown_ticker",
        _exposures_unknown_ticker,
        r"^raw_drop: exposures: 1 ticker\(s\) not in companies: NOPE;",
    ),
    Case(
        "exposures_duplicate_rows",
        _exposures_duplicate,
        r"^raw_drop: exposures\.csv: duplicate \(date, ticker\) row for ticker ARSB on 2021-03-01$",
    ),
]

PLAUSIBILITY = [
    Case(
        "infinite_close",
        _set("prices", 1500, "close", np.inf),
        r"^raw_drop: prices\.parquet: column 'close' is inf \(not a finite number\) for ticker \w+ on "
        r"\d{4}-\d\d-\d\d;",
    ),
    Case(
        "infinite_fundamental",
        _set("fundamentals", 3, "total_assets", -np.inf),
        r"^raw_drop: fundamentals\.parquet: column 'total_assets' is -inf \(not a finite number\) for "
        r"ticker \w+",
    ),
    Case(
        "absurd_price",
        _edit("prices", _absurd_price),
        r"^raw_drop: prices\.parquet: column 'close' moves from [\d.]+ to 1e\+12 \(x[\d.e+]+\) for "
        r"ticker \w+ on \d{4}-\d\d-\d\d, beyond the 50x one-day bound and not explained by a split; "
        r"2 such move",
    ),
    Case(
        "future_dated_rows",
        _future_dated_rows,
        r"^raw_drop: prices\.parquet: 3 row\(s\) dated after the drop's as-of date 2022-12-30 \(inferred: "
        r"the last day with prices for at least 50% of the usual tickers\), first ticker \w+ on 2031-05-01;",
    ),
    Case(
        "declared_as_of_before_the_end",
        _declared_as_of_before_the_end,
        r"^raw_drop: prices\.parquet: \d+ row\(s\) dated after the drop's as-of date 2022-06-30 \(declared "
        r"in drop\.toml\), first ticker \w+ on 2022-07-01;",
    ),
    Case(
        "mixed_date_formats",
        _mixed_date_formats,
        r"^raw_drop: prices\.csv: column 'date' row 2001: cannot parse '\d\d/\d\d/\d{4}' as a date \(expected "
        r"YYYY-MM-DD, the format of the file's other dates\)$",
    ),
    Case(
        "ambiguous_day_first_dates",
        _ambiguous_day_first,
        r"^raw_drop: prices\.csv: column 'date' is ambiguous: every date \(e\.g\. '\d\d/\d\d/\d{4}'\) reads both "
        r"day-first and month-first; declare the format in drop\.toml",
    ),
]

ACCEPTED = [
    Case("dates_out_of_order", _shuffled_prices, None),
    Case("exact_duplicate_rows", _exact_duplicates, None),
    Case("utf8_bom_csv", _bom_csv_prices, None),
    Case("link_inside_the_drop_folder", _link_inside, None),
    Case("day_first_csv_unambiguous", _day_first_csv, None),
]


# -- running a case ----------------------------------------------------------------------------------------------
def _prepare(case: Case, reliability_raw_dir: Path, tmp_path: Path) -> Path:
    raw = tmp_path / "raw"
    shutil.copytree(reliability_raw_dir, raw)
    case.mutate(raw)
    return raw


@pytest.mark.parametrize("case", BAD + PLAUSIBILITY, ids=[c.name for c in BAD + PLAUSIBILITY])
def test_bad_input_stops_with_one_line_and_keeps_the_warehouse(
    case, reliability_raw_dir, tmp_path, raw_stage_job, earlier_warehouse, earlier_fingerprints
):
    raw = _prepare(case, reliability_raw_dir, tmp_path)
    outcome = run_raw_stage(raw, tmp_path / "home", earlier_warehouse, raw_stage_job)
    assert not outcome.success, f"{case.name}: the raw stage accepted bad input"
    assert "\n" not in outcome.message
    assert re.search(case.error, outcome.message), outcome.message
    assert table_fingerprints(outcome.warehouse) == earlier_fingerprints


RAW_TABLES = (
    "raw_companies",
    "raw_prices",
    "raw_fundamentals",
    "raw_descriptions",
    "raw_exposures",
)


def _raw_tables(path: Path) -> dict[str, pd.DataFrame]:
    wh = Warehouse(path)
    return {t: canonical(wh.read(t)) for t in RAW_TABLES}


@pytest.mark.parametrize("case", ACCEPTED, ids=[c.name for c in ACCEPTED])
def test_odd_but_valid_input_loads_the_same_tables(
    case, reliability_raw_dir, tmp_path, raw_stage_job, earlier_warehouse, earlier_fingerprints
):
    raw = _prepare(case, reliability_raw_dir, tmp_path)
    outcome = run_raw_stage(raw, tmp_path / "home", earlier_warehouse, raw_stage_job)
    assert outcome.success, outcome.message
    assert_same_tables(_raw_tables(outcome.warehouse), _raw_tables(earlier_warehouse), case.name)
    unchanged = {t: v for t, v in earlier_fingerprints.items() if t not in RAW_TABLES}
    after = table_fingerprints(outcome.warehouse)
    assert {t: after[t] for t in unchanged} == unchanged


@pytest.mark.parametrize("mutate", [_hostile_text, _hostile_company_name], ids=["text", "name"])
def test_hostile_strings_are_stored_verbatim(
    mutate, reliability_raw_dir, tmp_path, raw_stage_job, earlier_warehouse, earlier_fingerprints
):
    raw = tmp_path / "raw"
    shutil.copytree(reliability_raw_dir, raw)
    mutate(raw)
    outcome = run_raw_stage(raw, tmp_path / "home", earlier_warehouse, raw_stage_job)
    assert outcome.success, outcome.message
    wh = Warehouse(outcome.warehouse)
    if mutate is _hostile_text:
        texts = wh.query("select text from raw_descriptions where length(text) > 100000")["text"]
        assert texts.tolist() == [HOSTILE_TEXT * 2000]
        titles = wh.query("select title from raw_descriptions where title = ?", [HOSTILE_TEXT])
        assert len(titles) == 1
        # 250 kB is over the NLP cleaner's cut: stored verbatim, and the cut is announced
        assert wh.read("raw_quarantine")["rule"].tolist() == ["oversized_description"]
    else:
        names = wh.query("select name from raw_companies where name = ?", [HOSTILE_TEXT])
        assert len(names) == 1
    # the injection attempts did nothing: every table is still there with its rows
    after = table_fingerprints(outcome.warehouse)
    assert set(after) == set(earlier_fingerprints)
    rows_after = {t: n for t, (n, _) in after.items() if t != "raw_quarantine"}
    assert rows_after == {
        t: n for t, (n, _) in earlier_fingerprints.items() if t != "raw_quarantine"
    }


def test_symlinked_drop_folder_is_resolved_and_named(
    reliability_raw_dir, tmp_path, raw_stage_job, earlier_warehouse
):
    # policy: the configured drop folder may be a link (e.g. data/current -> data/2024-06-01); it is resolved
    # once, the run names the real folder, and files are then confined to it
    link = tmp_path / "current"
    os.symlink(reliability_raw_dir, link)
    settings = load_settings({"HEDGING_RAW_DIR": str(link), "HEDGING_HOME": str(tmp_path / "h")})
    assert settings.raw_dir == reliability_raw_dir.resolve()
    assert str(reliability_raw_dir.resolve()) in settings.describe_raw_source()
    outcome = run_raw_stage(settings.raw_dir, tmp_path / "home", earlier_warehouse, raw_stage_job)
    assert outcome.success, outcome.message
    assert_same_tables(_raw_tables(outcome.warehouse), _raw_tables(earlier_warehouse), "link")


def test_missing_drop_folder(tmp_path, raw_stage_job, earlier_warehouse, earlier_fingerprints):
    outcome = run_raw_stage(
        tmp_path / "nowhere", tmp_path / "home", earlier_warehouse, raw_stage_job
    )
    assert not outcome.success
    assert "raw drop folder" in outcome.message and "does not exist" in outcome.message
    assert table_fingerprints(outcome.warehouse) == earlier_fingerprints


def test_link_out_of_the_drop_folder_is_refused_by_the_loader(tmp_path):
    from hedging_pipeline.data import loaders
    from hedging_pipeline.errors import DataError

    raw, outside = tmp_path / "raw", tmp_path / "outside"
    raw.mkdir()
    outside.mkdir()
    (outside / "companies.csv").write_text("ticker,name,gics_sector\nAAA,A Co,Energy\n")
    os.symlink(outside / "companies.csv", raw / "companies.csv")
    with pytest.raises(
        DataError, match=r"^companies\.csv: is a symbolic link to .*outside/companies"
    ):
        loaders.load_companies(raw)
    # the partition span is read before any run: it falls back instead of failing the code location
    os.symlink(outside / "companies.csv", raw / "prices.csv")
    assert loaders.raw_date_span(raw) is None


def test_huge_file_does_not_stall_loading_the_code_location(tmp_path):
    from hedging_pipeline.data import loaders

    _huge_prices(tmp_path)
    started = time.monotonic()
    assert loaders.raw_date_span(tmp_path) is None  # reading 5 GiB of it would take minutes
    assert time.monotonic() - started < 1.0
