"""Plots and the Markdown report of the walk-forward backtest.

Every plot function returns PNG bytes (matplotlib, headless Agg backend via ``reporting.plots``);
``render_backtest_report`` assembles the summary tables and plots into one Markdown document and
``write_backtest_report`` writes it, with the PNGs linked beside it, under a reports directory.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from hedging_pipeline.backtest.metrics import SCOPE_FULL_PERIOD, SCOPE_REBALANCE, evaluate_hedges
from hedging_pipeline.backtest.statistics import CRISIS, monthly_cube, paired_differences
from hedging_pipeline.backtest.summary import order_methods
from hedging_pipeline.backtest.walk_forward import walk_forward_splits
from hedging_pipeline.data.tables import HEDGE_KEY
from hedging_pipeline.data.validation import require_columns
from hedging_pipeline.errors import InsufficientHistoryError
from hedging_pipeline.hedging.registry import ALIASES, CANDIDATE_RULES, RISK_RULES
from hedging_pipeline.reporting.plots import figure_to_png, plt
from hedging_pipeline.reporting.tables import frame_to_markdown

REPORT_SUBDIR = "backtest"
REPORT_NAME = "backtest_report.md"
PERCENT = 100.0
NAMED_CASES = ("MOS", "AAPL", "FLEX")
"""The seed's named examples (FLEX is not in the S&P 500 universe of the real data)."""
N_SHOWCASE = 3
"""Names shown in the cumulative-return plot: best, median and worst by the baseline's reduction."""
VR_AXIS_FLOOR = -1.0
"""Variance reductions below -100 % are drawn at the floor (and counted in the title)."""
FIG_WIDTH_IN = 9.0
PANEL_HEIGHT_IN = 3.0
IMAGE_NAMES = {
    "variance_reduction": "variance_reduction_by_method.png",
    "cumulative": "cumulative_hedged_vs_unhedged.png",
    "te_scatter": "realised_vs_predicted_te.png",
}


@dataclass(frozen=True)
class BacktestReport:
    """The rendered backtest report.

    Attributes
    ----------
    markdown : str
        The report text; images are referenced by their file names in ``images``.
    images : Mapping[str, bytes]
        PNG bytes by file name.
    showcase_tickers : tuple of str
        The names in the cumulative-return plot.
    path : Path or None
        Where the Markdown file was written (``None`` until ``write_backtest_report``).
    """

    markdown: str
    images: Mapping[str, bytes] = field(default_factory=dict)
    showcase_tickers: tuple[str, ...] = ()
    path: Path | None = None


def _full_period(results: pd.DataFrame) -> pd.DataFrame:
    """Return the full-period rows of ``backtest_results``; raise if there are none."""
    require_columns(
        results,
        ("ticker", "method", "scope", "variance_reduction", "vol_hedged", "predicted_te"),
        "backtest_results",
    )
    full = results.loc[results["scope"] == SCOPE_FULL_PERIOD]
    if full.empty:
        raise InsufficientHistoryError("backtest_results has no full_period rows to plot")
    return full


def plot_variance_reduction(results: pd.DataFrame, methods: Sequence[str] | None = None) -> bytes:
    """Box plot of the full-period variance reduction (%) of every target, one box per method.

    Parameters
    ----------
    results : pd.DataFrame
        ``backtest_results`` (its ``full_period`` rows are used).
    methods : sequence of str, optional
        Methods to show, in this order; default all, in ``METHODS`` order.

    Returns
    -------
    bytes
        PNG image.
    """
    full = _full_period(results)
    order = order_methods(list(methods) if methods is not None else list(full["method"].unique()))
    values = [
        full.loc[full["method"] == m, "variance_reduction"].to_numpy() * PERCENT for m in order
    ]
    floor = VR_AXIS_FLOOR * PERCENT
    n_below = sum(int((v < floor).sum()) for v in values)
    fig, ax = plt.subplots(figsize=(FIG_WIDTH_IN, 2 * PANEL_HEIGHT_IN))
    ax.boxplot([np.maximum(v, floor) for v in values], showmeans=True)
    ax.set_xticks(
        range(1, len(order) + 1), [f"{m}\n(n={len(v)})" for m, v in zip(order, values, strict=True)]
    )
    ax.axhline(0.0, color="grey", linewidth=0.8)
    ax.set_ylabel("out-of-sample variance reduction (%)")
    title = "Variance reduction per method (full test period; triangle = mean)"
    if n_below:
        title += f"\n{n_below} target(s) below {floor:.0f} % drawn at the floor"
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    return figure_to_png(fig)


