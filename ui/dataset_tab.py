"""The Dataset tab, the researchers' half: a folder of videos run in the background
(`explorer.dataset_run`) and polled by a timer; the table, the aggregates, one video's timelines, and
ground-truth editing."""
from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any, NamedTuple

import gradio as gr

from explorer import dataset_run, dataset_view, groundtruth, imported, plots
from explorer.policy import (
    SAMPLES,
    allowed_checkpoint,
    allowed_dataset_folder,
    checkpoint_settings,
    public_message,
    reachable_from_elsewhere,
    served_files,
    shown_path,
)
from ui.common import KEYFRAME_CHOICES, STRIP_COLUMNS, session_dir, skipping, user_errors, warn
from wecl import checkpoints
from wecl.annotations import majority_label, video_id
from wecl.annotations.scores import RULE_KINDS, as_detections
from wecl.errors import WECLError
from wecl.evaluation import score_track
from wecl.features import cache as feature_cache
from wecl.settings import settings

# ---------------------------------------------------------------------------------------------
# Named outputs: each event's outputs list is built from the same class its handler returns;
# the composite ones take their groups' fields by keyword (`**Aggregates(...)._asdict()`).


class Started(NamedTuple):
    token: Any
    timer: Any
    source: Any


class Aggregates(NamedTuple):
    """The summary above the table and the Aggregates tab's figures."""
    summary: Any
    ap_curve: Any
    confusion: Any
    per_class: Any
    distribution: Any
    sweep: Any
    faithfulness: Any
    faithfulness_md: Any


class VideoViews(NamedTuple):
    """The Video sub-tab: the video opened from the table."""
    heading: Any
    player: Any
    timeline_a: Any
    timeline_b: Any
    strip: Any
    gt_rows: Any
    comparison: Any


def _composite(name: str, doc: str, *parts: str | type[NamedTuple]) -> type[NamedTuple]:
    """A NamedTuple of single fields and other groups' fields, in order: a group changed in one
    place changes every event that shows it."""
    fields = [(f, Any) for part in parts for f in ((part,) if isinstance(part, str) else part._fields)]
    cls = NamedTuple(name, fields)
    cls.__doc__ = doc
    return cls


Polled = _composite("Polled", "A timer tick: the timer, the progress and the table, then the Aggregates, "
                    "then the digest of the table this browser was sent last (kept in a State).",
                    "timer", "status", "table", Aggregates, "shown")
OpenedVideo = _composite("OpenedVideo", "A row clicked: the video's id (kept in a State), then the VideoViews.",
                         "vid", VideoViews)
Saved = _composite("Saved", "A corrected ground truth saved: the table, the Aggregates and the VideoViews follow.",
                   "table", Aggregates, VideoViews)
ImportedScores = _composite("ImportedScores", "Other models' scores imported (their path kept in a State, this "
                            "session's alone): what they hold, the table and the Aggregates with them.",
                            "scores", "scores_md", "table", Aggregates)


# ---------------------------------------------------------------------------------------------
# Plain functions behind the components


def _dataset_run(token):
    run = dataset_run.get_run(token)
    if run is None:
        raise WECLError("no dataset loaded: enter a folder and press Start")
    return run


def checkpoint_rule(spec: str | None):
    """The keyframe rule a picked checkpoint was trained with, as the Video tab does (unchanged for a
    checkpoint whose config is not on disk)."""
    settings = checkpoint_settings(spec)
    return gr.update() if settings is None else settings[1]


