"""A checkpoint's output as "another model's scores" (docs/formats.md#other-models-scores): per
video, its detections (model "<name> detections") and its per-segment attention, the mean of the
visual and audio A* it has (model "<name> A*", a score track). The bundled
`assets/samples/other_models.csv` is `wecl-synth-paper` on the samples (the Dataset tab's default folder),
so that the explorer has a real second model to put beside the demo:

    python scripts/other_model_scores.py --checkpoint wecl-synth-paper \\
        --out assets/samples/other_models.csv assets/samples/*.mp4
"""
from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wecl import inference  # noqa: E402
from wecl.annotations import video_id  # noqa: E402
from wecl.atomic import atomic_write_text  # noqa: E402


def rows(result: dict, vid: str, name: str) -> list[list]:
    out = [[vid, d["start"], d["end"], round(d["score"], 4), d["label"], f"{name} detections"]
           for d in result["detections"]]
    for s in result["segments"]:
        values = [v for v in (s["visual_attention_norm"], s["audio_attention_norm"]) if v is not None]
        out.append([vid, s["start"], s["end"], round(sum(values) / len(values), 4), result["prediction"], f"{name} A*"])
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("videos", nargs="+")
    parser.add_argument("--checkpoint", default="wecl-synth-paper")
    parser.add_argument("--name", default=None, help="the models' name prefix (default: the checkpoint's)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    model = inference.load_model(args.checkpoint)
    name = args.name or args.checkpoint
    lines = [["video", "start", "end", "score", "label", "model"]]
    for video in args.videos:
        result = inference.predict(video, model).json
        lines += rows(result, video_id(video), name)
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(lines)
    atomic_write_text(args.out, text.getvalue())
    print(f"wrote {len(lines) - 1} intervals of {len(args.videos)} videos to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
