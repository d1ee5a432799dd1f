"""Time one theta/rounds update of the explorer: explain() on cached features plus every view
(timeline, probabilities, thumbnail strip, segment table, ground-truth comparison) and the
serialisation Gradio does for them (figure JSON, strip image encoding). No decode, no backbone.

    python benchmarks/theta_update.py [video] [--checkpoint SPEC] [--repeat 50]
"""
from __future__ import annotations

import argparse
import io
import statistics
import time
from pathlib import Path

import torch
from PIL import Image

from explorer import groundtruth, plots
from wecl import inference
from wecl.features import features_for

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video", nargs="?", default=str(ROOT / "assets" / "examples" / "synth_99_0000.mp4"))
    parser.add_argument("--checkpoint", default=None, help="default: the registry's default checkpoint")
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: every core, as the app)")
    args = parser.parse_args()

    model = inference.load_model(args.checkpoint)
    start = time.perf_counter()
    features = features_for(args.video, model)
    print(f"features ({features.source}): {time.perf_counter() - start:.2f} s, once per video")
    truth = [groundtruth.Segment(1.0, 2.5, "x"), groundtruth.Segment(4.0, 6.0, "x")]
    # As in the app: one thread count for the whole process (WECL_THREADS); see --threads.
    if args.threads:
        torch.set_num_threads(args.threads)

    stages: dict[str, list[float]] = {}

    def timed(name, fn):
        t = time.perf_counter()
        out = fn()
        stages.setdefault(name, []).append(time.perf_counter() - t)
        return out

    thetas = [0.1 + 0.8 * (i % 9) / 8 for i in range(args.repeat + 5)]
    totals = []
    for i, theta in enumerate(thetas):
        t0 = time.perf_counter()
        result = timed("explain", lambda: inference.explain(features, model, theta, 1 + i % 4).json)
        fig = timed("timeline", lambda: plots.timeline_figure(result, truth))
        probs = timed("probabilities", lambda: plots.probabilities_figure(result))
        strip = timed("strip", lambda: plots.thumbnail_strip(features.thumbnails, result, columns=5))
        timed("table+comparison", lambda: (plots.segments_table(result), groundtruth.compare(truth, result)))
        timed("figure json", lambda: (fig.to_json(), probs.to_json()))
        timed("strip webp", lambda: Image.fromarray(strip).save(io.BytesIO(), "webp"))
        if i >= 5:  # the first calls warm up torch and plotly
            totals.append(time.perf_counter() - t0)
        else:
            for v in stages.values():
                v.pop()
    for name, values in stages.items():
        print(f"  {name:18s} median {1000 * statistics.median(values):6.1f} ms, max {1000 * max(values):6.1f} ms")
    print(f"theta update (explain + all views, {torch.get_num_threads()} torch thread(s)): "
          f"median {1000 * statistics.median(totals):.0f} ms, "
          f"p90 {1000 * sorted(totals)[int(0.9 * len(totals))]:.0f} ms over {len(totals)} updates")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
