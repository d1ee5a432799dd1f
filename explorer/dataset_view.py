"""The dataset explorer's figures and tables (no gradio): one row per video, the aggregates
(accuracy, confusion, AP against tIoU) and the attention inside versus outside ground-truth time.

Every aggregate comes from `wecl.evaluation.score`, the function behind `python -m wecl evaluate`,
so the explorer and the command line print the same numbers for the same files.
"""
from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explorer.groundtruth import compare, compare_times, shown
from explorer.plots import settings_title, timeline_figure
from wecl.annotations import AnnotationSet
from wecl.detection import RULE_TITLES
from wecl.evaluation import ALPHAS, prediction_of, score
from wecl.metrics import covered_fraction
from wecl.schema import Result

COLUMNS = ["video", "ground truth", "predicted", "confidence", "correct", "GT segments",
           "detected segments", "best tIoU", "attention in GT"]


def attention_in_truth(result: Result, truth: list[tuple[float, float]]) -> float:
    """Share of the temporal attention (raw A of eq. 7, the pooling weights) that falls inside
    ground-truth time, averaged over the modalities the video has; nan without ground truth."""
    if not truth:
        return math.nan
    modalities = ["visual"] + (["audio"] if result["video"]["has_audio"] else [])
    shares = []
    for m in modalities:
        weights = np.array([s[f"{m}_attention"] or 0.0 for s in result["segments"]], float)
        if weights.sum() <= 0:
            continue
        inside = np.array([covered_fraction((s["start"], s["end"]), truth) for s in result["segments"]])
        shares.append(float((weights * inside).sum() / weights.sum()))
    return float(np.mean(shares)) if shares else math.nan


def video_table(results: Mapping[str, Result], ground_truth: AnnotationSet) -> pd.DataFrame:
    """One row per video with a result: the columns of `COLUMNS`."""
    rows = []
    for vid, result in sorted(results.items()):
        gt = ground_truth.get(vid)
        segments = gt.segments if gt else []
        comparison = compare(segments, result)
        truth = [(g.start, g.end) for g in segments]
        rows.append({
            "video": vid,
            "ground truth": gt.label if gt else None,
            "predicted": result["prediction"],
            "confidence": round(float(max(result["probabilities"])), 4),
            "correct": None if not gt or gt.label is None else gt.label == result["prediction"],
            "GT segments": len(segments),
            "detected segments": len(result["detections"]),
            "best tIoU": round(max(comparison.best_tiou), 4) if comparison.best_tiou else math.nan,
            "attention in GT": round(attention_in_truth(result, truth), 4),
        })
    return pd.DataFrame(rows, columns=COLUMNS)


