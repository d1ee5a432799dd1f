"""How heavy the attention timeline gets at its largest: T segments over a long video, a sound
picture, and imported models with many intervals (a score every 0.2 s of an hour is 18,000). Prints
the figure's build time in Python, its JSON size (what Gradio sends), its trace kinds and layout
shapes, and, in Debian's Chromium with the plotly.js that plotly ships, the time to draw it and to
redraw it (what a θ change costs the browser).

    python benchmarks/timeline.py [--segments 64] [--hours 1] [--step 0.2] [--no-browser]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np
import plotly

from explorer import plots
from explorer.imported import COLORS, Track
from wecl.annotations import Segment
from wecl.audio import sound_picture

CHROMIUM = "/usr/bin/chromium"


def fake_result(segments: int, duration: float, rng: np.random.Generator) -> dict:
    """A result JSON with T segments tiling the video, two erasing rounds and a few detections."""
    edges = np.linspace(0, duration, segments + 1)
    visual, audio = rng.random(segments), rng.random(segments)
    erased = [0 if v > 0.8 else (1 if v > 0.7 else None) for v in visual]
    rows = [{"index": i, "start": float(edges[i]), "end": float(edges[i + 1]), "visual_attention": float(v / 10),
             "audio_attention": float(a / 10), "visual_attention_norm": float(v), "audio_attention_norm": float(a),
             "erased_round": r} for i, (v, a, r) in enumerate(zip(visual, audio, erased))]
    detections = [{"start": r["start"], "end": r["end"], "label": "joy", "score": r["visual_attention_norm"]}
                  for r in rows if r["erased_round"] == 0]
    later = [None if r["erased_round"] == 0 else float(x) for r, x in zip(rows, rng.random(segments))]
    return {"video": {"path": "long.mp4", "duration": duration, "fps": 25.0, "width": 640, "height": 360,
                      "has_audio": True}, "theta": 0.8, "rounds": 2, "keyframe_rule": "min-joint", "segments": rows,
            "detections": detections, "rounds_attention": [{"round": 0}, {"round": 1, "visual": later, "audio": later}],
            "prediction": "joy", "confidence": 0.9, "classes": ["joy", "sadness"], "probabilities": [0.9, 0.1],
            "checkpoint": {"id": "bench", "revision": None, "precision": "fp32"}}


def figure(args, rng):
    duration = args.hours * 3600
    result = fake_result(args.segments, duration, rng)
    truth = [Segment(s, s + 30.0, "joy") for s in np.linspace(0, duration - 60, 40)]
    starts = np.arange(0.0, duration, args.step)
    dense = Track("dense scores", [Segment(float(s), float(min(s + args.step, duration)), None, float(p))
                                   for s, p in zip(starts, rng.random(starts.size))], [], COLORS[0])
    sparse = Track("detector", [Segment(float(s), float(s + 20), "joy", float(p)) for s, p in
                                zip(np.linspace(0, duration - 30, 200), rng.random(200))], [], COLORS[1])
    sr = 16000
    waveform = (rng.standard_normal(int(duration * sr)) * 0.1).astype(np.float32)
    start = time.perf_counter()
    sound = sound_picture(waveform, sr, duration)
    picture_s = time.perf_counter() - start
    del waveform
    importance = rng.standard_normal(args.segments) * 0.05
    times = []
    for _ in range(5):
        start = time.perf_counter()
        fig = plots.timeline_figure(result, truth, importance, [dense, sparse], sound)
        text = fig.to_json()
        times.append(time.perf_counter() - start)
    return fig, text, picture_s, times


def browser_times(text: str, repeat: int = 5) -> dict:
    from playwright.sync_api import sync_playwright

    script = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    page_html = "<html><body><div id='plot' style='width:1200px'></div></body></html>"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_content(page_html)
            page.add_script_tag(path=str(script))
            return page.evaluate("""async ([fig, repeat]) => {
              const draw = [], redraw = [];
              for (let i = 0; i < repeat; i++) {
                Plotly.purge('plot');
                let t = performance.now(); await Plotly.newPlot('plot', fig.data, fig.layout); draw.push(performance.now() - t);
                t = performance.now(); await Plotly.react('plot', fig.data, {...fig.layout, title: {text: 'θ moved ' + i}});
                redraw.push(performance.now() - t);
              }
              const median = xs => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
              return {draw_ms: median(draw), redraw_ms: median(redraw),
                      webgl: !!document.querySelector('#plot canvas')};
            }""", [json.loads(text), repeat])
        finally:
            browser.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=64)
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--step", type=float, default=0.2, help="seconds per interval of the dense imported model")
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--webgl-from", type=int, default=plots.WEBGL_FROM,
                        help=f"intervals from which a row is drawn with WebGL (default {plots.WEBGL_FROM}; a large "
                             "number draws every row as SVG bars, to compare)")
    args = parser.parse_args()
    plots.WEBGL_FROM = args.webgl_from
    fig, text, picture_s, times = figure(args, np.random.default_rng(0))
    kinds = {}
    for trace in fig.data:
        kinds[trace.type] = kinds.get(trace.type, 0) + 1
    print(f"T = {args.segments}, {args.hours:g} h, imported: {int(args.hours * 3600 / args.step):,} + 200 intervals; "
          f"sound picture {picture_s * 1000:.0f} ms")
    print(f"figure + JSON in Python: median {statistics.median(times) * 1000:.0f} ms; JSON {len(text) / 1e6:.2f} MB; "
          f"traces {kinds}; layout shapes {len(fig.layout.shapes)}")
    if not args.no_browser and os.path.exists(CHROMIUM):
        got = browser_times(text)
        print(f"Chromium (plotly.js {plotly.__version__}'s bundle, software rendering): draw {got['draw_ms']:.0f} ms, "
              f"redraw {got['redraw_ms']:.0f} ms (medians of 5); WebGL canvas: {got['webgl']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
