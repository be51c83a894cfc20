"""Dagster assets of the factor risk model (issue 4), on monthly partitions with single-run backfills.

* ``style_exposures`` (rows per trading day): vendor exposures when ``raw_exposures`` has rows, else
  computed from prices, returns, caps and point-in-time fundamentals; reads ~14 months of lookback.
* ``factor_returns``, ``specific_returns``, ``factor_regression_stats`` (one multi-asset, rows per
  trading day): the √cap-weighted Huber regressions of each day's returns on the previous close's
  exposures.
* ``factor_covariance``, ``specific_risk`` (one as-of date per complete month with two years of
  history; other months write no rows and say so): the month-end model, EWMA with the USE4
  volatility regime adjustment (``MODEL_COVARIANCE_SETTINGS``, ``MODEL_SPECIFIC_SETTINGS``).
* ``risk_model_diagnostics`` (unpartitioned): R², t-stat exceedance and bias statistics with plots;
  writes a small ``risk_model_diagnostics`` table and the Markdown report under the reports folder.
"""

import dagster as dg
import pandas as pd

from hedging_pipeline.data.calendar import month_end_dates
from hedging_pipeline.defs.common import (
    GROUP_RISK,
    OWNER,
    WAREHOUSE_POOL,
    add_partition_metadata,
    frame_metadata,
    lookback_dep,
    plot_metadata,
)
from hedging_pipeline.defs.panels import check_results, check_specs, raise_on_blocking
from hedging_pipeline.defs.partitions import PartitionSet, partition_window
from hedging_pipeline.defs.resources import WarehouseResource
from hedging_pipeline.reporting import risk_report
from hedging_pipeline.reporting.tables import frame_to_markdown
from hedging_pipeline.risk import quality
from hedging_pipeline.risk.covariance import (
    MODEL_COVARIANCE_SETTINGS,
    WINDOW_DAYS,
    rolling_factor_covariance,
)
from hedging_pipeline.risk.diagnostics import validate_risk_model
from hedging_pipeline.risk.exposures import (
    AGE_COLUMNS,
    LOOKBACK_CALENDAR_DAYS,
    OBSERVED_COLUMN,
    build_style_exposures,
    style_coverage,
)
from hedging_pipeline.risk.regression import MAX_EXPOSURE_AGE_DAYS, estimate_factor_returns
from hedging_pipeline.risk.specific import MODEL_SPECIFIC_SETTINGS, estimate_specific_risk
from hedging_pipeline.settings import Settings
from hedging_pipeline.types import STYLE_FACTORS

EXPOSURE_LOOKBACK_MONTHS = LOOKBACK_CALENDAR_DAYS // 30 + 1
MODEL_LOOKBACK_DAYS = int(WINDOW_DAYS * 7 / 5 * 1.05) + 10
"""Calendar days of factor/specific returns read before a month end (504 trading days + margin)."""
MODEL_LOOKBACK_MONTHS = MODEL_LOOKBACK_DAYS // 30 + 1
CALENDAR_LOOKAHEAD_DAYS = 10
"""The trading calendar is read a little past the window to tell a complete month from an open one."""
REPORT_NAME = "risk_model_report.md"

EXPOSURE_BLOCKING = ("complete_exposures",)
EXPOSURE_WARN = ("standardised_exposures", "style_coverage")
REGRESSION_BLOCKING, REGRESSION_WARN = ("complete_factor_returns",), ("mean_r2_in_range",)


MODEL_EMPTY = "no rows by design: no month end in this month with 504 trading days of history (or the month is open)"


def _month_ends(warehouse: WarehouseResource, start: pd.Timestamp, end: pd.Timestamp):
    """Last trading day of every complete month in ``[start, end]``."""
    calendar = warehouse.get().read(
        "trading_calendar", start=start, end=end + pd.Timedelta(days=CALENDAR_LOOKAHEAD_DAYS)
    )
    ends = month_end_dates(pd.DatetimeIndex(calendar["date"]))
    return ends[(ends >= start) & (ends <= end)]


def _as_of_metadata(frame: pd.DataFrame, as_of: pd.DatetimeIndex) -> dict:
    written = pd.DatetimeIndex(frame["date"].unique())
    skipped = [str(d.date()) for d in as_of if d not in written]
    meta = frame_metadata(frame)
    meta["as_of_dates"] = dg.MetadataValue.text(", ".join(str(d.date()) for d in written) or "none")
    meta["skipped_as_of"] = dg.MetadataValue.text(
        ", ".join(skipped) + " (< 504 days of history)" if skipped else "none"
    )
    return meta