def compared_table(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One table for several checkpoints on one dataset: the first checkpoint's columns as they are,
    each further one's per-checkpoint columns suffixed with its name."""
    names = list(tables)
    merged = tables[names[0]]
    own = [c for c in COLUMNS if c not in ("video", "ground truth", "GT segments")]
    for name in names[1:]:
        other = tables[name][["video", *own]].rename(columns={c: f"{c} ({name})" for c in own})
        merged = merged.merge(other, on="video", how="outer")
    return merged


IMPORTED_COLUMNS = ["predicted", "detected segments", "best tIoU"]


def imported_table(detections: AnnotationSet, ground_truth: AnnotationSet) -> pd.DataFrame:
    """An imported model's columns of the table, per video it has scores for: its label, its
    detections (after its score rule) and their best tIoU with the ground truth."""
    rows = []
    for vid, ann in sorted(detections.items()):
        gt = ground_truth.get(vid)
        best = compare_times(gt.segments if gt else [], [(s.start, s.end) for s in ann.segments], []).best_tiou
        rows.append({"video": vid, "predicted": ann.label, "detected segments": len(ann.segments),
                     "best tIoU": round(max(best), 4) if best else math.nan})
    return pd.DataFrame(rows, columns=["video", *IMPORTED_COLUMNS])


def with_imported(table: pd.DataFrame, imported: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The table with each imported model's column group, suffixed "(<model>, imported)", on the
    table's own videos."""
    for name, other in imported.items():
        table = table.merge(other.rename(columns={c: f"{c} ({name}, imported)" for c in IMPORTED_COLUMNS}),
                            on="video", how="left")
    return table


def scores_markdown(scores: Mapping[str, dict]) -> str:
    """Accuracy and mAP at each tIoU per checkpoint, as `python -m wecl evaluate` prints them (%)."""
    alphas = [f"{a:g}" for a in ALPHAS]
    pct = lambda x: "n/a" if x is None else f"{100 * x:.1f}"  # noqa: E731
    # "&#64;", not "@": Markdown renderers take "mAP@0.1" for an e-mail address and link it
    lines = ["| checkpoint | videos | accuracy | " + " | ".join(f"mAP&#64;{a}" for a in alphas)
             + " | per-class mAP&#64;0.5 |",
             "|---|---|---|" + "---|" * len(alphas) + "---|"]
    for name, s in scores.items():
        maps = s.get("mAP") or {}
        per_class = (s.get("mAP_per_class") or {}).get("0.5")
        lines.append(f"| {shown(name)} | {s.get('videos', 0)} | {pct(s.get('accuracy'))} | "
                     + " | ".join(pct(maps.get(a)) for a in alphas) + f" | {pct(per_class)} |")
    imported = [s.get("score_rule") for s in scores.values() if s.get("model")]
    note = (f" Imported models' intervals are scored as detections {imported[0]} (`evaluate --predictions "
            f"--score-rule`), on every video of the annotation file; faithfulness does not apply to them: it runs "
            "the model again on erased inputs, which a file of scores cannot do." if imported else "")
    return "\n".join(lines) + "\n\nmAP: the paper's class-agnostic protocol (docs/design.md#5-detection), in %." + note


def video_timelines(results: Mapping[str, Result | None], truth) -> list[go.Figure]:
    """One video's attention timeline per checkpoint, each titled with its checkpoint, to stack."""
    figures = []
    for name, result in results.items():
        if result is None:
            figures.append(go.Figure().update_layout(title=f"{name}: no result for this video", height=120))
            continue
        fig = timeline_figure(result, truth)
        fig.update_layout(title=dict(text=f"{name}: {result['prediction']} ({result['confidence']:.0%})<br>"
                                          f"<sup>{settings_title(result)}</sup>", x=0.01,
                                     font=dict(size=13)), height=340, margin=dict(t=70))
        figures.append(fig)
    return figures


def dataset_scores(results: Mapping[str, Result], ground_truth: AnnotationSet, classes=None) -> dict:
    """`python -m wecl evaluate`'s figures for these results (videos without ground truth left out)."""
    predictions = {vid: prediction_of(r, vid) for vid, r in results.items() if vid in ground_truth}
    truth = {vid: ann for vid, ann in ground_truth.items() if vid in results}
    return score(predictions, truth, classes)


def attention_samples(results: Mapping[str, Result], ground_truth: AnnotationSet) -> tuple[list[float], list[float]]:
    """Fused normalised attention (A*) of every segment, split by whether most of it lies inside
    ground-truth time: (inside, outside)."""
    inside, outside = [], []
    for vid, result in results.items():
        gt = ground_truth.get(vid)
        if not gt or not gt.segments:
            continue
        truth = [(g.start, g.end) for g in gt.segments]
        for s in result["segments"]:
            values = [s["visual_attention_norm"]]
            if result["video"]["has_audio"]:
                values.append(s["audio_attention_norm"])
            values = [v for v in values if v is not None]
            if not values:
                continue
            (inside if covered_fraction((s["start"], s["end"]), truth) >= 0.5 else outside).append(float(np.mean(values)))
    return inside, outside


# --- figures --------------------------------------------------------------------------------

def ap_curve_figure(scores: Mapping[str, dict], keyframe_rule: str, per_class: bool = True) -> go.Figure:
    """AP against tIoU: class-agnostic (the paper's) for each named run, and per class (dotted)."""
    fig = go.Figure()
    for name, s in scores.items():
        if not s.get("mAP"):
            continue
        alphas = sorted(s["mAP"], key=float)
        fig.add_trace(go.Scatter(x=[float(a) for a in alphas], y=[s["mAP"][a] for a in alphas],
                                 mode="lines+markers", name=f"{name}: class-agnostic"))
        if per_class:
            for cls, aps in (s.get("AP_per_class") or {}).items():
                keys = sorted(aps, key=float)
                fig.add_trace(go.Scatter(x=[float(a) for a in keys], y=[aps[a] for a in keys], mode="lines",
                                         line=dict(dash="dot"), name=f"{name}: {cls}"))
    fig.update_layout(title=f"AP against tIoU · {RULE_TITLES[keyframe_rule]}", xaxis_title="tIoU threshold α", yaxis_title="AP",
                      yaxis_range=[0, 1.02], height=360, margin=dict(l=50, r=20, t=50, b=40))
    return fig


def confusion_figure(scores: Mapping[str, dict]) -> go.Figure:
    """One confusion matrix per checkpoint, side by side, each titled with its name and accuracy."""
    names = list(scores) or [""]
    fig = make_subplots(rows=1, cols=len(names), horizontal_spacing=0.12,
                        subplot_titles=[f"{name} (accuracy {scores[name].get('accuracy') or 0:.1%})" if name in scores
                                        else "" for name in names])
    for col, name in enumerate(names, start=1):
        conf = scores.get(name, {}).get("confusion") or {"classes": [], "matrix": []}
        fig.add_trace(go.Heatmap(z=conf["matrix"], x=conf["classes"], y=conf["classes"], colorscale="Blues",
                                 showscale=False, texttemplate="%{z}", name=name,
                                 hovertemplate=f"{name}<br>true %{{y}}, predicted %{{x}}: %{{z}}<extra></extra>"),
                      row=1, col=col)
        fig.update_xaxes(title_text="predicted", row=1, col=col)
        fig.update_yaxes(title_text="ground truth" if col == 1 else None, autorange="reversed", row=1, col=col)
    fig.update_layout(title="Confusion matrix", height=380, margin=dict(l=80, r=20, t=70, b=60))
    return fig


def per_class_accuracy_figure(scores: Mapping[str, dict]) -> go.Figure:
    fig = go.Figure()
    for name, s in scores.items():
        acc = s.get("per_class_accuracy") or {}
        fig.add_trace(go.Bar(x=list(acc), y=[v if v is not None else 0 for v in acc.values()], name=name))
    fig.update_layout(title="Per-class accuracy", yaxis_range=[0, 1.02], barmode="group", height=320,
                      margin=dict(l=50, r=20, t=50, b=40))
    return fig


def attention_distribution_figure(samples: Mapping[str, tuple[list[float], list[float]]]) -> go.Figure:
    """Per checkpoint, the fused A* of segments inside and outside ground-truth time, as shares of
    segments in ten bins of [0, 1] (an A* of exactly 1 counts in the last)."""
    names = list(samples) or [""]
    fig = make_subplots(rows=1, cols=len(names), shared_yaxes=True, subplot_titles=names, horizontal_spacing=0.08)
    for col, name in enumerate(names, start=1):
        inside, outside = samples.get(name, ([], []))
        for values, where, color in ((inside, "inside ground truth", "#16a34a"), (outside, "outside", "#9ca3af")):
            clipped = [min(float(v), 0.999999) for v in values]  # plotly's bins are half-open: 1.0 got a bin of its own
            fig.add_trace(go.Histogram(x=clipped, name=f"{where} ({len(values)} segments)", opacity=0.6,
                                       marker_color=color, histnorm="probability", legendgroup=where,
                                       showlegend=col == 1, xbins=dict(start=0, end=1.0, size=0.1)), row=1, col=col)
        fig.update_xaxes(title_text="A* (fused)", range=[0, 1], row=1, col=col)
    fig.update_yaxes(title_text="share of segments", row=1, col=1)
    fig.update_layout(title="Normalised attention A* inside vs outside ground-truth time", barmode="overlay",
                      height=340, margin=dict(l=50, r=20, t=70, b=40))
    return fig


def theta_sweep_figure(sweeps: Mapping[str, list[dict]], keyframe_rule: str) -> go.Figure:
    """Accuracy and class-agnostic mAP@0.5/0.1 against theta (paper Fig. 3) for each named run."""
    fig = go.Figure()
    for name, rows in sweeps.items():
        thetas = [r["theta"] for r in rows]
        fig.add_trace(go.Scatter(x=thetas, y=[r["accuracy"] for r in rows], name=f"{name}: accuracy", mode="lines+markers"))
        for alpha in ("0.1", "0.5"):
            fig.add_trace(go.Scatter(x=thetas, y=[(r["mAP"] or {}).get(alpha) for r in rows], mode="lines+markers",
                                     line=dict(dash="dash"), name=f"{name}: mAP@{alpha}"))
    fig.update_layout(title=f"Accuracy and mAP against θ · {RULE_TITLES[keyframe_rule]}", xaxis_title="θ",
                      yaxis_range=[0, 1.02], height=360, margin=dict(l=50, r=20, t=50, b=40))
    return fig


FAITHFULNESS_ORDERS = ("attention", "loo", "chronological", "random")


def faithfulness_figure(figures: Mapping[str, dict]) -> go.Figure:
    """Per checkpoint, each order's mean deletion and insertion AUC over the videos (± one standard
    deviation): attention against leave-one-out, chronological and random orders."""
    fig = make_subplots(rows=1, cols=3, subplot_titles=["deletion AUC (lower: the order matters more)",
                                                        "insertion AUC (higher: the order matters more)",
                                                        "Kendall's τ, attention vs leave-one-out"])
    for name, f in figures.items():
        orders = [o for o in FAITHFULNESS_ORDERS if o in f.get("orders", {})]
        for col, kind in enumerate(("deletion", "insertion"), start=1):
            fig.add_trace(go.Bar(x=orders, y=[f["orders"][o][f"{kind}_auc"] for o in orders], name=name,
                                 legendgroup=name, showlegend=col == 1,
                                 error_y=dict(type="data", array=[f["orders"][o][f"{kind}_auc_std"] for o in orders])),
                          row=1, col=col)
        fig.add_trace(go.Histogram(x=f.get("kendall_taus", []), name=name, legendgroup=name, showlegend=False,
                                   opacity=0.6, xbins=dict(start=-1.0, end=1.0, size=0.2)), row=1, col=3)
    fig.update_yaxes(range=[0, 1.02], row=1, col=1)
    fig.update_yaxes(range=[0, 1.02], row=1, col=2)
    fig.update_yaxes(title_text="videos", row=1, col=3)
    fig.update_xaxes(range=[-1, 1], row=1, col=3)
    fig.update_layout(title="Faithfulness: deletion and insertion curves (perturbation: remove)", barmode="group",
                      height=340, margin=dict(l=50, r=20, t=70, b=40))
    return fig


def faithfulness_markdown(figures: Mapping[str, dict]) -> str:
    """One line per checkpoint: how often its attention beats random, τ, the hit rate."""
    share = lambda x: "—" if x is None else f"{x:.0%}"  # noqa: E731
    lines = []
    for name, f in figures.items():
        if not f.get("videos"):
            continue
        tau = "—" if f.get("kendall_tau") is None else f"{f['kendall_tau']:+.2f}"
        lines.append(f"**{name}**: attention beats random (a lower deletion AUC) on {share(f['attention_beats_random'])} "
                     f"of {f['videos']} videos; Kendall's τ with leave-one-out {tau}; the most attended segment lies in "
                     f"ground-truth time in {share(f['hit_rate'])} (docs/faithfulness.md)")
        per_class = f.get("per_class") or {}
        if per_class:
            lines.append("attention's deletion / insertion AUC per class: " + "; ".join(
                f"{c} {row['deletion_auc']:.3f} / {row['insertion_auc']:.3f} ({row['videos']})"
                for c, row in per_class.items()))
    return "\n\n".join(lines)
