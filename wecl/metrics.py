"""Evaluation: temporal IoU, detection AP (paper 4.5, Table 3), the Frame-Transformer protocol,
classification accuracy. Pure functions; inputs are the annotation sets of `wecl.annotations`.

All APs are fractions in [0, 1]; "AP@alpha" dicts are keyed by `f"{alpha:g}"` ("0.1" … "0.5").
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from wecl.annotations import Segment, VideoAnnotation
from wecl.errors import WECLError

ALPHAS = (0.1, 0.2, 0.3, 0.4, 0.5)

Interval = tuple[float, float]
Prediction = tuple[str, float, float, float]  # (video id, start, end, score)
GroundTruth = tuple[str, float, float]  # (video id, start, end)
AnnotationSet = Mapping[str, VideoAnnotation]


def union(intervals: Sequence[Interval]) -> list[Interval]:
    """The union of (start, end) intervals as sorted, disjoint intervals; empty ones are dropped."""
    merged: list[list[float]] = []
    for s, e in sorted(intervals):
        if e <= s:
            continue
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    return [(s, e) for s, e in merged]


def total_length(intervals: Sequence[Interval]) -> float:
    """Seconds covered by disjoint intervals (a `union`)."""
    return float(sum(e - s for s, e in intervals))


def overlap_seconds(a: Sequence[Interval], b: Sequence[Interval]) -> float:
    """Seconds where two sets of disjoint intervals (each a `union`) overlap."""
    return float(sum(max(0.0, min(e1, e2) - max(s1, s2)) for s1, e1 in a for s2, e2 in b))


def covered_fraction(interval: Interval, intervals: Sequence[Interval]) -> float:
    """The fraction of `interval` inside the union of `intervals` (0 for an empty interval)."""
    start, end = interval
    return overlap_seconds([interval], union(intervals)) / (end - start) if end > start else 0.0


def tiou(a: Interval, b: Interval) -> float:
    """Temporal intersection over union of two (start, end) intervals."""
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = (a[1] - a[0]) + (b[1] - b[0]) - inter
    # Two zero-length intervals have no measurable overlap: 0, not a division by zero.
    return inter / union if union > 0 else 0.0


def tiou_matrix(a: Sequence[Interval] | np.ndarray, b: Sequence[Interval] | np.ndarray) -> np.ndarray:
    """tIoU of every interval of `a` (rows) with every interval of `b` (columns)."""
    a = np.asarray(a, dtype=float).reshape(-1, 2)  # (N, 2)
    b = np.asarray(b, dtype=float).reshape(-1, 2)  # (M, 2)
    inter = np.clip(np.minimum(a[:, None, 1], b[None, :, 1]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    union = (a[:, 1] - a[:, 0])[:, None] + (b[:, 1] - b[:, 0])[None, :] - inter  # (N, M)
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def interpolated_ap(tp: Sequence[bool], n_positives: int) -> float:
    """VOC/ActivityNet AP of ranked hits: precision made non-increasing, summed over recall steps."""
    if n_positives == 0:
        return math.nan
    hits = np.asarray(tp, dtype=float)
    if hits.size == 0:
        return 0.0
    tp_cum = np.cumsum(hits)
    precision = tp_cum / np.arange(1, hits.size + 1)
    recall = tp_cum / n_positives
    mprec = np.concatenate([[0.0], precision, [0.0]])
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mprec = np.maximum.accumulate(mprec[::-1])[::-1]
    steps = np.flatnonzero(mrec[1:] != mrec[:-1]) + 1
    return float(np.sum((mrec[steps] - mrec[steps - 1]) * mprec[steps]))


def rank_by_score(scores: Sequence[float]) -> np.ndarray:
    """Indices by descending score; ties keep their input order (a stable sort)."""
    return np.argsort(-np.asarray(scores, dtype=float), kind="stable")


def average_precision(predictions: Sequence[Prediction], ground_truth: Sequence[GroundTruth],
                      alpha: float) -> float:
    """ActivityNet detection AP at tIoU threshold `alpha`.

    Predictions are ranked by score over the whole dataset (ties: input order). Each is a true
    positive when the best-overlapping ground-truth segment of its video not yet matched has
    tIoU >= alpha, which it then claims; otherwise (including videos without ground truth) a false
    positive. No predictions: 0.0. No ground truth at all: nan (undefined), which means skip.
    """
    gt_by_video: dict[str, list[Interval]] = {}
    for vid, start, end in ground_truth:
        gt_by_video.setdefault(vid, []).append((start, end))
    matched = {vid: np.zeros(len(segs), dtype=bool) for vid, segs in gt_by_video.items()}
    order = rank_by_score([p[3] for p in predictions])
    tp = [_match(predictions[i], gt_by_video, matched, alpha) for i in order]
    return interpolated_ap(tp, len(ground_truth))


def _match(pred: Prediction, gt_by_video: dict[str, list[Interval]],
           matched: dict[str, np.ndarray], alpha: float) -> bool:
    """Claim the best still-unmatched GT segment with tIoU >= alpha; True when one was claimed."""
    vid, start, end, _ = pred
    if vid not in gt_by_video:
        return False
    overlaps = tiou_matrix([(start, end)], gt_by_video[vid])[0]
    overlaps[matched[vid]] = -1.0  # already claimed by a higher-ranked prediction
    best = int(np.argmax(overlaps))
    if overlaps[best] < alpha:
        return False
    matched[vid][best] = True
    return True


def _alpha_key(alpha: float) -> str:
    return f"{alpha:g}"


def _predictions_of(pred_sets: AnnotationSet, label: str | None = None) -> list[Prediction]:
    """Flatten predicted segments (optionally of one class) into (video, start, end, score)."""
    out = []
    for vid, ann in pred_sets.items():
        for seg in ann.segments:
            if label is not None and _label(seg, ann) != label:
                continue
            if seg.score is None:
                raise WECLError(f'video "{vid}": a predicted segment has no score, so it cannot be ranked')
            out.append((vid, seg.start, seg.end, seg.score))
    return out


def _ground_truth_of(gt_sets: AnnotationSet, label: str | None = None) -> list[GroundTruth]:
    return [
        (vid, seg.start, seg.end)
        for vid, ann in gt_sets.items() for seg in ann.segments
        if label is None or _label(seg, ann) == label
    ]


def _label(seg: Segment, ann: VideoAnnotation) -> str | None:
    # A segment without its own label carries the video's emotion.
    return seg.label if seg.label is not None else ann.label


def class_agnostic_map(pred_sets: AnnotationSet, gt_sets: AnnotationSet,
                       alphas: Sequence[float] = ALPHAS) -> dict[str, float]:
    """The paper's protocol (Table 3): AP at each alpha with labels ignored."""
    preds, gts = _predictions_of(pred_sets), _ground_truth_of(gt_sets)
    return {_alpha_key(a): average_precision(preds, gts, a) for a in alphas}


