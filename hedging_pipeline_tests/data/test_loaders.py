"""Raw drop-folder validation: each bad input gives one clear line naming file, column, value, ticker or date."""

from pathlib import Path

import pandas as pd
import pytest

from hedging_pipeline.data import loaders
from hedging_pipeline.errors import (
    DataError,
    DuplicateRowsError,
    InvalidValueError,
    MissingColumnError,
    MissingFileError,
    UnknownTickerError,
)

PRICES_CSV = """date,ticker,close,volume,adj_close
2024-01-02,AAA,10.0,1000,10.0
2024-01-02,BBB,20.0,2000,20.0
2024-01-03,AAA,10.5,1100,10.5
2024-01-03,BBB,19.0,2100,19.0
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def one_line(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert "\n" not in message, f"message spans lines: {message!r}"
    return message


def test_valid_csv_prices_load_sorted(tmp_path):
    write(tmp_path, "prices.csv", PRICES_CSV)
    frame = loaders.load_prices(tmp_path)
    assert list(frame["ticker"]) == ["AAA", "BBB", "AAA", "BBB"]
    assert frame["close"].tolist() == [10.0, 20.0, 10.5, 19.0]
    assert frame["date"].dtype == "datetime64[ns]"


def test_parquet_and_csv_give_the_same_frame(tmp_path):
    write(tmp_path, "prices.csv", PRICES_CSV)
    from_csv = loaders.load_prices(tmp_path)
    other = tmp_path / "pq"
    other.mkdir()
    pd.read_csv(tmp_path / "prices.csv").assign(
        date=lambda f: pd.to_datetime(f["date"])
    ).to_parquet(other / "prices.parquet")
    from_parquet = loaders.load_prices(other)
    pd.testing.assert_frame_equal(from_csv, from_parquet, check_dtype=False)


def test_missing_file_names_folder_and_file(tmp_path):
    with pytest.raises(MissingFileError, match=r"required raw file 'prices' not found") as exc:
        loaders.load_prices(tmp_path)
    assert str(tmp_path) in one_line(exc)


def test_missing_folder(tmp_path):
    with pytest.raises(MissingFileError, match="does not exist"):
        loaders.load_prices(tmp_path / "nope")


def test_missing_column_names_file_and_column(tmp_path):
    write(tmp_path, "prices.csv", "date,ticker,volume\n2024-01-02,AAA,5\n")
    with pytest.raises(
        MissingColumnError, match=r"prices.csv: missing required column 'close'"
    ) as exc:
        loaders.load_prices(tmp_path)
    one_line(exc)


def test_unparseable_date_names_row_and_value(tmp_path):
    write(tmp_path, "prices.csv", PRICES_CSV.replace("2024-01-03,AAA", "2024-13-45,AAA"))
    with pytest.raises(
        InvalidValueError, match=r"prices.csv: column 'date' row 3: cannot parse '2024-13-45'"
    ):
        loaders.load_prices(tmp_path)


def test_conflicting_duplicate_names_ticker_and_date(tmp_path):
    write(tmp_path, "prices.csv", PRICES_CSV + "2024-01-03,AAA,11.0,1200,11.0\n")
    with pytest.raises(DuplicateRowsError, match=r"ticker AAA on 2024-01-03"):
        loaders.load_prices(tmp_path)


def test_exact_duplicate_rows_are_dropped(tmp_path):
    write(tmp_path, "prices.csv", PRICES_CSV + "2024-01-03,AAA,10.5,1100,10.5\n")
    assert len(loaders.load_prices(tmp_path)) == 4


@pytest.mark.parametrize("bad", ["-3.0", "0"])
def test_non_positive_price_names_ticker_and_date(tmp_path, bad):
    write(
        tmp_path, "prices.csv", PRICES_CSV.replace("2024-01-03,BBB,19.0", f"2024-01-03,BBB,{bad}")
    )
    with pytest.raises(
        InvalidValueError,
        match=r"column 'close' is .* \(must be > 0\) for ticker BBB on 2024-01-03",
    ):
        loaders.load_prices(tmp_path)


def test_nan_close_names_ticker_and_date(tmp_path):
    write(tmp_path, "prices.csv", PRICES_CSV.replace("2024-01-03,AAA,10.5", "2024-01-03,AAA,"))
    with pytest.raises(InvalidValueError, match=r"'close' is NaN for ticker AAA on 2024-01-03"):
        loaders.load_prices(tmp_path)


def test_non_numeric_value_names_column_and_row(tmp_path):
    write(tmp_path, "prices.csv", PRICES_CSV.replace("1100", "lots"))
    with pytest.raises(InvalidValueError, match=r"column 'volume' row 3: 'lots' is not a number"):
        loaders.load_prices(tmp_path)


def test_empty_file(tmp_path):
    write(tmp_path, "prices.csv", "")
    with pytest.raises(DataError, match=r"prices.csv: file is empty"):
        loaders.load_prices(tmp_path)


def test_header_only_file(tmp_path):
    write(tmp_path, "prices.csv", "date,ticker,close,volume\n")
    with pytest.raises(DataError, match=r"prices.csv: file has a header but no data rows"):
        loaders.load_prices(tmp_path)


@pytest.mark.parametrize(("sep", "label"), [(";", "';'"), ("\t", "tab"), ("|", "'\\|'")])
def test_other_delimiter_is_named(tmp_path, sep, label):
    write(tmp_path, "prices.csv", PRICES_CSV.replace(",", sep))
    with pytest.raises(DataError, match=rf"prices.csv: columns are separated by {label}, not ','"):
        loaders.load_prices(tmp_path)


def test_hostile_ticker_is_rejected_and_quoted(tmp_path):
    write(tmp_path, "prices.csv", PRICES_CSV.replace("BBB", "A';DROP TABLE prices;--", 1))
    with pytest.raises(InvalidValueError) as exc:
        loaders.load_prices(tmp_path)
    message = one_line(exc)
    assert "prices.csv: column 'ticker' row 2: invalid ticker" in message
    assert "DROP TABLE" in message  # the offending value is shown, quoted


def test_ticker_with_newline_is_escaped_in_one_line(tmp_path):
    frame = pd.DataFrame(
        {
            "date": pd.to_datetime(["2024-01-02"]),
            "ticker": ["AA\nBB"],
            "close": [1.0],
            "volume": [1],
        }
    )
    frame.to_parquet(tmp_path / "prices.parquet")
    with pytest.raises(InvalidValueError, match=r"invalid ticker 'AA\\\\nBB'") as exc:
        loaders.load_prices(tmp_path)
    one_line(exc)


def test_lowercase_tickers_are_normalised(tmp_path):
    write(tmp_path, "prices.csv", PRICES_CSV.replace("AAA", "aaa"))
    assert set(loaders.load_prices(tmp_path)["ticker"]) == {"AAA", "BBB"}


def test_invalid_utf8_names_offset(tmp_path):
    (tmp_path / "prices.csv").write_bytes(PRICES_CSV.encode() + b"2024-01-04,\xff\xfe,1,1,1\n")
    with pytest.raises(DataError, match=r"prices.csv: not valid UTF-8 \(byte 0xff"):
        loaders.load_prices(tmp_path)


def test_corrupt_parquet(tmp_path):
    (tmp_path / "prices.parquet").write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(DataError, match=r"prices.parquet: not a readable Parquet file"):
        loaders.load_prices(tmp_path)


def test_unknown_ticker_in_prices_is_named(tmp_path):
    write(tmp_path, "companies.csv", "ticker,name,gics_sector\nAAA,Alpha,Energy\n")
    write(tmp_path, "prices.csv", PRICES_CSV)
    companies = loaders.load_companies(tmp_path)
    prices = loaders.load_prices(tmp_path)
    with pytest.raises(UnknownTickerError, match=r"prices: 1 ticker\(s\) not in companies: BBB"):
        loaders.check_known_tickers(prices["ticker"].unique(), companies, "prices")


def test_companies_duplicate_and_missing_sector(tmp_path):
    write(
        tmp_path, "companies.csv", "ticker,name,gics_sector\nAAA,Alpha,Energy\nAAA,Alpha2,Energy\n"
    )
    with pytest.raises(DuplicateRowsError, match=r"ticker AAA appears more than once"):
        loaders.load_companies(tmp_path)
    write(tmp_path, "companies.csv", "ticker,name,gics_sector\nAAA,Alpha,\n")
    with pytest.raises(InvalidValueError, match=r"column 'gics_sector' is empty for ticker AAA"):
        loaders.load_companies(tmp_path)


def test_fundamentals_need_period_end_or_fiscal_year(tmp_path):
    write(tmp_path, "fundamentals.csv", "ticker,total_equity\nAAA,5\n")
    with pytest.raises(
        MissingColumnError, match=r"needs one of the columns 'period_end' or 'fiscal_year'"
    ):
        loaders.load_fundamentals(tmp_path)
    write(tmp_path, "fundamentals.csv", "ticker,fiscal_year,period_end,total_equity\nAAA,,,5\n")
    with pytest.raises(
        InvalidValueError, match=r"ticker AAA has neither 'period_end' nor 'fiscal_year'"
    ):
        loaders.load_fundamentals(tmp_path)


def test_port_headers_are_mapped(tmp_path):
    header = "Date,Ticker,Sz Fact Exp,Val Fact Exp,Mom Fact Exp,Vol Fact Exp,Prof Fact Exp,Lev Fact Exp,Trd Act Fact Exp"
    write(tmp_path, "exposures.csv", header + "\n2024-01-02,AAA,1,2,3,4,5,6,7\n")
    frame = loaders.load_exposures(tmp_path)
    assert frame.iloc[0][["size", "trading_activity"]].tolist() == [1.0, 7.0]


def test_no_exposures_file_is_fine(tmp_path):
    assert loaders.load_exposures(tmp_path) is None


def test_raw_date_span_reads_parquet_statistics(tmp_path):
    write(tmp_path, "prices.csv", PRICES_CSV)
    assert loaders.raw_date_span(tmp_path) == (
        pd.Timestamp("2024-01-02"),
        pd.Timestamp("2024-01-03"),
    )
    assert loaders.raw_date_span(tmp_path / "missing") is None
