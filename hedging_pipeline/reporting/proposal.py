"""The advisor's deliverables: every method side by side, and the one-file HTML hedge proposal.

Pure rendering: the service layer (``services.proposal``) reads the warehouse and fills
:class:`MethodComparison` and :class:`Proposal`; this module turns them into text (the ``hedge
--compare`` table) and into one self-contained HTML page whose plots are inline base64 PNGs.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hedging_pipeline.reporting.hedge_report import HedgeReport
from hedging_pipeline.reporting.plots import figure_to_png, plt, png_data_uri

COMPARE_RULE = "-" * 104
FACTORS_SHOWN = 8
"""Largest factor exposures (before or after the hedge) drawn in the proposal."""


@dataclass(frozen=True)
class MethodRow:
    """One method of ``hedge --compare``.

    Attributes
    ----------
    method, description : str
    n_names : int
        Names in the basket (0 for the index shorts and failed methods).
    own_target_vol, own_hedged_vol : float
        Annualised vol before/after under the method's own risk (NaN for index shorts).
    factor_target_vol, factor_hedged_vol : float
        The same basket priced by the factor model (the common yardstick).
    realised_reduction : float
        Realised variance reduction over the backtest window (``backtest_results``, full period);
        NaN when not available.
    realised_months : int
        Rebalances in that window.
    note : str
        Why a method has no basket (infeasible, index short, ...).
    """

    method: str
    description: str
    n_names: int
    own_target_vol: float
    own_hedged_vol: float
    factor_target_vol: float
    factor_hedged_vol: float
    realised_reduction: float
    realised_months: int
    note: str = ""

    @property
    def own_reduction(self) -> float:
        """Predicted variance removed, by the method's own risk."""
        return 1.0 - (self.own_hedged_vol / self.own_target_vol) ** 2

    @property
    def factor_reduction(self) -> float:
        """Predicted variance removed, by the factor model (comparable across methods)."""
        return 1.0 - (self.factor_hedged_vol / self.factor_target_vol) ** 2


@dataclass(frozen=True)
class MethodComparison:
    """Every method for one position (``hedge TICKER --compare``)."""

    ticker: str
    name: str
    as_of: pd.Timestamp
    rows: tuple[MethodRow, ...]
    backtest_note: str

    def to_text(self) -> str:
        """Plain-text table for the terminal."""
        lines = [
            f"Every hedge method for {self.ticker} ({self.name}) as of {self.as_of.date()}",
            "Common yardstick: each basket priced by the factor risk model; 'own' = the risk "
            "model the method optimised with",
            COMPARE_RULE,
            f"{'method':<19} {'names':>5} {'vol own':>8} {'TE own':>7} {'VR own':>7} "
            f"{'vol fac':>8} {'TE fac':>7} {'VR fac':>7} {'realised VR':>12} {'months':>6}",
        ]
        for r in self.rows:
            if r.n_names == 0 and not math.isfinite(r.realised_reduction):
                lines.append(f"{r.method:<19} {'':>5} {r.note}")
                continue
            own = (
                f"{_pct(r.own_target_vol):>8} {_pct(r.own_hedged_vol):>7} "
                f"{_pct(r.own_reduction):>7}"
            )
            fac = (
                f"{_pct(r.factor_target_vol):>8} {_pct(r.factor_hedged_vol):>7} "
                f"{_pct(r.factor_reduction):>7}"
            )
            months = str(r.realised_months) if r.realised_months else ""
            names = str(r.n_names) if r.n_names else "index"
            lines.append(
                f"{r.method:<19} {names:>5} {own} {fac} {_pct(r.realised_reduction):>12} "
                f"{months:>6}"
            )
        lines += [
            COMPARE_RULE,
            "vol = predicted annual vol unhedged, TE = hedged (tracking error), VR = variance "
            "removed; realised VR = out of sample, walk-forward backtest",
            self.backtest_note,
        ]
        notes = [f"  {r.method}: {r.note}" for r in self.rows if r.note and r.n_names]
        return "\n".join(lines + notes)


