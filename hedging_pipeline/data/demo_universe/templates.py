"""Per-sub-industry templates of the demo universe (``templates/demo_universe.toml``)."""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from hedging_pipeline.data.demo_universe.parameters import TEMPLATE_PACKAGE, TEMPLATE_PATH


@dataclass(frozen=True)
class SubIndustry:
    """One sub-industry of the template file, with its sector's beta and sentences."""

    sector: str
    sector_beta: float
    sector_sentences: tuple[str, ...]
    name: str
    weight: int
    ai_role: str
    descriptor: str
    suffixes: tuple[str, ...]
    activity: tuple[str, ...]
    products: tuple[str, ...]
    customers: tuple[str, ...]
    operations: tuple[str, ...]
    competition: tuple[str, ...]
    research: tuple[str, ...]
    regulation: tuple[str, ...]
    ai: tuple[str, ...]
    ai_use: tuple[str, ...]
    book_to_price: float
    assets_to_equity: float
    long_term_debt_share: float
    sales_to_assets: float
    gross_margin: float
    operating_margin: float
    rnd_to_sales: float
    payer_share: float
    dividend_yield: float
    employees_per_musd: float
    fiscal_year_end_months: tuple[int, ...]


@dataclass(frozen=True)
class Templates:
    """The parsed template file."""

    sub_industries: tuple[SubIndustry, ...]
    text: dict[str, str]
    digest: str  # sha256 of the template file

    @property
    def sectors(self) -> tuple[str, ...]:
        """Sectors in template order."""
        return tuple(dict.fromkeys(s.sector for s in self.sub_industries))


@lru_cache(maxsize=1)
def load_templates() -> Templates:
    """Read the packaged template file (once per process), with its sha256 digest."""
    text = resources.files(TEMPLATE_PACKAGE).joinpath(TEMPLATE_PATH).read_text(encoding="utf-8")
    raw = tomllib.loads(text)
    subs: list[SubIndustry] = []
    tuple_fields = {
        "suffixes", "activity", "products", "customers", "operations", "competition", "research",
        "regulation", "ai", "ai_use", "fiscal_year_end_months",
    }  # fmt: skip
    for sector in raw["sector"]:
        for sub in sector["sub_industry"]:
            values = {k: (tuple(v) if k in tuple_fields else v) for k, v in sub.items()}
            subs.append(
                SubIndustry(
                    sector=sector["name"],
                    sector_beta=float(sector["beta"]),
                    sector_sentences=tuple(sector["sentences"]),
                    **values,
                )
            )
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return Templates(sub_industries=tuple(subs), text=dict(raw["text"]), digest=digest)