@user_errors
def start_dataset(folder: str, files, checkpoint_a: str | None, checkpoint_b: str | None, keyframes: str | None = None,
                  request: gr.Request = None) -> Started:
    """Start (or rejoin) a dataset run; `keyframes` None is the first checkpoint's own rule (eq9 when it is
    not a bundled one)."""
    folder = (folder or "").strip()
    if not folder:
        raise WECLError("no folder: type the path of a folder of videos")
    folder = allowed_dataset_folder(folder)
    specs = [allowed_checkpoint(checkpoint_a)]
    second = allowed_checkpoint(checkpoint_b) or ""
    if second and second != (specs[0] or checkpoints.registry()["default"]):
        specs.append(second)
    paths = [files] if isinstance(files, str) else list(files or [])
    # Reachable from elsewhere, every visitor gets a run of their own, editing a copy: the bundled files never change.
    owner = (getattr(request, "session_hash", None) or "anonymous") if reachable_from_elsewhere() else None
    rule = keyframes or (checkpoint_settings(specs[0]) or (None, "eq9"))[1]
    run = dataset_run.start_run(folder, specs, paths or None, settings().device, keyframe_rule=rule, owner=owner)
    source = (f"`{shown_path(run.annotation_path)}`" if run.annotation_path
              else "none: every video is listed, nothing is scored (add segments below)")
    if run.private and run.annotation_path:
        source = f"`{Path(run.annotation_paths[0]).name}`, a copy of your own (**Save** changes this copy, " \
                 "**Export** downloads it)"
    summary = (f"{len(run.videos)} videos in `{shown_path(run.folder)}` · ground truth: {source} · "
               f"results: `{shown_path(run.db_path)}`")
    return Started(token=run.token, timer=gr.Timer(active=True), source=summary)


@user_errors
def stop_dataset(token):
    _dataset_run(token).stop()
    gr.Info("Stopping after the video in hand: everything finished is kept, and Start continues from there.")


def imported_models(run, scores: str | None, rule_kind=None, rule_value=None) -> dict:
    """model -> its intervals per video, from this session's imported score file, checked against
    the run's videos and durations; {} without one."""
    if not scores:
        return {}
    tracks = imported.read_imports(scores)
    imported.check_known(scores, tracks, run_videos(run))
    imported.rule_from(rule_kind, rule_value)  # a bad rule is a message before anything is drawn
    return tracks


def run_videos(run) -> dict[str, float | None]:
    """Every video id of a run (its folder's and its annotation file's) with its duration, where known."""
    known = {vid: ann.duration for vid, ann in run.ground_truth.items()}
    for path in run.videos:
        known.setdefault(video_id(path.name), None)
    for vid, result in run.results(0).items():
        known[vid] = result["video"]["duration"]
    return known


def dataset_tables(run, tracks: dict | None = None, rule_kind=None, rule_value=None):
    """The table: one row per video, the second checkpoint's columns beside the first's, then each
    imported model's column group."""
    tables = {name: dataset_view.video_table(run.results(i), run.ground_truth) for i, name in enumerate(run.names)}
    rule = imported.rule_from(rule_kind, rule_value)
    others = {model: dataset_view.imported_table(as_detections(track, rule), run.ground_truth)
              for model, track in (tracks or {}).items()}
    return dataset_view.with_imported(dataset_view.compared_table(tables), others)


def dataset_aggregates(run, tracks: dict | None = None, rule_kind=None, rule_value=None) -> Aggregates:
    """The summary table and every aggregate figure, all from `evaluate.score` on the stored results;
    each imported model scored by `evaluate.score_track`, as `evaluate --predictions` scores it."""
    scores = {name: dataset_view.dataset_scores(run.results(i), run.ground_truth, run.models[i].config.classes)
              for i, name in enumerate(run.names)}
    rule = imported.rule_from(rule_kind, rule_value)
    others = {f"{model} (imported)": score_track(tracks, run.ground_truth, model, rule) for model in tracks or {}}
    samples = {name: dataset_view.attention_samples(run.results(i), run.ground_truth) for i, name in enumerate(run.names)}
    sweeps = {name: run.theta_sweep(i) for i, name in enumerate(run.names)}
    faithful = {name: run.faithfulness(i) for i, name in enumerate(run.names)}
    failures = run.failures(0)
    n = len(failures)
    note = f"\n\n{n} video{'s' if n != 1 else ''} could not be read: " + "; ".join(failures.values()) if n else ""
    return Aggregates(
        summary=dataset_view.scores_markdown({**scores, **others}) + note,
        ap_curve=dataset_view.ap_curve_figure({**scores, **others}, run.keyframe_rule),
        confusion=dataset_view.confusion_figure(scores),
        per_class=dataset_view.per_class_accuracy_figure(scores),
        distribution=dataset_view.attention_distribution_figure(samples),
        sweep=dataset_view.theta_sweep_figure(sweeps, run.keyframe_rule),
        faithfulness=dataset_view.faithfulness_figure(faithful),
        faithfulness_md=dataset_view.faithfulness_markdown(faithful),
    )