def choose_showcase_tickers(
    results: pd.DataFrame, method: str = "factor", n: int = N_SHOWCASE
) -> list[str]:
    """Pick ``n`` names spread over ``method``'s full-period variance reduction (best to worst).

    With ``n = 3`` these are the best, the median and the worst hedged target.
    """
    full = _full_period(results)
    own = full.loc[full["method"] == method].sort_values(
        ["variance_reduction", "ticker"], ascending=[False, True]
    )
    if own.empty:
        own = full.sort_values(
            ["variance_reduction", "ticker"], ascending=[False, True]
        ).drop_duplicates("ticker")
    positions = np.unique(np.linspace(0, len(own) - 1, num=min(n, len(own))).round().astype(int))
    return list(own["ticker"].iloc[positions])


def plot_cumulative_returns(
    daily: pd.DataFrame, tickers: Sequence[str], methods: Sequence[str] | None = None
) -> bytes:
    """Plot cumulative unhedged vs hedged returns, one panel per ticker, one line per method.

    The cumulative return is ``Π (1 + r_d) − 1`` of the stitched daily series (the hedge is
    rebalanced daily to its weights, so the hedged return is ``r_target − Σ w_i r_i``).

    Parameters
    ----------
    daily : pd.DataFrame
        ``BacktestEvaluation.daily``: date, ticker, method, ret_target, ret_hedged.
    tickers : sequence of str
        Names to show.
    methods : sequence of str, optional
        Hedged lines to draw; default all methods present.

    Returns
    -------
    bytes
        PNG image.
    """
    require_columns(
        daily, ("date", "ticker", "method", "ret_target", "ret_hedged"), "daily backtest series"
    )
    order = order_methods(list(methods) if methods is not None else list(daily["method"].unique()))
    fig, axes = plt.subplots(
        len(tickers),
        1,
        figsize=(FIG_WIDTH_IN, PANEL_HEIGHT_IN * max(len(tickers), 1)),
        squeeze=False,
    )
    for ax, ticker in zip(axes[:, 0], tickers, strict=False):
        own = daily.loc[daily["ticker"] == ticker]
        unhedged = own.drop_duplicates("date").sort_values("date").set_index("date")["ret_target"]
        ax.plot(
            unhedged.index,
            ((1 + unhedged).cumprod() - 1) * PERCENT,
            color="black",
            label="unhedged",
        )
        for method in order:
            line = (
                own.loc[own["method"] == method].sort_values("date").set_index("date")["ret_hedged"]
            )
            if not line.empty:
                ax.plot(line.index, ((1 + line).cumprod() - 1) * PERCENT, label=f"hedged: {method}")
        ax.set_title(ticker)
        ax.set_ylabel("cumulative return (%)")
        ax.grid(alpha=0.3)
    axes[0, 0].legend(loc="upper left", fontsize="small", ncol=2)
    fig.tight_layout()
    return figure_to_png(fig)