COMMON = {"pool": WAREHOUSE_POOL, "owners": [OWNER], "group_name": GROUP_RISK}
KINDS = {"duckdb", "pandas"}


def _coverage_metadata(frame: pd.DataFrame, coverage: pd.DataFrame) -> dict:
    """Style coverage per month (table and plot) and the median statement age per style."""
    if coverage.empty:
        return {}
    table = coverage[["period", *STYLE_FACTORS]].assign(
        period=coverage["period"].dt.strftime("%Y-%m")
    )
    ages = {c: float(frame[c].median()) for c in AGE_COLUMNS if frame[c].notna().any()}
    meta = {
        "style_coverage": dg.MetadataValue.md(frame_to_markdown(table.round(3), max_rows=24)),
        "median_statement_age_days": dg.MetadataValue.json(ages),
    }
    return meta | plot_metadata(risk_report.plot_style_coverage(coverage), title="style_coverage")


def _stored_first_observed(wh) -> dict[str, pd.Timestamp]:
    """First stored day with an observed (non-imputed) exposure, per style (empty before the first write)."""
    if "style_exposures" not in wh.tables():
        return {}
    columns = ", ".join(
        f"min(date) filter (where ({OBSERVED_COLUMN} >> {bit}) & 1 = 1) as {style}"
        for bit, style in enumerate(STYLE_FACTORS)
    )
    row = wh.query(f"select {columns} from style_exposures").iloc[0]
    return {style: pd.Timestamp(day) for style, day in row.items() if pd.notna(day)}


