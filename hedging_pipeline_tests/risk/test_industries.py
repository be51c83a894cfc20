from __future__ import annotations

import pandas as pd
import pytest

from hedging_pipeline.errors import InvalidValueError, MissingColumnError
from hedging_pipeline.risk.industries import (
    OTHER_INDUSTRY,
    assign_industries,
    complete_gics_levels,
    gics_hierarchy,
    model_industries,
)


def _companies(spec):
    rows = []
    for sector, sub, n in spec:
        for _ in range(n):
            rows.append(
                {"ticker": f"X{len(rows):03d}", "gics_sector": sector, "gics_sub_industry": sub}
            )
    return pd.DataFrame(rows)


def test_sector_level_keeps_large_sectors():
    c = _companies([("Energy", "Oil", 12), ("Utilities", "Power", 15)])
    out = assign_industries(c, min_members=10)
    assert out["industry"].value_counts().to_dict() == {"Utilities": 15, "Energy": 12}
    assert list(out.columns) == ["ticker", "industry"]


def test_small_sub_industries_merge_into_their_sector():
    c = _companies(
        [
            ("Energy", "Oil", 12),
            ("Energy", "Gas", 3),
            ("Utilities", "Power", 11),
            ("Utilities", "Water", 4),
        ]
    )
    out = assign_industries(c, level="gics_sub_industry", min_members=10).set_index("ticker")
    counts = out["industry"].value_counts()
    # Gas (3) -> Energy, Water (4) -> Utilities; both still < 10 -> each joins the largest
    # industry of its own sector (Oil, Power), never a group of another sector.
    assert counts.to_dict() == {"Oil": 15, "Power": 15}
    gas = c.index[c["gics_sub_industry"] == "Gas"]
    assert out.loc[c.loc[gas, "ticker"], "industry"].eq("Oil").all()


def test_sub_industries_fall_back_only_as_far_as_needed():
    c = _companies([("Energy", "Oil", 12), ("Energy", "Gas", 3), ("Utilities", "Power", 11)])
    c = pd.concat(
        [c, _companies([("Energy", "Gas", 8)]).assign(ticker=lambda f: "Y" + f["ticker"])]
    )
    out = assign_industries(c, level="gics_sub_industry", min_members=10)
    assert out["industry"].value_counts().to_dict() == {"Oil": 12, "Power": 11, "Gas": 11}


def test_small_sectors_pool_into_other():
    c = _companies(
        [
            ("Energy", "Oil", 12),
            ("Utilities", "Power", 11),
            ("Materials", "M", 6),
            ("Real Estate", "R", 5),
        ]
    )
    out = assign_industries(c, min_members=10)
    counts = out["industry"].value_counts().to_dict()
    assert counts == {"Energy": 12, "Utilities": 11, OTHER_INDUSTRY: 11}


def test_industry_with_one_member_is_merged():
    c = _companies([("Energy", "Oil", 12), ("Utilities", "Power", 11), ("Materials", "M", 1)])
    out = assign_industries(c, min_members=10).set_index("ticker")
    # The lone Materials name: Other (1) is below the minimum, so it joins the largest industry.
    assert out.loc["X023", "industry"] == "Energy"
    assert out["industry"].value_counts().min() >= 10


def test_missing_sector_and_universe_subset():
    c = _companies([("Energy", "Oil", 12), ("Utilities", "Power", 11)])
    c.loc[0, "gics_sector"] = None
    out = assign_industries(c, tickers=c["ticker"].iloc[:20], min_members=5).set_index("ticker")
    assert len(out) == 20
    assert out.loc["X000", "industry"] == "Energy"  # Other (1 name) joins the largest industry
    with pytest.raises(InvalidValueError, match="ticker ZZZ has prices but no row in companies"):
        assign_industries(c, tickers=["X001", "ZZZ"])


def test_bad_level_and_missing_columns():
    c = _companies([("Energy", "Oil", 12)])
    with pytest.raises(InvalidValueError, match="industry level must be one of"):
        assign_industries(c, level="sector")
    with pytest.raises(MissingColumnError, match=r"companies: missing column\(s\) gics_industry"):
        assign_industries(c, level="gics_industry")
    with pytest.raises(MissingColumnError, match=r"companies: missing column\(s\) gics_sector"):
        assign_industries(c.drop(columns="gics_sector"))


def test_hierarchy_table_has_the_2023_gics_counts():
    table = gics_hierarchy()
    current = table[table["note"] == ""]
    assert len(current) == 163
    assert current["industry"].nunique() == 74
    assert current["industry_group"].nunique() == 25
    assert current["sector"].nunique() == 11
    # Every retired name maps into the current tree.
    assert set(table["industry_group"]) == set(current["industry_group"])


def test_model_industries_use_groups_and_merge_small_ones_into_their_sector():
    spec = [
        ("Information Technology", "Semiconductors", 12),
        ("Information Technology", "Application Software", 11),
        ("Information Technology", "Systems Software", 2),
        ("Information Technology", "Communications Equipment", 3),
        ("Financials", "Regional Banks", 10),
        ("Financials", "Reinsurance", 4),
    ]
    c = _companies(spec)
    out = model_industries(c, min_members=10)
    counts = out["industry"].value_counts().to_dict()
    # Software & Services 13 and Semis 12 stay; Technology Hardware (3) falls to its sector, still
    # small, so joins the largest IT group (13 > 12); Insurance (4) joins Banks.
    assert counts == {
        "Software & Services": 16,
        "Semiconductors & Semiconductor Equipment": 12,
        "Banks": 14,
    }
    by_sector = model_industries(c, level="gics_sector", min_members=10)
    assert by_sector["industry"].value_counts().to_dict() == {
        "Information Technology": 28,
        "Financials": 14,
    }
    by_industry = model_industries(c, level="gics_industry", min_members=2)
    assert "Software" in set(by_industry["industry"])


def test_model_industries_fall_back_to_sector_without_sub_industries():
    c = _companies([("Energy", "x", 12), ("Utilities", "y", 11)]).drop(columns="gics_sub_industry")
    out = model_industries(c, min_members=10)
    assert set(out["industry"]) == {"Energy", "Utilities"}


def test_unknown_sub_industry_is_one_clear_line():
    c = _companies([("Energy", "Integrated Oil & Gas", 3), ("Energy", "Oil Wells", 2)])
    with pytest.raises(
        InvalidValueError,
        match="gics_sub_industry 'Oil Wells' of ticker X003 is not in the GICS hierarchy table",
    ):
        complete_gics_levels(c)
    with pytest.raises(InvalidValueError, match="industry level must be one of"):
        model_industries(c, level="gics_sub_industry")
