"""Staleness in the Dagster UI: a month-end model re-run by hand makes its hedge partition stale; the nightly
automation brings it back in sync. Driven by headless Chromium against ``hedging-pipeline ui``.

The server's home holds a synthetic month (``hedging_pipeline_tests/hedging/synthetic.py``: 48 tickers, the
risk model on the demo's last hedge month end, peers, returns) so the hedges of two targets are solved for real in
seconds:

1. the month's ``factor_covariance`` is recorded with data version ``v1`` and the month's hedges are solved
   (in process, into the server's instance): the hedge partition is in sync;
2. the month's ``factor_covariance`` is re-materialised by hand with new content (a runless event with data
   version ``v2``, what a UI re-run that produced different rows leaves): the UI shows the hedge partition
   **Unsynced**, GraphQL says ``STALE`` with ``factor_covariance`` as the cause;
3. the ``stale_partitions_automation`` sensor (the nightly path's declarative part) is ticked as the daemon
   would: it requests exactly that hedge month; the request is executed: the UI shows the partition in sync.

Screenshots go to ``test-artifacts/`` (git-ignored).
"""

from concurrent.futures import ThreadPoolExecutor

import dagster as dg
import pandas as pd
import pytest

from hedging_pipeline.definitions import build_definitions
from hedging_pipeline.defs.automation import PARTITION_AUTOMATION_SENSOR_NAME
from hedging_pipeline.defs.hedges import TICKERS_TAG
from hedging_pipeline.defs.partitions import build_partitions
from hedging_pipeline.instance import ensure_instance_dir
from hedging_pipeline.warehouse.duckdb import Warehouse
from hedging_pipeline_tests.conftest import make_settings
from hedging_pipeline_tests.defs.browser_support import (
    ARTIFACTS,
    CHROMIUM_ARGS,
    UiServer,
    dismiss_welcome,
    graphql,
    require_chromium,
    ui_env,
)
from hedging_pipeline_tests.hedging.synthetic import synthetic_month, warehouse_tables

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HEDGE_ASSET = "hedge_weights"
TARGETS = "S0N00,S2N05"
"""Hedge targets solved (the ``hedging/tickers`` tag): two of the 48 keep each run to seconds."""
MODEL_ASSET = "factor_covariance"
DATA_VERSION_TAG = "dagster/data_version"
PAGE_TIMEOUT_MS = 60_000
IDLE_TIMEOUT_MS = 5_000
STALE_QUERY = """
query($key: AssetKeyInput!, $partition: String!) {
  assetNodeOrError(assetKey: $key) {
    ... on AssetNode {
      staleStatus(partition: $partition)
      staleCauses(partition: $partition) { key { path } partitionKey reason }
    }
  }
}
"""


class Month:
    """The server's instance, the code location and the hedge month under test."""

    def __init__(self, settings, month: str):
        self.settings = settings
        self.month = month
        self.defs = build_definitions(settings)
        self.repo = self.defs.get_repository_def()
        self.cursor = None

    def instance(self) -> dg.DagsterInstance:
        return dg.DagsterInstance.from_config(str(self.settings.dagster_home))

    def record_model(self, version: str) -> None:
        """``factor_covariance`` of the month materialised (runless) with content version ``version``."""
        with self.instance() as instance:
            instance.report_runless_asset_event(
                dg.AssetMaterialization(
                    MODEL_ASSET, partition=self.month, tags={DATA_VERSION_TAG: version}
                )
            )

    def solve_hedges(self, keys=None) -> None:
        """The hedge stage for the month, in process, into the server's instance."""
        job = self.defs.resolve_implicit_global_asset_job_def()
        keys = keys or [dg.AssetKey(HEDGE_ASSET), dg.AssetKey("hedge_diagnostics")]
        with self.instance() as instance:
            result = job.execute_in_process(
                instance=instance,
                asset_selection=keys,
                partition_key=self.month,
                tags={TICKERS_TAG: TARGETS},
            )
        assert result.success

    def automation_tick(self) -> list[tuple[str, str]]:
        """One tick of the stale-partition automation sensor: the (asset, partition) pairs it requests."""
        sensor = self.repo.get_sensor_def(PARTITION_AUTOMATION_SENSOR_NAME)
        with (
            self.instance() as instance,
            dg.build_sensor_context(
                instance=instance, repository_def=self.repo, cursor=self.cursor
            ) as context,
        ):
            result = sensor.evaluate_tick(context)
        self.cursor = result.cursor
        pairs = []
        for request in result.run_requests or []:
            subset = request.asset_graph_subset
            if subset is None:  # one partition: a plain run request
                keys = request.asset_selection or []
                pairs += [(key.to_user_string(), request.partition_key) for key in keys]
                continue
            for key, parts in subset.partitions_subsets_by_asset_key.items():
                pairs += [(key.to_user_string(), p) for p in parts.get_partition_keys()]
        return sorted(pairs)


