"""What people read about hedges: one hedge for the CLI, and per-method summaries and plots.

``HedgeReport`` is the answer of ``hedging-pipeline hedge TICKER``: the basket with weights and dollar
shorts, predicted risk before and after, the optimality certificate and the semantic peers.
``method_summary`` and ``hedge_plot`` turn a month's ``hedge_diagnostics`` into the table and figure
shown as Dagster metadata.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hedging_pipeline.types import METHODS

RULE = "-" * 72
WIDE_RULE = "-" * 88


@dataclass(frozen=True)
class BasketLine:
    """One short in the basket.

    Attributes
    ----------
    ticker, name : str
    weight : float
        Fraction of the position's value shorted.
    short_usd : float
        ``weight · notional``.
    peer_rank : int or None
        Rank among the target's semantic peers (None when not a peer).
    similarity : float or None
        Cosine similarity of the descriptions (None when not a peer).
    close : float or None
        Last close (USD per share) on or before the rebalance date; None without prices.
    adv_usd : float or None
        20-day average daily dollar volume; None without a volume history.
    """

    ticker: str
    name: str
    weight: float
    short_usd: float
    peer_rank: int | None
    similarity: float | None
    close: float | None = None
    adv_usd: float | None = None

    @property
    def shares(self) -> int | None:
        """Shares to short at the last close (rounded to whole shares)."""
        return None if not self.close else int(round(self.short_usd / self.close))

    @property
    def pct_adv(self) -> float | None:
        """The short as a fraction of one day's average dollar volume."""
        return None if not self.adv_usd else self.short_usd / self.adv_usd


@dataclass(frozen=True)
class PeerLine:
    """One semantic peer of the target."""

    ticker: str
    name: str
    rank: int
    similarity: float


@dataclass(frozen=True)
class HedgeReport:
    """A hedge as the CLI prints it.

    Attributes
    ----------
    ticker, name, method : str
    as_of : pd.Timestamp
        Rebalance date whose risk and data the hedge uses.
    notional : float
        Position value in USD.
    basket : tuple of BasketLine
        By decreasing weight.
    target_vol : float
        Annualised predicted vol of the unhedged position.
    hedged_vol : float
        Annualised predicted tracking-error vol of (position − basket).
    bound_vol : float
        ``sqrt`` of the certified lower bound on the variance: no basket within the constraints
        beats it.
    gap : float
        ``(variance − bound) / variance``.
    status : str
        ``certified``, ``uncertified`` or ``fixed_weights``.
    solve_ms : float
    n_candidates : int
    risk_source : str
        ``model`` (factor risk model) or ``sample`` (sample covariance of daily returns).
    candidates_rule : str
        Where the candidates came from.
    peers : tuple of PeerLine
        The target's best semantic peers.
    max_adv : float or None
        The ``--max-adv`` cap applied (fraction of ADV), None when uncapped.
    prices_date : pd.Timestamp or None
        Date of the last close used for shares and ADV.
    """

    ticker: str
    name: str
    method: str
    as_of: pd.Timestamp
    notional: float
    basket: tuple[BasketLine, ...]
    target_vol: float
    hedged_vol: float
    bound_vol: float
    gap: float
    status: str
    solve_ms: float
    n_candidates: int
    risk_source: str
    candidates_rule: str
    peers: tuple[PeerLine, ...]
    max_adv: float | None = None
    prices_date: pd.Timestamp | None = None

    @property
    def variance_reduction(self) -> float:
        """Predicted fraction of the position's variance the basket removes."""
        return 1.0 - (self.hedged_vol / self.target_vol) ** 2

    def to_text(self) -> str:
        """Plain-text report for the terminal."""
        money = self.notional
        cap = f", ≤ {self.max_adv:.0%} of each name's ADV" if self.max_adv is not None else ""
        when = f" (last close {self.prices_date.date()})" if self.prices_date is not None else ""
        lines = [
            f"Hedge for {self.ticker} ({self.name}) as of {self.as_of.date()}, method {self.method}",
            f"Position ${money:,.0f}: short the basket below (100 % hedge, ≤ 10 names, ≤ 25 % "
            f"each{cap})",
            WIDE_RULE,
            f"{'ticker':<8} {'name':<26} {'weight':>7} {'short USD':>14} {'shares':>11} "
            f"{'% ADV':>7} {'peer':>9}",
        ]
        for b in self.basket:
            peer = f"#{b.peer_rank} {b.similarity:.2f}" if b.peer_rank is not None else ""
            shares = f"{b.shares:,}" if b.shares is not None else "n/a"
            adv = f"{b.pct_adv:.1%}" if b.pct_adv is not None else "n/a"
            lines.append(
                f"{b.ticker:<8} {b.name[:26]:<26} {b.weight:>7.2%} {b.short_usd:>14,.0f} "
                f"{shares:>11} {adv:>7} {peer:>9}"
            )
        total = sum(b.weight for b in self.basket)
        lines += [
            f"{'total':<35} {total:>7.2%} {total * money:>14,.0f}",
            f"shares at the last close{when}; % ADV = short / 20-day average daily dollar volume",
            WIDE_RULE,
            f"Predicted annual vol, unhedged: {self.target_vol:7.2%}  (${self.target_vol * money:,.0f})",
            f"Predicted annual vol, hedged:   {self.hedged_vol:7.2%}  (${self.hedged_vol * money:,.0f})",
            f"Variance removed:               {self.variance_reduction:7.2%}",
            f"Certificate: no basket beats {self.bound_vol:.2%} vol; gap {self.gap:.3%} of the "
            f"variance ({self.status}, {self.solve_ms:.1f} ms)",
            f"Candidates: {self.n_candidates} ({self.candidates_rule}); risk: "
            + ("factor risk model" if self.risk_source == "model" else "sample covariance"),
        ]
        if self.peers:
            shown = ", ".join(f"{p.ticker} ({p.similarity:.2f})" for p in self.peers)
            lines.append(f"Semantic peers: {shown}")
        else:
            lines.append("Semantic peers: none stored for this ticker")
        return "\n".join(lines)


