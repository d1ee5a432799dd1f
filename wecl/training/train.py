"""Training the heads on cached backbone features with the loss of eq. 12 (paper 3.4, 4.2).

The backbones are frozen (4.2), so training reads the feature store of `wecl.training.extract`: each step
takes a random stored view of every video in the mini-batch (view 0 centred, the others random
clip positions and crops: the paper's augmentation) and optimises `WECL.loss` =
CE(x_o) + CE(x_k) + CE(x_l). Paper defaults: mini-batch SGD, batch 32, lr 2e-4. The best epoch
is saved as a complete checkpoint (the source checkpoint's backbones + the trained heads) with a
model card; every epoch goes to a CSV log.

Model selection never sees the test subset (`plan_selection`): the best epoch is chosen on the
validation subset, or, for a split of training and testing only (Ekman-6 1:1, VideoEmotion-8
2:1), on a seeded, class-balanced part of training held out from it; `--select last` keeps the
last epoch. Test figures are computed once, after selection, and reported apart. The official
code's "best epoch on test" protocol exists only as `--select-on-test`, labelled as such in the
log, the summary and the model card.
"""
from __future__ import annotations

import copy
import csv
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from wecl import cards, checkpoints
from wecl.annotations import read_annotations
from wecl.atomic import atomic_write_text
from wecl.config import WECLConfig
from wecl.device import resolve_device
from wecl.errors import WECLError
from wecl.evaluation import score
from wecl.hub import push_checkpoint
from wecl.model import WECL
from wecl.training.datasets import split_file_subsets
from wecl.training.evaluate import predict_table
from wecl.training.extract import FeatureStore, FeatureTable

# The paper's optimisation (4.2). SGD's momentum is not given there; 0.9 is the usual choice.
PAPER_DEFAULTS = {"optimizer": "sgd", "batch_size": 32, "lr": 2e-4, "momentum": 0.9}
LOG_COLUMNS = ["split", "seed", "epoch", "train_loss", "loss_original", "loss_keyframes", "loss_left", "train_accuracy",
               "keyframe_rule", "empty_keyframes", "keyframe_share", "peaks_agree", "selection", "val_loss",
               "val_accuracy", "val_mAP@0.1", "val_mAP@0.3", "val_mAP@0.5",
               "lr", "seconds"]
SELECT = ("accuracy", "map", "last")
ON_TEST = "testing (the official code's protocol: test figures are optimistic)"


@dataclass
class TrainOptions:
    epochs: int = 50
    batch_size: int = PAPER_DEFAULTS["batch_size"]
    optimizer: str = PAPER_DEFAULTS["optimizer"]  # "sgd" (paper) or "adam"
    lr: float = PAPER_DEFAULTS["lr"]
    momentum: float = PAPER_DEFAULTS["momentum"]
    weight_decay: float = 0.0
    # Table 2 switches
    modalities: str = "both"
    intra: bool = True
    inter: bool = True
    erasing: bool = True
    theta: float | None = None  # None: the source checkpoint's (0.7)
    # Which segments are keyframes in the loss and in detection (`wecl.erasing.keyframe_masks`);
    # None: the source checkpoint's ("eq9").
    keyframe_rule: str | None = None
    empty: str = "triple"  # a video without keyframes: "triple" (eq. 12 as written) or "drop" its x_k, x_l terms
    reduction: str = "sum"  # eq. 12's three CE terms summed ("sum"), or averaged as the official code ("mean")
    relation_dim: int | None = None  # None: the source checkpoint's (None = d_k = C, eq. 1)
    dropout: float | None = None
    # standardise the backbone features per channel with the training videos' statistics (`model.FeatureNorm`)
    feature_norm: bool = True
    views: int | None = None  # stored views to sample from; None: all
    seed: int = 0
    restarts: int = 1  # train from seeds seed .. seed+restarts-1, keep the best on the selection videos
    device: str = "auto"
    select: str = "accuracy"  # the figure that picks the best epoch, "accuracy" or "map"; "last": the last epoch
    holdout: float = 0.1  # share of training held out for selection when the split has no validation subset
    select_on_test: bool = False  # the official code's protocol (best epoch on test), labelled everywhere
    description: str = ""


