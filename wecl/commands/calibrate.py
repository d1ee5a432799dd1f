"""`python -m wecl calibrate DATASET --out CKPT`: BatchNorm statistics of random backbones from data."""
from __future__ import annotations

import sys


def register(sub) -> None:
    p = sub.add_parser("calibrate",
                       help="recompute the backbones' BatchNorm statistics on a dataset (for random, not pretrained, backbones)")
    p.add_argument("dataset", help="any dataset layout `extract` reads; its training videos are used")
    p.add_argument("--out", required=True, help="checkpoint folder to write (the source's weights, new statistics)")
    p.add_argument("--checkpoint", default=None, help="checkpoint whose backbones to calibrate (default: the project's)")
    p.add_argument("--videos", type=int, default=32, help="how many training videos to average over (default 32)")
    p.add_argument("--only", default=None, choices=["visual", "audio"], help="calibrate this backbone only")
    p.set_defaults(run=run)


def run(args) -> int:
    from wecl.cards import model_card
    from wecl.errors import WECLError
    from wecl.model import WECL
    from wecl.progress import bar
    from wecl.training.calibrate import calibrate
    from wecl.training.datasets import open_dataset

    if args.videos < 1:
        raise WECLError(f"--videos must be at least 1, not {args.videos}")
    dataset = open_dataset(args.dataset)
    videos = [str(item.path) for item in dataset.train_items()[: args.videos]]
    if not videos:
        raise WECLError(f"{args.dataset}: no training videos to calibrate on")
    model = WECL.from_pretrained(args.checkpoint)  # its own copy: calibration changes the backbones in place
    with bar(len(videos), "calibrate") as tick:
        report = calibrate(model, videos, tick, [args.only] if args.only else ["visual", "audio"])
    source = model.checkpoint.id if model.checkpoint else args.checkpoint
    which = f"The {args.only} backbone's" if args.only else "Backbone"
    note = f"{which} BatchNorm statistics calibrated on {report['videos']} training videos of {dataset.name}."
    model.config.description = " ".join(x for x in (model.config.description, note) if x)
    model.save_pretrained(args.out, card=model_card(model.config, data=f"{note} Weights from {source}."))
    for path, reason in list(report["skipped"].items())[:5]:
        print(f"  skipped {path}: {reason}", file=sys.stderr)
    print(f"calibrated on {report['videos']} videos ({len(report['skipped'])} skipped) -> {args.out}")
    return 0
