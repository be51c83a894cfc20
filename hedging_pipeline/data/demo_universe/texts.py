"""Descriptions of the demo universe: an encyclopedia-style text and a 10-K Item 1 per company."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from hedging_pipeline.data.demo_universe.layout import Layout
from hedging_pipeline.data.demo_universe.parameters import (
    EMPLOYEE_ROUNDING,
    FORWARD_LOOKING_SHARE,
    N_CUSTOMERS,
    N_PEERS,
    N_PRODUCTS,
    TENK_FILING_LAG_DAYS,
    TENK_MISSING_SHARE,
    US_EMPLOYEE_SHARE,
)
from hedging_pipeline.data.demo_universe.templates import SubIndustry, Templates


def _pick(rng: np.random.Generator, pool: Sequence[str], bounds: tuple[int, int]) -> list[str]:
    count = min(len(pool), int(rng.integers(bounds[0], bounds[1] + 1)))
    return [pool[int(i)] for i in sorted(rng.choice(len(pool), size=count, replace=False))]


def _join(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


Entry = tuple[str, str, int, str, str]
"""(ticker, name, sub-industry index, AI role, listing kind) of one company."""


def descriptions_frame(
    rng: np.random.Generator,
    templates: Templates,
    layout: Layout,
    companies: pd.DataFrame,
    latest_fy: dict[str, pd.Series],
    ai_roles: tuple[str, ...],
    days: pd.DatetimeIndex,
) -> tuple[pd.DataFrame, tuple[bool, ...]]:
    """The ``descriptions`` table; also whether each priced ticker got a 10-K text."""
    subs, text = templates.sub_industries, templates.text
    info = companies.set_index("ticker")
    entries = _entries(layout, ai_roles)
    members: dict[int, list[str]] = {}
    for _, name, k, _, _ in entries:
        members.setdefault(k, []).append(name)

    rows: list[dict[str, Any]] = []
    has_10k: list[bool] = []
    low_lag, high_lag = TENK_FILING_LAG_DAYS
    for entry in entries:
        ticker, name, k, role, _ = entry
        spec = subs[k]
        fields = _wiki_fields(rng, spec, text, info.loc[ticker], entry, members[k], layout)
        ai_pool = spec.ai if role == "maker" else spec.ai_use if role == "user" else ()
        rows.append(_row(ticker, name, "wikipedia", pd.NaT, _wiki_text(rng, text, fields, ai_pool)))
        statement = latest_fy.get(ticker)
        write_10k = statement is not None and (role != "none" or rng.random() >= TENK_MISSING_SHARE)
        has_10k.append(write_10k)
        if not write_10k:
            continue
        sections = _tenk_sections(rng, spec, text, fields, statement, ai_pool)
        filed = days[-1] + pd.Timedelta(days=int(rng.integers(low_lag, high_lag + 1)))
        title = f"{name} Form 10-K Item 1 (Business)"
        rows.append(_row(ticker, title, "sec_10k_item1", filed, sections))
    frame = pd.DataFrame.from_records(rows)
    frame["as_of"] = pd.to_datetime(frame["as_of"]).astype("datetime64[us]")
    frame = frame.sort_values(["ticker", "source"], kind="stable").reset_index(drop=True)
    return frame, tuple(has_10k[: len(layout.tickers)])


def _entries(layout: Layout, ai_roles: tuple[str, ...]) -> list[Entry]:
    """Every company: the priced tickers in layout order, then the unpriced one."""
    entries = [
        (
            layout.tickers[i],
            layout.names[i],
            int(layout.spec_index[i]),
            ai_roles[i],
            layout.listing_kind[i],
        )
        for i in range(len(layout.tickers))
    ]
    entries.append(
        (layout.unpriced_ticker, layout.unpriced_name, layout.unpriced_spec, "none", "ipo")
    )
    return entries


def _row(ticker: str, title: str, source: str, as_of: Any, text: str) -> dict[str, Any]:
    """One ``descriptions`` row."""
    return {
        "ticker": ticker,
        "source_ticker": ticker,
        "title": title,
        "source": source,
        "as_of": as_of,
        "text": text,
    }


def _wiki_fields(
    rng: np.random.Generator,
    spec: SubIndustry,
    text: dict[str, str],
    row: pd.Series,
    entry: Entry,
    members: list[str],
    layout: Layout,
) -> dict[str, str]:
    """The values the text templates are filled with: name, products, customers, peers, listing."""
    ticker, name, _, _, kind = entry
    peers = [p for p in members if p != name]
    peers = [
        peers[int(j)]
        for j in rng.permutation(len(peers))[: int(rng.integers(*N_PEERS, endpoint=True))]
    ]
    products = _pick(rng, spec.products, N_PRODUCTS)
    customers = _pick(rng, spec.customers, N_CUSTOMERS)
    activity = spec.activity[int(rng.integers(len(spec.activity)))]
    listing = ""
    if kind and ticker != layout.unpriced_ticker:
        template = text["wiki_listing_ipo"] if kind == "ipo" else text["wiki_listing_spin"]
        listing = template.format(listing_year=row["date_added"][:4])
    return {
        "name": name,
        "ticker": ticker,
        "descriptor": spec.descriptor,
        "headquarters": row["headquarters"],
        "founded": row["founded"],
        "activity": activity,
        "products": _join(products),
        "customers": _join(customers),
        "peers": _join(peers),
        "listing": listing,
    }


def _wiki_text(
    rng: np.random.Generator, text: dict[str, str], fields: dict[str, str], ai_pool: tuple[str, ...]
) -> str:
    """The encyclopedia-style description: who, what and peers, plus an AI sentence if any."""
    wiki = [
        text["wiki_first"].format_map(fields),
        " ".join([text["wiki_products"].format_map(fields), text["wiki_peers"].format_map(fields)]),
    ]
    if ai_pool:
        wiki.append(ai_pool[int(rng.integers(len(ai_pool)))])
    return "\n\n".join(wiki)


def _tenk_sections(
    rng: np.random.Generator,
    spec: SubIndustry,
    text: dict[str, str],
    fields: dict[str, str],
    statement: pd.Series,
    ai_pool: tuple[str, ...],
) -> str:
    sector = list(spec.sector_sentences)
    order = rng.permutation(len(sector))
    sector = [sector[int(j)] for j in order]
    revenue = float(statement["revenue"])
    employees = max(
        EMPLOYEE_ROUNDING,
        round(revenue / 1e6 * spec.employees_per_musd / EMPLOYEE_ROUNDING) * EMPLOYEE_ROUNDING,
    )
    period_end = pd.Timestamp(statement["period_end"])
    values = {
        **fields,
        "fiscal_year": str(int(statement["fiscal_year"])),
        "revenue_bn": f"{revenue / 1e9:.1f}",
        "employees": f"{employees:,}",
        "share_us": str(int(rng.integers(US_EMPLOYEE_SHARE[0], US_EMPLOYEE_SHARE[1] + 1))),
        "fiscal_year_end": f"{period_end:%B} {period_end.day}, {period_end.year}",
    }
    operations = _pick(rng, spec.operations, (2, len(spec.operations)))
    parts = ["ITEM 1. BUSINESS"]
    if rng.random() < FORWARD_LOOKING_SHARE:
        parts.append(text["forward_looking"])
    parts += [
        "Overview\n" + " ".join([text["overview"].format_map(values), sector[0]]),
        "Products and Services\n"
        + " ".join([text["products_intro"].format_map(values), *operations]),
        "Customers and Markets\n"
        + " ".join([text["customers_intro"].format_map(values), sector[1]]),
        "Competition\n"
        + " ".join([*spec.competition, text["competition_peers"].format_map(values)]),
        "Research and Development\n" + " ".join([*spec.research, sector[2]]),
    ]
    if ai_pool:
        parts.append("Artificial Intelligence\n" + " ".join(ai_pool))
    parts += [
        "Government Regulation\n" + " ".join([*spec.regulation, sector[3]]),
        "Human Capital\n" + text["human_capital"].format_map(values),
    ]
    return "\n\n".join(parts)