def _style_exposures_asset(monthly: dict) -> dg.AssetsDefinition:
    """``style_exposures``: computed or vendor exposures, with coverage checks."""

    @dg.asset(
        deps=[
            *(
                lookback_dep(k, EXPOSURE_LOOKBACK_MONTHS)
                for k in ("prices", "daily_returns", "market_caps")
            ),
            "raw_companies",
            "raw_fundamentals",
            "raw_exposures",
        ],
        check_specs=check_specs("style_exposures", EXPOSURE_BLOCKING, EXPOSURE_WARN),
        kinds=KINDS,
        **monthly,
        **COMMON,
    )
    def style_exposures(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        """Standardised 7 style exposures and industry of each stock, known at each day's close."""
        start, end = partition_window(context)
        wh = warehouse.get()
        lookback = start - pd.Timedelta(days=LOOKBACK_CALENDAR_DAYS)
        vendor = wh.read("raw_exposures")
        frame = build_style_exposures(
            wh.read(
                "prices", start=lookback, end=end, columns=["date", "ticker", "close", "volume"]
            ),
            wh.read("daily_returns", start=lookback, end=end),
            wh.read(
                "market_caps", start=lookback, end=end, columns=["date", "ticker", "market_cap"]
            ),
            wh.read("raw_companies"),
            wh.read("raw_fundamentals"),
            vendor,
            pd.date_range(start, end),
        )
        coverage = style_coverage(frame)
        checks = {
            "complete_exposures": quality.exposures_complete(frame),
            "standardised_exposures": quality.exposures_standardised(frame),
            "style_coverage": quality.style_coverage_sufficient(
                coverage, first_observed=_stored_first_observed(wh)
            ),
        }
        raise_on_blocking("style_exposures", checks, EXPOSURE_BLOCKING)
        wh.write_partition("style_exposures", frame, start=start, end=end)
        add_partition_metadata(context, frame)
        meta = frame_metadata(frame)
        meta["source"] = dg.MetadataValue.text("vendor" if len(vendor) else "computed")
        meta["n_industries"] = dg.MetadataValue.int(int(frame["industry"].nunique()))
        meta |= _coverage_metadata(frame, coverage)
        return dg.MaterializeResult(
            metadata=meta,
            check_results=check_results("style_exposures", checks, blocking=EXPOSURE_BLOCKING),
        )

    return style_exposures


REGRESSION_DESCRIPTIONS = {
    "factor_returns": "Daily returns of market, industry and style factors (Huber, √cap).",
    "specific_returns": "Daily residual (specific) return of each stock in the regression.",
    "factor_regression_stats": "Daily weighted R², assets and estimated factors.",
}


def _regression_specs() -> list[dg.AssetSpec]:
    """The three tables written by one ``factor_regression`` run."""
    return [
        dg.AssetSpec(
            key,
            deps=[lookback_dep("style_exposures", 1), "daily_returns"],
            description=description,
            kinds=KINDS,
            owners=[OWNER],
            group_name=GROUP_RISK,
        )
        for key, description in REGRESSION_DESCRIPTIONS.items()
    ]


def _factor_regression_asset(monthly: dict) -> dg.AssetsDefinition:
    """``factor_returns``, ``specific_returns`` and ``factor_regression_stats`` in one run."""

    @dg.multi_asset(
        name="factor_regression",
        specs=_regression_specs(),
        check_specs=[
            *check_specs("factor_returns", REGRESSION_BLOCKING, ()),
            *check_specs("factor_regression_stats", (), REGRESSION_WARN),
        ],
        pool=WAREHOUSE_POOL,
        **monthly,
    )
    def factor_regression(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        """Cross-sectional regressions of each day's returns on the previous close's exposures."""
        start, end = partition_window(context)
        wh = warehouse.get()
        exposures = wh.read(
            "style_exposures", start=start - pd.Timedelta(days=MAX_EXPOSURE_AGE_DAYS), end=end
        )
        returns = wh.read("daily_returns", start=start, end=end)
        result = estimate_factor_returns(
            exposures, returns, pd.date_range(start, end), skip_thin_days=True
        )
        context.log.info(
            f"{len(result.stats):,} regressions, {result.n_iterations} Newton iterations at most, "
            f"{len(result.skipped_dates)} days skipped"
        )
        checks = {
            "complete_factor_returns": quality.factor_returns_complete(
                result.factor_returns, len(result.factors)
            ),
            "mean_r2_in_range": quality.mean_r2_in_range(result.stats),
        }
        raise_on_blocking("factor_returns", checks, REGRESSION_BLOCKING)
        tables = {
            "factor_returns": result.factor_returns,
            "specific_returns": result.specific_returns,
            "factor_regression_stats": result.stats,
        }
        for table, frame in tables.items():
            wh.write_partition(table, frame, start=start, end=end)
        skipped = ", ".join(str(d.date()) for d in result.skipped_dates) or "none"
        for table, frame in tables.items():
            extra = (
                {"skipped_dates": dg.MetadataValue.text(skipped)}
                if table != "specific_returns"
                else {}
            )
            add_partition_metadata(context, frame, asset_key=table)
            yield dg.MaterializeResult(asset_key=table, metadata=frame_metadata(frame) | extra)
        yield from check_results(
            "factor_returns",
            {k: checks[k] for k in REGRESSION_BLOCKING},
            blocking=REGRESSION_BLOCKING,
        )
        yield from check_results(
            "factor_regression_stats", {k: checks[k] for k in REGRESSION_WARN}, blocking=()
        )

    return factor_regression


def _factor_covariance_asset(monthly: dict) -> dg.AssetsDefinition:
    """``factor_covariance`` at each complete month end."""

    @dg.asset(
        deps=[lookback_dep("factor_returns", MODEL_LOOKBACK_MONTHS), "trading_calendar"],
        check_specs=check_specs("factor_covariance", ("psd",), ()),
        kinds=KINDS,
        **monthly,
        **COMMON,
    )
    def factor_covariance(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        """Annualised factor covariance (EWMA in a 504-day window, regime-adjusted, PSD) each month end."""
        start, end = partition_window(context)
        as_of = _month_ends(warehouse, start, end)
        wh = warehouse.get()
        returns = wh.read(
            "factor_returns", start=start - pd.Timedelta(days=MODEL_LOOKBACK_DAYS), end=end
        )
        frame = rolling_factor_covariance(
            returns, as_of, skip_insufficient=True, **MODEL_COVARIANCE_SETTINGS
        )
        checks = {"psd": quality.covariance_psd(frame)}
        raise_on_blocking("factor_covariance", checks, ("psd",))
        wh.write_partition("factor_covariance", frame, start=start, end=end)
        add_partition_metadata(context, frame, empty_reason=MODEL_EMPTY)
        meta = _as_of_metadata(frame, as_of)
        if len(frame):
            last = frame[frame["date"] == frame["date"].max()]
            png = risk_report.plot_factor_correlation(last)
            meta |= plot_metadata(png, title="factor_correlation")
        return dg.MaterializeResult(
            metadata=meta,
            check_results=check_results("factor_covariance", checks, blocking=("psd",)),
        )

    return factor_covariance


def _specific_risk_asset(monthly: dict) -> dg.AssetsDefinition:
    """``specific_risk`` at each complete month end."""

    @dg.asset(
        deps=[
            lookback_dep("specific_returns", MODEL_LOOKBACK_MONTHS),
            "market_caps",
            "trading_calendar",
        ],
        check_specs=check_specs("specific_risk", ("positive_vol",), ()),
        kinds=KINDS,
        **monthly,
        **COMMON,
    )
    def specific_risk(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        """Annualised specific vol per stock (EWMA, shrunk to size decile, regime-adjusted), month end."""
        start, end = partition_window(context)
        as_of = _month_ends(warehouse, start, end)
        wh = warehouse.get()
        frame = estimate_specific_risk(
            wh.read(
                "specific_returns", start=start - pd.Timedelta(days=MODEL_LOOKBACK_DAYS), end=end
            ),
            wh.read("market_caps", start=start, end=end, columns=["date", "ticker", "market_cap"]),
            as_of,
            skip_insufficient=True,
            **MODEL_SPECIFIC_SETTINGS,
        )
        checks = {"positive_vol": quality.specific_vol_positive(frame)}
        raise_on_blocking("specific_risk", checks, ("positive_vol",))
        wh.write_partition("specific_risk", frame, start=start, end=end)
        add_partition_metadata(context, frame, empty_reason=MODEL_EMPTY)
        meta = _as_of_metadata(frame, as_of)
        if len(frame):
            meta["median_vol"] = dg.MetadataValue.float(float(frame["vol"].median()))
        return dg.MaterializeResult(
            metadata=meta,
            check_results=check_results("specific_risk", checks, blocking=("positive_vol",)),
        )

    return specific_risk


def _diagnostics_asset() -> dg.AssetsDefinition:
    """The unpartitioned ``risk_model_diagnostics`` report asset."""

    @dg.asset(
        deps=[
            "factor_regression_stats",
            "factor_returns",
            "style_exposures",
            "factor_covariance",
            "specific_risk",
            "daily_returns",
        ],
        check_specs=check_specs("risk_model_diagnostics", (), ("bias_in_band", "mean_r2_in_range")),
        kinds={"duckdb", "pandas", "matplotlib"},
        **COMMON,
    )
    def risk_model_diagnostics(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        """Validation report: daily R², factor t-stat exceedance, bias statistics vs 1 ± √(2/T)."""
        wh = warehouse.get()
        stats, covariance = wh.read("factor_regression_stats"), wh.read("factor_covariance")
        as_of = list(covariance["date"].unique())
        validation = validate_risk_model(
            stats,
            wh.read("factor_returns"),
            wh.read("style_exposures", where={"date": as_of}),
            covariance,
            wh.read("specific_risk"),
            wh.read("daily_returns", start=min(as_of, default=None)),
        )
        report = risk_report.build_validation_report(validation, stats)
        table = risk_report.validation_table(validation)
        wh.replace_table("risk_model_diagnostics", table)
        path = warehouse.reports_dir / "risk" / REPORT_NAME
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(report.markdown)
        checks = {
            "bias_in_band": quality.bias_in_band(validation.bias),
            "mean_r2_in_range": quality.mean_r2_in_range(stats),
        }
        meta = {
            "summary": dg.MetadataValue.md(frame_to_markdown(table, max_rows=50)),
            "report": dg.MetadataValue.path(str(path)),
        }
        for name, png in report.images.items():
            meta |= plot_metadata(png, title=name, save_to=path.parent / f"{name}.png")
        return dg.MaterializeResult(
            metadata=meta,
            check_results=check_results("risk_model_diagnostics", checks, blocking=()),
        )

    return risk_model_diagnostics


def build_risk_defs(parts: PartitionSet, settings: Settings) -> dg.Definitions:
    """Assets and checks of the risk area."""
    monthly = {"partitions_def": parts.months, "backfill_policy": dg.BackfillPolicy.single_run()}
    return dg.Definitions(
        assets=[
            _style_exposures_asset(monthly),
            _factor_regression_asset(monthly),
            _factor_covariance_asset(monthly),
            _specific_risk_asset(monthly),
            _diagnostics_asset(),
        ]
    )