@dataclass
class Selection:
    """Which videos train, which pick the best epoch, which test (indices into a FeatureTable)."""

    train: list[int]
    select: list[int]  # empty: keep the last epoch
    test: list[int]
    source: str  # "validation", "held-out part of training", ON_TEST or "last epoch"

    def describe(self) -> str:
        if not self.select:
            return "the last epoch (no selection)"
        return f"best epoch on {len(self.select)} videos: {self.source}"


@dataclass
class RunResult:
    split: str
    best_epoch: int
    metrics: dict  # figures of the best epoch on the selection videos ("val_*")
    history: list[dict]
    model: WECL
    train_videos: int
    val_videos: int  # selection videos
    folder: Path | None = None
    seed: int = 0
    test_metrics: dict = field(default_factory=dict)  # "test_*", computed once after selection
    test_videos: int = 0
    selection: str = "validation"


@dataclass
class TrainSummary:
    runs: list[RunResult]
    summary: dict = field(default_factory=dict)


def build_config(source: WECLConfig, classes: list[str], opts: TrainOptions, training: str) -> WECLConfig:
    """The trained model's config: the source's backbones and input pipeline, the dataset's classes,
    the Table 2 switches. A single-modality model has no inter-modal relation (Table 2)."""
    data = source.to_dict()
    data.update(
        classes=list(classes), modalities=opts.modalities, intra=opts.intra,
        inter=opts.inter and opts.modalities == "both", erasing=opts.erasing, training=training,
        description=opts.description or data.get("description", ""),
    )
    if opts.theta is not None:
        data["theta"] = opts.theta
    if opts.keyframe_rule is not None:
        data["keyframe_rule"] = opts.keyframe_rule
    if opts.relation_dim is not None:
        data["relation_dim"] = opts.relation_dim
    if opts.dropout is not None:
        data["dropout"] = opts.dropout
    data["feature_norm"] = opts.feature_norm
    return WECLConfig.from_dict(data)


def load_source(table: FeatureTable) -> WECL:
    """The checkpoint the features came from; its backbones must still be those of the store."""
    ref = table.manifest["checkpoint"]
    spec = ref.get("path") if ref.get("path") and Path(ref["path"]).is_dir() else ref.get("id")
    if not spec or spec == "in-memory":
        raise WECLError("the feature store does not say which checkpoint made it; re-run extract with --checkpoint")
    source = WECL.from_pretrained(spec, ref.get("revision"))
    if source.backbone_key != table.manifest["backbone_key"]:
        raise WECLError(f"checkpoint {spec}: its backbones are not those the feature store was extracted with")
    return source


def new_model(source: WECL, config: WECLConfig) -> WECL:
    """A WECL with fresh heads and the source checkpoint's (frozen) backbones."""
    torch_state = torch.get_rng_state()
    model = WECL(config)
    torch.set_rng_state(torch_state)
    for name in ("visual_backbone", "audio_backbone"):
        mine, theirs = getattr(model, name), getattr(source, name)
        if mine is None:
            continue
        if theirs is None:
            raise WECLError(f"the source checkpoint has no {name.replace('_', ' ')}, which a {config.modalities!r} model needs")
        mine.load_state_dict(theirs.state_dict())
    return model


def make_optimizer(model: WECL, opts: TrainOptions) -> torch.optim.Optimizer:
    params = [p for p in model.heads.parameters() if p.requires_grad]
    if opts.optimizer == "sgd":
        return torch.optim.SGD(params, lr=opts.lr, momentum=opts.momentum, weight_decay=opts.weight_decay)
    if opts.optimizer == "adam":
        return torch.optim.Adam(params, lr=opts.lr, weight_decay=opts.weight_decay)
    raise WECLError(f"unknown optimizer {opts.optimizer!r} (sgd or adam)")