@user_errors
def poll_dataset(token, shown: str | None = None, scores: str | None = None, rule_kind=None, rule_value=None) -> Polled:
    """One timer tick: progress, the table so far, and once finished the aggregates. The table
    goes to the browser only when it differs from the one sent last (`shown`, its digest): a
    running dataset of thousands of videos is not resent every second."""
    run = dataset_run.get_run(token)
    if run is None:
        return skipping(Polled, timer=gr.Timer(active=False))
    finished = run.finished  # read once, before the status: the run may end while we look
    status = ("" if finished else f"{run.fraction():.0%} · ") + run.status()
    try:
        tracks = imported_models(run, scores, rule_kind, rule_value)
    except WECLError as error:  # said in the status, not as a warning every second
        tracks, status = {}, f"{status} · the imported scores are left out: {public_message(str(error))}"
    table = dataset_tables(run, tracks, rule_kind, rule_value)
    digest = hashlib.sha256(table.to_json(orient="split").encode()).hexdigest()
    changed = {"table": table, "shown": digest} if digest != shown else {}
    if not finished:
        return skipping(Polled, timer=gr.Timer(active=True), status=status, **changed)
    return skipping(Polled, timer=gr.Timer(active=False), status=status,
                    **dataset_aggregates(run, tracks, rule_kind, rule_value)._asdict(), **changed)


def _tracks_or_warn(run, scores, rule_kind, rule_value) -> dict:
    try:
        return imported_models(run, scores, rule_kind, rule_value)
    except WECLError as error:
        warn(error, "the imported scores are left out until it is fixed")
        return {}


@user_errors
def import_dataset_scores(token, file, rule_kind=None, rule_value=None) -> ImportedScores:
    """Another model's scores for the dataset (docs/formats.md#other-models-scores): checked against
    the run's videos; a bad file is a message and the scores already imported stay."""
    run, path = dataset_run.get_run(token), str(file) if file else None
    if run is None:  # read now, checked against the videos when a dataset runs
        tracks = imported.read_imports(path) if path else {}
        imported.rule_from(rule_kind, rule_value)
        note = "\n\nThey are scored against the dataset when it runs (**Start**)."
        summary = imported.summary_markdown(tracks, source=path) + note if tracks else ""
        return skipping(ImportedScores, scores=path, scores_md=summary)
    tracks = imported_models(run, path, rule_kind, rule_value)
    aggregates = dataset_aggregates(run, tracks, rule_kind, rule_value)._asdict() if run.finished else {}
    return skipping(ImportedScores, scores=path, scores_md=imported.summary_markdown(tracks, source=path) if tracks else "",
                    table=dataset_tables(run, tracks, rule_kind, rule_value), **aggregates)


# A video opened from the table is played from a copy in the session's folder (Gradio serves the
# bundled samples and its temp folder, not a dataset folder); bigger files are not copied.
MAX_PLAYER_COPY = 200 * 10**6


