"""The HTML hedge proposal renders in headless Chromium: every inline plot decodes (issue 16).

The page is written from the synthetic warehouse of the service tests and opened as a local file
(no server, no network); a screenshot goes to ``test-artifacts/proposal.png``.
"""

from __future__ import annotations

import pytest

from hedging_pipeline.services.proposal import write_proposal
from hedging_pipeline_tests.defs.browser_support import ARTIFACTS, CHROMIUM_ARGS, require_chromium
from hedging_pipeline_tests.hedging.synthetic import synthetic_month
from hedging_pipeline_tests.services.test_proposal import TARGET, build_warehouse

MIN_PLOTS = 4
MIN_PLOT_PIXELS = 200
PAGE_TIMEOUT_MS = 30_000


@pytest.mark.browser
def test_proposal_renders_in_chromium(tmp_path):
    chromium = require_chromium()
    from playwright.sync_api import sync_playwright

    wh = build_warehouse(synthetic_month(), tmp_path / "warehouse.duckdb")
    page_path = write_proposal(wh, TARGET, tmp_path / "proposal.html", notional=2e6, max_adv=0.5)
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.goto(page_path.as_uri(), timeout=PAGE_TIMEOUT_MS)
            page.wait_for_load_state("load")
            widths = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.naturalWidth)")
            assert len(widths) >= MIN_PLOTS
            assert min(widths) >= MIN_PLOT_PIXELS, widths  # every base64 PNG decoded
            assert page.title() == f"Hedge proposal: {TARGET}"
            assert page.locator("table").count() >= 3
            assert page.get_by_text("Optimality certificate").is_visible()
            page.screenshot(path=str(ARTIFACTS / "proposal.png"), full_page=True)
        finally:
            browser.close()
