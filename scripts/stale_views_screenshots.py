"""Screenshots of issue 20's scenario: a run, then another video loaded and θ moved, then that
video (portrait, no sound) run. Run it on two checkouts to compare them:

    python -m scripts.stale_views_screenshots OUT_DIR

writes OUT_DIR/1_after_run.png, 2_new_video_theta_moved.png and 3_no_sound_portrait.png
(`assets/screenshots/issue20/` holds the pairs from before and after the fix).
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scripts.screenshots import CHROMIUM, CHROMIUM_ARGS, free_port, pick_checkpoint


def clip(folder: Path, name: str, size: str, audio: bool) -> Path:
    """A 4 s test pattern, with a tone or without any sound."""
    out = folder / name
    cmd = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc=size={size}:rate=15:duration=4"]
    if audio:
        cmd += ["-f", "lavfi", "-i", "sine=frequency=440:duration=4", "-c:a", "aac", "-shortest"]
    subprocess.run(cmd + ["-c:v", "libx264", "-pix_fmt", "yuv420p", str(out)], check=True)
    return out


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "screenshots")
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from playwright.sync_api import sync_playwright

    import app

    media = Path(tempfile.mkdtemp(prefix="wecl-stale-"))
    first, portrait = clip(media, "first_clip.mp4", "320x240", True), clip(media, "portrait_silent.mp4", "180x320", False)
    demo = app.create()
    port = free_port()
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True, **app.launch_options())
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(60_000)
            page.goto(f"http://127.0.0.1:{port}/", wait_until="load")
            page.wait_for_selector("#run")
            pick_checkpoint(page, "checkpoint", "wecl-synth-demo")
            page.locator("#video input[type=file]").set_input_files(str(first))
            page.wait_for_selector("#video video")
            rounds = page.locator("#rounds input[type=number]")
            rounds.fill("3")
            rounds.blur()
            page.locator("#run").click()
            page.wait_for_selector("#strip img")
            time.sleep(2)
            page.evaluate("window.scrollTo(0, 0)")
            page.screenshot(path=str(out / "1_after_run.png"))
            page.locator("#video button[aria-label='Clear']").first.click()
            page.locator("#video input[type=file]").set_input_files(str(portrait))
            page.wait_for_selector("#video video")
            theta = page.locator("#theta input[type=number]")
            theta.fill("0.3")
            theta.blur()
            time.sleep(3)
            page.evaluate("window.scrollTo(0, 0)")
            page.screenshot(path=str(out / "2_new_video_theta_moved.png"))
            page.locator("#run").click()
            time.sleep(6)
            page.get_by_role("tab", name="Segments").click()
            time.sleep(1)
            page.evaluate("window.scrollTo(0, 0)")
            page.screenshot(path=str(out / "3_no_sound_portrait.png"), full_page=True)
            browser.close()
    finally:
        demo.close()
    for name in ("1_after_run.png", "2_new_video_theta_moved.png", "3_no_sound_portrait.png"):
        print(out / name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
