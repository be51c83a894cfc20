from __future__ import annotations

import io

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest

from hedging_pipeline.backtest.metrics import evaluate_hedges
from hedging_pipeline.backtest.summary import summarise_grid
from hedging_pipeline.errors import InsufficientHistoryError, MissingColumnError
from hedging_pipeline.reporting.backtest_report import (
    IMAGE_NAMES,
    NO_RESULT_REASON,
    REPORT_NAME,
    build_backtest_report,
    choose_showcase_tickers,
    hedges_without_results,
    plot_cumulative_returns,
    plot_te_scatter,
    plot_variance_reduction,
    render_backtest_report,
    write_backtest_report,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def evaluated(panel):
    ev = evaluate_hedges(panel["weights"], panel["diagnostics"], panel["returns"], panel["splits"])
    return ev, summarise_grid(ev.results, panel["weights"], n_bootstrap=100)


def _image(png: bytes):
    assert png.startswith(PNG_MAGIC)
    return mpimg.imread(io.BytesIO(png), format="png")


def test_plots_are_decodable_pngs_of_sensible_size(evaluated):
    ev, _ = evaluated
    box = _image(plot_variance_reduction(ev.results))
    scatter = _image(plot_te_scatter(ev.results))
    one = _image(plot_cumulative_returns(ev.daily, ["T001"]))
    three = _image(plot_cumulative_returns(ev.daily, ["T001", "T002", "T003"]))
    for img in (box, scatter, one, three):
        assert img.shape[0] > 200 and img.shape[1] > 200
        assert img[..., :3].std() > 0.05  # not a blank canvas
    assert three.shape[0] > 2.5 * one.shape[0]  # one panel per name


def test_showcase_picks_best_median_and_worst_factor_hedge(evaluated):
    ev, _ = evaluated
    full = ev.results.query("scope == 'full_period' and method == 'factor'")
    full = full.sort_values("variance_reduction", ascending=False)
    picked = choose_showcase_tickers(ev.results)
    assert picked[0] == full["ticker"].iloc[0]
    assert picked[-1] == full["ticker"].iloc[-1]
    assert picked[1] in set(full["ticker"].iloc[18:22])  # middle of 40
    assert choose_showcase_tickers(ev.results, n=1) == [full["ticker"].iloc[0]]


def test_report_is_written_with_its_images_and_numbers(evaluated, tmp_path):
    ev, summary = evaluated
    report = render_backtest_report(ev.results, summary, ev.daily, skipped=ev.skipped)
    written = write_backtest_report(report, tmp_path / "reports")
    assert written.path == tmp_path / "reports" / "backtest" / REPORT_NAME
    text = written.path.read_text()
    for name in IMAGE_NAMES.values():
        assert f"]({name})" in text
        assert (written.path.parent / name).read_bytes() == report.images[name]
    factor = summary.set_index("method").loc["factor"]
    assert f"{factor['median_variance_reduction'] * 100:.1f} [" in text
    for method in ("factor", "nlp", "market"):
        assert f"| {method}" in text
    assert "| 2020-01-31 |" in text  # monthly table row
    assert "2020-01-01 to 2020-12-31" in text  # weekdays after the 2019-12-31 rebalance
    # Re-writing is idempotent.
    again = write_backtest_report(report, tmp_path / "reports")
    assert again.path.read_text() == text
    assert sorted(p.name for p in written.path.parent.iterdir()) == sorted(
        [REPORT_NAME, *IMAGE_NAMES.values()]
    )


def test_report_counts_skipped_hedges(evaluated):
    ev, summary = evaluated
    skipped = pd.DataFrame(
        {
            "as_of": [pd.Timestamp("2020-12-31")] * 3,
            "ticker": ["T001", "T002", "T003"],
            "method": ["factor"] * 3,
            "reason": ["no test window after as_of"] * 3,
        }
    )
    text = render_backtest_report(ev.results, summary, ev.daily, skipped=skipped).markdown
    assert "## Hedges not evaluated" in text and "| no test window after as_of |" in text


def test_plot_inputs_are_validated(evaluated):
    ev, _ = evaluated
    with pytest.raises(InsufficientHistoryError, match="no full_period rows"):
        plot_variance_reduction(ev.results.query("scope == 'rebalance'"))
    with pytest.raises(
        MissingColumnError, match=r"daily backtest series: missing column\(s\) ret_hedged"
    ):
        plot_cumulative_returns(ev.daily.drop(columns="ret_hedged"), ["T001"])
    with pytest.raises(MissingColumnError, match=r"backtest_results: missing column\(s\) scope"):
        plot_te_scatter(ev.results.drop(columns="scope"))


def test_hedges_without_results_lists_untested_and_infeasible_hedges(panel, evaluated):
    ev, _ = evaluated
    late = pd.Timestamp("2020-12-31")
    extra = panel["weights"].loc[panel["weights"]["as_of"] == panel["as_of"][0]].assign(as_of=late)
    weights = pd.concat([panel["weights"], extra], ignore_index=True)
    infeasible = pd.DataFrame(
        [(panel["as_of"][2], "T009", "gics", np.nan, "infeasible")],
        columns=["as_of", "ticker", "method", "predicted_te", "status"],
    )
    diagnostics = pd.concat([panel["diagnostics"], infeasible], ignore_index=True)
    listed = hedges_without_results(ev.results, weights, diagnostics)
    assert len(listed) == 40 * 3 + 1
    assert (listed.loc[listed["as_of"] == late, "reason"] == NO_RESULT_REASON).all()
    row = listed.loc[listed["method"] == "gics"]
    assert row["ticker"].item() == "T009" and row["reason"].item() == "no weights (infeasible)"


def test_build_report_from_tables_matches_the_full_evaluation(panel, evaluated):
    ev, summary = evaluated
    built = build_backtest_report(
        ev.results, summary, panel["weights"], panel["diagnostics"], panel["returns"]
    )
    held = evaluate_hedges(
        panel["weights"], panel["diagnostics"], panel["returns"], panel["splits"], holding="shares"
    )
    direct = render_backtest_report(ev.results, summary, held.daily)

    assert built.showcase_tickers == direct.showcase_tickers
    # Same daily series for the showcase names -> byte-identical cumulative plot.
    name = IMAGE_NAMES["cumulative"]
    assert built.images[name] == direct.images[name]
    assert "(best, median and worst by the factor hedge's VR)" in built.markdown