def _pct(value: float) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.1%}"


@dataclass(frozen=True)
class RiskSplit:
    """Predicted annual variance of the position before and after the hedge, by source.

    All four figures are annualised variances under the factor model.
    """

    factor_before: float
    specific_before: float
    factor_after: float
    specific_after: float


@dataclass(frozen=True)
class Proposal:
    """What the HTML proposal shows (filled by ``services.proposal.proposal_data``).

    Attributes
    ----------
    hedge : HedgeReport
        The basket (shares, dollars, % ADV), predicted risk and certificate.
    risk : RiskSplit
        Factor / specific split before and after.
    exposures : pd.DataFrame
        ``factor, before, after``: the position's factor exposures and the hedged position's.
    daily : pd.DataFrame
        ``date, ret_target, ret_hedged``: this ticker's walk-forward days (empty without a
        backtest).
    monthly : pd.DataFrame
        ``as_of, predicted_te, realised_te``: per month of the backtest.
    clusters : pd.DataFrame
        ``ticker, cluster, x, y`` of every company (empty without the table).
    cluster_of_target : int or None
    data_note : list of str
        As-of dates and caveats.
    """

    hedge: HedgeReport
    risk: RiskSplit
    exposures: pd.DataFrame
    daily: pd.DataFrame
    monthly: pd.DataFrame
    clusters: pd.DataFrame
    cluster_of_target: int | None
    data_note: tuple[str, ...]


# ------------------------------------------------------------------------------------------ plots


def risk_plot(risk: RiskSplit, notional: float) -> bytes:
    """PNG: annual vol before/after, stacked by factor and specific variance."""
    fig, ax = plt.subplots(figsize=(6, 3.6))
    labels = ["unhedged", "hedged"]
    factor = np.array([risk.factor_before, risk.factor_after])
    specific = np.array([risk.specific_before, risk.specific_after])
    ax.bar(labels, factor * 1e4, color="tab:blue", label="factor variance")
    ax.bar(labels, specific * 1e4, bottom=factor * 1e4, color="tab:orange", label="specific")
    for i, total in enumerate(factor + specific):
        vol = math.sqrt(total)
        ax.text(
            i, total * 1e4, f"vol {vol:.1%}\n${vol * notional:,.0f}/yr", ha="center", va="bottom"
        )
    ax.set_ylabel("annual variance (%²)")
    ax.set_title("Predicted risk before and after the hedge")
    ax.margins(y=0.25)
    ax.legend(loc="upper right")
    return figure_to_png(fig)


def exposure_plot(exposures: pd.DataFrame) -> bytes:
    """PNG: the largest factor exposures before and after the hedge (horizontal bars)."""
    shown = exposures.assign(size=exposures[["before", "after"]].abs().max(axis=1))
    shown = shown.nlargest(FACTORS_SHOWN, "size").iloc[::-1]
    fig, ax = plt.subplots(figsize=(6, 3.6))
    y = np.arange(len(shown))
    ax.barh(y + 0.2, shown["before"], height=0.4, label="position", color="tab:red")
    ax.barh(y - 0.2, shown["after"], height=0.4, label="hedged", color="tab:green")
    ax.set_yticks(y, shown["factor"])
    ax.axvline(0, color="black", linewidth=0.6)
    ax.set_xlabel("exposure (standardised units)")
    ax.set_title("Largest factor exposures")
    ax.legend(loc="lower right")
    return figure_to_png(fig)


