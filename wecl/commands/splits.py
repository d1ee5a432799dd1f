"""`python -m wecl splits ROOT --ratio 2:1 --count 10 --out DIR`: the paper's train:test splits."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("splits", help="write seeded, class-balanced train:test split files for a <label>/<id> video tree",
                       description="VideoEmotion-8: ten 2:1 splits; Ekman-6: one 1:1 split (paper 4.1). The files use "
                                   "the official split format with explicit training and testing subsets.")
    p.add_argument("root", help="folder with one sub-folder of videos per class")
    p.add_argument("--ratio", default="2:1", help="training:testing videos per class (default 2:1)")
    p.add_argument("--count", type=int, default=1, help="how many splits (default 1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--name", default="split", help="file name stem: NAME_01.json, NAME_02.json, ...")
    p.add_argument("--out", required=True, help="folder for the split files")
    p.set_defaults(run=run)


def run(args) -> int:
    from pathlib import Path

    from wecl.annotations import write_annotations
    from wecl.errors import WECLError
    from wecl.training.datasets import make_splits

    try:
        ratio = tuple(int(x) for x in args.ratio.split(":"))
    except ValueError:
        ratio = ()
    if len(ratio) != 2:
        raise WECLError(f"--ratio must look like 2:1, not {args.ratio!r}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    classes, splits = make_splits(args.root, ratio, args.count, args.seed)
    for j, split in enumerate(splits, 1):
        path = out / f"{args.name}_{j:02d}.json"
        write_annotations(split, path, "split", classes=classes)
        subsets = [ann.subset for ann in split.values()]
        print(f"wrote {path}: {subsets.count('training')} training, {subsets.count('testing')} testing videos")
    return 0