def plot_te_scatter(results: pd.DataFrame, methods: Sequence[str] | None = None) -> bytes:
    """Scatter of realised vs predicted annualised tracking error (full period), per method.

    Points on the diagonal are hedges whose risk the model predicted right; above it, the hedge was
    riskier out of sample than predicted.
    """
    full = _full_period(results)
    order = order_methods(list(methods) if methods is not None else list(full["method"].unique()))
    fig, ax = plt.subplots(figsize=(FIG_WIDTH_IN * 0.75, FIG_WIDTH_IN * 0.75))
    for method in order:
        own = full.loc[full["method"] == method]
        ax.scatter(
            own["predicted_te"] * PERCENT,
            own["vol_hedged"] * PERCENT,
            s=10,
            alpha=0.6,
            label=method,
        )
    top = float(np.nanmax(full[["predicted_te", "vol_hedged"]].to_numpy())) * PERCENT
    ax.plot([0, top], [0, top], color="grey", linewidth=0.8, label="realised = predicted")
    ax.set_xlabel("predicted tracking error (% annualised)")
    ax.set_ylabel("realised tracking error (% annualised)")
    ax.set_title("Realised vs predicted tracking error (full test period)")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    return figure_to_png(fig)


def _percent(values: pd.Series) -> pd.Series:
    """Format fractions as percentages with one decimal."""
    return (values * PERCENT).map(lambda x: f"{x:.1f}")


def _with_ci(value: pd.Series, low: pd.Series, high: pd.Series) -> pd.Series:
    return _percent(value) + " [" + _percent(low) + ", " + _percent(high) + "]"


def grid_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The first table: median monthly VR % [month x target bootstrap CI], candidates x risk."""
    cells = summary.loc[summary["risk"].isin(RISK_RULES)].assign(
        text=lambda f: _with_ci(
            f["median_monthly_variance_reduction"], f["monthly_ci_low"], f["monthly_ci_high"]
        )
    )
    table = cells.pivot(index="candidates", columns="risk", values="text")
    table = table.reindex(
        index=[c for c in CANDIDATE_RULES if c in table.index],
        columns=[r for r in RISK_RULES if r in table.columns],
    )
    return table.rename_axis(index="candidates \\ risk", columns=None).reset_index().fillna("")


def question_pairs() -> list[tuple[str, str]]:
    """Same risk, text vs returns peers; then same candidates, factor model vs shrunk sample."""
    text = [(ALIASES[f"semantic_{r}"], ALIASES[f"correlation_{r}"]) for r in RISK_RULES]
    risk = [(ALIASES[f"{c}_factor"], ALIASES[f"{c}_sample"]) for c in CANDIDATE_RULES]
    return text + risk


def paired_table(paired: pd.DataFrame) -> pd.DataFrame:
    """Paired month-by-month differences, in points of variance reduction."""
    points = lambda x: x.map(lambda v: f"{v * PERCENT:+.1f}")  # noqa: E731
    return pd.DataFrame(
        {
            "a − b": paired["a"] + " − " + paired["b"],
            "median difference [CI]": points(paired["median_difference"])
            + " ["
            + points(paired["ci_low"])
            + ", "
            + points(paired["ci_high"])
            + "]",
            "months a wins %": _percent(paired["months_a_wins"]),
            "target-months a wins / tie %": _percent(paired["cells_a_wins"])
            + " / "
            + _percent(paired["cells_tied"]),
            "median difference ex-crisis": points(paired["median_difference_ex_crisis"]),
            "months a wins ex-crisis %": _percent(paired["months_a_wins_ex_crisis"]),
        }
    )


def _summary_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Every method with every statistic, in percent, CIs in brackets."""
    median, win = "median_variance_reduction", "win_rate"
    return pd.DataFrame(
        {
            "method": summary["method"],
            "candidates": summary["candidates"],
            "risk": summary["risk"],
            "targets": summary["n_targets"],
            "monthly median VR % [CI]": _with_ci(
                summary["median_monthly_variance_reduction"],
                summary["monthly_ci_low"],
                summary["monthly_ci_high"],
            ),
            "ex-crisis % [CI]": _with_ci(
                summary["median_variance_reduction_ex_crisis"],
                summary["ex_crisis_ci_low"],
                summary["ex_crisis_ci_high"],
            ),
            "pooled VR % [CI]": _with_ci(
                summary[median], summary[f"{median}_ci_low"], summary[f"{median}_ci_high"]
            ),
            "pooled ex-crisis %": _percent(summary["pooled_variance_reduction_ex_crisis"]),
            "net VR %": _percent(summary["net_median_variance_reduction"]),
            "turnover %": _percent(summary["turnover"]),
            "cost bp/yr": summary["annual_cost_bp"].map(lambda x: f"{x:.1f}"),
            "at name cap %": _percent(summary["share_at_name_cap"]).replace("nan", "–"),
            "win vs factor % [CI]": _with_ci(
                summary[f"{win}_vs_factor"], summary[f"{win}_ci_low"], summary[f"{win}_ci_high"]
            ),
            "realised / predicted TE": summary["median_te_ratio"].map(lambda x: f"{x:.2f}"),
        }
    )


