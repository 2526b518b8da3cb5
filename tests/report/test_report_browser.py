"""A report opened in a real headless Chromium: the figures are drawn, the best task is
named, no network request is made and no JavaScript error is logged. The screenshot is
kept under test-artifacts/."""
from __future__ import annotations

import os

import pytest

from dhflow.results.report import build

from .browser import Browser, find_browser
from .fixtures import sweep

pytest.importorskip("plotly")
pytest.importorskip("selenium")


@pytest.fixture(scope="module")
def browser():
    if find_browser() is None:
        if os.environ.get("CI"):
            pytest.fail("CI must have chromium and chromedriver (scripts/setup.sh installs them as root)")
        pytest.skip("chromium and chromedriver are not installed")
    with Browser() as b:
        yield b


def assert_report_seen(visit, page_url: str, best_name: str, figure_ids: list[str]) -> None:
    """What a person would see: every figure drawn, the best task named, nothing fetched,
    no JavaScript error."""
    assert visit.network_requests(page_url) == []
    assert visit.errors == []
    drawn = visit.js("""
        const out = {};
        for (const g of document.querySelectorAll('.plotly-graph-div')) {
            out[g.id] = {svg: g.querySelectorAll('svg.main-svg').length,
                         canvas: g.querySelectorAll('canvas').length,
                         // a canvas with something drawn encodes bigger than a blank one
                         painted: Array.from(g.querySelectorAll('canvas')).filter(c => {
                             const blank = document.createElement('canvas');
                             blank.width = c.width; blank.height = c.height;
                             return c.toDataURL().length > blank.toDataURL().length; }).length,
                         marks: g.querySelectorAll('.point, .trace path, .bars path, .js-line').length,
                         height: g.getBoundingClientRect().height};
        }
        return out;""")
    assert sorted(drawn) == sorted(f"fig-{i}" for i in figure_ids)
    for fig_id, seen in drawn.items():
        assert seen["svg"] >= 1 and seen["height"] > 100, (fig_id, seen)
        # something is plotted, not just axes (parallel coordinates draw lines with WebGL)
        assert seen["marks"] > 0 or seen["painted"] > 0, (fig_id, seen)
    if "fig-parallel" in drawn:
        assert drawn["fig-parallel"]["painted"] >= 1
    assert best_name in visit.js("return document.getElementById('best').innerText")


def test_detector_sees_requests_and_errors(browser, tmp_path):
    """The checks above can fail: a page that fetches and throws is caught."""
    bad = tmp_path / "bad.html"
    bad.write_text('<html><body><img src="http://127.0.0.1:9/x.png">'
                   '<script>throw new Error("boom")</script></body></html>')
    visit = browser.open(bad, settle=0.2)
    assert visit.network_requests(bad.as_uri()) == ["http://127.0.0.1:9/x.png"]
    assert any("boom" in e for e in visit.errors)


def test_report_from_records_in_chromium(browser, tmp_path):
    plan, jobs = sweep(5000, fail_every=50)  # enough to be sampled
    report = build.from_plan(plan, jobs)
    page = tmp_path / "report.html"
    page.write_text(build.to_html(report), encoding="utf-8")
    visit = browser.open(page)
    best = report.summary["best"][0]["name"]
    assert_report_seen(visit, page.as_uri(), best, [f.id for f in report.figures])
    assert visit.js("return document.querySelectorAll('#failures tbody tr').length") == 100
    shot = browser.screenshot("report-synthetic")
    assert shot.stat().st_size > 50_000
