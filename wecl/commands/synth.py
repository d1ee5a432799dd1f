"""`python -m wecl synth --out DIR --videos N --seed S`: the synthetic cue benchmark."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("synth", help="write synthetic cue videos with known ground truth")
    p.add_argument("--out", required=True)
    p.add_argument("--videos", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--classes", default=None, help="comma-separated class names (default: the generator's four)")
    p.set_defaults(run=run)


def run(args) -> int:
    from wecl.progress import bar
    from wecl.training.synth import generate

    kwargs = {"classes": tuple(args.classes.split(","))} if args.classes else {}
    with bar(args.videos, "synth") as tick:
        db = generate(args.out, args.videos, args.seed, progress=tick, **kwargs)
    print(f"wrote {len(db)} videos and annotations.json to {args.out}")
    return 0
