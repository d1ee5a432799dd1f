"""Does the attention point at what matters? Causal evidence from one video's cached features.

Attention shows where the model looks; it is not evidence that those segments drive the
prediction (Jain & Wallace 2019; ROAR, Hooker et al. 2019). Here each segment's part in the
prediction is measured by taking it away and running the heads again, which costs milliseconds on
cached backbone features:

- `perturb`: a video's (T, C) features with some segments taken away, in one of three ways:
  `remove` (the rest resampled back to T segments exactly as erasing does, `erasing.resample_indices`:
  the perturbation WECL was trained on), `mean` (the video's mean feature in their place) or
  `zeros`. Under `remove`, taking every segment away leaves nothing to resample: that video is zeros.
- `leave_one_out`: p(c) of the full video minus p(c) without segment t, c the unperturbed top-1
  (the Video tab draws it as a third track on the attention timeline).
- `curves`: deletion and insertion curves over segments (RISE's, Petsiuk et al. 2018): order the
  segments by a score, remove the k first for k = 0..T (deletion), or start from all removed and
  restore them in the same order (insertion), recording p_k = P(c). `auc` is the trapezoid
  (Σp_k − (p_0 + p_T)/2) / T: lower is better for deletion, higher for insertion.
- `video_faithfulness`: every figure of one video in batched scorer calls: the curves of the
  attention orders (fused A*, each modality's), leave-one-out, chronological and N seeded random
  orders (mean and 5-95 % band), Kendall's τ between attention and leave-one-out, whether the
  most-attended segment lies in ground-truth time, and the comprehensiveness (share of p(c) lost
  when the keyframes alone are removed) and sufficiency (share kept by the keyframes alone).

These are ranking metrics on perturbed inputs: a perturbation the model never saw (`mean`,
`zeros`) may move the prediction for reasons of its own, and a good deletion curve shows that the
order matters, not why.

A `Scorer` is any function from a batch of features, (B, T, C_v) and (B, T, C_a) (None for a
modality the model lacks), to class probabilities (B, classes): `heads_scorer(model)` for a WECL.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from wecl.errors import WECLError

PERTURBATIONS = ("remove", "mean", "zeros")
Scorer = Callable[[np.ndarray | None, np.ndarray | None], np.ndarray]
N_RANDOM = 50


def check_perturbation(how: str) -> str:
    if how not in PERTURBATIONS:
        raise WECLError(f"perturbation must be one of {', '.join(PERTURBATIONS)}, not {how!r}")
    return how


def perturb(features: np.ndarray | None, removed: np.ndarray, how: str = "remove") -> np.ndarray | None:
    """One video's (T, C) features with the segments where `removed` (T,) bool is true taken away."""
    if features is None:
        return None
    removed = np.asarray(removed, bool)
    t = features.shape[0]
    if not removed.any():
        return features
    if check_perturbation(how) == "zeros" or (how == "remove" and removed.all()):
        out = features.copy()
        out[removed] = 0.0
        return out
    if how == "mean":
        out = features.copy()
        out[removed] = features.mean(axis=0)
        return out
    kept = np.flatnonzero(~removed)  # "the left segments form a new UGV": resampled to T by nearest index
    return features[kept[np.arange(t) * kept.size // t]]


# Features of perturbed videos stacked for one scorer call, at most: a checkpoint at the config's
# limits (T = 64, 1,024-wide features) would otherwise stack gigabytes for one video's curves.
MAX_BATCH_BYTES = 64 * 2**20


def probabilities(scorer: Scorer, visual: np.ndarray | None, audio: np.ndarray | None, removed: np.ndarray,
                  how: str = "remove") -> np.ndarray:
    """P(classes) for each row of `removed` (B, T) bool -> (B, classes), in as few scorer calls as
    MAX_BATCH_BYTES allows."""
    removed = np.atleast_2d(np.asarray(removed, bool))
    video_bytes = sum(f.size * 4 for f in (visual, audio) if f is not None)  # float32 when scored
    step = max(1, MAX_BATCH_BYTES // max(1, video_bytes))
    stack = lambda f, rows: None if f is None else np.stack([perturb(f, r, how) for r in rows])  # noqa: E731
    return np.concatenate([np.asarray(scorer(stack(visual, removed[i:i + step]), stack(audio, removed[i:i + step])),
                                      np.float64) for i in range(0, len(removed), step)])


def without(scorer: Scorer, visual: np.ndarray | None, audio: np.ndarray | None, removed: Sequence[int],
            how: str = "remove") -> tuple[np.ndarray, np.ndarray]:
    """(P(classes) of the whole video, P(classes) with the segments `removed` taken away), in one scorer call."""
    t = len(visual if visual is not None else audio)
    masks = np.zeros((2, t), bool)
    masks[1, list(removed)] = True
    whole, erased = probabilities(scorer, visual, audio, masks, how)
    return whole, erased


def heads_scorer(model) -> Scorer:
    """A WECL's heads as a `Scorer` (eval mode, no gradient, softmax over its classes)."""
    import torch

    def score(visual: np.ndarray | None, audio: np.ndarray | None) -> np.ndarray:
        as_tensor = lambda a: None if a is None else torch.from_numpy(np.asarray(a, np.float32)).to(model.device)  # noqa: E731
        was_training = model.heads.training
        model.heads.eval()
        try:
            with torch.inference_mode():
                logits = model.forward_head(as_tensor(visual), as_tensor(audio)).logits.float()
        finally:
            model.heads.train(was_training)
        return torch.softmax(logits, -1).cpu().numpy()

    return score


def leave_one_out(scorer: Scorer, visual: np.ndarray | None, audio: np.ndarray | None, how: str = "remove"
                  ) -> tuple[np.ndarray, int, np.ndarray]:
    """(the whole video's probabilities, its top-1 c, per segment t: p(c) − p(c without t)), from
    one scorer call of 1 + T videos."""
    t = len(visual if visual is not None else audio)
    masks = np.vstack([np.zeros((1, t), bool), np.eye(t, dtype=bool)])
    p = probabilities(scorer, visual, audio, masks, how)
    target = int(p[0].argmax())
    return p[0], target, p[0, target] - p[1:, target]


def auc(p: Sequence[float]) -> float:
    """(Σp_k − (p_0 + p_T)/2) / T for a curve of T + 1 points: the trapezoid area on [0, 1]."""
    p = np.asarray(p, np.float64)
    if p.size < 2:
        raise WECLError("a curve needs at least two points")
    return float((p.sum() - (p[0] + p[-1]) / 2) / (p.size - 1))


def curve_masks(order: Sequence[int], t: int, kind: str) -> np.ndarray:
    """(T + 1, T) bool: the segments removed at each step k = 0..T of a deletion curve (the k first
    of `order`) or an insertion curve (all but the k first)."""
    order = np.asarray(order, int)
    if sorted(order.tolist()) != list(range(t)):
        raise WECLError(f"an order must hold each of the {t} segments once")
    masks = np.zeros((t + 1, t), bool)
    for k in range(1, t + 1):
        masks[k, order[:k]] = True
    if kind == "insertion":
        return ~masks
    if kind != "deletion":
        raise WECLError(f"a curve is a deletion or an insertion curve, not {kind!r}")
    return masks


def random_orders(t: int, n: int = N_RANDOM, seed: int = 0) -> np.ndarray:
    """(n, T) orders drawn from `seed` alone: the same seed gives the same orders."""
    rng = np.random.default_rng(seed)
    return np.stack([rng.permutation(t) for _ in range(n)]) if n else np.zeros((0, t), int)


def ranking(scores: Sequence[float]) -> np.ndarray:
    """Segments from the highest score to the lowest (ties: the earlier segment first)."""
    scores = np.nan_to_num(np.asarray(scores, np.float64), nan=-np.inf)
    return np.argsort(-scores, kind="stable")


def kendall_tau(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Kendall's τ-b between two scorings of the same segments (None when one is constant)."""
    from scipy.stats import kendalltau

    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    return float(kendalltau(a, b).statistic)


def in_truth(segment: int, spans: Sequence[tuple[float, float]], truth: Sequence[tuple[float, float]]) -> bool:
    """Whether a segment's span overlaps any ground-truth interval."""
    start, end = spans[segment]
    return any(min(end, e) > max(start, s) for s, e in truth)


def video_faithfulness(scorer: Scorer, visual: np.ndarray | None, audio: np.ndarray | None,
                       attention: dict[str, Sequence[float]], spans: Sequence[tuple[float, float]],
                       truth: Sequence[tuple[float, float]] = (), keyframes: Sequence[bool] | None = None,
                       how: str = "remove", n_random: int = N_RANDOM, seed: int = 0) -> dict:
    """Every faithfulness figure of one video (module docstring), from two scorer calls.

    `attention`: named per-segment scores to test as orders, e.g. {"fused": …, "visual": …,
    "audio": …} (a modality the model lacks or the video has no sound for is left out);
    `keyframes`: the eq. 9 keyframe mask, for comprehensiveness and sufficiency."""
    check_perturbation(how)
    t = len(spans)
    base, target, loo = leave_one_out(scorer, visual, audio, how)
    orders = {f"attention: {name}": ranking(scores) for name, scores in attention.items()}
    orders["leave-one-out"] = ranking(loo)
    orders["chronological"] = np.arange(t)
    randoms = random_orders(t, n_random, seed)
    named = list(orders.items()) + [(f"random {i}", o) for i, o in enumerate(randoms)]
    masks = [curve_masks(order, t, kind) for _, order in named for kind in ("deletion", "insertion")]
    extra = []
    if keyframes is not None and np.any(keyframes):
        key = np.asarray(keyframes, bool)
        extra = [key, ~key]  # the keyframes removed; everything but them removed
    flat = np.concatenate(masks + ([np.stack(extra)] if extra else []))
    p = probabilities(scorer, visual, audio, flat, how)[:, target]
    curves, at = {}, 0
    for name, _ in named:
        curves[name] = {"deletion": p[at:at + t + 1].tolist(), "insertion": p[at + t + 1:at + 2 * (t + 1)].tolist()}
        at += 2 * (t + 1)
    out: dict = {
        "perturbation": how,
        "target": target,
        "p_full": float(base[target]),
        "leave_one_out": loo.tolist(),
        "orders": {},
    }
    for name in orders:
        out["orders"][name] = {**curves[name], "deletion_auc": auc(curves[name]["deletion"]),
                               "insertion_auc": auc(curves[name]["insertion"]), "order": orders[name].tolist()}
    if n_random:
        dele = np.array([curves[f"random {i}"]["deletion"] for i in range(n_random)])
        ins = np.array([curves[f"random {i}"]["insertion"] for i in range(n_random)])
        out["orders"]["random"] = {
            "deletion": dele.mean(0).tolist(), "insertion": ins.mean(0).tolist(),
            "deletion_band": np.percentile(dele, [5, 95], axis=0).tolist(),
            "insertion_band": np.percentile(ins, [5, 95], axis=0).tolist(),
            "deletion_auc": float(np.mean([auc(c) for c in dele])),
            "insertion_auc": float(np.mean([auc(c) for c in ins])),
            "n": n_random, "seed": seed,
        }
    first = next(iter(attention), None)
    if first is not None:
        main = out["orders"][f"attention: {first}"]
        out["kendall_tau"] = kendall_tau(attention[first], loo)
        if n_random:
            out["deletion_gap_to_random"] = out["orders"]["random"]["deletion_auc"] - main["deletion_auc"]
            out["insertion_gap_to_random"] = main["insertion_auc"] - out["orders"]["random"]["insertion_auc"]
        out["hit"] = in_truth(int(main["order"][0]), spans, truth) if truth else None
    if extra:
        full = max(float(base[target]), 1e-12)
        without, only = float(p[-2]), float(p[-1])
        out["comprehensiveness"] = (full - without) / full
        out["sufficiency"] = only / full
    return out


def video_attention(result: dict) -> dict[str, list[float]]:
    """The attention orders of one result JSON: fused A* (the mean of the modalities it has) first,
    then each modality's; a modality with no numbers (no such stream, no sound) is left out."""
    segments = result["segments"]
    own = {name: [s[f"{name}_attention_norm"] for s in segments] for name in ("visual", "audio")
           if all(s[f"{name}_attention_norm"] is not None for s in segments)}
    if len(own) > 1:
        return {"fused": np.mean(list(own.values()), axis=0).tolist(), **own}
    return own


def dataset_faithfulness(per_video: dict[str, dict], labels: dict[str, str | None] | None = None) -> dict:
    """The figures of many videos' `video_faithfulness`: per order, the mean deletion and insertion
    AUC with their standard deviation; the mean Kendall's τ and its values; the hit rate; the share of
    videos whose attention beats the mean of its random orders (a lower deletion AUC); and, with
    `labels` (video -> ground-truth class), the mean AUCs of the attention order per class."""
    if not per_video:
        return {"videos": 0}
    outs = list(per_video.values())
    found: dict[str, list[dict]] = {}  # the main attention order is "attention", leave-one-out "loo"
    for out in outs:
        main = main_order(out)
        for name, order in out["orders"].items():
            found.setdefault("attention" if name == main else {"leave-one-out": "loo"}.get(name, name), []).append(order)
    orders = {key: {f"{kind}_auc{stat}": float(fn([o[f"{kind}_auc"] for o in values]))
                    for kind in ("deletion", "insertion") for stat, fn in (("", np.mean), ("_std", np.std))}
              for key, values in found.items()}
    taus = [out["kendall_tau"] for out in outs if out.get("kendall_tau") is not None]
    hits = [out["hit"] for out in outs if out.get("hit") is not None]
    beats = [out["orders"][main_order(out)]["deletion_auc"] < out["orders"]["random"]["deletion_auc"]
             for out in outs if main_order(out) and "random" in out["orders"]]
    result = {
        "videos": len(outs),
        "perturbation": outs[0]["perturbation"],
        "orders": orders,
        "kendall_tau": float(np.mean(taus)) if taus else None,
        "kendall_taus": taus,
        "hit_rate": float(np.mean(hits)) if hits else None,
        "attention_beats_random": float(np.mean(beats)) if beats else None,
    }
    if labels:
        per_class: dict[str, list[dict]] = {}
        for vid, out in per_video.items():
            if labels.get(vid) is not None and main_order(out):
                per_class.setdefault(labels[vid], []).append(out["orders"][main_order(out)])
        result["per_class"] = {c: {"videos": len(v), "deletion_auc": float(np.mean([o["deletion_auc"] for o in v])),
                                   "insertion_auc": float(np.mean([o["insertion_auc"] for o in v]))}
                               for c, v in sorted(per_class.items())}
    return result


def main_order(out: dict) -> str | None:
    """The name of a video's main attention order (the first one given: fused when both modalities count)."""
    return next((name for name in out["orders"] if name.startswith("attention: ")), None)