def cumulative_plot(daily: pd.DataFrame, ticker: str) -> bytes:
    """PNG: cumulative return of the unhedged and the hedged position (walk-forward)."""
    fig, ax = plt.subplots(figsize=(6, 3.6))
    if len(daily):
        dates = pd.to_datetime(daily["date"])
        ax.plot(dates, (1 + daily["ret_target"]).cumprod() - 1, label=f"{ticker} unhedged")
        ax.plot(dates, (1 + daily["ret_hedged"]).cumprod() - 1, label="hedged (long − basket)")
        ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
        ax.legend()
    else:
        ax.text(0.5, 0.5, "no backtest for this ticker", ha="center", transform=ax.transAxes)
    ax.set_title("Walk-forward record: cumulative return")
    fig.autofmt_xdate()
    return figure_to_png(fig)


def tracking_plot(monthly: pd.DataFrame) -> bytes:
    """PNG: monthly tracking error, predicted at the rebalance vs realised over the month."""
    fig, ax = plt.subplots(figsize=(6, 3.6))
    if len(monthly):
        dates = pd.to_datetime(monthly["as_of"])
        ax.plot(dates, monthly["predicted_te"], marker="o", label="predicted")
        ax.plot(dates, monthly["realised_te"], marker="s", label="realised")
        ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
        ax.legend()
    else:
        ax.text(0.5, 0.5, "no backtest for this ticker", ha="center", transform=ax.transAxes)
    ax.set_ylabel("annualised tracking error")
    ax.set_title("Monthly tracking error: predicted vs realised")
    fig.autofmt_xdate()
    return figure_to_png(fig)


def cluster_plot(clusters: pd.DataFrame, ticker: str, basket: list[str], peers: list[str]) -> bytes:
    """PNG: the 2-D map of company descriptions, the position, its peers and the basket marked."""
    fig, ax = plt.subplots(figsize=(6, 4.2))
    if len(clusters):
        ax.scatter(
            clusters["x"], clusters["y"], c=clusters["cluster"], cmap="tab20", s=8, alpha=0.5
        )
        for names, style, label in (
            (peers, dict(marker="o", facecolors="none", edgecolors="black", s=50), "peers"),
            (basket, dict(marker="s", color="tab:green", s=40), "basket"),
            ([ticker], dict(marker="*", color="tab:red", s=220), ticker),
        ):
            rows = clusters[clusters["ticker"].isin(names)]
            ax.scatter(rows["x"], rows["y"], label=label, **style)
        ax.legend(loc="best", fontsize=8)
    else:
        ax.text(0.5, 0.5, "no cluster map stored", ha="center", transform=ax.transAxes)
    ax.set_title("Where the company sits on the description map")
    ax.set_xticks([])
    ax.set_yticks([])
    return figure_to_png(fig)


# ------------------------------------------------------------------------------------------- HTML

STYLE = """
body { font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1100px; color: #222; }
h1 { margin-bottom: 0.1em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.92em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: right; }
th { background: #f3f3f3; } td.l, th.l { text-align: left; }
.grid { display: flex; flex-wrap: wrap; gap: 1em; } .grid figure { margin: 0; }
figure img { max-width: 540px; height: auto; }
.muted { color: #666; font-size: 0.9em; }
"""


def _img(png: bytes, alt: str) -> str:
    return f'<figure><img alt="{html.escape(alt)}" src="{png_data_uri(png)}"></figure>'


