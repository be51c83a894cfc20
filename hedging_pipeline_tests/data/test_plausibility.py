"""Plausibility rules of a raw drop, one date format per file, and the data-quality configuration."""

import numpy as np
import pandas as pd
import pytest

from hedging_pipeline.data import plausibility, quality
from hedging_pipeline.data.loaders import parse_dates, read_manifest
from hedging_pipeline.errors import ConfigurationError, DataError, InvalidValueError


def _prices(closes: dict[str, list[float]], start: str = "2021-01-04") -> pd.DataFrame:
    dates = pd.bdate_range(start, periods=len(next(iter(closes.values()))))
    return pd.concat(
        [pd.DataFrame({"date": dates, "ticker": t, "close": c}) for t, c in closes.items()],
        ignore_index=True,
    )


def test_infinite_value_names_file_ticker_date_and_value():
    frame = _prices({"AAA": [10.0, np.inf, 11.0]})
    with pytest.raises(
        InvalidValueError,
        match=r"^prices\.csv: column 'close' is inf \(not a finite number\) for ticker AAA on 2021-01-05;",
    ):
        plausibility.require_finite(frame, ["close", "volume"], "prices.csv")


def test_price_move_beyond_the_bound_is_refused_at_its_first_day():
    frame = _prices({"AAA": [10.0, 10.5, 1e12, 10.4], "BBB": [5.0, 5.1, 5.2, 5.3]})
    with pytest.raises(
        InvalidValueError,
        match=r"^p\.parquet: column 'close' moves from 10\.5 to 1e\+12 \(x9\.52e\+10\) for ticker AAA on "
        r"2021-01-06, beyond the 50x one-day bound and not explained by a split; 2 such move",
    ):
        plausibility.require_plausible_moves(frame, "p.parquet", max_ratio=50.0)


def test_a_split_explains_a_large_move():
    # a 1-for-100 reverse split: the close jumps 100x, split_coefficient 0.01 on that day
    frame = _prices({"AAA": [1.0, 1.02, 101.0, 100.0]}).assign(
        split_coefficient=[1.0, 1.0, 0.01, 1.0]
    )
    plausibility.require_plausible_moves(frame, "p", max_ratio=50.0)
    with pytest.raises(InvalidValueError, match="ticker AAA on 2021-01-06"):
        plausibility.require_plausible_moves(frame.assign(split_coefficient=1.0), "p", max_ratio=50)


def test_as_of_is_the_last_day_with_a_normal_cross_section():
    frame = _prices({t: [1.0] * 20 for t in ("A", "B", "C", "D")})
    late = pd.DataFrame(
        {"date": pd.to_datetime(["2031-01-02", "2031-01-03"]), "ticker": "A", "close": 1.0}
    )
    frame = pd.concat([frame, late], ignore_index=True)
    as_of = plausibility.infer_as_of(frame["date"], min_coverage=0.5)
    assert as_of == pd.bdate_range("2021-01-04", periods=20)[-1]
    with pytest.raises(
        InvalidValueError,
        match=r"^p: 2 row\(s\) dated after the drop's as-of date 2021-01-29 \(inferred\), first ticker A "
        r"on 2031-01-02;",
    ):
        plausibility.require_not_after(frame, "p", as_of, "inferred")


def test_non_positive_share_counts_are_quarantined_not_dropped_silently():
    frame = pd.DataFrame(
        {
            "ticker": ["A", "B", "C"],
            "period_end": pd.to_datetime(["2015-12-31"] * 3),
            "shares_outstanding": [1e9, -3.0, 0.0],
        }
    )
    out, rows = plausibility.quarantine_share_counts(frame, "f.csv", date_column="period_end")
    assert out["shares_outstanding"].isna().tolist() == [False, True, True]
    assert [(r["ticker"], r["value"], r["action"]) for r in rows] == [
        ("B", "-3", "value dropped"),
        ("C", "0", "value dropped"),
    ]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("<div><br/></div>", False),
        ("\U0001f4c8\U0001f680 \u2014 2021 &amp; {{infobox}}", False),
        ("https://example.com/about-us", False),
        ("<p>We make chips.</p>", True),
        (
            "\u4e2d\u6587\u516c\u53f8",
            True,
        ),  # a word in another script is a word (the NLP layer judges script)
    ],
)
def test_has_words(text, words):
    assert plausibility.has_words(text) is words


def test_wordless_and_oversized_texts_are_listed():
    frame = pd.DataFrame(
        {
            "ticker": ["A", "B", "C"],
            "text": ["<b></b> \U0001f4c8", "x" * 50 + " words", ""],
            "source": ["wikipedia"] * 3,
        }
    )
    kept, rows = plausibility.quarantine_wordless_text(frame, "d.parquet")
    assert kept["ticker"].tolist() == ["B", "C"]  # an empty text stays: the NLP layer reports it
    assert [r["rule"] for r in rows] == ["no_words_after_cleaning"]
    notes = plausibility.note_oversized_text(kept, "d.parquet", max_chars=40)
    assert [(n["ticker"], n["value"]) for n in notes] == [("B", "56 chars (wikipedia)")]