def _tensors(table: FeatureTable, config: WECLConfig, device: torch.device):
    v = torch.from_numpy(table.visual).to(device) if config.uses_visual else None  # (N, V, T, C)
    a = torch.from_numpy(table.audio).to(device) if config.uses_audio else None  # (N, T, C)
    if config.uses_visual and v is None or config.uses_audio and a is None:
        raise WECLError("the feature store lacks a modality this model needs")
    present = torch.from_numpy(table.has_audio).to(device)
    return v, a, present


def held_out_metrics(model: WECL, table: FeatureTable, indices: list[int], theta: float | None = None,
                     prefix: str = "val_") -> dict:
    """Loss and accuracy of x_o on view 0, and class-agnostic mAP of the detections (if ground truth)."""
    if not indices:
        return {}
    device = next(model.parameters()).device
    v, a, _ = _tensors(table, model.config, device)
    labels = torch.tensor([table.classes.index(table.labels[i]) for i in indices], device=device)
    model.eval()
    with torch.no_grad():
        out = model(None if v is None else v[indices, 0], None if a is None else a[indices])
        loss = float(F.cross_entropy(out.logits, labels))
    predictions, gt = predict_table(model, table, indices, theta)
    report = score(predictions, gt, table.classes)
    metrics = {f"{prefix}loss": loss, f"{prefix}accuracy": report["accuracy"]}
    for alpha, value in (report.get("mAP") or {}).items():
        metrics[f"{prefix}mAP@{alpha}"] = value
    return metrics


def _better(new: dict, old: dict | None, select: str) -> bool:
    if old is None:
        return True
    def key(m):
        acc = m.get("val_accuracy", 0.0)
        maps = [v for k, v in m.items() if k.startswith("val_mAP@") and v is not None and not math.isnan(v)]
        mean_map = float(np.mean(maps)) if maps else 0.0
        # "map": detection matters, but not at the price of the class (which the score multiplies)
        first = (acc, mean_map) if select == "accuracy" else (acc + mean_map, acc)
        return (*first, -m.get("val_loss", 0.0))
    return key(new) > key(old)


def train_split(
    table: FeatureTable,
    source: WECL,
    opts: TrainOptions,
    plan: Selection,
    split: str = "default",
    log: Callable[[dict], None] | None = None,
) -> RunResult:
    """Train fresh heads on `plan.train`; keep the epoch that does best on `plan.select` (the last
    epoch if none). `plan.test` is not touched here: `train` scores it once, after every choice."""
    train_idx, val_idx = plan.train, plan.select
    if not train_idx:
        raise WECLError(f"split {split}: no training videos in the feature store")
    unknown = sorted({table.labels[i] for i in train_idx + val_idx} - set(table.classes))
    if unknown:
        raise WECLError(f"split {split}: labels {unknown} are not among the dataset's classes {table.classes}")
    torch.manual_seed(opts.seed)
    rng = np.random.default_rng(opts.seed)
    training = "synthetic" if table.manifest["dataset"].get("synthetic") else "real"
    config = build_config(source.config, table.classes, opts, training)
    device = resolve_device(opts.device)
    model = new_model(source, config).to(device)
    optimizer = make_optimizer(model, opts)
    v, a, present = _tensors(table, config, device)
    for m, x in (("visual", v), ("audio", a)):
        if m in model.heads.norm:  # the training videos' statistics (every view; audio only where there is sound)
            rows = x[train_idx] if m == "visual" else x[[i for i in train_idx if table.has_audio[i]] or train_idx]
            model.heads.norm[m].set_statistics(rows)
    labels = torch.tensor([table.classes.index(x) if x in table.classes else -1 for x in table.labels], device=device)
    n_views = 1 if v is None else v.shape[1] if opts.views is None else max(1, min(opts.views, v.shape[1]))
    history, best, best_state = [], None, None
    for epoch in range(1, opts.epochs + 1):
        start = time.perf_counter()
        order = rng.permutation(train_idx)
        sums, correct, counts = _train_epoch(model, optimizer, (v, a, present, labels), order, n_views, opts.batch_size,
                                             rng, opts)
        row = {"split": split, "seed": opts.seed, "epoch": epoch, **{k: s / len(order) for k, s in sums.items()},
               "train_accuracy": correct / len(order), "lr": optimizer.param_groups[0]["lr"],
               # the keyframe sets of the training videos (logged with erasing off too): how many were
               # empty (their loss was 3 CE(x_o) under eq. 12 as written), the share of segments they
               # hold, and how many videos had their visual and audio attention peak in one segment
               "keyframe_rule": config.keyframe_rule, "empty_keyframes": counts["empty_keyframes"],
               "keyframe_share": counts["keyframe_share"] / len(order),
               "peaks_agree": counts.get("peaks_agree"),
               "selection": "last epoch" if not val_idx else f"{plan.source} ({len(val_idx)} videos)"}
        if not config.erasing:
            row["loss_keyframes"] = row["loss_left"] = None
        metrics = held_out_metrics(model, table, val_idx)
        row.update(metrics)
        row["seconds"] = time.perf_counter() - start
        history.append(row)
        if log:
            log(row)
        if not val_idx or _better(metrics, best, opts.select):
            best, best_state, best_epoch = metrics, copy.deepcopy(model.state_dict()), epoch
    model.load_state_dict(best_state)
    model.eval()
    model.to("cpu")
    return RunResult(split, best_epoch, best or {}, history, model, len(train_idx), len(val_idx), seed=opts.seed,
                     test_videos=len(plan.test), selection=plan.source if val_idx else "last epoch")