def named_cases(results: pd.DataFrame, tickers: Sequence[str]) -> tuple[pd.DataFrame, list[str]]:
    """Full-period and monthly-median VR % per method of the named targets; names not found."""
    full = results.loc[results["ticker"].isin(list(tickers))]
    found = [t for t in tickers if t in set(full["ticker"])]
    pooled = full.loc[full["scope"] == SCOPE_FULL_PERIOD].pivot(
        index="method", columns="ticker", values="variance_reduction"
    )
    monthly = (
        full.loc[full["scope"] == SCOPE_REBALANCE]
        .groupby(["method", "ticker"])["variance_reduction"]
        .median()
        .unstack("ticker")
    )
    table = pd.DataFrame(index=order_methods(list(pooled.index)))
    for t in found:
        table[f"{t} pooled %"] = pooled[t] * PERCENT
        table[f"{t} monthly median %"] = monthly[t] * PERCENT
    return table.rename_axis("method").reset_index(), [t for t in tickers if t not in found]


def _method_lines(
    results: pd.DataFrame,
    summary: pd.DataFrame,
    showcase: Sequence[str],
    chosen: bool,
    per_month: pd.DataFrame,
) -> list[str]:
    """The report after the grid: every method, named cases, plots, the per-month table."""
    named, missing = named_cases(results, NAMED_CASES)
    return [
        "## Every method",
        "",
        "Pooled = each target's VR over its whole test period (a crash month weighs by its "
        "variance); net = monthly median after trading costs; turnover = mean one-way traded "
        "notional per rebalance (fraction of the position); at name cap = share of baskets with a "
        "name at the 25 % cap.",
        "",
        _summary_table(summary).to_markdown(index=False, disable_numparse=True),
        "",
        f"![Variance reduction per method]({IMAGE_NAMES['variance_reduction']})",
        "",
        "## Named cases",
        "",
        named.to_markdown(index=False, floatfmt=".1f") if named.shape[1] > 1 else "(none found)",
        "",
        f"Not in the universe: {', '.join(missing)}." if missing else "",
        "",
        "## Cumulative returns, hedged vs unhedged",
        "",
        f"Names: {', '.join(showcase)}"
        + (" (best, median and worst by the factor hedge's VR)." if chosen else "."),
        "",
        f"![Cumulative hedged vs unhedged returns]({IMAGE_NAMES['cumulative']})",
        "",
        "## Realised vs predicted tracking error",
        "",
        f"![Realised vs predicted tracking error]({IMAGE_NAMES['te_scatter']})",
        "",
        "## Median monthly variance reduction (%)",
        "",
        per_month.reset_index()
        .rename(columns={"as_of": "as of"})
        .to_markdown(index=False, floatfmt=".1f"),
        "",
    ]