def _playable(path: str | None, request: gr.Request | None) -> str | None:
    """A path the browser may play `path` from: the bundled file itself, or a copy for this session."""
    if not path:
        return None
    if path in served_files():
        return path
    source = Path(path)
    if source.stat().st_size > MAX_PLAYER_COPY:
        gr.Info(f"{source.name} is over {MAX_PLAYER_COPY // 10**6} MB: it is not copied for the player")
        return None
    folder = session_dir(request) / "dataset-player"
    copy = folder / source.name
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():  # one copy per session: the video last opened
        if old != copy:
            old.unlink(missing_ok=True)
    if not copy.exists() or copy.stat().st_size != source.stat().st_size:
        partial = folder / f".{source.name}.partial"  # never a half-copied file under the played name
        shutil.copyfile(source, partial)
        partial.replace(copy)
    return str(copy)


def _video_views(run, vid: str, request: gr.Request | None = None) -> VideoViews:
    gt = run.ground_truth.get(vid)
    truth = gt.segments if gt else []
    results = {name: run.results(i).get(vid) for i, name in enumerate(run.names)}
    figures = dataset_view.video_timelines(results, truth)
    second = figures[1] if len(figures) > 1 else None
    first = results[run.names[0]]
    comparison = groundtruth.comparison_markdown(groundtruth.compare(truth, first)) if first else ""
    cached = feature_cache.get(first["video"]["path"], run.models[0]) if first else None
    strip = plots.thumbnail_strip(cached.thumbnails, first, columns=STRIP_COLUMNS) if cached else None
    label = gt.label if gt else None
    return VideoViews(
        player=_playable(run.video_path(vid), request),
        heading=f"### {vid}\nground truth: **{label or '—'}**, {len(truth)} segments · file `{shown_path(run.video_path(vid))}`",
        timeline_a=figures[0],
        timeline_b=gr.update(value=second, visible=second is not None),
        strip=strip,
        gt_rows=groundtruth.table_rows(gt),
        comparison=comparison,
    )


Cleared = _composite("Cleared", "Start pressed: the previous run's opened video and aggregates go until this "
                     "run shows its own.", "vid", VideoViews, Aggregates)


def cleared_run() -> Cleared:
    """What a new run clears: the video opened from the previous run and its aggregates."""
    empty = {f: None for f in Cleared._fields}
    return Cleared(**{**empty, "heading": "Click a row of the table to open its video.", "gt_rows": [],
                      "comparison": "", "summary": "", "faithfulness_md": "",
                      "timeline_b": gr.update(value=None, visible=False)})


def _dataset_video_views(run, vid: str, request: gr.Request | None = None) -> OpenedVideo:
    return OpenedVideo(vid=vid, **_video_views(run, vid, request)._asdict())


@user_errors
def open_dataset_video(token, evt: gr.SelectData, request: gr.Request = None) -> OpenedVideo:
    """A click on a table row opens that video (the row's first cell is its id, however sorted)."""
    run = _dataset_run(token)
    row = evt.row_value or []
    vid = str(row[0]) if row else None
    if not vid or run.video_path(vid) is None:
        return skipping(OpenedVideo)
    return _dataset_video_views(run, vid, request)


@user_errors
def save_dataset_ground_truth(token, vid, rows, scores=None, rule_kind=None, rule_value=None,
                              request: gr.Request = None) -> Saved:
    run = _dataset_run(token)
    if not vid:
        raise WECLError("open a video from the table first")
    result = run.results(0).get(vid)
    truth = groundtruth.segments_from_rows(rows, result["video"]["duration"] if result else None)
    gt = run.ground_truth.get(vid)
    path = run.save_segments(vid, truth, label=None if gt and gt.label else majority_label(truth))
    gr.Info(f"Saved {len(truth)} segments of {vid} to {Path(path).name} (previous version: {Path(path).name}.bak)")
    tracks = _tracks_or_warn(run, scores, rule_kind, rule_value)
    return Saved(table=dataset_tables(run, tracks, rule_kind, rule_value),
                 **dataset_aggregates(run, tracks, rule_kind, rule_value)._asdict(),
                 **_video_views(run, vid, request)._asdict())


