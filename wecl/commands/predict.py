"""`python -m wecl predict VIDEO`: a short human summary, and the result JSON with --json."""
from __future__ import annotations

import sys

from wecl.commands.options import add_device, add_keyframes


def register(sub) -> None:
    p = sub.add_parser("predict", help="run a checkpoint on one video")
    p.add_argument("video")
    p.add_argument("--checkpoint", default=None, help="Hub repo id (owner/name[@revision]) or folder; default: the project's")
    p.add_argument("--revision", default=None, help="Hub revision (branch, tag or commit)")
    p.add_argument("--theta", type=float, default=None, help="erasing threshold in [0, 1]; default: the checkpoint's (0.7)")
    p.add_argument("--rounds", type=int, default=1,
                   help="erasing rounds to run (1 = the paper's single erasing; "
                        "more only change detections with --keyframes fused)")
    add_keyframes(p)
    add_device(p)
    p.add_argument("--json", dest="json_out", default=None, metavar="OUT", help="write the result JSON here ('-' for stdout)")
    p.set_defaults(run=run)


def summary(result) -> str:
    j = result.json
    v = j["video"]
    lines = [
        f"{v['path']}: {v['duration']:.1f} s, {v['width']}x{v['height']} at {v['fps']:.1f} fps, "
        + ("with audio" if v["has_audio"] else "no audio"),
        f"prediction: {j['prediction']} ({j['confidence']:.1%})   theta {j['theta']:.2f}, {j['rounds']} round(s), "
        f"keyframes {j['keyframe_rule']}",
    ]
    faces = all("face" in s for s in j["segments"])  # a face checkpoint: whether each segment has one
    lines.append("segment   seconds        visual  audio  " + ("face  " if faces else "") + "erased")
    fmt = lambda x: "   —  " if x is None else f"{x:6.2f}"  # noqa: E731
    for s in j["segments"]:
        erased = "" if s["erased_round"] is None else f"round {s['erased_round']}"
        face = ("yes   " if s["face"] else "no    ") if faces else ""
        lines.append(f"{s['index']:7d}   {s['start']:6.1f}-{s['end']:6.1f}  "
                     f"{fmt(s['visual_attention_norm'])} {fmt(s['audio_attention_norm'])}  {face}{erased}")
    if j["detections"]:
        lines.append("detections: " + ", ".join(f"{d['start']:.1f}-{d['end']:.1f} s ({d['score']:.2f})" for d in j["detections"]))
    else:
        lines.append("detections: none at this theta")
    lines += [f"note: {n}" for n in j["notices"]]
    lines.append("timings: " + ", ".join(f"{k} {v:.2f} s" for k, v in j["timings"].items()))
    return "\n".join(lines)


def run(args) -> int:
    import json

    from wecl.inference import load_model, predict

    model = load_model(args.checkpoint, args.revision, args.device, precision=args.precision)
    result = predict(args.video, model, theta=args.theta, rounds=args.rounds, keyframe_rule=args.keyframes)
    if args.json_out == "-":
        json.dump(result.json, sys.stdout, indent=2)
        print()
        return 0
    print(summary(result))
    if args.json_out:
        result.save_json(args.json_out)
        print(f"wrote {args.json_out}")
    return 0
