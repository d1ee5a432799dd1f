"""Scoring predictions against ground truth, the one place `python -m wecl evaluate`, `batch`, the
app's Dataset tab and another model's imported scores are scored.

Figures (all from `wecl.metrics`): video-level accuracy with per-class accuracy and the confusion
matrix (paper Table 1); detection mAP@tIoU, class-agnostic as in the paper (Table 3, "mAP") and
ActivityNet's per-class mean ("mAP_per_class"); Gao et al.'s Frame-Transformer protocol
("frame_transformer": recall and AP of each video's top segment). A theta sweep (paper Fig. 3)
re-runs only the heads on the cached features of every video (`inference.explain`).

Predictions are an annotation set: per video its predicted label (`VideoAnnotation.label`) and its
detections (segments with scores); `wecl.annotations.write_prediction_file` writes them. Nothing
here trains: `wecl.training.evaluate` adds what needs a feature store or a dataset.
"""
from __future__ import annotations

import math
import os
from typing import Sequence

from wecl.annotations import (
    AnnotationSet,
    Segment,
    VideoAnnotation,
    read_annotations,
    scores,
)
from wecl.detection import RULE_TITLES
from wecl.errors import WECLError
from wecl.inference import explain
from wecl.metrics import ALPHAS, class_agnostic_map, classification_report, frame_transformer_recall, per_class_map
from wecl.schema import Result

__all__ = ["ALPHAS", "NO_PREDICTION", "THETAS", "format_report", "format_sweep", "pick_model", "predict_features",
           "prediction_of", "score", "score_files", "score_sweep", "score_track", "sweep_predictions", "theta_sweep"]

NO_PREDICTION = "(none)"


THETAS = tuple(round(x * 0.1, 1) for x in range(11))


def prediction_of(result_json: Result, video_id: str) -> VideoAnnotation:
    """One result (docs/formats.md#result-json) as a predicted annotation: top-1 label and detections."""
    segments = [Segment(d["start"], d["end"], d["label"], d["score"]) for d in result_json["detections"]]
    return VideoAnnotation(video_id, result_json["video"]["duration"], result_json["prediction"], None, segments)


def predict_features(model, features: dict, theta: float | None = None, rounds: int = 1,
                     keyframe_rule: str | None = None) -> AnnotationSet:
    return {vid: prediction_of(explain(f, model, theta, rounds, keyframe_rule).json, vid) for vid, f in features.items()}


def _clean(value):
    """NaN (undefined, e.g. a class without ground truth) becomes null in JSON."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def score(predictions: AnnotationSet, ground_truth: AnnotationSet, classes: Sequence[str] | None = None,
          strict: bool = False) -> dict:
    """Every figure of a prediction set against ground truth; keys as in `--json OUT`.

    Detection figures count only the videos with ground-truth segments when some have none (an
    annotation file that covers part of a test set): a detection in a video nobody annotated is not
    known to be wrong. `strict` counts every video, so those detections are false positives; the
    result says which ("detection_videos", "unannotated_videos", "unannotated")."""
    labelled = [vid for vid, ann in ground_truth.items() if ann.label is not None]
    true = [ground_truth[vid].label for vid in labelled]
    pred = [predictions[vid].label if vid in predictions and predictions[vid].label is not None else NO_PREDICTION
            for vid in labelled]
    classes = list(classes) if classes else sorted(set(true) | (set(pred) - {NO_PREDICTION}))
    extra = sorted((set(pred) | set(true)) - set(classes))
    report_classes = classes + extra
    out: dict = {"videos": len(ground_truth), "classes": classes}
    if labelled:
        report = classification_report(true, pred, report_classes)
        out.update(accuracy=report.accuracy,
                   per_class_accuracy={c: report.per_class_accuracy[c] for c in classes},
                   confusion={"classes": report.classes, "matrix": report.confusion})
        if NO_PREDICTION in extra:
            out["videos_without_prediction"] = pred.count(NO_PREDICTION)
    else:
        out.update(accuracy=None, per_class_accuracy={}, confusion=None)
    annotated = {vid for vid, ann in ground_truth.items() if ann.segments}
    if annotated:
        if not strict and len(annotated) < len(ground_truth):
            predictions = {vid: ann for vid, ann in predictions.items() if vid in annotated}
            ground_truth = {vid: ann for vid, ann in ground_truth.items() if vid in annotated}
        out.update(detection_videos=len(ground_truth), unannotated_videos=out["videos"] - len(annotated),
                   unannotated="counted: their detections are false positives" if strict else "left out")
        per_class = per_class_map(predictions, ground_truth)
        out["mAP"] = class_agnostic_map(predictions, ground_truth)
        out["mAP_per_class"] = per_class.mean
        out["AP_per_class"] = per_class.per_class
        ft = frame_transformer_recall(predictions, ground_truth)
        out["frame_transformer"] = {"recall": ft.recall, "AP": ft.ap}
    else:
        out["mAP"] = out["mAP_per_class"] = out["frame_transformer"] = None
    return _clean(out)


def theta_sweep(model, features: dict, ground_truth: AnnotationSet, thetas: Sequence[float] = THETAS,
                rounds: int = 1, keyframe_rule: str | None = None) -> list[dict]:
    """Accuracy and class-agnostic mAP against theta on cached features (paper Fig. 3).

    At inference the class comes from x_o (4.2), so accuracy does not move with theta here; Fig. 3's
    accuracy curve is over models *trained* with each theta (`scripts/ablation.py --theta`)."""
    return score_sweep(sweep_predictions(model, features, thetas, rounds, keyframe_rule), ground_truth, model.config.classes)


def sweep_predictions(model, features: dict, thetas: Sequence[float] = THETAS, rounds: int = 1,
                      keyframe_rule: str | None = None) -> dict:
    """theta -> the predictions at that theta: the costly half of a sweep, independent of the
    ground truth (a caller that edits the ground truth keeps these and scores again)."""
    return {theta: predict_features(model, features, theta, rounds, keyframe_rule) for theta in thetas}


def score_sweep(predictions_by_theta: dict, ground_truth: AnnotationSet, classes: Sequence[str] | None = None) -> list[dict]:
    """The rows of a theta sweep: accuracy and class-agnostic mAP of each theta's predictions."""
    rows = []
    for theta, predictions in predictions_by_theta.items():
        result = score(predictions, ground_truth, classes)
        rows.append({"theta": theta, "accuracy": result["accuracy"], "mAP": result["mAP"]})
    return rows