def method_summary(diagnostics: pd.DataFrame) -> pd.DataFrame:
    """Per-method figures of one or more months of ``hedge_diagnostics``.

    Returns
    -------
    pd.DataFrame
        ``method, n_hedges, n_infeasible, n_certified, median_target_vol, median_predicted_te,
        median_variance_reduction, median_gap, max_gap, median_solve_ms, p95_solve_ms``, one row per
        method present, in ``METHODS`` order.
    """
    rows = []
    present = [m for m in METHODS if m in set(diagnostics["method"])]
    for method in present:
        d = diagnostics[diagnostics["method"] == method]
        ok = d[d["status"] != "infeasible"]
        reduction = 1.0 - (ok["predicted_te"] / ok["target_vol"]) ** 2
        rows.append(
            {
                "method": method,
                "n_hedges": len(ok),
                "n_infeasible": int((d["status"] == "infeasible").sum()),
                "n_certified": int((ok["status"] == "certified").sum()),
                "median_target_vol": ok["target_vol"].median(),
                "median_predicted_te": ok["predicted_te"].median(),
                "median_variance_reduction": reduction.median(),
                "median_gap": ok["gap"].median(),
                "max_gap": ok["gap"].max(),
                "median_solve_ms": ok["solve_ms"].median(),
                "p95_solve_ms": ok["solve_ms"].quantile(0.95) if len(ok) else math.nan,
            }
        )
    return pd.DataFrame(rows)


def hedge_plot(diagnostics: pd.DataFrame) -> bytes:
    """PNG: predicted variance reduction per method (box plot) and the gap certificate (histogram)."""
    from hedging_pipeline.reporting.plots import figure_to_png, plt  # matplotlib: not for `hedge`

    ok = diagnostics[diagnostics["status"] != "infeasible"]
    methods = [m for m in METHODS if m in set(ok["method"])]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    data = [
        (1.0 - (g["predicted_te"] / g["target_vol"]) ** 2).to_numpy()
        for m in methods
        for g in [ok[ok["method"] == m]]
    ]
    if methods:
        left.boxplot(data, tick_labels=methods, showfliers=False)
    left.set_ylabel("predicted variance reduction")
    left.set_title("Predicted risk removed by method")
    left.tick_params(axis="x", rotation=30)
    gaps = ok.loc[ok["status"] != "fixed_weights", "gap"].to_numpy() * 100
    right.hist(gaps if gaps.size else np.zeros(1), bins=30, color="tab:green")
    right.set_xlabel("certified optimality gap (% of variance)")
    right.set_ylabel("hedges")
    right.set_title(f"Gap certificate ({gaps.size} optimised hedges)")
    fig.tight_layout()
    return figure_to_png(fig)
