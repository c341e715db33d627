"""Open index.html in Debian's headless Chromium (driven by Playwright) and check the charts."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.reports.conftest import AS_OF
from tracker.reports import write_report
from tracker.warehouse import open_db

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path:
        return path
    if os.environ.get("CI") == "true":
        pytest.fail("chromium is not installed (CI=true): apt-get install chromium")
    pytest.skip("chromium is not installed; apt-get install chromium to run the browser test")


@pytest.mark.browser
def test_index_html_draws_every_chart_without_js_errors(landscape_db: Path, tmp_path: Path) -> None:
    executable = _chromium()
    sync_api = pytest.importorskip("playwright.sync_api")
    out = tmp_path / "out"
    con = open_db(landscape_db)  # write mode: the report stores its labels
    try:
        write_report(con, out, AS_OF)
    finally:
        con.close()
    errors: list[str] = []
    dialogs: list[str] = []
    requests: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=executable,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1360, "height": 900},
        )
        try:
            page = browser.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.on("request", lambda r: requests.append(r.url))
            page.goto((out / "index.html").as_uri(), wait_until="load")
            # charts are drawn as they near the viewport: scroll each into view, as a reader does
            for chart in page.locator("[data-chart]").all():
                chart.scroll_into_view_if_needed()
                chart.locator(".main-svg").first.wait_for(timeout=10_000)
            page.wait_for_function(
                "document.querySelectorAll('[data-chart]').length > 0 && "
                "[...document.querySelectorAll('[data-chart]')]"
                ".every(d => d.querySelector('.main-svg'))",
                timeout=30_000,
            )
            n_charts = page.eval_on_selector_all("[data-chart]", "els => els.length")
            drawn = page.eval_on_selector_all(
                "[data-chart]",
                "els => els.filter(d => d.classList.contains('js-plotly-plot')"
                " && d.querySelectorAll('.main-svg .trace, .main-svg .scatterlayer path').length)"
                ".length",
            )
            # the plotly toolbar (shown on hover) never covers a chart's title
            overlaps = page.eval_on_selector_all(
                "[data-chart]",
                """els => els.map(d => {
                    const t = d.querySelector('.gtitle'), m = d.querySelector('.modebar');
                    if (!t || !m) return d.id + ': no title or toolbar';
                    const a = t.getBoundingClientRect(), b = m.getBoundingClientRect();
                    const apart = a.right <= b.left || b.right <= a.left
                        || a.bottom <= b.top || b.bottom <= a.top;
                    return apart ? null : d.id;
                }).filter(x => x)""",
            )
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
            page.locator("#skill-orchestration").scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "report-orchestration.png"))
        finally:
            browser.close()
    assert n_charts >= 8
    assert drawn == n_charts
    assert overlaps == []
    assert errors == []
    assert dialogs == []  # no injected script ran
    assert all(u.startswith(("file:", "data:", "about:")) for u in requests), requests
