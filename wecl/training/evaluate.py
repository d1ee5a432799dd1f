"""Evaluation that needs a dataset or a feature store: predictions of a feature store's videos
(`predict_table`), backbone features of a dataset's videos (`dataset_features`), and the
faithfulness figures of a dataset. The scoring itself is `wecl.evaluation`.
"""
from __future__ import annotations

from typing import Sequence

from wecl.annotations import AnnotationSet, Segment, VideoAnnotation
from wecl.errors import WECLError
from wecl.evaluation import prediction_of
from wecl.features import features_for
from wecl.inference import explain
from wecl.progress import Progress


def predict_table(model, table, indices: Sequence[int], theta: float | None = None, rounds: int = 1,
                  keyframe_rule: str | None = None):
    """Predictions and ground truth of videos of a feature store (view 0), heads only."""
    predictions, gt = {}, {}
    for i in indices:
        vid = table.ids[i]
        predictions[vid] = prediction_of(explain(table.features(i), model, theta, rounds, keyframe_rule).json, vid)
        gt[vid] = VideoAnnotation(vid, table.infos[i].duration, table.labels[i], table.subsets[i],
                                  [Segment(s, e, lbl) for s, e, lbl in table.segments[i]])
    return predictions, gt


def dataset_features(model, dataset, items, progress: Progress | None = None) -> dict:
    """Backbone features of each video (memory/disk cache of `features.features_for`); a video
    that cannot be read is reported and left out."""
    features, errors = {}, {}
    for n, item in enumerate(items, 1):
        try:
            features[item.video_id] = features_for(str(item.path), model)
        except WECLError as error:
            errors[item.video_id] = str(error)
        if progress:
            progress(n, len(items), "videos")
    return {"features": features, "errors": errors}


def faithfulness(model, features: dict, ground_truth: AnnotationSet, how: str = "remove", theta: float | None = None,
                 rounds: int = 1, keyframe_rule: str | None = None, progress: Progress | None = None) -> dict:
    """`wecl.faithfulness.dataset_faithfulness` of every video's cached features: its attention
    orders from `explain`, its ground-truth segments for the hit rate, its class for the per-class rows."""
    from wecl import faithfulness as faith

    scorer, per_video = faith.heads_scorer(model), {}
    for n, (vid, f) in enumerate(features.items(), 1):
        result = explain(f, model, theta, rounds, keyframe_rule).json
        gt = ground_truth.get(vid)
        truth = [(s.start, s.end) for s in gt.segments] if gt else []
        per_video[vid] = faith.video_faithfulness(scorer, f.visual, f.audio, faith.video_attention(result), f.spans,
                                                  truth, [s["erased_round"] == 0 for s in result["segments"]], how)
        if progress:
            progress(n, len(features), vid)
    labels = {vid: ann.label for vid, ann in ground_truth.items()}
    return faith.dataset_faithfulness(per_video, labels)


def format_faithfulness(f: dict) -> str:
    """The faithfulness figures as the command line prints them."""
    if not f.get("videos"):
        return "faithfulness: no videos"
    lines = [f"faithfulness ({f['videos']} videos, perturbation {f['perturbation']}): AUC mean ± std over videos",
             f"  {'order':24} {'deletion (lower)':>18} {'insertion (higher)':>20}"]
    for name, o in f["orders"].items():
        lines.append(f"  {name:24} {o['deletion_auc']:>9.3f} ± {o['deletion_auc_std']:.3f} "
                     f"{o['insertion_auc']:>11.3f} ± {o['insertion_auc_std']:.3f}")
    share = lambda x: "—" if x is None else f"{x:.0%}"  # noqa: E731
    tau = "—" if f["kendall_tau"] is None else f"{f['kendall_tau']:+.2f}"
    lines.append(f"  attention beats random (lower deletion AUC) on {share(f['attention_beats_random'])} of the videos; "
                 f"Kendall's tau (attention vs leave-one-out) {tau}; hit rate {share(f['hit_rate'])}")
    per_class = f.get("per_class") or {}
    if per_class:
        lines.append("  attention's AUC per class (deletion / insertion, videos): " + "; ".join(
            f"{c} {row['deletion_auc']:.3f} / {row['insertion_auc']:.3f} ({row['videos']})" for c, row in per_class.items()))
    return "\n".join(lines)