@user_errors
def export_dataset_ground_truth(token, request: gr.Request = None):
    run = _dataset_run(token)
    paths, problems = run.export_ground_truth(session_dir(request) / "dataset-export")
    for problem in problems:
        gr.Warning(f"left out {problem}")
    return gr.update(value=[str(p) for p in paths], visible=True)


# ---------------------------------------------------------------------------------------------
# The components and their events


def _aggregates_tab(summary: gr.Markdown) -> Aggregates:
    """The dataset-wide figures (AP curves, θ sweep, confusion, per-class accuracy, attention
    inside and outside the ground truth, faithfulness), with the summary above the table."""
    with gr.Row():
        ap_curve = gr.Plot(show_label=False, elem_id="ds-ap")
        sweep = gr.Plot(show_label=False, elem_id="ds-sweep")
    with gr.Row():
        confusion = gr.Plot(show_label=False, elem_id="ds-confusion")
        per_class = gr.Plot(show_label=False, elem_id="ds-per-class")
    distribution = gr.Plot(show_label=False, elem_id="ds-attention")
    faithfulness = gr.Plot(show_label=False, elem_id="ds-faithfulness")
    faithfulness_md = gr.Markdown(elem_id="ds-faithfulness-md")
    return Aggregates(summary=summary, ap_curve=ap_curve, confusion=confusion, per_class=per_class,
                      distribution=distribution, sweep=sweep, faithfulness=faithfulness, faithfulness_md=faithfulness_md)


