"""The Video tab: one video through one checkpoint, its prediction, attention timeline, segment
strip, ground truth, downloads, and the `/predict` API endpoint."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, NamedTuple

import gradio as gr
import pandas as pd

from explorer import faithfulness_view, groundtruth, imported, plots, render
from explorer.policy import allowed_checkpoint, checkpoint_settings, example_rows, public_result
from ui.common import KEYFRAME_CHOICES, STRIP_COLUMNS, gpu, last_error, session_dir, skipping, user_errors, warn
from wecl import checkpoints, faithfulness, inference
from wecl.annotations import video_id
from wecl.annotations.scores import RULE_KINDS, parse_rule
from wecl.atomic import atomic_write_text
from wecl.errors import WECLError
from wecl.features import features_for
from wecl.settings import settings

MAX_ROUNDS = 4

API_DOC = """
The prediction is the endpoint **`/predict`**: `(video, checkpoint, theta, rounds, keyframes)` → the
result JSON (see the README, "API"). An empty checkpoint means the registry default; keyframes is
a rule of docs/detection.md (`"eq9"`, the paper's, `"eq9-fallback"`, `"min-joint"`, `"sum-joint"`,
`"per-modality"` or `"fused"`); empty means the checkpoint's own.

```python
from gradio_client import Client, handle_file

# download_files=False keeps the JSON as sent: otherwise gradio_client mistakes
# result["video"] (a dict with a "path" key) for a file and replaces it with a local path.
client = Client("http://127.0.0.1:7860/", download_files=False)
result = client.predict(handle_file("clip.mp4"), "", 0.7, 1, "eq9", api_name="/predict")
print(result["prediction"], result["confidence"])

# erase it yourself: the probabilities with segments 2 and 5 taken away ("remove", "mean" or "zeros")
erased = client.predict(handle_file("clip.mp4"), "", "2,5", "remove", api_name="/erase")
print(dict(zip(erased["classes"], erased["erased"])))
```
"""


# ---------------------------------------------------------------------------------------------
# Named outputs: each event's outputs list is built from the same class its handler returns


class CheckpointPicked(NamedTuple):
    info: Any
    theta: Any
    keyframes: Any


class Prediction(NamedTuple):
    """`/predict`: the result JSON (the API's answer) and the session the views are computed from."""
    result_json: Any
    session: Any


class Views(NamedTuple):
    """Every view of one prediction, recomputed when θ, rounds, keyframes or the ground truth change."""
    result_json: Any
    summary: Any
    notices: Any
    timeline: Any
    probabilities: Any
    strip: Any
    table: Any
    comparison: Any
    comparison_md: Any
    json_file: Any
    csv_file: Any


class GroundTruthFile(NamedTuple):
    """An annotation file: the video-id picker, the ground-truth table, and the file's paths (the
    session keeps those; the parsed set is held once for all sessions, `groundtruth.read_ground_truth`)."""
    picker: Any
    rows: Any
    files: Any


class GroundTruthMatch(NamedTuple):
    picker: Any
    rows: Any


class Rendered(NamedTuple):
    video: Any
    file: Any


# ---------------------------------------------------------------------------------------------
# Plain functions behind the components


def checkpoint_info(spec: str | None) -> str:
    entry = checkpoints.registry_entry(spec or checkpoints.registry()["default"])
    if entry is None:
        return (f"Custom checkpoint `{spec}`: a Hub repo id (`owner/name@revision`) or a local folder. "
                "It is loaded when you press Run.")
    where = f"`{entry['repo_id']}`" + (f" @ `{entry['revision']}`" if entry.get("revision") else "") if entry.get("repo_id") \
        else f"local folder `{entry.get('path')}`"
    classes = ", ".join(entry.get("classes") or [])
    return f"{entry.get('description', '')}  \nData: {entry.get('dataset', '?')} · classes: {classes} · {where}"


def on_checkpoint(spec: str) -> CheckpointPicked:
    """What the checkpoint is, and the θ and keyframe rule it was trained with (where they are known)."""
    settings = checkpoint_settings(spec)
    if settings is None:
        return CheckpointPicked(info=checkpoint_info(spec), theta=gr.update(), keyframes=gr.update())
    return CheckpointPicked(info=checkpoint_info(spec), theta=settings[0], keyframes=settings[1])


@gpu
@user_errors
def run_prediction(video: str | None, checkpoint: str | None, theta: float | None, rounds: float | None,
                   keyframes: str | None = None, request: gr.Request = None, progress=gr.Progress()) -> Prediction:
    """The `/predict` endpoint: (video, checkpoint, theta, rounds, keyframes) -> result JSON
    (docs/formats.md#result-json). An empty checkpoint is the registry default; an empty keyframes the
    checkpoint's own rule."""
    if not video:
        raise WECLError("no video: upload one or pick an example first")
    theta, rounds = checked_settings(theta, rounds)
    spec = allowed_checkpoint(checkpoint)
    progress(0.0, desc="loading the checkpoint")
    model = inference.load_model(spec, device=settings().device)
    result = inference.predict(video, model, theta, rounds,
                               progress=lambda done, total, what: progress(done / total, desc=what),
                               keyframe_rule=keyframes or None)
    return Prediction(result_json=public_result(result.json),
                      session={"video": str(video), "checkpoint": spec, "checkpoint_box": checkpoint,
                               "features": result.features})


# ---------------------------------------------------------------------------------------------
# Views follow their inputs: none outlives the video and checkpoint it was computed for


def current(session: dict | None, video: str | None, checkpoint: str | None) -> bool:
    """Whether the session's prediction is of this video through this checkpoint (the boxes' values)."""
    return bool(session) and session["video"] == str(video) and session.get("checkpoint_box") == checkpoint


def press_run(video: str | None, what: str = "") -> str:
    """The summary while no prediction exists for the current video and checkpoint."""
    if not video:
        return "Upload a video or pick an example, then press **Run**."
    return f"{what}`{Path(str(video)).name}` is loaded: press **Run** to analyse it."


def cleared_views(summary: str) -> Views:
    """Every view emptied, `summary` in the prediction's place."""
    return Views(result_json=None, summary=summary, notices="", timeline=None, probabilities=None, strip=None,
                 table=pd.DataFrame(columns=plots.SEGMENT_COLUMNS), comparison=None, comparison_md="",
                 json_file=None, csv_file=None)


def forget_prediction(video: str | None, changed: str = "") -> list:
    """A new video or checkpoint: the views clear (the Faithfulness tab's and the annotated MP4
    too) and the session forgets its prediction (outputs: the views, the session,
    `FaithfulnessViews`, then `Rendered`)."""
    return [*cleared_views(press_run(video, changed)), None, *cleared_measurement(""), None, None]


class FaithfulnessViews(NamedTuple):
    """Everything the Faithfulness tab shows of one prediction."""
    figure: Any
    table: Any
    summary: Any
    ticks: Any
    erased_figure: Any
    erased_summary: Any


def cleared_measurement(summary: str, keep_ticks: bool = False) -> FaithfulnessViews:
    """The Faithfulness tab emptied (its ticks too, unless `keep_ticks`), `summary` in the curves' place."""
    return FaithfulnessViews(figure=None, table=None, summary=summary,
                             ticks=gr.skip() if keep_ticks else gr.update(choices=[], value=[]),
                             erased_figure=gr.skip() if keep_ticks else None,
                             erased_summary=gr.skip() if keep_ticks else "")


def settings_moved() -> FaithfulnessViews:
    """θ, rounds, the keyframe rule or the ground truth changed: the measured curves (their
    keyframes, their hits) are of the old settings; the erased probabilities do not depend on them."""
    return cleared_measurement("Press **Measure faithfulness** for the current settings.", keep_ticks=True)


def on_new_video(video: str | None) -> list:
    return forget_prediction(video)


def on_new_checkpoint(checkpoint: str | None, video: str | None) -> list:
    return forget_prediction(video, changed=f"Checkpoint `{checkpoint or 'default'}` chosen. ")


def failed_run(video: str | None, request: gr.Request = None) -> list:
    """After a failed run: the views clear and its message stays on the page until the next run."""
    message = last_error(request) or "the run failed"
    return [*cleared_views(f"**The last run failed:** {message}\n\n{press_run(video)}"), None, *cleared_measurement(""),
            None, None]


def _truth_or_warn(rows, duration: float):
    try:
        return groundtruth.segments_from_rows(rows, duration)
    except WECLError as error:
        warn(error, "the ground truth is ignored until it is fixed")
        return []


def _number(value, name: str) -> float:
    """A request's number as a float, or a sentence: bools, text, lists, NaN, infinities and
    integers too long for a float are refused (and never printed: a 5,000-digit integer cannot be)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise WECLError(f"{name} must be a number, not {type(value).__name__}")
    try:
        number = float(value)
    except OverflowError:
        raise WECLError(f"{name} is a number too large to mean anything here") from None
    if not math.isfinite(number):
        raise WECLError(f"{name} must be a finite number, not {number}")
    return number


def checked_settings(theta, rounds) -> tuple[float | None, int]:
    """(theta, rounds) as a request may give them: theta a number in [0, 1] or None (the
    checkpoint's), rounds a whole number in 1..MAX_ROUNDS (None: 1); else a sentence."""
    if theta is not None:
        theta = _number(theta, "theta")
        if not 0.0 <= theta <= 1.0:
            raise WECLError(f"theta must lie in [0, 1], not {theta:g}")
    count = _number(1 if rounds is None else rounds, "rounds")
    if count != int(count) or not 1 <= count <= MAX_ROUNDS:
        raise WECLError(f"rounds must be a whole number in 1..{MAX_ROUNDS}, not {count:g}")
    return theta, int(count)


def compute_views(session: dict, theta: float, rounds: int, keyframes: str | None, gt_rows,
                  scores: str | None = None, rule: str = "as-is") -> Views:
    """Every view of one prediction from cached features: explain() and the plots, no I/O (the
    download files are left None: `update_views` writes them). `scores`: an imported score file's
    path, its models drawn as tracks and compared with the ground truth under `rule`."""
    theta, rounds = checked_settings(theta, rounds)
    model = inference.load_model(session["checkpoint"], device=settings().device)
    result = public_result(inference.explain(session["features"], model, theta, rounds, keyframes or None).json)
    duration = result["video"]["duration"]
    truth = _truth_or_warn(gt_rows, duration)
    tracks = _tracks_or_warn(scores, session["video"], duration, rule)
    comparison, others = groundtruth.compare(truth, result), imported.comparisons(truth, tracks)
    features = session["features"]  # leave-one-out: one heads call of 1 + T videos, a third track on the timeline
    _, _, importance = faithfulness.leave_one_out(faithfulness.heads_scorer(model), features.visual, features.audio)
    return Views(
        result_json=result,
        summary=plots.prediction_markdown(result),
        notices=plots.notices_markdown(result),
        timeline=plots.timeline_figure(result, truth, importance, tracks, sound_row(features, result)),
        probabilities=plots.probabilities_figure(result),
        strip=plots.thumbnail_strip(session["features"].thumbnails, result, columns=STRIP_COLUMNS),
        table=plots.segments_table(result),
        comparison=pd.DataFrame(groundtruth.comparison_rows(truth, result, comparison, others),
                                columns=groundtruth.comparison_columns(others)),
        comparison_md=groundtruth.comparison_markdown(comparison, others, rule),
        json_file=None,
        csv_file=None,
    )


def sound_row(features, result) -> object:
    """The timeline's sound row: the picture of the decoded samples, or why there is none."""
    if features.sound is not None:
        return features.sound
    if not result["video"]["has_audio"]:
        return "no sound: the video has no audio track"
    return "no picture of the sound: its track holds too few samples"


def _tracks_or_warn(scores: str | None, video: str, duration: float, rule: str) -> list[imported.Track]:
    try:
        return imported.video_tracks(scores, video, duration, parse_rule(rule))
    except WECLError as error:
        warn(error, "the imported scores are left out until it is fixed")
        return []


@user_errors
def update_views(session, theta, rounds, keyframes, gt_rows, video=None, checkpoint=None, scores=None,
                 rule_kind=None, rule_value=None, request: gr.Request = None) -> Views:
    """The views of the session's prediction, if it is of the current video and checkpoint (a run
    that ends after the video was replaced draws nothing of the old one)."""
    if not session:
        return skipping(Views)
    if not current(session, video, checkpoint):
        return cleared_views(press_run(video))
    views = compute_views(session, theta, rounds, keyframes, gt_rows, scores, str(imported.rule_from(rule_kind, rule_value)))
    result = views.result_json
    folder = session_dir(request)
    stem = video_id(session["video"])
    json_path, csv_path = folder / f"{stem}.wecl.json", folder / f"{stem}.segments.csv"
    result_for_file = inference.Explanation(result, session["features"])
    result_for_file.save_json(json_path)
    atomic_write_text(csv_path, plots.segments_csv(result))
    return views._replace(json_file=str(json_path), csv_file=str(csv_path))


@user_errors
def on_setting(session, theta, rounds, keyframes, gt_rows, video=None, checkpoint=None, scores=None,
               rule_kind=None, rule_value=None, request: gr.Request = None) -> Views:
    """θ, rounds or the keyframe rule moved: the views again, or, with no prediction for the current
    video and checkpoint, a word in the summary that there is nothing to apply them to yet."""
    if not current(session, video, checkpoint):  # said in the summary's place, once however many moves
        return skipping(Views, summary=f"{press_run(video)} θ, rounds and the keyframe rule apply to its prediction "
                                       "once it has run." if video else gr.skip())
    return update_views(session, theta, rounds, keyframes, gt_rows, video, checkpoint, scores, rule_kind, rule_value,
                        request)


class Faithfulness(NamedTuple):
    """The Faithfulness tab's measurement: the curves, their AUC table and the reading."""
    figure: Any
    table: Any
    summary: Any


class Erased(NamedTuple):
    """Erase it yourself: the probabilities with the ticked segments taken away, and a sentence."""
    figure: Any
    summary: Any


PERTURBATION_CHOICES = [("remove: the rest resampled to T, as erasing does (what WECL was trained on)", "remove"),
                        ("mean: the video's mean feature in their place", "mean"), ("zeros", "zeros")]


def _prediction_for(session, video, checkpoint):
    if not current(session, video, checkpoint):
        raise WECLError("no prediction for this video and checkpoint yet: press Run first")
    return inference.load_model(session["checkpoint"], device=settings().device), session["features"]


@user_errors
def measure_faithfulness(session, theta, rounds, keyframes, gt_rows, video=None, checkpoint=None,
                         how: str = "remove") -> Faithfulness:
    """Leave-one-out, deletion and insertion curves of the current prediction (`wecl.faithfulness`)."""
    model, features = _prediction_for(session, video, checkpoint)
    theta, rounds = checked_settings(theta, rounds)
    result = inference.explain(features, model, theta, rounds, keyframes or None).json
    truth = [(g.start, g.end) for g in _truth_or_warn(gt_rows, result["video"]["duration"])]
    out = faithfulness.video_faithfulness(faithfulness.heads_scorer(model), features.visual, features.audio,
                                          faithfulness.video_attention(result), features.spans, truth,
                                          keyframes=[s["erased_round"] == 0 for s in result["segments"]],
                                          how=faithfulness.check_perturbation(how or "remove"))
    return Faithfulness(figure=faithfulness_view.curves_figure(out), table=faithfulness_view.auc_table(out),
                        summary=faithfulness_view.summary_markdown(out))


@user_errors
def erase_yourself(session, ticked, how, video=None, checkpoint=None) -> Erased:
    """The prediction with the ticked segments taken away, beside the whole video's."""
    if not current(session, video, checkpoint):
        return Erased(figure=None, summary="Run a prediction first, then tick segments to take them away.")
    model, features = inference.load_model(session["checkpoint"], device=settings().device), session["features"]
    t = len(features.spans)
    removed = sorted({int(i) for i in ticked or [] if 0 <= int(i) < t})
    if not removed:
        return Erased(figure=None, summary="Tick segments to take them away.")
    whole, erased = faithfulness.without(faithfulness.heads_scorer(model), features.visual, features.audio, removed,
                                         faithfulness.check_perturbation(how or "remove"))
    classes = list(model.config.classes)
    text = (f"Without segments {', '.join(map(str, removed))} ({how}): **{classes[int(erased.argmax())]} · "
            f"{erased.max():.1%}**; the whole video: {classes[int(whole.argmax())]} · {whole.max():.1%}.")
    return Erased(figure=faithfulness_view.erased_probabilities_figure(classes, whole, erased, removed), summary=text)


def _segment_list(segments, t: int) -> list[int]:
    """"2,5" or [2, 5] as sorted segment indices in 0..T-1, or a sentence."""
    items = segments.replace(";", ",").split(",") if isinstance(segments, str) else list(segments or [])
    try:
        removed = sorted({int(str(i).strip()) for i in items if str(i).strip()})
    except ValueError:
        raise WECLError(f"segments must be whole numbers in 0..{t - 1}, such as \"2,5\"") from None
    if any(not 0 <= i < t for i in removed):
        raise WECLError(f"segments must lie in 0..{t - 1}")
    return removed


@gpu
@user_errors
def erase_api(video: str | None, checkpoint: str | None, segments, perturbation: str | None = "remove") -> dict:
    """The `/erase` endpoint: (video, checkpoint, segments "2,5", perturbation) -> {"classes",
    "whole", "erased", "removed", "perturbation"}: the probabilities of the whole video and with
    those segments taken away (`wecl.faithfulness`, on the cached features)."""
    if not video:
        raise WECLError("no video: upload one first")
    if segments is not None and not isinstance(segments, (str, list)):
        raise WECLError("segments must be text such as \"2,5\" or a list of numbers")
    if isinstance(segments, str) and len(segments) > 1000:
        raise WECLError("segments: too long a list")
    how = faithfulness.check_perturbation(perturbation or "remove")
    model = inference.load_model(allowed_checkpoint(checkpoint), device=settings().device)
    features = features_for(video, model)
    removed = _segment_list(segments, len(features.spans))
    whole, erased = faithfulness.without(faithfulness.heads_scorer(model), features.visual, features.audio, removed, how)
    return {"classes": list(model.config.classes), "whole": whole.tolist(), "erased": erased.tolist(),
            "removed": removed, "perturbation": how}


def segment_choices(session) -> dict:
    """The segments one may tick, after a run (the ticks cleared)."""
    spans = session["features"].spans if session else []
    return gr.update(choices=[(f"{i}: {s:.1f}-{e:.1f} s", i) for i, (s, e) in enumerate(spans)], value=[])


@user_errors
def load_ground_truth(files, video) -> GroundTruthFile:
    """An uploaded annotation file -> (the id picker, the table rows, the file's paths)."""
    if not files:
        return GroundTruthFile(picker=gr.update(choices=[], value=None, visible=False), rows=gr.skip(), files=None)
    paths = [files] if isinstance(files, str) else list(files)
    annotations = groundtruth.read_ground_truth(paths)
    if not annotations:
        raise WECLError(f"{Path(paths[0]).name}: the file holds no video")
    vid = groundtruth.match_video(annotations, video)
    ids = sorted(annotations)
    picker = gr.update(choices=ids, value=vid, visible=len(ids) > 1)
    if vid is None:
        if video:  # without a video yet, the match is made when one arrives (match_loaded_ground_truth)
            gr.Warning(f"The file holds {len(ids)} videos and none is named like this video: pick its id.")
        return GroundTruthFile(picker=picker, rows=gr.skip(), files=paths)
    return GroundTruthFile(picker=picker, rows=groundtruth.table_rows(annotations[vid]), files=paths)


@user_errors
def match_loaded_ground_truth(paths, video) -> GroundTruthMatch:
    """A new video: take its segments from the annotation file already loaded, if it names it."""
    annotations = groundtruth.read_ground_truth(paths) if paths and video else None
    vid = groundtruth.match_video(annotations, video) if annotations else None
    if vid is None:
        return skipping(GroundTruthMatch)
    return GroundTruthMatch(picker=gr.update(value=vid), rows=groundtruth.table_rows(annotations[vid]))


@user_errors
def pick_ground_truth(paths, vid):
    annotations = groundtruth.read_ground_truth(paths) if paths else {}
    if vid not in annotations:
        return gr.skip()
    return groundtruth.table_rows(annotations[vid])


@user_errors
def export_ground_truth(gt_rows, video, session, request: gr.Request = None):
    if not video:
        raise WECLError("no video: the export is named after the video, load one first")
    duration = session["features"].info.duration if session else None
    truth = groundtruth.segments_from_rows(gt_rows, duration)
    if not truth:
        raise WECLError("no ground-truth segments to export: add rows to the table first")
    paths = groundtruth.export(video_id(video), truth, session_dir(request), duration)
    return gr.update(value=[str(p) for p in paths], visible=True)


@user_errors
def render_video(session, theta, rounds, keyframes, gt_rows, video=None, checkpoint=None, request: gr.Request = None,
                 progress=gr.Progress()) -> Rendered:
    model, features = _prediction_for(session, video, checkpoint)
    theta, rounds = checked_settings(theta, rounds)
    result = inference.explain(features, model, theta, rounds, keyframes or None).json  # not every view: the result
    truth = _truth_or_warn(gt_rows, result["video"]["duration"])
    out = session_dir(request) / f"{video_id(session['video'])}.annotated.mp4"
    render.render_annotated(session["video"], result, out, truth,
                            progress=lambda done, total, what: progress(done / total, desc=what))
    return Rendered(video=str(out), file=str(out))


class ScoresFile(NamedTuple):
    """An imported score file: its path (the session keeps it; the parsed tracks are held once for
    all sessions, `imported.read_imports`) and what it holds."""
    path: Any
    summary: Any


@user_errors
def load_scores(file, video=None, session=None, checkpoint=None) -> ScoresFile:
    """Read another model's scores (docs/formats.md#other-models-scores), checked against the
    current prediction's video where there is one: a bad file is a message and the scores already
    loaded stay."""
    if not file:
        return ScoresFile(path=None, summary="")
    tracks = imported.read_imports(str(file))
    if current(session, video, checkpoint):
        imported.video_tracks(str(file), video, session["features"].info.duration)
    return ScoresFile(path=str(file), summary=imported.summary_markdown(tracks, video, str(file)))


@user_errors
def scores_summary(scores, video):
    """What the imported file holds, for the video now loaded."""
    return imported.summary_markdown(imported.read_imports(scores), video, scores) if scores else ""


@user_errors
def seek_strip(session, result, video=None, checkpoint=None, evt: gr.SelectData = None):
    """A click on the segment strip: the start of the clicked segment's time (the player seeks there)."""
    if not current(session, video, checkpoint) or not result or evt is None or not evt.index:
        return gr.skip()
    x, y = evt.index[:2]
    i = plots.strip_segment_at(session["features"].thumbnails, result, x, y, columns=STRIP_COLUMNS)
    return gr.skip() if i is None else result["segments"][i]["start"]


def seek_row(evt: gr.SelectData):
    """A click on a row of the segments table: that segment's start (the player seeks there)."""
    row = getattr(evt, "row_value", None)
    try:
        return float(row[1])
    except (TypeError, ValueError, IndexError):
        return gr.skip()


SEEK_JS = "(t) => { if (window.weclPlayer && t !== null) window.weclPlayer.seek(Number(t)); return []; }"


# ---------------------------------------------------------------------------------------------
# The components and their events


class GroundTruthTab(NamedTuple):
    picker: Any  # the video id in a multi-video file
    clear: Any
    gt_table: Any
    comparison_md: Any
    comparison: Any
    export: Any
    exported: Any


def _ground_truth_tab(gt_files: gr.File) -> GroundTruthTab:
    """The annotation file (rendered here), its segments to edit, the comparison and the export."""
    with gr.Row():
        with gr.Column(scale=2):
            gt_files.render()
        with gr.Column(scale=1):
            picker = gr.Dropdown([], label="Video id in the file", visible=False)
            clear = gr.Button("Clear ground truth")
    gt_table = gr.Dataframe(headers=groundtruth.TABLE_COLUMNS, datatype=["number", "number", "str"],
                            interactive=True, row_count=3, label="Ground-truth segments (s); edit freely",
                            elem_id="gt-table")
    comparison_md = gr.Markdown()
    comparison = gr.Dataframe(headers=groundtruth.COMPARISON_COLUMNS, interactive=False,
                              label="Best tIoU of each ground-truth segment with a detection", elem_id="gt-comparison")
    export = gr.Button("Export ground truth (ActivityNet JSON and CSV)")
    exported = gr.File(label="Exported annotation", file_count="multiple", interactive=False, visible=False)
    return GroundTruthTab(picker, clear, gt_table, comparison_md, comparison, export, exported)


class FaithfulnessTab(NamedTuple):
    how: Any
    measure: Any
    views: FaithfulnessViews


def _faithfulness_tab() -> FaithfulnessTab:
    """Does the attention point at what matters: the curves on demand, and erasing by hand."""
    gr.Markdown("Take segments away and run the heads again on the cached features: which segments does "
                "the prediction depend on, and does the attention rank them first?")
    how = gr.Radio(PERTURBATION_CHOICES, value="remove", label="Perturbation", elem_id="perturbation")
    with gr.Row():
        ticks = gr.CheckboxGroup([], label="Erase it yourself: tick segments to take away", elem_id="erase-ticks")
    erased_summary = gr.Markdown(elem_id="erased-summary")
    erased_figure = gr.Plot(show_label=False, elem_id="erased-probabilities")
    measure = gr.Button("Measure faithfulness (leave-one-out, deletion and insertion curves)", elem_id="measure")
    figure = gr.Plot(show_label=False, elem_id="faithfulness-curves")
    table = gr.Dataframe(interactive=False, elem_id="faithfulness-auc")
    summary = gr.Markdown(elem_id="faithfulness-summary")
    return FaithfulnessTab(how, measure, FaithfulnessViews(figure=figure, table=table, summary=summary, ticks=ticks,
                                                           erased_figure=erased_figure, erased_summary=erased_summary))


class OtherModelsTab(NamedTuple):
    file: Any
    rule_kind: Any
    rule_value: Any
    summary: Any
    clear: Any


def _other_models_tab() -> OtherModelsTab:
    """Another model's scores for this video (or a whole dataset), drawn under WECL's attention."""
    gr.Markdown("Put another model's scores on the same timeline: a CSV `video,start,end,score[,label][,model]` or "
                "an ActivityNet results JSON (docs/formats.md). Each model is a row under the attention, its "
                "intervals as the file gives them; the Ground truth tab gives its tIoU and the precision and recall "
                "of its time. Faithfulness applies to WECL only: it runs the model again on erased inputs, which a "
                "file of scores cannot do. Imports are yours alone: other visitors never see them.")
    with gr.Row():
        file = gr.File(label="Other models' scores (CSV or ActivityNet results JSON)", file_types=[".csv", ".json"],
                       elem_id="scores-file", scale=2)
        with gr.Column(scale=1):
            rule_kind = gr.Radio(list(RULE_KINDS), value="as-is", label="Its intervals are", elem_id="score-rule",
                                 info="as-is: detections; threshold: runs scoring ≥ the value; top-k: the k best")
            rule_value = gr.Number(0.5, label="threshold score, or k", elem_id="score-rule-value")
            clear = gr.Button("Clear imported scores")
    summary = gr.Markdown(elem_id="scores-summary")
    return OtherModelsTab(file, rule_kind, rule_value, summary, clear)


class DownloadsTab(NamedTuple):
    json_file: Any
    csv_file: Any
    make_video: Any
    annotated: Any
    annotated_file: Any


def _downloads_tab() -> DownloadsTab:
    """The result JSON and segments CSV, and the annotated MP4 on request."""
    with gr.Row():
        json_file = gr.File(label="Result JSON", interactive=False, height=90)
        csv_file = gr.File(label="Segments CSV", interactive=False, height=90)
    make_video = gr.Button("Render annotated MP4 (timeline and playhead under the video)")
    with gr.Row():
        annotated = gr.Video(label="Annotated video", interactive=False, height=380)
        annotated_file = gr.File(label="Annotated MP4", interactive=False, height=90)
    return DownloadsTab(json_file, csv_file, make_video, annotated, annotated_file)


class Controls(NamedTuple):
    video: Any
    checkpoint: Any
    theta: Any
    rounds: Any
    keyframes: Any
    run: Any
    info: Any


def _controls(choices, default: str, settings: tuple[float, str], gt_files: gr.File) -> Controls:
    """The left column: the video, the checkpoint, θ, rounds, the keyframe rule, Run, the examples
    (which fill `gt_files` too) and what the checkpoint is."""
    video = gr.Video(label="Video", sources=["upload"], height=200, elem_id="video")
    checkpoint = gr.Dropdown(choices, value=default, allow_custom_value=True, label="Checkpoint",
                             info="from the registry, or type a Hub id owner/name@revision or a folder",
                             elem_id="checkpoint")
    theta = gr.Slider(0, 1, value=settings[0], step=0.01, label="θ: erasing threshold",
                      info="segments whose A* reaches θ are erased, in both modalities under eq. 9 (the keyframe rule "
                           "below); without sound, in the visual one",
                      elem_id="theta")
    rounds = gr.Slider(1, MAX_ROUNDS, value=1, step=1, label="Erasing rounds", elem_id="rounds",
                       info="rounds > 1 explore what the model turns to next; they change the "
                            "detections only under the fused rule")
    keyframes = gr.Radio(KEYFRAME_CHOICES, value=settings[1], label="Keyframes (detections)", elem_id="keyframes",
                         info="the checkpoint's own rule is selected when it is picked (docs/detection.md)")
    run = gr.Button("Run", variant="primary", elem_id="run")
    rows = example_rows()
    if rows:
        gr.Examples(rows, inputs=[video, gt_files], label="Examples (their ground truth loads too)",
                    example_labels=[Path(r[0]).stem for r in rows], elem_id="examples")
    info = gr.Markdown(checkpoint_info(default), elem_id="checkpoint-info")
    return Controls(video, checkpoint, theta, rounds, keyframes, run, info)


def _prediction_column() -> tuple[gr.Markdown, gr.Markdown, gr.Plot, gr.Plot, gr.Image]:
    """The prediction and its notices, the class probabilities, the attention timeline and the
    segment strip."""
    with gr.Row():
        with gr.Column(scale=3):
            summary = gr.Markdown("Upload a video or pick an example, then press **Run**.", elem_id="prediction")
            notices = gr.Markdown(elem_id="notices")
        probabilities = gr.Plot(label="Class probabilities", scale=2, elem_id="probabilities")
    timeline = gr.Plot(label="Attention timeline", elem_id="timeline")
    with gr.Row(elem_id="player-steps"):  # assets/player.js: the video follows the timeline, and these step it
        for label, kind, direction in (("◀ segment", "segments", -1), ("segment ▶", "segments", 1),
                                       ("◀ detection", "detections", -1), ("detection ▶", "detections", 1)):
            gr.Button(label, size="sm", min_width=80, elem_id=f"step-{kind}-{'next' if direction > 0 else 'prev'}"
                      ).click(None, js=f"() => {{ window.weclPlayer && window.weclPlayer.step('{kind}', {direction}); }}")
    gr.Markdown("Click the timeline, a thumbnail or a table row to play from there; ← → step through the segments, "
                "Shift+← → through the detections.", elem_id="player-help")
    gr.Markdown("**Segments**: one thumbnail each, erased ones framed in their round's colour", elem_id="strip-caption")
    strip = gr.Image(show_label=False, type="numpy", interactive=False, elem_id="strip", height=270,
                     buttons=["fullscreen"])
    return summary, notices, probabilities, timeline, strip


def build(choices, default: str, settings: tuple[float, str]) -> None:
    """One video: upload or example, checkpoint, θ and rounds; the prediction, the attention
    timeline, the segment strip, and the tabs for segments, ground truth, downloads and the API."""
    session = gr.State(None)
    gt_paths = gr.State(None)  # the loaded annotation file's paths
    gt_files = gr.File(label="Annotation file (ActivityNet JSON, split JSON, CSV, or position.txt + video list)",
                       file_count="multiple", file_types=[".json", ".csv", ".txt"], render=False,
                       elem_id="gt-file")
    with gr.Row():
        with gr.Column(scale=1, min_width=320):
            c = _controls(choices, default, settings, gt_files)
        with gr.Column(scale=3):
            summary, notices, probabilities, timeline, strip = _prediction_column()
    with gr.Tabs():
        with gr.Tab("Segments"):
            table = gr.Dataframe(headers=plots.SEGMENT_COLUMNS, interactive=False, elem_id="segments")
        with gr.Tab("Faithfulness", elem_id="faithfulness-tab"):
            ft = _faithfulness_tab()
        with gr.Tab("Ground truth", elem_id="gt-tab"):
            gt = _ground_truth_tab(gt_files)
        with gr.Tab("Other models", elem_id="other-models-tab"):
            om = _other_models_tab()
        with gr.Tab("Downloads"):
            downloads = _downloads_tab()
        with gr.Tab("Result JSON"):
            result_json = gr.JSON(label="Result", elem_id="result-json")
        with gr.Tab("API"):
            gr.Markdown(API_DOC)
            # `/erase` has no button of its own: the Faithfulness tab's ticks do it for the browser
            erase_segments = gr.Textbox(visible=False)
            erase_answer = gr.JSON(visible=False)
            erase_button = gr.Button(visible=False)
    view_outputs = list(Views(result_json=result_json, summary=summary, notices=notices, timeline=timeline,
                              probabilities=probabilities, strip=strip, table=table, comparison=gt.comparison,
                              comparison_md=gt.comparison_md, json_file=downloads.json_file,
                              csv_file=downloads.csv_file))
    view_inputs = [session, c.theta, c.rounds, c.keyframes, gt.gt_table, c.video, c.checkpoint]
    scores = gr.State(None)  # the imported score file's path, this session's alone
    all_inputs = [*view_inputs, scores, om.rule_kind, om.rule_value]  # the views' inputs
    c.checkpoint.change(on_checkpoint, c.checkpoint, list(CheckpointPicked(info=c.info, theta=c.theta, keyframes=c.keyframes)),
                        api_visibility="private")
    fv = ft.views
    faithfulness_outputs = list(fv)
    rendered = list(Rendered(video=downloads.annotated, file=downloads.annotated_file))
    forgotten = [*view_outputs, session, *faithfulness_outputs, *rendered]
    c.checkpoint.change(on_new_checkpoint, [c.checkpoint, c.video], forgotten, api_visibility="private",
                        show_progress="hidden")
    c.video.change(on_new_video, c.video, forgotten, api_visibility="private", show_progress="hidden")
    gr.on([c.theta.input, c.rounds.input, c.keyframes.input, gt.gt_table.change], settings_moved, None,
          faithfulness_outputs, api_visibility="private", show_progress="hidden",
          concurrency_limit=4, concurrency_id="views")
    run = c.run.click(
        run_prediction, [c.video, c.checkpoint, c.theta, c.rounds, c.keyframes],
        list(Prediction(result_json=result_json, session=session)), api_name="predict",
        concurrency_limit=1, concurrency_id="predict",
    )
    run.success(update_views, all_inputs, view_outputs, api_visibility="private", show_progress="hidden")
    run.success(segment_choices, session, fv.ticks, api_visibility="private", show_progress="hidden")
    erase_button.click(erase_api, [c.video, c.checkpoint, erase_segments, ft.how], erase_answer, api_name="erase",
                       concurrency_limit=1, concurrency_id="predict")
    ft.measure.click(measure_faithfulness, [*view_inputs, ft.how],
                     list(Faithfulness(figure=fv.figure, table=fv.table, summary=fv.summary)), api_visibility="private",
                     concurrency_limit=4, concurrency_id="views")
    gr.on([fv.ticks.input, ft.how.input], erase_yourself, [session, fv.ticks, ft.how, c.video, c.checkpoint],
          list(Erased(figure=fv.erased_figure, summary=fv.erased_summary)), api_visibility="private",
          trigger_mode="always_last", show_progress="hidden", concurrency_limit=4, concurrency_id="views")
    run.failure(failed_run, c.video, forgotten, api_visibility="private", show_progress="hidden")
    gr.on([c.theta.input, c.theta.release, c.rounds.input, c.rounds.release, c.keyframes.input, om.rule_kind.input,
           om.rule_value.submit, om.rule_value.blur], on_setting, all_inputs,
          view_outputs, api_visibility="private", trigger_mode="always_last", show_progress="hidden",
          concurrency_limit=4, concurrency_id="views")
    gt.gt_table.change(update_views, all_inputs, view_outputs, api_visibility="private", show_progress="hidden",
                       trigger_mode="always_last", concurrency_limit=4, concurrency_id="views")
    c.video.change(scores_summary, [scores, c.video], om.summary, api_visibility="private", show_progress="hidden")
    om.file.upload(load_scores, [om.file, c.video, session, c.checkpoint], list(ScoresFile(path=scores, summary=om.summary)),
                   api_visibility="private").success(update_views, all_inputs, view_outputs, api_visibility="private",
                                                     show_progress="hidden")
    om.clear.click(lambda: (None, None, ""), None, [om.file, scores, om.summary], api_visibility="private").then(
        update_views, all_inputs, view_outputs, api_visibility="private", show_progress="hidden")
    seek_to = gr.Number(visible=False)
    strip.select(seek_strip, [session, result_json, c.video, c.checkpoint], seek_to, api_visibility="private",
                 show_progress="hidden").then(None, seek_to, None, js=SEEK_JS)
    table.select(seek_row, None, seek_to, api_visibility="private", show_progress="hidden").then(
        None, seek_to, None, js=SEEK_JS)
    gt_files.change(load_ground_truth, [gt_files, c.video],
                    list(GroundTruthFile(picker=gt.picker, rows=gt.gt_table, files=gt_paths)), api_visibility="private")
    c.video.change(match_loaded_ground_truth, [gt_paths, c.video], list(GroundTruthMatch(picker=gt.picker, rows=gt.gt_table)),
                   api_visibility="private")
    gt.picker.input(pick_ground_truth, [gt_paths, gt.picker], gt.gt_table, api_visibility="private")
    gt.clear.click(lambda: ([], None, gr.update(visible=False)), None, [gt.gt_table, gt_files, gt.picker],
                   api_visibility="private")
    gt.export.click(export_ground_truth, [gt.gt_table, c.video, session], gt.exported, api_visibility="private")
    downloads.make_video.click(render_video, view_inputs, rendered,
                               api_visibility="private", concurrency_limit=1, concurrency_id="render")
