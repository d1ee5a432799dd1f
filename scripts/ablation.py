"""Ablations on the synthetic cue benchmark (docs/ablation.md): every arm trained and scored the same way.

    python scripts/ablation.py check --checkpoint CKPT [--checkpoint CKPT2] --test STORE:DATA [--test ...]
    python scripts/ablation.py factorial --train-store STORE --test STORE:DATA [--test ...] [--restarts 8]

STORE: `python -m wecl extract` of a synth set; DATA: that set's folder (its annotations.json names the
spans that carry the sound cue). The training store is seed 1's (`scripts/train_demo.sh WORK` writes
WORK/features), the test stores seeds 2 and 4, extracted with the same checkpoint, never used in training
or selection. `check` scores trained checkpoints under every keyframe rule without retraining;
`factorial` retrains keyframe rule x relations x theta (plus controls) from several seeds and reports
medians and interquartile ranges over the restarts.
Every arm uses the demo's recipe: Adam lr 1e-3, batch 32, 40 epochs, relation_dim 64, the best epoch on
the training set's validation videos (accuracy + mean mAP).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from wecl.config import KEYFRAME_RULES, MASK_RULES
from wecl.evaluation import score
from wecl.model import WECL
from wecl.training.diagnostics import (
    audio_content,
    audio_cue_spans,
    keyframe_figures,
    normalised_attention,
    peak_agreement,
)
from wecl.training.evaluate import predict_table
from wecl.training.extract import FeatureStore
from wecl.training.train import Selection, TrainOptions, load_source, train_split

ALPHAS = ("0.1", "0.3", "0.5")


@dataclass
class Test:
    name: str
    table: object
    cues: dict
    silent: np.ndarray  # (N, T, C_a): the audio features of silence in every segment


def load_test(spec: str) -> Test:
    store, data = spec.split(":", 1)
    table = FeatureStore(store).load(views=1)
    annotations = json.loads((Path(data) / "annotations.json").read_text())
    source = load_source(table)
    patches = torch.zeros(1, 3, source.config.audio_patch_size, source.config.audio_patch_size)
    silence = source.encode_audio(patches).numpy()[0]
    silent = np.broadcast_to(silence, table.audio.shape).copy()
    return Test(Path(data).name, table, audio_cue_spans(annotations, table.ids), silent)


def measure(model: WECL, test: Test, rules=None, theta: float | None = None) -> dict:
    """Accuracy and mAP per keyframe rule, and the attention diagnostics, of one model on one test set."""
    table = test.table
    theta = model.config.theta if theta is None else theta
    every = list(range(len(table.ids)))
    nv, na = normalised_attention(model, table)  # one pass of the heads: the rules differ only in the mask
    out = {}
    for rule in rules or [model.config.keyframe_rule]:
        preds, gt = predict_table(model, table, every, theta, keyframe_rule=rule)
        result = score(preds, gt, table.classes)
        row = {"accuracy": result["accuracy"], **{f"mAP@{a}": result["mAP"][a] for a in ALPHAS}}
        if rule != "fused":
            row.update(keyframe_figures(nv, na, table.has_audio, theta, rule))
        out[rule] = row
    diag = {}
    if nv is not None and na is not None:
        heard = table.has_audio
        diag.update(peak_agreement(nv[heard], na[heard]))
    if na is not None:
        _, silent = normalised_attention(model, table, audio=test.silent)
        diag.update(audio_content(na, silent, table.spans, test.cues))
    return {"rules": out, "diagnostics": diag}


def pct(x) -> str:
    return "—" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{100 * x:.1f}"


def check(args) -> str:
    tests = [load_test(spec) for spec in args.test]
    lines = ["| checkpoint | test | keyframe rule | accuracy % | mAP@0.1 / 0.3 / 0.5 % | empty % | keyframes % of T |",
             "|---|---|---|---|---|---|---|"]
    diag_lines = ["| checkpoint | test | peaks agree % | chance % | shuffled pairs % | audio A* variance across / within videos"
                  " | \\|A*a − A*a(silence)\\| | audio A* inside − outside audio cues |",
                  "|---|---|---|---|---|---|---|---|"]
    for spec in args.checkpoint:
        model = WECL.from_pretrained(spec)
        name = Path(spec).name
        for test in tests:
            m = measure(model, test, args.rules)
            for rule, row in m["rules"].items():
                lines.append(f"| {name} (θ {model.config.theta:g}) | {test.name} | {rule} | {pct(row['accuracy'])} | "
                             + " / ".join(pct(row[f"mAP@{a}"]) for a in ALPHAS)
                             + f" | {pct(row.get('empty'))} | {pct(row.get('keyframe_share'))} |")
            d = m["diagnostics"]
            diag_lines.append(f"| {name} | {test.name} | {pct(d.get('agree'))} | {pct(d.get('chance'))} | "
                              f"{pct(d.get('shuffled'))} | {d['across']:.3f} / {d['within']:.3f} | {d['silence']:.3f} | "
                              f"{d['cue_gap']:+.3f} ({d['cue_videos']} videos) |")
            print(lines[-1], flush=True)
    return "\n".join(lines + [""] + diag_lines) + "\n"


# ---- the factorial ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Arm:
    rule: str
    relations: str  # "off", "intra", "inter" or "full" (intra and inter)
    theta: float
    erasing: bool = True
    empty: str = "triple"
    reduction: str = "sum"
    weight_decay: float = 0.0
    feature_norm: bool = True
    dropout: float | None = None  # None: 0.5 (the source checkpoint's)

    @property
    def label(self) -> str:
        parts = [self.rule if self.erasing else f"erasing off ({self.rule} detections)",
                 f"relations {self.relations}", f"θ {self.theta:g}"]
        if self.empty != "triple":
            parts.append(f"empty: {self.empty}")
        if self.reduction != "sum":
            parts.append(f"CE {self.reduction}")
        if self.weight_decay:
            parts.append(f"wd {self.weight_decay:g}")
        if not self.feature_norm:
            parts.append("raw features")
        if self.dropout is not None:
            parts.append(f"dropout {self.dropout:g}")
        return " · ".join(parts)


def arms(quick: bool = False) -> list[Arm]:
    out = []
    for theta in (0.5, 0.7):
        for relations in ("off", "full"):
            for rule in MASK_RULES:
                out.append(Arm(rule, relations, theta))
            out.append(Arm("eq9", relations, theta, empty="drop"))  # (D)
            for rule in ("eq9", "min-joint"):
                out.append(Arm(rule, relations, theta, erasing=False))  # controls: no x_k / x_l terms
            for rule in ("eq9", "min-joint"):
                out.append(Arm(rule, relations, theta, feature_norm=False))  # before the audio fix
            if not quick:  # the official code's recipe: CE terms averaged, weight decay 5e-4, and with dropout 0.2
                out.append(Arm("min-joint", relations, theta, reduction="mean"))
                out.append(Arm("min-joint", relations, theta, weight_decay=5e-4))
                out.append(Arm("min-joint", relations, theta, reduction="mean", weight_decay=5e-4, dropout=0.2))
    return out


_state: dict = {}


def _init(train_store: str, tests: list[str], epochs: int) -> None:
    torch.set_num_threads(1)
    train = FeatureStore(train_store).load()
    _state.update(train=train, source=load_source(train), tests=[load_test(t) for t in tests], epochs=epochs)


def _run(job: tuple[Arm, int]) -> dict:
    arm, seed = job
    train, source = _state["train"], _state["source"]
    opts = TrainOptions(epochs=_state["epochs"], optimizer="adam", lr=1e-3, relation_dim=64, theta=arm.theta,
                        keyframe_rule=arm.rule, intra=arm.relations in ("intra", "full"),
                        inter=arm.relations in ("inter", "full"), erasing=arm.erasing,
                        empty=arm.empty, reduction=arm.reduction, weight_decay=arm.weight_decay, seed=seed,
                        feature_norm=arm.feature_norm, dropout=arm.dropout,
                        select="map")
    sel = Selection(train.indices("training"), train.indices("validation"), [], "validation")
    run = train_split(train, source, opts, sel, "ablation")
    n = len(sel.train)
    empty_at = {e: run.history[e - 1]["empty_keyframes"] / n for e in (1, 10, 40) if e <= len(run.history)}
    empty_at["selected"] = run.history[run.best_epoch - 1]["empty_keyframes"] / n
    tests = {t.name: measure(run.model, t) for t in _state["tests"]}
    return {"arm": arm, "seed": seed, "best_epoch": run.best_epoch, "empty_train": empty_at, "tests": tests}


def _median_iqr(values: list[float], scale: float = 100.0, digits: int = 1) -> str:
    values = [v for v in values if v is not None and not np.isnan(v)]
    if not values:
        return "—"
    q1, med, q3 = np.percentile(values, [25, 50, 75])
    return f"{scale * med:.{digits}f} [{scale * q1:.{digits}f}–{scale * q3:.{digits}f}]"


def factorial_table(results: list[dict]) -> str:
    """Two Markdown tables of every arm, medians [interquartile ranges] over the restarts and both
    test sets: detection, and what the attention does. `results`: per restart, {"arm": label,
    "empty_train": ..., "tests": {name: measure()}} (the --raw file's rows)."""
    by_arm: dict[str, list[dict]] = {}
    for r in results:
        by_arm.setdefault(r["arm"], []).append(r)
    first = ("| arm | restarts | accuracy % | mAP@0.1 % | mAP@0.3 % | mAP@0.5 % | training videos without keyframes %, "
             "epoch 1 / 10 / 40 / selected | held-out videos without keyframes % | keyframes % of T |")
    second = ("| arm | peaks agree % (shuffled pairs %, chance 10 %) | audio A* inside − outside audio cues "
              "| audio A* variance across / within videos | mean \\|A*a − A*a(silence)\\| |")
    rule_line = lambda head: "|" + "---|" * (len(re.split(r"(?<!\\)\|", head)) - 2)  # noqa: E731 - "\\|" is text
    detection, attention = [first, rule_line(first)], [second, rule_line(second)]
    for label, runs in by_arm.items():
        per_test = [t for r in runs for t in r["tests"].values()]
        rule = lambda t: next(iter(t["rules"].values()))  # noqa: E731 - each model is scored under its own rule
        diag = lambda key: [t["diagnostics"].get(key) for t in per_test]  # noqa: E731
        median = lambda key: np.nanmedian(np.array(diag(key), float))  # noqa: E731
        empty = lambda key: np.median([r["empty_train"].get(key, r["empty_train"].get(str(key), np.nan))  # noqa: E731
                                       for r in runs])
        detection.append(
            f"| {label} | {len(runs)} | {_median_iqr([rule(t)['accuracy'] for t in per_test])} | "
            + " | ".join(_median_iqr([rule(t)[f"mAP@{a}"] for t in per_test]) for a in ALPHAS) + " | "
            + " / ".join(f"{100 * empty(k):.0f}" for k in (1, 10, 40, "selected")) + " | "
            + f"{_median_iqr([rule(t).get('empty') for t in per_test])} | "
            + f"{_median_iqr([rule(t).get('keyframe_share') for t in per_test])} |")
        attention.append(
            f"| {label} | {_median_iqr(diag('agree'), digits=0)} ({100 * median('shuffled'):.0f}) | "
            + f"{_median_iqr(diag('cue_gap'), scale=1.0, digits=2)} | {median('across'):.3f} / {median('within'):.3f} | "
            + f"{median('silence'):.3f} |")
    return "\n".join(detection) + "\n\n" + "\n".join(attention) + "\n"


def factorial(args) -> str:
    every = arms(args.quick) + [Arm("min-joint", r, t) for r in ("intra", "inter") for t in (0.5, 0.7)]
    jobs = [(arm, seed) for arm in every for seed in range(args.restarts)]
    if args.only:
        jobs = [j for j in jobs if any(s in j[0].label for s in args.only)]
    print(f"{len(jobs)} trainings on {args.workers} processes", file=sys.stderr, flush=True)
    results, start = [], time.perf_counter()
    with ProcessPoolExecutor(args.workers, initializer=_init, initargs=(args.train_store, args.test, args.epochs)) as pool:
        for n, result in enumerate(pool.map(_run, jobs, chunksize=1), 1):
            results.append({**result, "arm": result["arm"].label})
            if n % 8 == 0 or n == len(jobs):
                print(f"{n}/{len(jobs)} in {(time.perf_counter() - start) / 60:.1f} min", file=sys.stderr, flush=True)
    if args.raw:
        Path(args.raw).write_text(json.dumps(results, default=float, indent=1))
    return factorial_table(results)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="what", required=True)
    c = sub.add_parser("check", help="score trained checkpoints under every keyframe rule, no retraining")
    c.add_argument("--checkpoint", action="append", required=True)
    c.add_argument("--rules", nargs="+", default=list(KEYFRAME_RULES), choices=KEYFRAME_RULES)
    f = sub.add_parser("factorial", help="retrain rule x relations x theta from several seeds")
    f.add_argument("--train-store", required=True)
    f.add_argument("--restarts", type=int, default=8)
    f.add_argument("--epochs", type=int, default=40)
    f.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    f.add_argument("--quick", action="store_true", help="leave out the CE-mean and weight-decay arms")
    f.add_argument("--only", nargs="*", help="only arms whose label contains one of these")
    f.add_argument("--raw", default=None, help="also write every restart's figures to this JSON file")
    for q in (c, f):
        q.add_argument("--test", action="append", required=True, metavar="STORE:DATA")
    t = sub.add_parser("table", help="the factorial's table again, from its --raw file (no training)")
    t.add_argument("raw")
    for q in (c, f, t):
        q.add_argument("--out", default=None, help="write the table here (Markdown) as well as to stdout")
    args = p.parse_args(argv)
    start = time.perf_counter()
    if args.what == "table":
        text = factorial_table(json.loads(Path(args.raw).read_text()))
    else:
        text = check(args) if args.what == "check" else factorial(args)
    command = "python scripts/ablation.py " + " ".join(sys.argv[1:] if argv is None else argv)
    text = f"<!-- {command} ({(time.perf_counter() - start) / 60:.0f} min) -->\n" + text
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