def _off_loop(function, *args):
    """Call ``function`` in a worker thread (Playwright's sync API holds this thread's event loop)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(function, *args).result()


def _stale(port: int, month: str) -> tuple[str, list[str]]:
    """GraphQL staleness of the hedge partition: status and the assets named as causes."""
    node = graphql(port, STALE_QUERY, {"key": {"path": [HEDGE_ASSET]}, "partition": month})[
        "assetNodeOrError"
    ]
    return node["staleStatus"], sorted({"/".join(c["key"]["path"]) for c in node["staleCauses"]})


@pytest.fixture(scope="module")
def synthetic_server(demo_raw_dir, tmp_path_factory):
    """``hedging-pipeline ui`` over a home holding a synthetic month; its hedges solved once, in sync."""
    home = tmp_path_factory.mktemp("stale_ui_home")
    settings = make_settings(demo_raw_dir, home)
    month = build_partitions(settings).hedge_months.get_partition_keys()[-1]
    period = pd.Period(month, freq="M")
    as_of = pd.bdate_range(period.start_time, period.end_time)[-1]
    wh = Warehouse(home / "warehouse.duckdb")
    for table, frame in warehouse_tables(synthetic_month(as_of=str(as_of.date()))).items():
        wh.replace_table(table, frame)
    ensure_instance_dir(settings, export=False)
    state = Month(settings, month)
    state.record_model("v1")  # creates the instance's SQLite schema before the server opens it
    server = UiServer(ui_env(home, demo_raw_dir), home / "ui.log").start()
    try:
        state.solve_hedges()  # while the server starts
        assert state.automation_tick() == []  # baseline tick: nothing stale
        server.wait_ready()
        yield server, state
    finally:
        rc = server.stop()
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "ui-staleness-server.log").write_text(server.log_tail(200_000))
    assert rc in (0, None), f"hedging-pipeline ui did not stop cleanly (rc={rc})"


def _partition_page(page, server, month: str) -> None:
    """The hedge asset's partition page, once its queries (staleness included) have answered."""
    page.goto(f"{server.url}/assets/{HEDGE_ASSET}?view=partitions&partition={month}")
    page.get_by_text("Latest materialization").first.wait_for()
    try:  # the UI polls, so "idle" may not come; the partition's live data has loaded by then anyway
        page.wait_for_load_state("networkidle", timeout=IDLE_TIMEOUT_MS)
    except Exception:  # noqa: BLE001 - playwright's TimeoutError
        pass


def test_a_month_re_run_by_hand_shows_a_stale_hedge_partition_until_the_nightly_run(
    synthetic_server,
):
    chromium = require_chromium()
    from playwright.sync_api import expect, sync_playwright

    server, state = synthetic_server
    month = state.month
    assert _stale(server.port, month) == ("FRESH", [])
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.set_default_timeout(PAGE_TIMEOUT_MS)
            _partition_page(page, server, month)
            dismiss_welcome(page)
            expect(page.get_by_text("Unsynced").first).not_to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "ui-hedge-partition-in-sync.png"))

            # 1. the month-end model re-run by hand with new content: its hedges are stale
            _off_loop(state.record_model, "v2")
            assert _stale(server.port, month) == ("STALE", [MODEL_ASSET])
            _partition_page(page, server, month)
            expect(page.get_by_text("Unsynced (1)").first).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "ui-hedge-partition-stale.png"))

            # 2. the nightly automation requests exactly that hedge month; its run brings it back
            requested = _off_loop(state.automation_tick)
            assert requested == [("hedge_diagnostics", month), (HEDGE_ASSET, month)]
            _off_loop(state.solve_hedges, [dg.AssetKey(key) for key, _ in requested])
            assert _stale(server.port, month) == ("FRESH", [])
            _partition_page(page, server, month)
            expect(page.get_by_text("Unsynced").first).not_to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "ui-hedge-partition-after-nightly.png"))
            assert _off_loop(state.automation_tick) == []
        finally:
            browser.close()
