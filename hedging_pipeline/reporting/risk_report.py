"""Plots and Markdown tables of the risk-model validation (R², t-stat exceedance, bias).

Every plot returns PNG bytes (headless matplotlib, :mod:`hedging_pipeline.reporting.plots`);
:func:`build_risk_report` assembles them with the tables into one Markdown document with the
images embedded, for Dagster metadata and ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from hedging_pipeline.reporting.plots import figure_to_png, markdown_image, plt
from hedging_pipeline.risk.diagnostics import (
    NOISE_EXCEEDANCE,
    T_STAT_THRESHOLD,
    BiasStatistics,
    RegressionFitSummary,
    RiskValidation,
)
from hedging_pipeline.types import STYLE_FACTORS

ROLLING_R2_DAYS = 63
ROLLING_BIAS_PERIODS = 12
HIST_BINS = 40
FIGSIZE = (9.0, 3.6)


@dataclass(frozen=True)
class RiskReport:
    """The validation report.

    Attributes
    ----------
    markdown : str
        The report with its images embedded as data URIs.
    images : dict of str to bytes
        The PNGs by name (``r2``, ``t_stats``, ``bias``).
    """

    markdown: str
    images: dict[str, bytes]


def plot_r2(stats: pd.DataFrame) -> bytes:
    """Histogram of the daily R² and its rolling mean through time."""
    fig, (left, right) = plt.subplots(1, 2, figsize=FIGSIZE)
    r2 = stats["r2"].astype(float)
    left.hist(r2, bins=HIST_BINS, color="#4c72b0")
    left.axvline(r2.mean(), color="k", ls="--", lw=1, label=f"mean {r2.mean():.3f}")
    left.set_xlabel("daily weighted R²")
    left.set_ylabel("days")
    left.legend()
    series = stats.set_index("date")["r2"].astype(float).sort_index()
    right.plot(series.index, series.rolling(ROLLING_R2_DAYS, min_periods=1).mean(), lw=1)
    right.set_ylabel(f"R², {ROLLING_R2_DAYS}-day mean")
    right.set_title("cross-sectional fit through time", fontsize=9)
    fig.autofmt_xdate()
    return figure_to_png(fig)


def plot_t_stat_exceedance(exceedance: pd.DataFrame) -> bytes:
    """Bar chart: share of days with ``|t| > 2`` per factor, against the pure-noise 4.6 %."""
    fig, ax = plt.subplots(figsize=(FIGSIZE[0], 3.8))
    positions = np.arange(len(exceedance))
    ax.bar(positions, exceedance["share_abs_t_above"], color="#55a868")
    ax.axhline(NOISE_EXCEEDANCE, color="r", ls="--", lw=1, label="no-signal level")
    ax.set_xticks(positions, exceedance["factor"], rotation=60, ha="right", fontsize=8)
    ax.set_ylabel(f"share of days |t| > {T_STAT_THRESHOLD:g}")
    ax.legend()
    return figure_to_png(fig)


def plot_bias(bias: BiasStatistics) -> bytes:
    """Histograms of the stock and portfolio bias statistics, and the portfolios' rolling bias."""
    fig, axes = plt.subplots(1, 3, figsize=(FIGSIZE[0] * 1.3, FIGSIZE[1]))
    low, high = bias.band
    for ax, frame, title in (
        (axes[0], bias.stock_bias, "single stocks"),
        (axes[1], bias.portfolio_bias, "random portfolios"),
    ):
        ax.hist(frame["bias"], bins=HIST_BINS, color="#8172b2")
        for x in (low, high):
            ax.axvline(x, color="r", ls="--", lw=1)
        ax.axvline(1.0, color="k", lw=1)
        ax.set_title(f"{title} (median {frame['bias'].median():.2f})", fontsize=9)
        ax.set_xlabel("bias statistic")
    z = bias.outcomes.groupby("as_of")["z"].apply(lambda s: float(np.sqrt((s**2).mean())))
    axes[2].plot(z.index, z.rolling(ROLLING_BIAS_PERIODS, min_periods=1).mean(), lw=1)
    axes[2].axhline(1.0, color="k", lw=1)
    axes[2].set_title(f"portfolio RMS z, {ROLLING_BIAS_PERIODS}-period mean", fontsize=9)
    fig.autofmt_xdate()
    return figure_to_png(fig)


def plot_factor_correlation(rows: pd.DataFrame) -> bytes:
    """Heatmap of the factor correlations of one ``factor_covariance`` date (its long rows)."""
    wide = rows.pivot(index="factor_1", columns="factor_2", values="cov")
    order = list(dict.fromkeys(rows["factor_1"]))
    cov = wide.loc[order, order].to_numpy(dtype=float)
    sd = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    corr = np.divide(cov, np.outer(sd, sd), out=np.zeros_like(cov), where=np.outer(sd, sd) > 0)
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    image = ax.imshow(corr, cmap="RdBu_r", vmin=-1.0, vmax=1.0)
    ticks = np.arange(len(order))
    labels = [f"{f} ({v:.0%})" for f, v in zip(order, sd, strict=True)]
    ax.set_xticks(ticks, order, rotation=70, ha="right", fontsize=7)
    ax.set_yticks(ticks, labels, fontsize=7)
    ax.set_title(
        f"factor correlations (annual vol) as of {pd.Timestamp(rows['date'].iloc[0]).date()}"
    )
    fig.colorbar(image, ax=ax, shrink=0.8)
    return figure_to_png(fig)