def _table(header: list[str], rows: list[list[str]], left: int = 2) -> str:
    def cell(tag: str, i: int, text: str) -> str:
        cls = ' class="l"' if i < left else ""
        return f"<{tag}{cls}>{html.escape(text)}</{tag}>"

    head = "".join(cell("th", i, h) for i, h in enumerate(header))
    body = "".join(
        "<tr>" + "".join(cell("td", i, c) for i, c in enumerate(r)) + "</tr>" for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _basket_table(hedge: HedgeReport) -> str:
    rows = [
        [
            b.ticker,
            b.name,
            f"{b.weight:.2%}",
            f"${b.short_usd:,.0f}",
            f"{b.shares:,}" if b.shares is not None else "n/a",
            f"{b.pct_adv:.1%}" if b.pct_adv is not None else "n/a",
            f"#{b.peer_rank}" if b.peer_rank is not None else "",
        ]
        for b in hedge.basket
    ]
    header = ["ticker", "company", "weight", "short (USD)", "shares", "% of ADV", "peer rank"]
    return _table(header, rows)


def _certificate(hedge: HedgeReport) -> str:
    return (
        f"<p>Status <b>{html.escape(hedge.status)}</b>: no basket of at most 10 of the "
        f"{hedge.n_candidates} candidates within the same limits has a predicted tracking error "
        f"below <b>{hedge.bound_vol:.2%}</b>; this basket's is {hedge.hedged_vol:.2%}, a gap of "
        f"{hedge.gap:.3%} of the variance (solved in {hedge.solve_ms:.0f} ms).</p>"
    )


def render_proposal(proposal: Proposal) -> str:
    """The whole proposal as one self-contained HTML page (plots inline as base64 PNG)."""
    h = proposal.hedge
    r = proposal.risk
    basket = [b.ticker for b in h.basket]
    peers = [p.ticker for p in h.peers]
    cap = f", each short ≤ {h.max_adv:.0%} of its 20-day ADV" if h.max_adv is not None else ""
    risk_rows = [
        [label, f"{math.sqrt(f + s):.2%}", f"{f / (f + s):.0%}", f"{s / (f + s):.0%}"]
        for label, f, s in (
            ("unhedged", r.factor_before, r.specific_before),
            ("hedged", r.factor_after, r.specific_after),
        )
    ]
    peer_rows = [[p.ticker, p.name, str(p.rank), f"{p.similarity:.2f}"] for p in h.peers]
    where = (
        f"cluster {proposal.cluster_of_target}"
        if proposal.cluster_of_target is not None
        else "not on the map"
    )
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Hedge proposal: {html.escape(h.ticker)}</title><style>{STYLE}</style></head><body>",
        f"<h1>Hedge proposal: {html.escape(h.ticker)} ({html.escape(h.name)})</h1>",
        f"<p class='muted'>As of {h.as_of.date()} · method {html.escape(h.method)} "
        f"({html.escape(h.candidates_rule)})</p>",
        "<h2>Position and basket</h2>",
        f"<p>Position <b>${h.notional:,.0f}</b>: short the basket below (100 % hedge, at most 10 "
        f"names, ≤ 25 % each{cap}). Predicted variance removed: "
        f"<b>{h.variance_reduction:.1%}</b>.</p>",
        _basket_table(h),
        "<h2>Risk before and after</h2>",
        _table(["", "annual vol", "factor share", "specific share"], risk_rows, left=1),
        "<div class='grid'>",
        _img(risk_plot(r, h.notional), "risk before and after"),
        _img(exposure_plot(proposal.exposures), "factor exposures"),
        "</div>",
        "<h2>Walk-forward record of this ticker</h2>",
        "<div class='grid'>",
        _img(cumulative_plot(proposal.daily, h.ticker), "cumulative returns"),
        _img(tracking_plot(proposal.monthly), "tracking error"),
        "</div>",
        "<h2>Semantic peers and the description map</h2>",
        f"<p>{html.escape(h.ticker)} sits in {where} of the company map (descriptions embedded, "
        "projected to 2-D).</p>",
        "<div class='grid'>",
        _table(["ticker", "company", "rank", "similarity"], peer_rows)
        if peer_rows
        else "<p>No semantic peers stored.</p>",
        _img(cluster_plot(proposal.clusters, h.ticker, basket, peers), "cluster map"),
        "</div>",
        "<h2>Optimality certificate</h2>",
        _certificate(h),
        "<h2>Data and caveats</h2><ul>",
        *[f"<li>{html.escape(line)}</li>" for line in proposal.data_note],
        "</ul></body></html>",
    ]
    return "\n".join(parts)
