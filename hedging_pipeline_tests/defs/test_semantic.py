"""In-process materialisations of the semantic assets on the demo universe (hashing embedder)."""

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from hedging_pipeline.defs.partitions import TICKERS_PARTITION, build_partitions
from hedging_pipeline.defs.raw import build_raw_assets
from hedging_pipeline.defs.resources import build_resources
from hedging_pipeline.defs.semantic import build_semantic_defs
from hedging_pipeline.hedging.methods import HedgeSettings
from hedging_pipeline.nlp.baseline import LSA_MODEL_ID
from hedging_pipeline.nlp.chunking import chunk_violations
from hedging_pipeline.nlp.embedding import load_embedder
from hedging_pipeline.nlp.headers import GICS_COLUMNS, chunk_header, gics_labels_in_headers
from hedging_pipeline.warehouse.duckdb import Warehouse

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"


@pytest.fixture
def semantic_env(demo_settings):
    """Demo settings with raw companies/descriptions in the warehouse and ticker partitions added."""
    parts = build_partitions(demo_settings)
    instance = dg.DagsterInstance.ephemeral()
    resources = build_resources(demo_settings)
    raw = build_raw_assets(parts)  # one multi-asset holds every raw table
    selection = ["raw_companies", "raw_descriptions"]
    assert dg.materialize(raw, selection=selection, instance=instance, resources=resources).success
    wh = Warehouse(demo_settings.warehouse_path)
    tickers = sorted(wh.read("raw_companies")["ticker"])
    instance.add_dynamic_partitions(TICKERS_PARTITION, tickers)
    assets = list(build_semantic_defs(parts, demo_settings).assets)
    return demo_settings, instance, resources, assets, wh, tickers


def _run(env, names, keys=None):
    settings, instance, resources, assets, _, tickers = env
    keys = keys or tickers
    selected = [a for a in assets if a.key.to_user_string() in names]
    tags = {RANGE_START: keys[0], RANGE_END: keys[-1]} if selected[0].partitions_def else {}
    result = dg.materialize(selected, instance=instance, resources=resources, tags=tags)
    assert result.success
    return result


def _meta(result, asset):
    events = result.asset_materializations_for_node(asset)
    return events[-1].metadata


def _check(result, name):
    return next(c for c in result.get_asset_check_evaluations() if c.check_name == name)


PER_TICKER = ("description_chunks", "company_embeddings")
UNIVERSE = ("semantic_peers", "embedding_evaluation", "company_clusters")


def test_semantic_assets_materialise_and_rerun_embeds_nothing(semantic_env):
    settings, _, _, _, wh, tickers = semantic_env
    first = _run(semantic_env, PER_TICKER)
    chunks = wh.read("description_chunks")
    companies = wh.read("raw_companies").set_index("ticker")
    budget = load_embedder("hashing").max_tokens
    assert chunk_violations(chunks, budget).empty
    for ticker, group in chunks.groupby("ticker"):
        header = chunk_header(companies.loc[ticker, "name"])  # the seed's title-only header
        assert (group["text"].str.split("\n", n=1).str[0] == header).all()
    # a default run writes no classification label into any header
    assert gics_labels_in_headers(chunks, companies.reset_index()).empty
    labels = {str(v) for c in GICS_COLUMNS if c in companies for v in companies[c].dropna()}
    headers = chunks["text"].str.split("\n", n=1).str[0]
    assert not any(f"| {label}" in h or "Sector:" in h for h in headers for label in labels)
    assert (chunks["header"] == "title").all()
    assert _meta(first, "description_chunks")["header"].value == "title"
    assert _meta(first, "description_chunks")["headers_with_gics_labels"].value == 0
    assert (chunks["n_tokens"] <= budget).all()
    stored = wh.read("company_embeddings")
    assert set(stored["model"]) == {"hashing", LSA_MODEL_ID}
    assert (stored["header"] == "title").all()
    lsa = stored[stored["model"] == LSA_MODEL_ID]
    embeddings = stored[stored["model"] == "hashing"]
    assert sorted(lsa["ticker"]) == sorted(embeddings["ticker"])
    assert sorted(embeddings["ticker"]) == sorted(chunks["ticker"].unique())
    norms = np.linalg.norm(np.stack(embeddings["embedding"].to_list()), axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-5)
    meta = _meta(first, "company_embeddings")
    assert meta["chunks_embedded"].value == len(chunks)

    universe = _run(semantic_env, UNIVERSE)
    n = len(embeddings)
    peers = wh.read("semantic_peers")
    n_candidates = HedgeSettings().n_semantic_candidates  # stored peers = hedge candidates
    assert len(peers) == n * min(n_candidates, n - 1) and peers["rank"].max() == n_candidates
    assert (peers["ticker"] != peers["peer"]).all()
    evaluation = wh.read("embedding_evaluation")
    assert evaluation["model"].tolist() == ["hashing", LSA_MODEL_ID]
    assert (evaluation["n_companies"] == n).all() and (evaluation["header"] == "title").all()
    assert not evaluation["gics_in_text"].any() and evaluation["silhouette_gics"].notna().all()
    clusters = wh.read("company_clusters")
    assert sorted(clusters["ticker"]) == sorted(embeddings["ticker"])
    assert {"ticker", "cluster", "x", "y"} <= set(clusters.columns)
    png = settings.reports_dir / "company_clusters.png"
    assert png.read_bytes()[:4] == b"\x89PNG"
    cluster_meta = _meta(universe, "company_clusters")
    assert "data:image/png;base64," in cluster_meta["company_map"].value
    assert "makers" in cluster_meta["ai_makers_vs_users"].value
    assert cluster_meta["header"].value == "title"
    assert cluster_meta["n_between_clusters"].value == len(cluster_meta["between_tickers"].value)
    assert (
        "between" in cluster_meta["between_clusters"].value
        or "|" in cluster_meta["between_clusters"].value
    )
    assert "ari_gics" in cluster_meta  # title-only text: HDBSCAN vs GICS is reported
    report = (settings.reports_dir / "semantic_map.md").read_text()
    assert "![company map](company_clusters.png)" in report
    assert "## Companies between two clusters" in report and "## AI makers vs AI users" in report
    side_by_side = (settings.reports_dir / "embedding_evaluation.md").read_text()
    assert "hashing" in side_by_side.splitlines()[2] and LSA_MODEL_ID in side_by_side

    # second run with unchanged text: nothing re-embedded, tables identical
    before = {t: wh.read(t) for t in ("description_chunks", "company_embeddings")}
    embeddings = before["company_embeddings"]
    again = _run(semantic_env, PER_TICKER)
    meta = _meta(again, "company_embeddings")
    assert meta["chunks_embedded"].value == 0
    assert meta["companies_unchanged"].value == n
    for table, frame in before.items():
        pd.testing.assert_frame_equal(wh.read(table), frame)
    _run(semantic_env, UNIVERSE)
    pd.testing.assert_frame_equal(wh.read("semantic_peers"), peers)


