"""Screenshots of the explorer at 1280x800 for the README, made with Debian's Chromium.

    python -m scripts.screenshots [--out assets/screenshots] [--example synth_99_0000] [--checkpoint NAME]
    python -m scripts.screenshots --example hopper_then_astronaut --theta 0.7 --rounds 1 --first-screen face.png

Launches the app on a free localhost port, picks a bundled example (its ground truth loads with
it), runs it with two erasing rounds, and saves: main.png (the first screen), ground_truth.png
(the comparison tab, whole page), downloads.png (after rendering the annotated MP4), player.png
(synth_3_0000 with assets/samples/other_models.csv on the timeline, the player at segment 6), and
from the Dataset tab on assets/samples dataset.png (table and one video), dataset_aggregates.png
and dataset_imported.png (the same other models added).
`--first-screen NAME` takes the first screen alone, as NAME.
"""
from __future__ import annotations

import argparse
import os
import socket
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pick_checkpoint(page, elem_id: str, name: str) -> None:
    """Type a registry name into a checkpoint dropdown, as a user may (it takes custom values);
    the browser tests pick theirs with it too."""
    box = page.locator(f"#{elem_id} input").first
    box.click()
    box.fill(name)
    box.press("Enter")
    box.blur()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "assets" / "screenshots"))
    parser.add_argument("--example", default="synth_99_0000", help="label of the bundled example to click")
    parser.add_argument("--theta", type=float, default=0.5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--checkpoint", default="wecl-synth-demo",
                        help="registry name to pick in both tabs (the synthetic examples need the synthetic demo)")
    parser.add_argument("--height", type=int, default=800, help="the window's height in pixels")
    parser.add_argument("--first-screen", default=None, metavar="NAME", help="only the first screen, saved as NAME")
    args = parser.parse_args()
    if not os.path.exists(CHROMIUM):
        print(f"{CHROMIUM} does not exist: no screenshots", file=sys.stderr)
        return 1
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from playwright.sync_api import sync_playwright

    import app

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    demo = app.create()
    port = free_port()
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True,
                **app.launch_options())
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": args.height})
            page.set_default_timeout(120_000)
            page.goto(f"http://127.0.0.1:{port}/", wait_until="load")
            pick_checkpoint(page, "checkpoint", args.checkpoint)
            page.wait_for_timeout(800)  # the checkpoint's own θ arrives first; ours then replaces it
            for slider, value in (("#theta", args.theta), ("#rounds", args.rounds)):  # before the video: no toast
                box = page.locator(f"{slider} input[type=number]")
                box.fill(str(value))
                box.blur()
            page.get_by_role("button", name=args.example, exact=True).click()
            page.wait_for_selector("#video video")
            page.locator("#run").click()
            page.wait_for_function("() => document.querySelector('#prediction').innerText.includes('θ =')")
            page.wait_for_function("() => { const p = document.querySelector('#timeline .js-plotly-plot');"
                                   " return p && p.data.some(t => t.name === 'ground truth' && t.x.length > 0); }")
            page.wait_for_function("() => document.querySelector('#video video').readyState >= 2")  # a frame shows
            page.wait_for_timeout(800)  # let plotly finish its transition
            page.evaluate("window.scrollTo(0, 0)")
            page.screenshot(path=str(out / (args.first_screen or "main.png")))
            if args.first_screen:
                print(out / args.first_screen)
                return 0
            page.get_by_role("tab", name="Ground truth").click()
            page.get_by_text("Erased time vs ground truth").wait_for()
            page.screenshot(path=str(out / "ground_truth.png"), full_page=True)
            page.get_by_role("tab", name="Downloads").click()
            page.get_by_role("button", name="Render annotated MP4").click()
            page.wait_for_selector("video[src*='annotated']")
            page.wait_for_timeout(800)
            page.screenshot(path=str(out / "downloads.png"), full_page=True)
            # another model on the timeline, and the player at segment 6 (assets/player.js)
            page.get_by_role("button", name="synth_3_0000", exact=True).click()
            page.wait_for_function("() => document.querySelector('#prediction').innerText.includes('press **Run**') "
                                   "|| document.querySelector('#prediction').innerText.includes('press Run')")
            page.locator("#run").click()
            page.wait_for_function("() => document.querySelector('#prediction').innerText.includes('synth_3_0000')")
            page.get_by_role("tab", name="Other models").click()
            page.locator("#scores-file input[type=file]").set_input_files(str(ROOT / "assets/samples/other_models.csv"))
            page.wait_for_function("() => { const p = document.querySelector('#timeline .js-plotly-plot');"
                                   " return p && p.data.some(t => t.name === 'wecl-synth-paper detections'); }")
            page.evaluate("() => document.querySelector('#timeline').scrollIntoView({block: 'start'})")
            page.wait_for_timeout(800)
            page.evaluate("""() => { const gd = document.querySelector('#timeline .js-plotly-plot');
              const [s, e] = gd.layout.meta.wecl.segments[6]; window.weclPlayer.seek((s + e) / 2); }""")
            page.wait_for_timeout(600)
            # an example's annotation file may arrive before its video, and warn for a moment: not pictured
            style = page.add_style_tag(content=".toast-wrap { display: none !important; }")
            page.screenshot(path=str(out / "player.png"))
            style.evaluate("node => node.remove()")
            # the dataset tab on the bundled samples: the table, one video, the aggregates
            page.get_by_role("tab", name="Dataset", exact=True).click()
            pick_checkpoint(page, "ds-checkpoint", args.checkpoint)
            page.locator("#ds-start").click()
            page.wait_for_function("() => / videos: \\d+ computed/.test(document.querySelector('#ds-status').innerText)")
            page.wait_for_function("() => document.querySelector('#ds-summary').innerText.includes('mAP@0.5')")
            page.locator("#ds-table .virtual-body [role=row][aria-rowindex='2'] [role=gridcell]").first.click()
            page.wait_for_function("() => document.querySelector('#ds-timeline .js-plotly-plot') !== null")
            page.wait_for_timeout(800)
            page.screenshot(path=str(out / "dataset.png"), full_page=True)
            page.get_by_role("tab", name="Aggregates").click()
            page.wait_for_timeout(1200)
            page.screenshot(path=str(out / "dataset_aggregates.png"), full_page=True)
            # the same other model on the dataset: a column group and a curve on the AP plot
            page.locator("#ds-scores-file input[type=file]").set_input_files(str(ROOT / "assets/samples/other_models.csv"))
            page.wait_for_function("() => document.querySelector('#ds-summary').innerText.includes('(imported)')")
            page.wait_for_timeout(1200)
            page.screenshot(path=str(out / "dataset_imported.png"), full_page=True)
            browser.close()
    finally:
        demo.close()
    for name in ("main.png", "ground_truth.png", "downloads.png", "player.png", "dataset.png", "dataset_aggregates.png",
                 "dataset_imported.png"):
        print(out / name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