def test_missing_adjusted_closes_are_listed_per_ticker():
    frame = _prices({"A": [1.0] * 4, "B": [2.0] * 4}).assign(adj_close=1.0)
    frame.loc[[1, 2], "adj_close"] = np.nan
    rows = plausibility.note_filled_adj_close(frame, "p")
    assert [(r["ticker"], r["value"]) for r in rows] == [
        ("A", "missing on 2 day(s), 2021-01-05..2021-01-06")
    ]
    table = plausibility.quarantine_frame(rows)
    assert list(table.columns) == list(plausibility.QUARANTINE_COLUMNS)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["2021-03-04", "2021-03-15"], ["2021-03-04", "2021-03-15"]),
        (["04/03/2021", "15/03/2021"], ["2021-03-04", "2021-03-15"]),  # only day-first reads 15/03
        (
            ["03/04/2021", "03/15/2021"],
            ["2021-03-04", "2021-03-15"],
        ),  # only month-first reads 03/15
        (["20210304", "20210315"], ["2021-03-04", "2021-03-15"]),
    ],
)
def test_one_format_per_file(values, expected):
    parsed = parse_dates(pd.DataFrame({"date": values}), "date", "p.csv")
    assert parsed.tolist() == pd.to_datetime(expected).tolist()


def test_ambiguous_day_month_order_is_refused_unless_declared():
    frame = pd.DataFrame({"date": ["04/03/2021", "05/03/2021"]})
    with pytest.raises(InvalidValueError, match=r"^p\.csv: column 'date' is ambiguous: every date"):
        parse_dates(frame, "date", "p.csv")
    declared = parse_dates(frame, "date", "p.csv", fmt="%d/%m/%Y")
    assert declared.tolist() == pd.to_datetime(["2021-03-04", "2021-03-05"]).tolist()


def test_mixed_formats_fail_at_the_first_odd_value():
    frame = pd.DataFrame({"date": ["2021-03-04", "2021-03-05", "06/03/2021", "2021-03-08"]})
    with pytest.raises(
        InvalidValueError,
        match=r"^p\.csv: column 'date' row 3: cannot parse '06/03/2021' as a date \(expected YYYY-MM-DD",
    ):
        parse_dates(frame, "date", "p.csv")


def test_manifest(tmp_path):
    assert read_manifest(tmp_path).as_of is None
    (tmp_path / "drop.toml").write_text('as_of = 2020-04-21\n[date_formats]\nprices = "%d/%m/%Y"\n')
    manifest = read_manifest(tmp_path)
    assert manifest.as_of == pd.Timestamp("2020-04-21")
    assert (
        manifest.date_format("prices") == "%d/%m/%Y" and manifest.date_format("exposures") is None
    )
    (tmp_path / "drop.toml").write_text('as_of = "soon"\n')
    with pytest.raises(DataError, match=r"^drop\.toml: as_of 'soon' is not a date"):
        read_manifest(tmp_path)


def test_packaged_quality_config_and_exceptions():
    config = quality.load_quality_config()
    assert config.plausibility.max_daily_price_ratio == 50.0
    parsed = quality.parse_quality_config(
        "[plausibility]\nmax_daily_price_ratio = 20\nas_of_min_coverage = 0.5\n"
        '[[exceptions.extreme_returns]]\nticker = "AIG"\ndate = 2008-09-16\nreason = "bail-out"\n'
    )
    returns = pd.DataFrame(
        {
            "date": pd.to_datetime(["2008-09-16", "2008-09-16", "2008-09-17"]),
            "ticker": ["AIG", "LEH", "AIG"],
            "ret": [-0.6, -0.9, 0.01],
        }
    )
    result = quality.extreme_returns(returns, exceptions=parsed.exceptions_for("extreme_returns"))
    assert not result.passed
    assert "LEH 2008-09-16 -90.0%" in result.summary and "AIG" not in result.summary
    assert result.details["documented_exceptions"] == 1
    ok = quality.extreme_returns(
        returns.iloc[[0, 2]], exceptions=parsed.exceptions_for("extreme_returns")
    )
    assert ok.passed and "1 documented exception" in ok.summary
    with pytest.raises(ConfigurationError, match="has no reason"):
        quality.parse_quality_config(
            "[plausibility]\nmax_daily_price_ratio = 20\nas_of_min_coverage = 0.5\n"
            '[[exceptions.x]]\nticker = "A"\n'
        )


def test_future_dated_rows_do_not_stretch_the_partition_span(tmp_path):
    from hedging_pipeline.data.loaders import raw_date_span

    frame = _prices({t: [1.0] * 30 for t in ("A", "B", "C")})
    late = frame.iloc[[0]].assign(date=pd.Timestamp("2031-05-01"))
    pd.concat([frame, late]).to_parquet(tmp_path / "prices.parquet", index=False)
    assert raw_date_span(tmp_path) == (pd.Timestamp("2021-01-04"), frame["date"].max())
    (tmp_path / "drop.toml").write_text("as_of = 2021-01-08\n")
    assert raw_date_span(tmp_path)[1] == pd.Timestamp("2021-01-08")