def _train_epoch(model: WECL, optimizer: torch.optim.Optimizer, data: tuple, order: np.ndarray, n_views: int,
                 batch_size: int, rng: np.random.Generator, opts: TrainOptions) -> tuple[dict[str, float], int, dict]:
    """One pass over `order` in mini-batches of eq. 12, each video on one random stored view:
    the summed losses, the videos classified right (x_o, eval mode) and the keyframe counts
    (`WECL.loss`' statistics, summed over the videos)."""
    v, a, present, labels = data
    device = labels.device
    model.train()
    sums = {"train_loss": 0.0, "loss_original": 0.0, "loss_keyframes": 0.0, "loss_left": 0.0}
    correct, counts = 0, {}
    for b in range(0, len(order), batch_size):
        idx = torch.as_tensor(order[b : b + batch_size], device=device)
        view = torch.as_tensor(rng.integers(n_views, size=len(idx)), device=device)
        xv = None if v is None else v[idx, view]  # (B, T, C): one random stored view per video
        xa = None if a is None else a[idx]
        loss, parts = model.loss(xv, xa, labels[idx], audio_present=present[idx], empty=opts.empty,
                                 reduction=opts.reduction)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        n = len(idx)
        sums["train_loss"] += loss.item() * n
        for name in ("original", "keyframes", "left"):
            if name in parts:
                sums[f"loss_{name}"] += parts[name].item() * n
        for name in ("empty_keyframes", "peaks_agree", "keyframe_share"):
            if name in parts:
                value = parts[name].item() * (n if name == "keyframe_share" else 1)
                counts[name] = counts.get(name, 0) + value
        with torch.no_grad():
            model.eval()
            correct += int((model(xv, xa).logits.argmax(-1) == labels[idx]).sum())
            model.train()
    return sums, correct, counts


def split_subsets(path: str | os.PathLike) -> dict[str, str]:
    """Video id -> "training" / "validation" / "testing" from an official split file (whose
    "validation" half is the test set when it has no "testing": `datasets.split_file_subsets`)."""
    return split_file_subsets(read_annotations(path, "split"), path)


