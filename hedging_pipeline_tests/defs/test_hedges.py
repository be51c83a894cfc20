"""In-process materialisations of hedge_weights / hedge_diagnostics on a synthetic warehouse."""

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from hedging_pipeline.defs.hedges import TICKERS_TAG, build_hedges_defs
from hedging_pipeline.defs.partitions import build_partitions
from hedging_pipeline.defs.resources import build_resources
from hedging_pipeline.hedging.methods import compute_hedges
from hedging_pipeline.hedging.registry import HEDGE_STAGE_METHODS as METHODS
from hedging_pipeline.warehouse.duckdb import Warehouse
from hedging_pipeline_tests.conftest import make_settings
from hedging_pipeline_tests.defs.conftest import RANGE_END, RANGE_START
from hedging_pipeline_tests.hedging.synthetic import synthetic_month, warehouse_tables


@pytest.fixture
def hedge_setup(demo_raw_dir, tmp_path):
    """Demo partitions; a warehouse whose last hedge month has a synthetic risk model."""
    settings = make_settings(demo_raw_dir, tmp_path / "home")
    parts = build_partitions(settings)
    keys = parts.hedge_months.get_partition_keys()
    last = pd.Period(keys[-1], freq="M")
    as_of = pd.bdate_range(last.start_time, last.end_time)[-1]
    month = synthetic_month(as_of=str(as_of.date()))
    wh = Warehouse(settings.home / "warehouse.duckdb")
    for table, frame in warehouse_tables(month).items():
        wh.replace_table(table, frame)
    return settings, parts, keys[-2:], month, wh


def _materialize(settings, parts, keys, instance, tags=None):
    defs = build_hedges_defs(parts, settings)
    return dg.materialize(
        list(defs.assets),
        instance=instance,
        resources=build_resources(settings),
        tags={RANGE_START: keys[0], RANGE_END: keys[-1], **(tags or {})},
    )


def _stored(wh):
    weights = wh.read("hedge_weights", date_column="as_of")
    diagnostics = wh.read("hedge_diagnostics", date_column="as_of")
    return weights, diagnostics


def test_hedges_materialise_idempotently_with_checks_and_plots(hedge_setup):
    settings, parts, keys, month, wh = hedge_setup
    instance = dg.DagsterInstance.ephemeral()
    result = _materialize(settings, parts, keys, instance)
    assert result.success
    weights, diagnostics = _stored(wh)
    n = len(month.model.tickers)
    assert len(diagnostics) == n * len(METHODS)
    assert set(diagnostics["as_of"]) == {month.as_of}  # the earlier month has no risk model
    expected_w, expected_d = compute_hedges(
        *month.frames,
    )
    key = ["ticker", "method", "hedge_ticker"]
    got = weights.sort_values(key, ignore_index=True)
    want = expected_w.sort_values(key, ignore_index=True)
    assert (got[key].to_numpy() == want[key].to_numpy()).all()
    np.testing.assert_allclose(got["weight"], want["weight"], rtol=1e-9)
    checks = {
        (c.asset_key.path[-1], c.check_name): c.passed for c in result.get_asset_check_evaluations()
    }
    assert checks == {
        ("hedge_weights", "constraints_hold"): True,
        ("hedge_diagnostics", "diagnostics_match"): True,
        ("hedge_diagnostics", "gap_within_tolerance"): True,
        ("hedge_diagnostics", "methods_cover_targets"): True,
    }
    meta = result.asset_materializations_for_node("hedges")
    by_key = {m.asset_key.path[-1]: m.metadata for m in meta}
    assert by_key["hedge_weights"]["dagster/row_count"].value == len(weights)
    assert "no risk model dated in" in by_key["hedge_weights"]["months"].value
    assert by_key["hedge_diagnostics"]["hedge_quality"].value.startswith(
        "![hedge_quality](data:image/png;base64,"
    )
    assert by_key["hedge_diagnostics"]["reused"].value == 0

    # a second run reuses every hedge (same fingerprints) and leaves the tables unchanged
    again = _materialize(settings, parts, keys, instance)
    meta = {
        m.asset_key.path[-1]: m.metadata for m in again.asset_materializations_for_node("hedges")
    }
    assert meta["hedge_diagnostics"]["reused"].value == n * len(METHODS)
    assert meta["hedge_diagnostics"]["re_solved"].value == 0
    weights2, diagnostics2 = _stored(wh)
    pd.testing.assert_frame_equal(
        weights.sort_values(key, ignore_index=True), weights2.sort_values(key, ignore_index=True)
    )
    pd.testing.assert_frame_equal(diagnostics, diagnostics2)


def test_changed_peers_re_solve_only_the_touched_hedges_of_tagged_tickers(hedge_setup):
    settings, parts, keys, month, wh = hedge_setup
    instance = dg.DagsterInstance.ephemeral()
    assert _materialize(settings, parts, keys, instance).success
    _, before = _stored(wh)
    peers = wh.read("semantic_peers")
    target = month.model.tickers[3]
    mine = peers["ticker"] == target
    peers.loc[mine, "peer"] = peers.loc[mine, "peer"].to_numpy()[::-1]
    wh.replace_table("semantic_peers", peers)
    result = _materialize(settings, parts, keys[-1:], instance, tags={TICKERS_TAG: target})
    meta = {
        m.asset_key.path[-1]: m.metadata for m in result.asset_materializations_for_node("hedges")
    }
    assert (
        meta["hedge_diagnostics"]["re_solved"].value == 4
    )  # nlp, nlp_equal, hybrid, semantic_blend
    _, after = _stored(wh)
    assert len(after) == len(before)
    merged = before.merge(after, on=["as_of", "ticker", "method"], suffixes=("_b", "_a"))
    changed = merged.loc[merged["fingerprint_b"] != merged["fingerprint_a"]]
    assert set(changed["ticker"]) == {target}
    assert set(changed["method"]) == {"nlp", "nlp_equal", "hybrid", "semantic_blend"}