def plot_style_coverage(coverage: pd.DataFrame) -> bytes:
    """Share of names with an observed (non-imputed) exposure, per style and month."""
    fig, ax = plt.subplots(figsize=(8, 3.5))
    for style in STYLE_FACTORS:
        ax.plot(coverage["period"], coverage[style], label=style, lw=1.2)
    ax.set_ylim(0.0, 1.02)
    ax.set_ylabel("share observed")
    ax.set_title("style coverage per month (rest imputed by industry mean or 0)")
    ax.legend(fontsize=7, ncol=4, loc="lower left")
    return figure_to_png(fig)


def regression_fit_markdown(summary: RegressionFitSummary) -> str:
    """One-row Markdown table of the R² distribution."""
    q = summary.quantiles
    head = "| days | span | mean assets | mean R² | " + " | ".join(
        f"q{int(k * 100):02d}" for k in q.index
    )
    sep = "|" + "---|" * (4 + len(q))
    row = (
        f"| {summary.n_days:,} | {summary.first_date.date()} → {summary.last_date.date()} | "
        f"{summary.mean_n_assets:.0f} | {summary.mean_r2:.3f} | "
        + " | ".join(f"{v:.3f}" for v in q.values)
        + " |"
    )
    return "\n".join([head + " |", sep, row])


def exceedance_markdown(exceedance: pd.DataFrame) -> str:
    """Markdown table of the per-factor |t| exceedance."""
    lines = [
        "| factor | days | share \\|t\\|>2 | mean \\|t\\| | annual vol |",
        "|---|---|---|---|---|",
    ]
    for row in exceedance.itertuples(index=False):
        lines.append(
            f"| {row.factor} | {row.n_days:,} | {row.share_abs_t_above:.1%} | "
            f"{row.mean_abs_t:.2f} | {row.annual_vol:.2%} |"
        )
    return "\n".join(lines)


def bias_markdown(bias: BiasStatistics) -> str:
    """Markdown table of the bias statistics against the ``1 ± sqrt(2/T)`` band."""
    low, high = bias.band
    return "\n".join(
        [
            "| population | count | median bias | share in band | band (T periods) |",
            "|---|---|---|---|---|",
            f"| random portfolios | {len(bias.portfolio_bias)} | "
            f"{bias.median_portfolio_bias:.3f} | "
            f"{bias.share_portfolios_in_band:.0%} | [{low:.3f}, {high:.3f}] (T={bias.n_periods}) |",
            f"| single stocks | {len(bias.stock_bias)} | {bias.median_stock_bias:.3f} | "
            f"{bias.share_stocks_in_band:.0%} | 1 ± √(2/T) per stock |",
        ]
    )


def validation_table(validation: RiskValidation) -> pd.DataFrame:
    """The headline numbers as a long table ``section, metric, value`` (the diagnostics asset's rows)."""
    fit = validation.fit
    rows = [
        ("regression", "n_days", float(fit.n_days)),
        ("regression", "mean_r2", fit.mean_r2),
        *[("regression", f"r2_q{int(q * 100):02d}", float(v)) for q, v in fit.quantiles.items()],
        ("regression", "mean_n_assets", fit.mean_n_assets),
        *[
            ("t_stats", f"share_abs_t_above_2:{r.factor}", float(r.share_abs_t_above))
            for r in validation.exceedance.itertuples(index=False)
        ],
        ("bias", "n_models", float(validation.n_models)),
    ]
    bias = validation.bias
    if bias is not None:
        rows += [
            ("bias", "n_periods", float(bias.n_periods)),
            ("bias", "band_low", bias.band[0]),
            ("bias", "band_high", bias.band[1]),
            ("bias", "median_portfolio_bias", bias.median_portfolio_bias),
            ("bias", "share_portfolios_in_band", bias.share_portfolios_in_band),
            ("bias", "median_stock_bias", bias.median_stock_bias),
            ("bias", "share_stocks_in_band", bias.share_stocks_in_band),
        ]
    return pd.DataFrame(rows, columns=["section", "metric", "value"])


def build_validation_report(validation: RiskValidation, stats: pd.DataFrame) -> RiskReport:
    """:func:`build_risk_report` of a :class:`~hedging_pipeline.risk.diagnostics.RiskValidation`."""
    return build_risk_report(validation.fit, stats, validation.exceedance, validation.bias)


def build_risk_report(
    summary: RegressionFitSummary,
    stats: pd.DataFrame,
    exceedance: pd.DataFrame,
    bias: BiasStatistics | None = None,
    *,
    title: str = "Risk model validation",
) -> RiskReport:
    """Assemble the Markdown report with the three plots embedded."""
    images = {"r2": plot_r2(stats), "t_stats": plot_t_stat_exceedance(exceedance)}
    parts = [
        f"## {title}",
        "### Cross-sectional fit",
        regression_fit_markdown(summary),
        markdown_image(images["r2"], "daily R²"),
        "### Factor significance",
        exceedance_markdown(exceedance),
        markdown_image(images["t_stats"], "t-stat exceedance"),
    ]
    if bias is not None:
        images["bias"] = plot_bias(bias)
        parts += [
            "### Bias statistics (std of realised / predicted over the next period)",
            bias_markdown(bias),
            markdown_image(images["bias"], "bias statistics"),
        ]
    return RiskReport(markdown="\n\n".join(parts), images=images)