def holdout(table: FeatureTable, train: list[int], share: float, seed: int) -> list[int]:
    """A seeded, class-balanced share of the training videos, held out for model selection. It
    depends only on the training videos' labels and the seed, never on the test subset."""
    rng = np.random.default_rng([seed, 20230601])
    held = []
    for label in sorted({table.labels[i] for i in train}, key=str):
        members = [i for i in train if table.labels[i] == label]
        n = int(round(share * len(members)))
        if len(members) >= 2:
            held += [members[j] for j in rng.permutation(len(members))[: max(1, min(n, len(members) - 1))]]
    return sorted(held)


def plan_selection(table: FeatureTable, subsets: list[str | None], opts: TrainOptions) -> Selection:
    """Training, selection and test videos of one split (see the module docstring)."""
    if opts.select not in SELECT:
        raise WECLError(f"--select must be one of {', '.join(SELECT)}, not {opts.select!r}")
    train = [i for i, s in enumerate(subsets) if s == "training"]
    vals = [i for i, s in enumerate(subsets) if s == "validation"]
    tests = [i for i, s in enumerate(subsets) if s == "testing"]
    if opts.select == "last":
        if opts.select_on_test:
            raise WECLError("--select last keeps the last epoch; it cannot also select on the test subset")
        return Selection(train, [], tests, "last epoch")
    if opts.select_on_test:
        if not tests:
            raise WECLError("--select-on-test: this split has no testing subset")
        return Selection(train, tests, tests, ON_TEST)
    if vals:
        return Selection(train, vals, tests, "validation")
    if not 0.0 < opts.holdout < 1.0:
        raise WECLError(f"--holdout must lie strictly between 0 and 1, not {opts.holdout}")
    held = holdout(table, train, opts.holdout, opts.seed)
    if not held:
        raise WECLError(f"no validation subset, and too few training videos ({len(train)}) to hold some out for "
                        "selection; use --select last")
    kept = sorted(set(train) - set(held))
    return Selection(kept, held, tests, f"held-out part of training ({opts.holdout:.0%}, seed {opts.seed})")