def build(choices, default: str, keyframe_rule: str = "eq9") -> None:
    """A folder of videos with its annotation file, through one or two checkpoints; the table, the
    aggregates, one video's timelines, and ground-truth editing."""
    token, vid, shown = gr.State(None), gr.State(None), gr.State(None)
    timer = gr.Timer(1.0, active=False)
    gr.Markdown("Point the explorer at a folder of videos and its annotation file (any format the Video tab "
                "reads; default: the folder's own `annotations.json`/`.csv`). Every video runs in the "
                "background; results go to `FOLDER/.wecl/results.sqlite`, shared with `python -m wecl batch`, "
                "so nothing is computed twice. Pick a second checkpoint to compare two models.")
    with gr.Row():
        with gr.Column(scale=2):
            folder = gr.Textbox(value=shown_path(SAMPLES), label="Folder of videos", elem_id="ds-folder",
                                info="a relative folder is read from the app's own folder")
            files = gr.File(label="Annotation file (optional)", file_count="multiple",
                            file_types=[".json", ".csv", ".txt"], height=150, elem_id="ds-gt-file")
            with gr.Row():
                scores_file = gr.File(label="Other models' scores (optional: CSV or ActivityNet results JSON)",
                                      file_types=[".csv", ".json"], height=150, elem_id="ds-scores-file", scale=2)
                with gr.Column(scale=1):
                    rule_kind = gr.Radio(list(RULE_KINDS), value="as-is", label="Their intervals are",
                                         elem_id="ds-score-rule")
                    rule_value = gr.Number(0.5, label="threshold score, or k", elem_id="ds-score-rule-value")
        with gr.Column(scale=1):
            checkpoint_a = gr.Dropdown(choices, value=default, allow_custom_value=True, label="Checkpoint",
                                       elem_id="ds-checkpoint")
            checkpoint_b = gr.Dropdown([("— none —", "")] + choices, value="", allow_custom_value=True,
                                       label="Compare with (optional)", elem_id="ds-checkpoint-b")
            ds_keyframes = gr.Radio(KEYFRAME_CHOICES, value=keyframe_rule, label="Keyframes (detections)",
                                    elem_id="ds-keyframes")
            with gr.Row():
                start = gr.Button("Start", variant="primary", elem_id="ds-start")
                stop = gr.Button("Stop", variant="stop", elem_id="ds-stop")
    source = gr.Markdown(elem_id="ds-source")
    scores = gr.State(None)  # the imported score file's path: this session's alone
    scores_md = gr.Markdown(elem_id="ds-scores-summary")
    status = gr.Markdown(elem_id="ds-status")
    summary = gr.Markdown(elem_id="ds-summary")
    table = gr.Dataframe(headers=dataset_view.COLUMNS, interactive=False, show_search="filter", max_height=420,
                         label="Videos: sort or filter with a header's ⋮ menu; click a row to open its video", elem_id="ds-table")
    with gr.Tabs():
        with gr.Tab("Video"):
            heading = gr.Markdown("Click a row of the table to open its video.", elem_id="ds-video-heading")
            player = gr.Video(label="The video", interactive=False, height=300, elem_id="ds-player")
            timeline_a = gr.Plot(show_label=False, elem_id="ds-timeline")
            timeline_b = gr.Plot(show_label=False, visible=False, elem_id="ds-timeline-b")
            strip = gr.Image(show_label=False, type="numpy", interactive=False, height=220, elem_id="ds-strip")
            comparison = gr.Markdown()
            gt_rows = gr.Dataframe(headers=groundtruth.TABLE_COLUMNS, datatype=["number", "number", "str"],
                                   interactive=True, row_count=3, elem_id="ds-gt-table",
                                   label="Ground-truth segments of this video (s): correct or add rows, then save")
            with gr.Row():
                save = gr.Button("Save to the annotation file (keeps a .bak)", elem_id="ds-save")
                export = gr.Button("Export the ground truth in every format", elem_id="ds-export")
            exported = gr.File(label="Exported ground truth", file_count="multiple", interactive=False, visible=False)
        with gr.Tab("Aggregates"):
            aggregates = _aggregates_tab(summary)._asdict()
    video_views = VideoViews(heading=heading, player=player, timeline_a=timeline_a, timeline_b=timeline_b, strip=strip,
                             gt_rows=gt_rows, comparison=comparison)._asdict()
    checkpoint_a.change(checkpoint_rule, checkpoint_a, ds_keyframes, api_visibility="private", show_progress="hidden")
    start.click(cleared_run, None, list(Cleared(vid=vid, **video_views, **aggregates)), api_visibility="private",
                show_progress="hidden")
    start.click(start_dataset, [folder, files, checkpoint_a, checkpoint_b, ds_keyframes],
                list(Started(token=token, timer=timer, source=source)), api_visibility="private")
    stop.click(stop_dataset, token, None, api_visibility="private")
    timer.tick(poll_dataset, [token, shown, scores, rule_kind, rule_value],
               list(Polled(timer=timer, status=status, table=table, **aggregates, shown=shown)),
               api_visibility="private", show_progress="hidden", concurrency_limit=4, concurrency_id="views")
    table.select(open_dataset_video, token, list(OpenedVideo(vid=vid, **video_views)), api_visibility="private",
                 concurrency_limit=4, concurrency_id="views")
    save.click(save_dataset_ground_truth, [token, vid, gt_rows, scores, rule_kind, rule_value],
               list(Saved(table=table, **aggregates, **video_views)), api_visibility="private")
    imported_outputs = list(ImportedScores(scores=scores, scores_md=scores_md, table=table, **aggregates))
    gr.on([scores_file.upload, rule_kind.input, rule_value.submit, rule_value.blur], import_dataset_scores,
          [token, scores_file, rule_kind, rule_value], imported_outputs, api_visibility="private",
          trigger_mode="always_last", concurrency_limit=4, concurrency_id="views")
    scores_file.clear(import_dataset_scores, [token, scores_file, rule_kind, rule_value], imported_outputs,
                      api_visibility="private")
    export.click(export_dataset_ground_truth, token, exported, api_visibility="private")
