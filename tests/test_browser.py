"""The explorer in a real browser: Debian's Chromium driven by Playwright (no browser download).

Uploads a video, runs it, counts the segments drawn on the timeline, moves theta and watches the
erased shading change, uploads a ground-truth file and finds its band, and saves screenshots
(to $WECL_SCREENSHOT_DIR, else to the test's temp dir).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Bars drawn per timeline trace, by trace name (plotly binds each trace group to its calcdata).
BARS_JS = """() => {
  const plot = document.querySelector('#timeline .js-plotly-plot');
  if (!plot) return null;
  const out = {};
  plot.querySelectorAll('g.trace.bars').forEach(g => {
    const d = g.__data__;
    const name = d && d[0] && d[0].trace ? d[0].trace.name : '?';
    out[name] = g.querySelectorAll('g.point').length;
  });
  return out;
}"""


def erased(bars: dict) -> int:
    return sum(n for name, n in bars.items() if name.startswith("erased"))


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    if not os.path.exists(CHROMIUM):
        print(f"skipping: {CHROMIUM} does not exist")
        pytest.skip(f"{CHROMIUM} does not exist")
    saved = {k: os.environ.get(k) for k in ("WECL_CACHE", "HF_HUB_OFFLINE")}
    os.environ["WECL_CACHE"] = str(tmp_path_factory.mktemp("wecl-cache"))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.path.insert(0, str(ROOT))
    import app
    from test_app import free_port

    demo = app.create()
    port = free_port()
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True,
                **app.launch_options())
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture()
def page(app_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.set_default_timeout(60_000)
            page.goto(app_url, wait_until="load")
            page.wait_for_selector("#run")
            yield page
        finally:
            browser.close()


def bars_when(page, condition: str) -> dict:
    """Wait until the timeline's bar counts satisfy a JS condition on `b`, and return them."""
    page.wait_for_function(f"() => {{ const b = ({BARS_JS})(); return b && ({condition}); }}")
    return page.evaluate(BARS_JS)


def test_upload_run_move_theta_and_overlay_ground_truth(page, tmp_path):
    from test_app import make_video

    shots = Path(os.environ.get("WECL_SCREENSHOT_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    video = make_video(tmp_path / "browser_clip.mp4", 4.0)

    page.locator("#video input[type=file]").set_input_files(str(video))
    page.wait_for_selector("#video video")
    page.locator("#run").click()
    bars = bars_when(page, "(b['visual attention'] || 0) > 0")
    segments = bars["visual attention"]
    assert segments == 10, bars  # T = 10 segments, one visual bar each
    assert bars.get("audio attention") == segments
    before = erased(bars)
    assert before < segments  # at the default theta the least attended segment is kept
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(shots / "browser_main.png"))

    # theta 0: every segment has A* >= 0 in both modalities, so all are erased in round 0
    number = page.locator("#theta input[type=number]")
    number.fill("0")
    start = time.perf_counter()
    number.blur()  # the slider's "release": one update from the cached features
    bars = bars_when(page, f"Object.keys(b).filter(k => k.startsWith('erased')).reduce((s, k) => s + b[k], 0) === {segments}")
    print(f"theta update seen in the browser after {1000 * (time.perf_counter() - start):.0f} ms (round trip, redraw)")
    assert erased(bars) == segments != before

    page.get_by_role("tab", name="Ground truth").click()
    truth = tmp_path / "truth.csv"
    truth.write_text("video,start,end,label\nbrowser_clip,0.5,1.5,joy\nbrowser_clip,2.0,3.2,joy\n")
    page.locator("#gt-file input[type=file]").set_input_files(str(truth))
    bars = bars_when(page, "b['ground truth'] === 2")
    assert bars["ground truth"] == 2
    page.get_by_text("Erased time vs ground truth").wait_for()
    page.screenshot(path=str(shots / "browser_ground_truth.png"), full_page=True)

    # a broken annotation file is a message, and the app keeps working
    page.get_by_role("button", name="Clear ground truth").click()
    bars_when(page, "(b['ground truth'] || 0) === 0")
    bad = tmp_path / "broken.json"
    bad.write_text("{not json")
    page.locator("#gt-file input[type=file]").set_input_files(str(bad))
    page.get_by_text("not valid JSON").first.wait_for()
    number.fill("0.5")
    number.blur()
    page.wait_for_function("() => document.querySelector('#prediction').innerText.includes('θ = 0.50')")