class CsvLog:
    """The per-epoch CSV log, flushed after every row so a running job can be watched."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = open(path, "w", newline="", encoding="utf-8")
        self.writer = csv.DictWriter(self.handle, LOG_COLUMNS, extrasaction="ignore")
        self.writer.writeheader()

    def __call__(self, row: dict) -> None:
        self.writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else ("" if v is None else v)) for k, v in row.items()})
        self.handle.flush()

    def close(self) -> None:
        self.handle.close()


def run_card(result: RunResult, table: FeatureTable, opts: TrainOptions, source_id: str, split_file: str | None) -> str:
    """The model card of a trained checkpoint: its data, split, selection, training settings and metrics."""
    c = result.model.config
    ds = table.manifest["dataset"]
    chosen = (f"best epoch chosen on {result.val_videos} videos: {result.selection}" if result.val_videos
              else "the last epoch kept (no selection)")
    data = (f"Dataset **{ds['name']}** ({ds['layout']} layout), classes {', '.join(table.classes)}; "
            f"split `{result.split}`" + (f" from `{split_file}`" if split_file else "")
            + f": {result.train_videos} training videos, {chosen}"
            + (f"; {result.test_videos} test videos, scored once after selection" if result.test_videos else "") + ". "
            f"Features from the frozen backbones of `{source_id}` ({table.visual.shape[1] if table.visual is not None else 1} "
            "stored views per video: centred + random clip positions/crops).")
    paper = all(getattr(opts, k) == v for k, v in PAPER_DEFAULTS.items() if k != "momentum")
    training = (f"Optimiser {opts.optimizer}, lr {opts.lr:g}, batch {opts.batch_size}, {opts.epochs} epochs "
                f"(best: epoch {result.best_epoch}"
                + (f" of the best of {opts.restarts} restarts, seed {result.seed}" if opts.restarts > 1 else "")
                + "), loss of eq. 12 "
                + ("(erasing on" + f", theta {c.theta:g}, keyframes {c.keyframe_rule})" if c.erasing
                   else "(erasing off: CE(x_o) only)")
                + (f", CE terms {opts.reduction}" if opts.reduction != "sum" else "")
                + (", videos without keyframes drop their x_k and x_l terms" if opts.empty == "drop" else "")
                + (", features standardised per channel with the training videos' statistics" if c.feature_norm else "")
                + ". " + (c.extra.get("convergence") or convergence(result.history))["verdict"].capitalize() + ". "
                + ("These are the paper's settings (4.2: mini-batch SGD, batch 32, lr 2e-4)." if paper else
                   "The paper trains with mini-batch SGD, batch 32, lr 2e-4 (4.2, the defaults of "
                   "`python -m wecl train`); this run changed them so that it trains in minutes on a CPU."))
    on_test = result.selection == ON_TEST
    selection_name = "test (selection)" if on_test else "selection"
    metrics = {"selection": result.selection, "selection videos": result.val_videos, "best epoch": result.best_epoch,
               "seed": result.seed}
    metrics.update({k.replace("val_", f"{selection_name} "): v for k, v in result.metrics.items()})
    if result.test_videos and not on_test:
        metrics["test videos"] = result.test_videos
        metrics.update({k.replace("test_", "test "): v for k, v in result.test_metrics.items()})
    note = ("**Selected on the test subset** (`--select-on-test`, the official code's protocol): these test "
            "figures chose the epoch, so they are optimistic.") if on_test else None
    return cards.model_card(c, metrics, data, training, note)


def train(
    store: str | os.PathLike,
    out_dir: str | os.PathLike,
    opts: TrainOptions,
    split_files: list[str] | None = None,
    echo: Callable[[str], None] | None = None,
) -> TrainSummary:
    """Train on a feature store; one run per split file (or the store's own subsets), each saved."""
    table = FeatureStore(store).load()
    source = load_source(table)
    source_id = source.checkpoint.id
    if Path(source_id).is_absolute():
        source_id = checkpoints.project_relative(source_id)  # no machine paths in the card
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    echo = echo or (lambda line: None)
    splits = [(Path(f).stem, f, split_subsets(f)) for f in split_files] if split_files else [("default", None, None)]
    log = CsvLog(out_dir / "train_log.csv")
    runs = []
    try:
        for name, split_file, subsets in splits:
            subset_list = table.subsets if subsets is None else [subsets.get(vid) for vid in table.ids]
            plan = plan_selection(table, subset_list, opts)
            if opts.restarts > 1 and not plan.select:
                raise WECLError("--restarts keeps the best run on the selection videos; with --select last there are none")
            echo(f"[{name}] {len(plan.train)} training videos; {plan.describe()}; {len(plan.test)} test videos")
            if plan.source == ON_TEST:
                echo(f"[{name}] WARNING: the best epoch is chosen on the TEST subset (--select-on-test, the official "
                     "code's protocol): its test figures are optimistic and not comparable to a test-blind run")

            def show(row, name=name):
                log(row)
                figs = ", ".join(f"{k} {row[k]:.3f}" for k in ("train_loss", "val_accuracy", "val_mAP@0.5")
                                 if row.get(k) is not None)
                echo(f"[{name}] epoch {row['epoch']:3d}  {figs}  ({row['seconds']:.1f} s)")

            result = None
            for restart in range(max(1, opts.restarts)):
                # Attention learning (eq. 7) depends on the initialisation: restarts keep the best.
                trial = train_split(table, source, replace(opts, seed=opts.seed + restart), plan, name, show)
                if result is None or _better(trial.metrics, result.metrics, opts.select):
                    result = trial
            # Test figures once, after the epoch and the restart are chosen: they never choose
            # anything (unless --select-on-test said so).
            result.test_metrics = held_out_metrics(result.model, table, plan.test, prefix="test_")
            folder = out_dir if len(splits) == 1 else out_dir / name
            result.folder = folder
            # the checkpoint says whether its run levelled off (`evaluate` reports it)
            result.model.config.extra["convergence"] = convergence(result.history)
            checkpoints.save(result.model, folder, run_card(result, table, opts, source_id, split_file))
            if result.test_metrics:
                echo(f"[{name}] test ({result.test_videos} videos, once, after selection): "
                     + ", ".join(f"{k} {v:.3f}" for k, v in result.test_metrics.items() if isinstance(v, float)))
            runs.append(result)
    finally:
        log.close()
    summary = summarise(runs, opts)
    atomic_write_text(out_dir / "summary.json", json.dumps(summary, indent=2) + "\n")
    return TrainSummary(runs, summary)


def convergence(history: list[dict], last: int = 10, tolerance: float = 0.05) -> dict:
    """Whether the training loss has levelled off: the least-squares slope of `train_loss` over the
    last `last` epochs, and the change it makes over them as a share of the loss's whole descent
    (first epoch to lowest; the first epoch's loss if it never fell). Converged when that share is
    under `tolerance` (5 %). Measured against the descent, not the current loss, so a loss that has
    fallen close to zero and jitters there reads as levelled off."""
    losses = [r["train_loss"] for r in history if r.get("train_loss") is not None]
    tail = np.asarray(losses[-last:], np.float64)
    if len(tail) < 3:
        return {"epochs": len(losses), "converged": None,
                "verdict": f"not judged: {len(losses)} epochs, at least 3 are needed"}
    slope = float(np.polyfit(np.arange(len(tail)), tail, 1)[0])
    descent = losses[0] - min(losses)
    scale = descent if descent > 0 else abs(losses[0])
    change = slope * (len(tail) - 1) / max(scale, 1e-12)
    converged = abs(change) < tolerance
    verdict = (f"{'converged' if converged else 'still moving'}: over the last {len(tail)} of {len(losses)} epochs the "
               f"training loss moved {100 * change:+.1f} % of its descent (slope {slope:+.4f} per epoch)")
    return {"epochs": len(losses), "last_epochs": len(tail), "loss_slope": slope, "relative_change": change,
            "converged": converged, "verdict": verdict}


def summarise(runs: list[RunResult], opts: TrainOptions) -> dict:
    """Per-split figures of the selected epoch, on the selection videos ("val_*") and on the test
    subset ("test_*"), and their mean ± std (VideoEmotion-8 reports the mean of ten splits)."""
    figures = [{**r.metrics, **r.test_metrics} for r in runs]
    keys = sorted({k for f in figures for k in f})
    mean_std = {}
    for k in keys:
        values = [f[k] for f in figures if f.get(k) is not None and not math.isnan(f[k])]
        if values:
            mean_std[k] = {"mean": float(np.mean(values)), "std": float(np.std(values)), "n": len(values)}
    summary = {
        "options": asdict(opts),
        "selection": sorted({r.selection for r in runs}),
        "runs": [{"split": r.split, "seed": r.seed, "best_epoch": r.best_epoch, "folder": str(r.folder),
                  "train_videos": r.train_videos, "selection": r.selection, "val_videos": r.val_videos,
                  "test_videos": r.test_videos, "convergence": convergence(r.history), **f}
                 for r, f in zip(runs, figures)],
        "mean_std": mean_std,
    }
    if opts.select_on_test:
        summary["warning"] = ("selected on the test subset (--select-on-test, the official code's protocol): "
                              "the test figures chose the epoch and are optimistic")
    return summary


def push_to_hub(folder: str | os.PathLike, repo_id: str, private: bool = False, token: str | None = None) -> str:
    """Publish a trained checkpoint folder (`wecl.hub.push_checkpoint`); returns the commit URL.
    The folder stays where it is whatever happens, and the message says so."""
    try:
        return push_checkpoint(folder, repo_id, private=private, token=token).commit_url
    except WECLError as error:
        raise WECLError(f"{error} (the checkpoint is saved in {folder}; push it later with "
                        f"`python -m wecl push {folder} {repo_id}`)") from None
