"""Market caps per share class, cross-checked against the snapshot (issue 12)."""

import pandas as pd
import pytest

from hedging_pipeline.data import cleaning
from hedging_pipeline.data.market_caps import rejected_counts, snapshot_check, warning_line
from hedging_pipeline.errors import InvalidValueError

DAYS = pd.bdate_range("2018-01-29", periods=6)  # the 2018 snapshot is priced on 2018-02-01


def _prices():
    rows = []
    for d in DAYS:
        rows += [
            (d, "GOOG", 1000.0, 10, 0.0, 1.0),
            (d, "GOOGL", 1010.0, 10, 0.0, 1.0),
            (d, "XYZ", 50.0, 10, 0.0, 1.0),
            (d, "NEG", 20.0, 10, 0.0, 1.0),
        ]
    frame = pd.DataFrame(
        rows, columns=["date", "ticker", "close", "volume", "dividend", "split_coefficient"]
    )
    return cleaning.clean_prices(frame)


COMPANIES = pd.DataFrame(
    {
        "ticker": ["GOOG", "GOOGL", "XYZ", "NEG"],
        "name": ["Alphabet C", "Alphabet A", "Xyz", "Neg"],
        "gics_sector": ["Communication Services"] * 2 + ["Industrials"] * 2,
        "cik": ["0001652044", "0001652044", "0000000001", "0000000002"],
        # The snapshot carries the issuer's whole cap on each class (priced at that class).
        "market_cap_usd_2018": [700e9, 707e9, 5e9, 2e9],
    }
)
FUNDAMENTALS = pd.DataFrame(
    {
        "ticker": ["XYZ", "NEG"],
        "period_end": pd.to_datetime(["2017-09-30", "2017-09-30"]),  # known 2017-12-29
        "fiscal_year": [2017, 2017],
        # XYZ: 10x the snapshot-implied 100m shares (a mis-scaled count); NEG: negative.
        "shares_outstanding": [1e9, -5e6],
    }
)


def test_share_classes_sum_to_the_issuer_and_bad_counts_fall_back_with_a_warning():
    prices = _prices()
    refs = cleaning.share_references(prices, COMPANIES, FUNDAMENTALS)
    caps = cleaning.market_cap_panel(prices, refs)
    day = caps[caps["date"] == DAYS[3]].set_index("ticker")
    # Issuer shares 700e9 / 1000 = 0.7bn, split equally: each class 0.35bn shares.
    assert day.loc["GOOG", "market_cap"] == pytest.approx(0.35e9 * 1000.0)
    assert day.loc["GOOGL", "market_cap"] == pytest.approx(0.35e9 * 1010.0)
    alphabet = day.loc["GOOG", "market_cap"] + day.loc["GOOGL", "market_cap"]
    assert alphabet == pytest.approx((700e9 + 707e9) / 2, rel=1e-3)
    # XYZ's count is 10x the snapshot-implied one: rejected, the snapshot path is used.
    assert day.loc["XYZ", "market_cap"] == pytest.approx(5e9)
    assert day.loc["XYZ", "cap_source"] == "snapshot_2018"
    assert day.loc["NEG", "market_cap"] == pytest.approx(2e9)
    rejected = rejected_counts(refs)
    assert rejected.set_index("ticker").loc["XYZ", "snapshot_ratio"] == pytest.approx(10.0)
    line = warning_line(rejected)
    assert "\n" not in line
    assert "XYZ 10.00x" in line
    assert "negative shares_outstanding in fundamentals ignored for NEG" in line


def test_snapshot_check_passes_only_when_every_rejected_count_is_documented():
    rejected = rejected_counts(cleaning.share_references(_prices(), COMPANIES, FUNDAMENTALS))
    assert set(rejected["ticker"]) == {"XYZ", "NEG"}
    known = pd.Timestamp(rejected.set_index("ticker").loc["XYZ", "known_date"])
    documented = [
        {"ticker": "XYZ", "known_date": [known.date()], "reason": "mis-scaled"},
        {"ticker": "NEG", "reason": "negative count"},
    ]
    undocumented = snapshot_check(rejected, documented[1:])
    assert not undocumented.passed
    assert (
        undocumented.summary.startswith("not documented: ") and "XYZ 10.00x" in undocumented.summary
    )
    assert snapshot_check(rejected, documented).passed
    assert snapshot_check(rejected, documented).details["documented_tickers"] == ["NEG", "XYZ"]
    # the same ticker rejected at another date is a new finding
    moved = [
        {**documented[0], "known_date": [(known + pd.Timedelta(days=365)).date()]},
        documented[1],
    ]
    assert not snapshot_check(rejected, moved).passed
    assert snapshot_check(rejected.iloc[0:0]).passed


def test_negative_snapshot_cap_is_one_clear_line():
    companies = COMPANIES.copy()
    companies.loc[2, "market_cap_usd_2018"] = -5e9
    with pytest.raises(
        InvalidValueError,
        match=r"companies: column market_cap_usd_2018 is negative \(-5e\+09\) for ticker XYZ",
    ):
        cleaning.share_references(_prices(), companies, FUNDAMENTALS)