def render_backtest_report(
    results: pd.DataFrame,
    summary: pd.DataFrame,
    daily: pd.DataFrame,
    *,
    skipped: pd.DataFrame | None = None,
    tickers: Sequence[str] | None = None,
    title: str = "Walk-forward hedge backtest",
    paired: pd.DataFrame | None = None,
) -> BacktestReport:
    """Assemble the backtest report: the grid, the paired questions, every method, named cases.

    Parameters
    ----------
    results : pd.DataFrame
        ``backtest_results`` (both scopes).
    summary : pd.DataFrame
        ``backtest_summary`` from ``summarise_grid``.
    daily : pd.DataFrame
        ``BacktestEvaluation.daily`` (for the cumulative-return plot).
    skipped : pd.DataFrame, optional
        ``BacktestEvaluation.skipped``; counted per reason in the report.
    tickers : sequence of str, optional
        Names for the cumulative plot; default ``choose_showcase_tickers`` on ``factor``.
    title : str
        First heading.
    paired : pd.DataFrame, optional
        ``statistics.paired_differences`` of :func:`question_pairs` (the two questions).

    Returns
    -------
    BacktestReport
        Markdown with images referenced by file name, and the PNG bytes.
    """
    full = _full_period(results)
    showcase = list(tickers) if tickers is not None else choose_showcase_tickers(results)
    images = {
        IMAGE_NAMES["variance_reduction"]: plot_variance_reduction(results),
        IMAGE_NAMES["cumulative"]: plot_cumulative_returns(daily, showcase),
        IMAGE_NAMES["te_scatter"]: plot_te_scatter(results),
    }
    monthly = results.loc[results["scope"] != SCOPE_FULL_PERIOD]
    per_month = (
        monthly.groupby(["as_of", "method"])["variance_reduction"].median().unstack("method")
        * PERCENT
    ).reindex(columns=order_methods(list(monthly["method"].unique())))
    per_month.index = per_month.index.strftime("%Y-%m-%d")
    start, end = full["test_start"].min(), full["test_end"].max()
    lines = [
        f"# {title}",
        "",
        f"Out-of-sample test period {start:%Y-%m-%d} to {end:%Y-%m-%d}: each month-end hedge is "
        "held as share counts over the next month's trading days, `(as_of, next as_of]` (its "
        "weights drift), and judged on the realised daily returns of target minus basket. "
        "Variance reduction (VR) = 1 − var(hedged) / var(unhedged). The unit is the target-month; "
        "methods are compared on the target-months every method has. Intervals: 95 % bootstrap "
        "resampling months (blocks of days every target shares) and targets. Crisis = test "
        f"windows overlapping {CRISIS[0]:%Y-%m-%d}..{CRISIS[1]:%Y-%m-%d}.",
        "",
        "## The grid: median monthly VR % [CI], candidates x risk estimator",
        "",
        grid_table(summary).to_markdown(index=False, disable_numparse=True),
        "",
        "`universe` under the sample and blend risks is solved on a pre-screen of the universe: "
        "the union of the target's correlation candidates, semantic peers and the names the factor "
        "model sees as most correlated with it (`hedging.registry.SCREENED_UNIVERSE`); under the "
        "factor model it is the whole universe.",
        "",
    ]
    if paired is not None and len(paired):
        lines += [
            "## Two questions, month by month (a − b in points of VR)",
            "",
            "First rows: do text peers beat returns peers under the same risk estimator? Last rows: "
            "does the factor model beat the shrunk sample covariance on the same candidates?",
            "",
            paired_table(paired).to_markdown(index=False, disable_numparse=True),
            "",
        ]
    lines += _method_lines(results, summary, showcase, tickers is None, per_month)
    if skipped is not None and not skipped.empty:
        counts = skipped.groupby(["reason", "method"]).size().unstack("method", fill_value=0)
        counts = counts.reindex(columns=order_methods(list(counts.columns))).reset_index()
        lines += ["## Hedges not evaluated (count per method)", "", frame_to_markdown(counts), ""]
    return BacktestReport(
        markdown="\n".join(lines), images=images, showcase_tickers=tuple(showcase)
    )


def write_backtest_report(report: BacktestReport, reports_dir: Path | str) -> BacktestReport:
    """Write the report and its PNGs to ``reports_dir/backtest/`` (replacing earlier files).

    Returns
    -------
    BacktestReport
        ``report`` with ``path`` set to the Markdown file.
    """
    folder = Path(reports_dir) / REPORT_SUBDIR
    folder.mkdir(parents=True, exist_ok=True)
    for name, png in report.images.items():
        (folder / name).write_bytes(png)
    path = folder / REPORT_NAME
    path.write_text(report.markdown, encoding="utf-8")
    return BacktestReport(
        markdown=report.markdown,
        images=report.images,
        showcase_tickers=report.showcase_tickers,
        path=path,
    )