def test_bad_companies_are_reported_and_do_not_stop_the_rest(semantic_env):
    settings, instance, _, _, wh, tickers = semantic_env
    _run(semantic_env, PER_TICKER)
    good_before = wh.read("company_embeddings", where={"model": ["hashing"]})
    blank, foreign, edited = tickers[0], tickers[1], tickers[2]
    descriptions = wh.read("raw_descriptions")
    descriptions.loc[descriptions["ticker"] == blank, "text"] = "   "
    descriptions.loc[descriptions["ticker"] == foreign, "text"] = "这是一家公司。" * 30
    descriptions.loc[descriptions["ticker"] == edited, "text"] += " It also sells turbines."
    wh.replace_table("raw_descriptions", descriptions)
    instance.add_dynamic_partitions(TICKERS_PARTITION, ["ZZZZ"])  # a ticker without any text
    keys = sorted([*tickers, "ZZZZ"])
    result = _run(semantic_env, PER_TICKER, keys)

    check = _check(result, "companies_with_text")
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert set(check.metadata["tickers"].value) == {blank, foreign, "ZZZZ"}
    issues = _meta(result, "description_chunks")["issues"].value
    assert "empty or whitespace" in issues and "non-Latin script" in issues
    assert "ZZZZ has no description" in issues
    assert not _check(result, "companies_embedded").passed

    stored = wh.read("company_embeddings")
    embeddings = stored[stored["model"] == "hashing"].reset_index(drop=True)
    assert set(embeddings["ticker"]) == set(good_before["ticker"]) - {blank, foreign}
    # the baseline is refitted on the companies that still have chunks
    assert set(stored.loc[stored["model"] == LSA_MODEL_ID, "ticker"]) == set(embeddings["ticker"])
    assert _meta(result, "company_embeddings")["companies_embedded"].value == 1  # only the edit
    kept = good_before[~good_before["ticker"].isin([blank, foreign, edited])].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        embeddings[~embeddings["ticker"].isin([edited])].reset_index(drop=True), kept
    )
    assert not set(wh.read("description_chunks")["ticker"]) & {blank, foreign, "ZZZZ"}


def test_single_ticker_run_records_its_fingerprint_as_data_version(semantic_env):
    _, instance, _, assets, wh, tickers = semantic_env
    ticker = tickers[3]
    _run(semantic_env, PER_TICKER, [ticker])
    fingerprint = wh.read("company_embeddings", tickers=[ticker])["fingerprint"].iloc[0]
    record = instance.get_latest_materialization_event(dg.AssetKey("company_embeddings"))
    assert record.asset_materialization.tags["dagster/data_version"] == fingerprint
    assert record.asset_materialization.partition == ticker
