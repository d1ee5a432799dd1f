"""`python -m wecl train STORE --out DIR`: train the heads on cached features (eq. 12)."""
from __future__ import annotations

import argparse
import sys

from wecl.commands.options import add_device, add_keyframes


def register(sub) -> None:
    p = sub.add_parser("train", help="train the WECL heads on a feature store (see `extract`)",
                       description="Defaults are the paper's (4.2): mini-batch SGD, batch 32, lr 2e-4.")
    p.add_argument("store", help="feature store written by `python -m wecl extract`")
    p.add_argument("--out", required=True, help="checkpoint folder (per split: OUT/<split>/) plus train_log.csv and summary.json")
    p.add_argument("--split", action="append", default=None, metavar="SPLIT_JSON",
                   help="official split file; repeat for multi-split runs (VideoEmotion-8: ten), reported as mean ± std")
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--optimizer", default="sgd", choices=["sgd", "adam"])
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--momentum", type=float, default=0.9, help="SGD momentum (not given in the paper)")
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--modalities", default="both", choices=["both", "visual", "audio"])
    p.add_argument("--no-intra", action="store_true", help="switch off the intra-modal relation (eq. 1-4)")
    p.add_argument("--no-inter", action="store_true", help="switch off the inter-modal relation (eq. 5-6)")
    p.add_argument("--no-erasing", action="store_true", help="switch off temporal erasing: loss CE(x_o) only")
    p.add_argument("--theta", type=float, default=None, help="erasing threshold (default: the source checkpoint's, 0.7)")
    add_keyframes(p, "the source checkpoint's; used alike by the loss (x_k, x_l) and detection")
    p.add_argument("--empty", default="triple", choices=["triple", "drop"],
                   help="a video without keyframes: eq. 12 as written (3 CE(x_o)) or drop its x_k and x_l terms")
    p.add_argument("--reduction", default="sum", choices=["sum", "mean"],
                   help="eq. 12's three CE terms summed (the paper) or averaged (the official code)")
    p.add_argument("--relation-dim", type=int, default=None, help="d_k of the relations (default: the source's; none = C)")
    p.add_argument("--dropout", type=float, default=None)
    p.add_argument("--feature-norm", action=argparse.BooleanOptionalAction, default=True,
                   help="standardise each backbone feature channel with the training videos' mean and std before the "
                        "relations (default: on; without it a random audio backbone's attention ignores the sound)")
    p.add_argument("--views", type=int, default=None, help="stored views to sample from (default: all)")
    p.add_argument("--select", default="accuracy", choices=["accuracy", "map", "last"],
                   help="figure that picks the best epoch on the selection videos (never the test subset), or "
                        "'last' to keep the last epoch")
    p.add_argument("--holdout", type=float, default=0.1,
                   help="without a validation subset: share of training held out (seeded, class-balanced) to select on")
    p.add_argument("--select-on-test", action="store_true",
                   help="the official code's protocol: pick the best epoch on the TEST subset (labelled as such; "
                        "its test figures are optimistic)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--restarts", type=int, default=1,
                   help="train from seeds SEED..SEED+N-1 and keep the best on the held-out set")
    add_device(p, precision=False)
    p.add_argument("--description", default="", help="one paragraph for the model card")
    p.add_argument("--push-to-hub", default=None, metavar="REPO", help="publish the checkpoint to this Hub model repo")
    p.add_argument("--private", action="store_true", help="with --push-to-hub: create a private repo")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(run=run)


def run(args) -> int:
    from wecl.errors import WECLError
    from wecl.training.train import TrainOptions, push_to_hub, train

    if args.push_to_hub and args.split and len(args.split) > 1:
        raise WECLError("--push-to-hub publishes one checkpoint; train one split at a time to push it")
    opts = TrainOptions(
        epochs=args.epochs, batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr, momentum=args.momentum,
        weight_decay=args.weight_decay, modalities=args.modalities, intra=not args.no_intra,
        inter=not args.no_inter and args.modalities == "both", erasing=not args.no_erasing, theta=args.theta,
        keyframe_rule=args.keyframes, empty=args.empty, reduction=args.reduction,
        relation_dim=args.relation_dim, dropout=args.dropout, feature_norm=args.feature_norm, views=args.views,
        seed=args.seed, restarts=args.restarts,
        device=args.device,
        select=args.select, holdout=args.holdout, select_on_test=args.select_on_test, description=args.description,
    )
    echo = None if args.quiet else (lambda line: print(line, file=sys.stderr))
    result = train(args.store, args.out, opts, args.split, echo)
    for run_ in result.runs:
        figs = ", ".join(f"{k} {v:.4f}" for k, v in {**run_.metrics, **run_.test_metrics}.items() if isinstance(v, float))
        print(f"split {run_.split}: epoch {run_.best_epoch} ({run_.selection}): {figs} -> {run_.folder}")
    if result.summary.get("warning"):
        print(f"WARNING: {result.summary['warning']}")
    if len(result.runs) > 1:
        for k, v in result.summary["mean_std"].items():
            print(f"{k}: {v['mean']:.4f} ± {v['std']:.4f} over {v['n']} splits")
    print(f"log: {args.out}/train_log.csv, summary: {args.out}/summary.json")
    if args.push_to_hub:
        url = push_to_hub(result.runs[0].folder, args.push_to_hub, private=args.private)
        print(f"pushed to {url}")
    return 0