@dataclass
class PerClassMAP:
    """ActivityNet's standard: AP per class and their mean, each keyed by alpha."""

    mean: dict[str, float]
    per_class: dict[str, dict[str, float]]


def per_class_map(pred_sets: AnnotationSet, gt_sets: AnnotationSet,
                  alphas: Sequence[float] = ALPHAS) -> PerClassMAP:
    """AP per class label (a segment without a label takes its video's), mean over GT classes.

    Classes are those of the ground-truth segments; predictions of a class absent from the ground
    truth are ignored (their AP is undefined, and they cannot hurt any other class). Ground-truth
    segments with no label at all are left out.
    """
    classes = sorted({lbl for vid, ann in gt_sets.items() for s in ann.segments
                      if (lbl := _label(s, ann)) is not None})
    per_class = {
        c: {_alpha_key(a): average_precision(_predictions_of(pred_sets, c), _ground_truth_of(gt_sets, c), a)
            for a in alphas}
        for c in classes
    }
    mean = {_alpha_key(a): _mean([per_class[c][_alpha_key(a)] for c in classes]) for a in alphas}
    return PerClassMAP(mean, per_class)


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if values else math.nan


@dataclass
class RecallAP:
    """Frame-Transformer protocol results, each keyed by alpha."""

    recall: dict[str, float]
    ap: dict[str, float]


def frame_transformer_recall(pred_sets: AnnotationSet, gt_sets: AnnotationSet,
                             alphas: Sequence[float] = ALPHAS) -> RecallAP:
    """Gao et al.'s protocol: the top-scoring predicted segment of each video is a hit when its
    tIoU with any GT segment of the video reaches alpha; recall over videos, and AP with videos
    ranked by that segment's score.

    Videos are those with at least one GT segment; one without a prediction is a miss. Predictions
    for other videos are ignored. Ties in score: the first segment of a video, then video order.
    """
    videos = [vid for vid, ann in gt_sets.items() if ann.segments]
    best: dict[str, Segment] = {}
    for vid in videos:
        seg = _top_segment(pred_sets[vid]) if vid in pred_sets else None
        if seg is not None:
            best[vid] = seg
    predicted = list(best)
    ranked = [predicted[i] for i in rank_by_score([best[v].score for v in predicted])]
    recall, ap = {}, {}
    for a in alphas:
        hits = [_hit(best[v], gt_sets[v], a) for v in ranked]
        recall[_alpha_key(a)] = sum(hits) / len(videos) if videos else math.nan
        ap[_alpha_key(a)] = interpolated_ap(hits, len(videos))
    return RecallAP(recall, ap)


def _top_segment(ann: VideoAnnotation) -> Segment | None:
    if not ann.segments:
        return None
    if any(s.score is None for s in ann.segments):
        raise WECLError(f'video "{ann.video_id}": a predicted segment has no score, so it cannot be ranked')
    return ann.segments[int(rank_by_score([s.score for s in ann.segments])[0])]


def _hit(seg: Segment, gt: VideoAnnotation, alpha: float) -> bool:
    return bool(tiou_matrix([(seg.start, seg.end)], [(s.start, s.end) for s in gt.segments]).max() >= alpha)


@dataclass
class ClassificationReport:
    """Accuracy, accuracy within each true class (nan where the class never occurs), confusion."""

    classes: list[str]
    accuracy: float
    per_class_accuracy: dict[str, float]
    confusion: list[list[int]]  # rows: true class, columns: predicted class, in `classes` order


def classification_report(true_labels: Sequence[str], pred_labels: Sequence[str],
                          classes: Sequence[str]) -> ClassificationReport:
    """Video-level accuracy (paper Table 1) with per-class accuracy and the confusion matrix."""
    if len(true_labels) != len(pred_labels):
        raise WECLError(f"{len(true_labels)} true labels but {len(pred_labels)} predictions")
    index = {c: i for i, c in enumerate(classes)}
    unknown = sorted({x for x in (*true_labels, *pred_labels) if x not in index})
    if unknown:
        raise WECLError(f"labels not in the class list {list(classes)}: {unknown}")
    confusion = np.zeros((len(classes), len(classes)), dtype=int)
    for t, p in zip(true_labels, pred_labels):
        confusion[index[t], index[p]] += 1
    totals = confusion.sum(axis=1)
    per_class = {c: float(confusion[i, i] / totals[i]) if totals[i] else math.nan for c, i in index.items()}
    accuracy = float(np.trace(confusion) / len(true_labels)) if len(true_labels) else math.nan
    return ClassificationReport(list(classes), accuracy, per_class, confusion.tolist())
