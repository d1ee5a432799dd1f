"""The cost of one video's faithfulness figures (wecl.faithfulness) on cached features.

    python benchmarks/faithfulness.py [--checkpoint wecl-synth-demo] [--video assets/examples/synth_99_0000.mp4]
                                      [--random 50] [--repeats 20]

Computes the video's features once (predict), then times `video_faithfulness` (1 + T leave-one-out
passes, deletion and insertion curves for every attention order, leave-one-out, chronological and
--random seeded random orders, comprehensiveness and sufficiency: one batched heads call) and one
erase-it-yourself update (the heads on the video with two segments removed). Prints the median and
p90 in ms, and the number of perturbed videos scored.
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(1000 * (time.perf_counter() - start))
    return sorted(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="wecl-synth-demo")
    parser.add_argument("--video", default=str(ROOT / "assets" / "examples" / "synth_99_0000.mp4"))
    parser.add_argument("--random", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()

    import numpy as np
    import torch

    from wecl import faithfulness
    from wecl.inference import load_model, predict

    model = load_model(args.checkpoint, device="cpu")
    result = predict(args.video, model)
    features, segments = result.features, result.json["segments"]
    attention = {name: [s[f"{name}_attention_norm"] for s in segments] for name in ("visual", "audio")
                 if all(s[f"{name}_attention_norm"] is not None for s in segments)}
    keyframes = [s["erased_round"] == 0 for s in segments]
    scorer = faithfulness.heads_scorer(model)
    run = lambda: faithfulness.video_faithfulness(scorer, features.visual, features.audio, attention,  # noqa: E731
                                                  features.spans, keyframes=keyframes, n_random=args.random)
    run()  # warm-up
    whole = timed(run, args.repeats)
    removed = np.zeros((1, len(segments)), bool)
    removed[0, :2] = True
    erase = timed(lambda: faithfulness.probabilities(scorer, features.visual, features.audio, removed), args.repeats * 5)
    t = len(segments)
    scored = 1 + t + 2 * (t + 1) * (len(attention) + 2 + args.random) + 2
    p90 = lambda v: v[min(len(v) - 1, int(0.9 * len(v)))]  # noqa: E731
    print(f"{args.checkpoint} on {Path(args.video).name}: T = {t}, torch threads {torch.get_num_threads()}")
    print(f"all figures ({scored} perturbed videos, {args.random} random orders): "
          f"median {statistics.median(whole):.1f} ms, p90 {p90(whole):.1f} ms")
    print(f"one erase-it-yourself update: median {statistics.median(erase):.2f} ms, p90 {p90(erase):.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