def score_files(ground_truth: str | os.PathLike, predictions: str | os.PathLike, fmt: str | None = None,
                video_list: str | None = None, classes: Sequence[str] | None = None, strict: bool = False,
                model: str | None = None, rule: str | scores.Rule | None = None) -> dict:
    """Score a predictions file (ActivityNet results JSON or a per-interval score CSV,
    `wecl.annotations.scores`) against a ground-truth file of any readable format: the file's
    `model` (needed when it holds several), its intervals made detections by `rule`."""
    gt = read_annotations(ground_truth, fmt, video_list=video_list)
    tracks = scores.read_scores(predictions, known=scores.known_videos(gt))
    return score_track(tracks, gt, model, rule, classes, strict)


def score_track(tracks: scores.Tracks, ground_truth: AnnotationSet, model: str | None = None,
                rule: str | scores.Rule | None = None, classes: Sequence[str] | None = None, strict: bool = False) -> dict:
    """`score` of one imported model's track, its intervals made detections by `rule`; the result
    names the model and the rule. The app's Dataset tab and `evaluate --predictions` both call it."""
    name = pick_model(tracks, model)
    rule = rule if isinstance(rule, scores.Rule) else scores.parse_rule(rule)
    result = score(scores.as_detections(tracks[name], rule), ground_truth, classes, strict)
    return {"model": name, "score_rule": str(rule), **result}


def pick_model(tracks: scores.Tracks, model: str | None) -> str:
    """`model`, or the only model of a file; WECLError naming the file's models otherwise."""
    if model is None and len(tracks) == 1:
        return next(iter(tracks))
    if model in tracks:
        return model
    names = ", ".join(tracks)
    raise WECLError(f"the file holds the models {names}: name one with --model" if model is None
                    else f"no model {model!r} in the file (it holds {names})")


def format_report(result: dict) -> str:
    """The human summary printed by `python -m wecl evaluate`."""
    pct = lambda x: "  n/a" if x is None else f"{100 * x:5.1f}"  # noqa: E731
    lines = [f"videos: {result['videos']}"]
    if result.get("model"):
        lines.append(f"model: {result['model']} (intervals {result['score_rule']})")
    if result.get("keyframe_rule"):
        lines.append(f"detections: theta {result['theta']:g}, {result['rounds']} erasing round(s), "
                     f"{RULE_TITLES[result['keyframe_rule']]}")
    if (result.get("convergence") or {}).get("verdict"):
        lines.append(f"training: {result['convergence']['verdict']}")
    if result.get("accuracy") is not None:
        lines.append(f"accuracy: {pct(result['accuracy'])} %")
        lines.append("per-class accuracy: " + ", ".join(f"{c} {pct(v)}" for c, v in result["per_class_accuracy"].items()))
        conf = result["confusion"]
        width = max(len(c) for c in conf["classes"]) + 1
        lines.append("confusion (rows true, columns predicted):")
        lines.append(" " * width + " ".join(f"{c[:7]:>7}" for c in conf["classes"]))
        for c, row in zip(conf["classes"], conf["matrix"]):
            lines.append(f"{c:<{width}}" + " ".join(f"{x:7d}" for x in row))
    if result.get("mAP"):
        alphas = [f"{a:g}" for a in ALPHAS]
        if result.get("unannotated_videos"):
            lines.append(f"detections scored on {result['detection_videos']} of {result['videos']} videos: "
                         f"{result['unannotated_videos']} have no ground-truth segment and are {result['unannotated']}"
                         + ("" if "counted" in result["unannotated"] else " (--strict-detection counts them)"))
        lines.append("tIoU alpha:               " + " ".join(f"{a:>6}" for a in alphas))
        lines.append("mAP class-agnostic (paper): " + " ".join(f"{pct(result['mAP'][a]):>6}" for a in alphas))
        lines.append("mAP per class (ActivityNet):" + " ".join(f"{pct(result['mAP_per_class'][a]):>6}" for a in alphas))
        ft = result["frame_transformer"]
        lines.append("Frame-Transformer recall:   " + " ".join(f"{pct(ft['recall'][a]):>6}" for a in alphas))
        lines.append("Frame-Transformer AP:       " + " ".join(f"{pct(ft['AP'][a]):>6}" for a in alphas))
    return "\n".join(lines)


def format_sweep(rows: list[dict]) -> str:
    alphas = [f"{a:g}" for a in ALPHAS]
    lines = ["theta  accuracy  " + "  ".join(f"mAP@{a}" for a in alphas)]
    for r in rows:
        maps = "  ".join(f"{100 * r['mAP'][a]:7.1f}" if r["mAP"] and r["mAP"][a] is not None else "    n/a" for a in alphas)
        acc = "n/a" if r["accuracy"] is None else f"{100 * r['accuracy']:.1f}"
        lines.append(f"{r['theta']:5.2f}  {acc:>8}  {maps}")
    return "\n".join(lines)