NO_RESULT_REASON = "no out-of-sample result (no test window after as_of, or too few target returns)"


def hedges_without_results(
    results: pd.DataFrame, hedge_weights: pd.DataFrame, hedge_diagnostics: pd.DataFrame
) -> pd.DataFrame:
    """List the hedges the backtest has no monthly result for, with the reason.

    Two kinds: hedges with weights but no ``rebalance`` row in ``results`` (no test window, or too
    few target returns), and ``hedge_diagnostics`` rows without weights (the optimiser found no
    feasible basket; the reason is ``no weights (<status>)`` when a ``status`` column exists).

    Returns
    -------
    pd.DataFrame
        as_of, ticker, method, reason; sorted.
    """
    evaluated = results.loc[results["scope"] == SCOPE_REBALANCE, HEDGE_KEY].drop_duplicates()
    hedged = hedge_weights[HEDGE_KEY].drop_duplicates()
    flagged = hedged.merge(evaluated, on=HEDGE_KEY, how="left", indicator=True)
    no_result = flagged.loc[flagged["_merge"] == "left_only", HEDGE_KEY].assign(
        reason=NO_RESULT_REASON
    )
    diag = hedge_diagnostics.merge(hedged, on=HEDGE_KEY, how="left", indicator=True)
    diag = diag.loc[diag["_merge"] == "left_only"]
    status = (
        diag["status"].fillna("").astype(str)
        if "status" in diag.columns
        else pd.Series("", index=diag.index)
    )
    no_weights = diag[HEDGE_KEY].assign(
        reason=np.where(status != "", "no weights (" + status + ")", "no weights")
    )
    return pd.concat([no_result, no_weights], ignore_index=True).sort_values(
        HEDGE_KEY, ignore_index=True
    )


def build_backtest_report(
    results: pd.DataFrame,
    summary: pd.DataFrame,
    hedge_weights: pd.DataFrame,
    hedge_diagnostics: pd.DataFrame,
    daily_returns: pd.DataFrame,
    *,
    tickers: Sequence[str] | None = None,
    title: str = "Walk-forward hedge backtest",
) -> BacktestReport:
    """Render the report from the warehouse tables alone.

    The daily hedged series of the showcase names are recomputed (cheaply, for those names only) on
    the same walk-forward splits as the full backtest, i.e. from every as_of of ``hedge_weights``.

    Parameters
    ----------
    results, summary : pd.DataFrame
        ``backtest_results`` and ``backtest_summary``.
    hedge_weights, hedge_diagnostics, daily_returns : pd.DataFrame
        The backtest's inputs.
    tickers : sequence of str, optional
        Names for the cumulative plot; default ``choose_showcase_tickers``.
    title : str
        First heading.

    Returns
    -------
    BacktestReport
        As ``render_backtest_report``, with the hedges that have no result listed.
    """
    showcase = list(tickers) if tickers is not None else choose_showcase_tickers(results)
    splits = walk_forward_splits(
        pd.to_datetime(daily_returns["date"]).unique(),
        pd.to_datetime(hedge_weights["as_of"]).unique(),
    )
    subset = hedge_weights.loc[hedge_weights["ticker"].isin(showcase)]
    daily = evaluate_hedges(
        subset, hedge_diagnostics, daily_returns, splits, holding="shares"
    ).daily
    skipped = hedges_without_results(results, hedge_weights, hedge_diagnostics)
    methods = order_methods(list(results["method"].unique()))
    paired = paired_differences(monthly_cube(results, methods), question_pairs())
    return render_backtest_report(
        results, summary, daily, skipped=skipped, tickers=tickers, title=title, paired=paired
    )
