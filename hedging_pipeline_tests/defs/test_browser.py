"""The Dagster UI, for real: ``hedging-pipeline ui`` on the demo data, driven by headless Chromium.

One server per module (a private HEDGING_HOME over the demo drop folder and the panels warehouse). Before the
browser opens, the factor model is computed in-process and ``factor_covariance`` of December 2022 is
materialised into the server's instance, so one asset carries a plot in its metadata. The browser then opens
the asset graph, materialises ``raw_companies`` with its Materialize button (queued run, executed by the
daemon), waits for the run to succeed and checks that the factor-correlation plot renders as an image.
Screenshots go to ``test-artifacts/`` (git-ignored).
"""

import shutil
import time

import dagster as dg
import pytest

from hedging_pipeline.definitions import build_definitions
from hedging_pipeline.instance import ensure_instance_dir
from hedging_pipeline_tests.conftest import make_settings
from hedging_pipeline_tests.defs.browser_support import (
    ARTIFACTS,
    CHROMIUM_ARGS,
    HOST,
    UiServer,
    dismiss_welcome,
    graphql,
    require_chromium,
    ui_env,
)
from hedging_pipeline_tests.defs.conftest import RANGE_END, RANGE_START

PLOT_ASSET = "factor_covariance"
PLOT_MONTH = "2022-12"
PLOT_WARM_START = "2020-01"
"""First month of the factor model computed before the plot month (its 504-day window needs two years)."""
PLOT_TITLE = "factor_correlation"
UI_ASSET = "raw_companies"
RUN_TIMEOUT_S = 180
PAGE_TIMEOUT_MS = 60_000
RUNS_QUERY = """
{ runsOrError(limit: 5) { ... on Runs { results { runId status } } } }
"""
MIN_PLOT_PIXELS = 200
FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}


def _materialise_plot_asset(settings) -> None:
    """The factor model over every month (ephemeral instance), then one month into the server's instance."""
    defs = build_definitions(settings)
    repo = defs.get_repository_def()
    job = defs.resolve_implicit_global_asset_job_def()
    months = repo.asset_graph.get(dg.AssetKey("prices")).partitions_def
    risk = [
        k
        for k in repo.asset_graph.materializable_asset_keys
        if repo.asset_graph.get(k).group_name == "risk_model"
        and repo.asset_graph.get(k).partitions_def == months
    ]
    tags = {RANGE_START: PLOT_WARM_START, RANGE_END: PLOT_MONTH}
    warm = job.execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), asset_selection=risk, tags=tags
    )
    assert warm.success
    with dg.DagsterInstance.from_config(str(settings.dagster_home)) as instance:
        result = job.execute_in_process(
            instance=instance, asset_selection=[dg.AssetKey(PLOT_ASSET)], partition_key=PLOT_MONTH
        )
    assert result.success


@pytest.fixture(scope="module")
def ui_server(panels_home, demo_raw_dir, tmp_path_factory):
    """``hedging-pipeline ui`` on a private home; stopped with SIGINT to its process group."""
    home = tmp_path_factory.mktemp("ui_home")
    shutil.copyfile(panels_home / "warehouse.duckdb", home / "warehouse.duckdb")
    settings = make_settings(demo_raw_dir, home)
    ensure_instance_dir(settings, export=False)  # what the CLI does: dagster.yaml with the pools
    server = UiServer(ui_env(home, demo_raw_dir), home / "ui.log").start()
    try:
        _materialise_plot_asset(settings)  # while the server starts
        server.asset_keys = server.wait_ready()
        yield server
    finally:
        rc = server.stop()
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "ui-server.log").write_text(server.log_tail(200_000))
    assert rc in (0, None), f"hedging-pipeline ui did not stop cleanly (rc={rc})"


def test_ui_serves_graphql_on_localhost_listing_the_assets(ui_server):
    data = graphql(ui_server.port, "{ assetNodes { assetKey { path } groupName } }")
    groups = {"/".join(n["assetKey"]["path"]): n["groupName"] for n in data["assetNodes"]}
    assert groups["raw_companies"] == "raw" and groups["prices"] == "panels"
    assert groups["factor_covariance"] == "risk_model"
    assert {"hedge_weights", "backtest_summary", "company_embeddings"} <= set(groups)
    assert f"Serving dagster-webserver on http://{HOST}:{ui_server.port}" in ui_server.log_tail(
        100_000
    )


def _run_ids(port: int) -> set[str]:
    return {r["runId"] for r in graphql(port, RUNS_QUERY)["runsOrError"]["results"]}


def _wait_for_new_run(port: int, before: set[str], timeout_s: float) -> dict:
    """The first run not in ``before`` once it has finished (queued -> daemon -> run worker)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        runs = graphql(port, RUNS_QUERY)["runsOrError"]["results"]
        new = [r for r in runs if r["runId"] not in before]
        if new and new[0]["status"] in FINISHED:
            return new[0]
        time.sleep(1)
    raise AssertionError(f"no new run finished within {timeout_s:.0f} s")


@pytest.mark.browser
@pytest.mark.slow
def test_asset_graph_materialise_from_ui_and_metadata_plot(ui_server):
    chromium = require_chromium()
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.set_default_timeout(PAGE_TIMEOUT_MS)

            # 1. The asset graph: every group of the code location is drawn.
            page.goto(f"{ui_server.url}/asset-groups")
            dismiss_welcome(page)
            for group in ("raw", "panels", "risk_model", "nlp", "hedging", "backtest"):
                expect(page.get_by_text(group, exact=True).first).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "ui-asset-graph.png"))

            # 2. Materialise raw_companies from its page; the daemon runs it.
            page.goto(f"{ui_server.url}/assets/{UI_ASSET}")
            dismiss_welcome(page)
            before = _run_ids(ui_server.port)
            page.get_by_role("button", name="Materialize").first.click()
            run = _wait_for_new_run(ui_server.port, before, RUN_TIMEOUT_S)
            assert run["status"] == "SUCCESS", ui_server.log_tail()
            page.goto(f"{ui_server.url}/runs/{run['runId']}")
            expect(page.get_by_text("Success").first).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "ui-run-success.png"))
            page.goto(f"{ui_server.url}/assets/{UI_ASSET}")
            expect(page.get_by_text("n_tickers").first).to_be_visible()  # its metadata

            # 3. The factor-correlation plot of December 2022 renders from its Markdown metadata.
            page.goto(f"{ui_server.url}/assets/{PLOT_ASSET}")
            row = page.locator("tr", has=page.get_by_text(PLOT_TITLE, exact=True)).first
            row.get_by_text("Show Markdown").click()
            image = page.locator(f'img[alt="{PLOT_TITLE}"]').first
            expect(image).to_be_visible()
            assert image.get_attribute("src").startswith("data:image/png;base64,")
            size = image.evaluate(
                "img => img.complete ? [img.naturalWidth, img.naturalHeight] : [0, 0]"
            )
            assert min(size) > MIN_PLOT_PIXELS  # decoded, not a broken-image icon
            page.screenshot(path=str(ARTIFACTS / "ui-metadata-plot.png"))
        finally:
            browser.close()
