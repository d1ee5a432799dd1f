"""`python -m wecl extract DATASET --out STORE`: backbone features of a dataset, once, on disk."""
from __future__ import annotations

import sys

from wecl.commands.options import add_device, add_ray


def register(sub) -> None:
    p = sub.add_parser("extract", help="run the frozen backbones over a dataset and cache T x C features")
    p.add_argument("dataset", help="a folder with annotations.json (synth layout), a split .json, a CAER folder "
                                   "or a path,label[,split] .csv")
    p.add_argument("--out", required=True, help="feature store folder (resumable: finished videos are skipped)")
    p.add_argument("--layout", default=None, choices=["activitynet", "split", "caer", "csv"], help="default: detected")
    p.add_argument("--root", default=None, help="video root of a split file (default: the file's folder)")
    p.add_argument("--checkpoint", default=None, help="checkpoint whose backbones to run (default: the project's)")
    p.add_argument("--views", type=int, default=3, help="views per video: 0 centred, 1.. random clips/crops (default 3)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random views")
    p.add_argument("--workers", type=int, default=2, help="decode/MFCC threads running ahead of the backbones")
    p.add_argument("--subset", default=None, help="only this subset (training, validation, testing)")
    add_device(p, precision_default="fp32",
               precision_help="backbone precision (default fp32: a store's features are then the same on every "
                              "machine; auto/bf16 is about 2x faster where the CPU has native bf16, features within 1 %%)")
    add_ray(p, "decoding as CPU tasks, backbones in actors (one per GPU)")
    p.set_defaults(run=run)


def run(args) -> int:
    from wecl.inference import load_model
    from wecl.progress import bar
    from wecl.training.datasets import normalise_subset, open_dataset
    from wecl.training.extract import extract

    dataset = open_dataset(args.dataset, args.layout, args.root)
    items = dataset.items
    if args.subset:
        items = dataset.subset(normalise_subset(args.subset, "--subset"))
    if dataset.missing:
        print(f"note: {len(dataset.missing)} listed videos have no file and are left out "
              f"(first: {', '.join(dataset.missing[:3])})", file=sys.stderr)
    model = load_model(args.checkpoint, device=args.device, precision=args.precision)
    with bar(len(items), "extract") as tick:
        if args.ray is not None:
            from wecl.distributed import extract_ray

            stats = extract_ray(dataset, model, args.out, views=args.views, seed=args.seed, items=items, progress=tick,
                                address=args.ray or None)
        else:
            stats = extract(dataset, model, args.out, views=args.views, seed=args.seed, workers=args.workers,
                            items=items, progress=tick)
    print(f"{stats.done} extracted, {stats.skipped} already done, {stats.failed} failed "
          f"in {stats.seconds:.1f} s -> {args.out}")
    for vid, message in list(stats.errors.items())[:5]:
        print(f"  failed {vid}: {message}", file=sys.stderr)
    if stats.failed:
        print(f"  (all failures in {args.out}/errors.log)", file=sys.stderr)
    return 0
