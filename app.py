"""WECL Explorer: run a WECL checkpoint on a video and look at its attention, erasing rounds and
detections next to the ground truth. This file only wires Gradio components to `wecl` functions;
plots live in `wecl.plots`, ground-truth logic in `wecl.groundtruth`, the annotated MP4 in
`wecl.render`. Run `python app.py`; the prediction is also the API endpoint `/predict`.
"""
from __future__ import annotations

import functools
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

import gradio as gr
import torch

from wecl import checkpoints, dataset_run, dataset_view, groundtruth, inference, plots, render
from wecl.annotations import atomic_write_text, majority_label, video_id
from wecl.config import WECLConfig
from wecl.errors import WECLError

try:  # ZeroGPU Spaces: borrow a GPU for the duration of a prediction
    import spaces

    gpu = spaces.GPU
except ImportError:
    def gpu(fn):
        return fn

ROOT = Path(__file__).resolve().parent
EXAMPLE_DIRS = [ROOT / "assets" / "examples", ROOT / "assets" / "samples"]
VIDEO_SUFFIXES = {".mp4", ".webm", ".mov", ".mkv", ".avi"}
# Files the app writes (downloads, annotated MP4s) go under the system temp dir, which Gradio
# serves by default; nothing else outside the app's folders is ever served.
OUTPUT_ROOT = Path(tempfile.gettempdir()) / "wecl-explorer"
OUTPUT_MAX_AGE_S = float(os.environ.get("WECL_OUTPUT_MAX_AGE", 6 * 3600))
CLEAN_EVERY_S = 600
MAX_FILE_SIZE = os.environ.get("WECL_MAX_UPLOAD", "200mb")
DEVICE = os.environ.get("WECL_DEVICE", "auto")
MAX_ROUNDS = 4
LOOPBACK = ("127.0.0.1", "localhost", "::1")
# Torch's thread count is set once per process (WECL_THREADS, default every core), never per
# request: torch.set_num_threads also sets MKL's count, which is process-wide, so a request setting
# 1 for its heads would drop a running backbone or dataset worker to one thread.
BACKBONE_THREADS = int(os.environ.get("WECL_THREADS", 0)) or torch.get_num_threads()
torch.set_num_threads(BACKBONE_THREADS)
KEYFRAME_CHOICES = [("eq. 9: A*v ≥ θ and A*a ≥ θ (the paper's)", "eq9"),
                    ("fused: mean A* ≥ θ, every erasing round", "fused")]
STRIP_COLUMNS = 5  # thumbnails per row: two rows of five keep T = 10 readable
log = logging.getLogger("wecl.app")

CSS = """
#prediction h2 { margin: 0 0 4px 0; font-size: 1.8em; }
#notices blockquote { margin: 4px 0; padding: 6px 10px; border-left: 4px solid #f59e0b; background: #fffbeb; }
#device { text-align: right; }
#strip-caption { margin-bottom: -8px; }
#checkpoint-info { font-size: 0.85em; color: #4b5563; }
footer { display: none !important; }
"""


# ---------------------------------------------------------------------------------------------
# Plain functions behind the components


def user_errors(fn):
    """WECLError -> gr.Error with its message; anything else -> a short gr.Error, trace in the log."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except WECLError as error:
            raise gr.Error(str(error), print_exception=False) from None
        except Exception as error:
            log.exception("unexpected error in %s", fn.__name__)
            raise gr.Error(f"Unexpected error ({type(error).__name__}): {error}", print_exception=False) from None
    return wrapper


def device_label() -> str:
    device = inference.resolve_device(DEVICE)
    precision = inference.resolve_precision(os.environ.get("WECL_PRECISION", "auto"), device)
    if device.type == "cuda":
        return f"GPU · {torch.cuda.get_device_name(device)} · backbones in {precision}"
    return f"CPU · {BACKBONE_THREADS} threads · backbones in {precision}"


def example_rows() -> list[list]:
    """[video, annotation file or None] for every bundled example video."""
    rows = []
    for folder in EXAMPLE_DIRS:
        if not folder.is_dir():
            continue
        annotation = dataset_run.find_annotation_file(folder)
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() in VIDEO_SUFFIXES:
                rows.append([str(path), [str(annotation)] if annotation else None])
    return rows


def checkpoint_choices() -> tuple[list[tuple[str, str]], str]:
    reg = checkpoints.registry()
    choices = [(f"{c['name']} ({c.get('dataset') or 'unknown data'})", c["name"]) for c in reg["checkpoints"]]
    return choices, reg["default"]


def checkpoint_theta(spec: str | None) -> float | None:
    """The theta in a registry checkpoint's config.json (local ones only: no download to show it)."""
    entry = checkpoints.registry_entry(spec or checkpoints.registry()["default"])
    if entry and entry.get("path"):
        try:
            return WECLConfig.load(checkpoints.PROJECT_ROOT / entry["path"] / "config.json").theta
        except Exception:  # a broken config shows up as an error on Run, not here
            return None
    return None


def checkpoint_info(spec: str | None) -> str:
    entry = checkpoints.registry_entry(spec or checkpoints.registry()["default"])
    if entry is None:
        return (f"Custom checkpoint `{spec}`: a Hub repo id (`owner/name@revision`) or a local folder. "
                "It is loaded when you press Run.")
    where = f"`{entry['repo_id']}`" + (f" @ `{entry['revision']}`" if entry.get("revision") else "") if entry.get("repo_id") \
        else f"local folder `{entry.get('path')}`"
    classes = ", ".join(entry.get("classes") or [])
    return f"{entry.get('description', '')}  \nData: {entry.get('dataset', '?')} · classes: {classes} · {where}"


def on_checkpoint(spec: str):
    theta = checkpoint_theta(spec)
    return checkpoint_info(spec), gr.update() if theta is None else theta


_last_clean = [0.0]


def session_dir(request: gr.Request | None) -> Path:
    """This browser session's folder for the files it downloads; old folders are swept on the way
    (at most every CLEAN_EVERY_S), and a session's own folder goes when the session ends."""
    if time.time() - _last_clean[0] > CLEAN_EVERY_S:
        _last_clean[0] = time.time()
        clean_outputs()
    folder = _session_folder(request)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _session_folder(request: gr.Request | None) -> Path:
    name = getattr(request, "session_hash", None) or "shared"
    return OUTPUT_ROOT / "".join(c for c in name if c.isalnum())[:40]


def end_session(request: gr.Request) -> None:
    """A browser tab closed: its downloads and annotated videos go with it."""
    if getattr(request, "session_hash", None):
        shutil.rmtree(_session_folder(request), ignore_errors=True)


def clean_outputs(max_age_s: float = OUTPUT_MAX_AGE_S) -> None:
    """Drop session folders of earlier runs that nobody has touched for a while."""
    if not OUTPUT_ROOT.is_dir():
        return
    for folder in OUTPUT_ROOT.iterdir():
        try:
            if time.time() - folder.stat().st_mtime > max_age_s:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            pass


@gpu
@user_errors
def run_prediction(video: str | None, checkpoint: str | None, theta: float | None, rounds: float | None,
                   keyframes: str | None = "eq9", progress=gr.Progress()):
    """The `/predict` endpoint: (video, checkpoint, theta, rounds, keyframes) -> result JSON
    (DESIGN.md §10). An empty checkpoint is the registry default; keyframes "eq9" (the paper's) or
    "fused"."""
    if not video:
        raise WECLError("no video: upload one or pick an example first")
    rounds = int(rounds or 1)
    if not 1 <= rounds <= MAX_ROUNDS:
        raise WECLError(f"rounds must lie in 1..{MAX_ROUNDS}, not {rounds}")
    spec = allowed_checkpoint(checkpoint)
    progress(0.0, desc="loading the checkpoint")
    model = inference.load_model(spec, device=DEVICE)
    try:
        result = inference.predict(video, model, theta, rounds, progress=lambda f, d: progress(f, desc=d),
                                   keyframe_rule=keyframes or None)
    except WECLError as error:  # name the upload by its file name, not by Gradio's cache path
        raise WECLError(str(error).replace(str(video), Path(video).name)) from None
    return result.json, {"video": str(video), "checkpoint": spec, "features": result.features}


def _truth_or_warn(rows, duration: float):
    try:
        return groundtruth.segments_from_rows(rows, duration)
    except WECLError as error:
        gr.Warning(f"{error}; the ground truth is ignored until it is fixed")
        return []


def compute_views(session: dict, theta: float, rounds: int, keyframes: str | None, gt_rows) -> tuple:
    """Every view of one prediction from cached features: explain() and the plots, no I/O."""
    model = inference.load_model(session["checkpoint"], device=DEVICE)
    result = inference.explain(session["features"], model, theta, int(rounds), keyframes or None).json
    truth = _truth_or_warn(gt_rows, result["video"]["duration"])
    comparison = groundtruth.compare(truth, result)
    return (
        result,
        plots.prediction_markdown(result),
        plots.notices_markdown(result),
        plots.timeline_figure(result, truth),
        plots.probabilities_figure(result),
        plots.thumbnail_strip(session["features"].thumbnails, result, columns=STRIP_COLUMNS),
        plots.segments_table(result),
        groundtruth.comparison_rows(truth, result, comparison),
        groundtruth.comparison_markdown(comparison),
    )


@user_errors
def update_views(session, theta, rounds, keyframes, gt_rows, request: gr.Request = None):
    if not session:
        return (gr.skip(),) * 11
    result, *views = compute_views(session, theta, rounds, keyframes, gt_rows)
    folder = session_dir(request)
    stem = video_id(session["video"])
    json_path, csv_path = folder / f"{stem}.wecl.json", folder / f"{stem}.segments.csv"
    result_for_file = inference.Result(result, session["features"])
    result_for_file.save_json(json_path)
    atomic_write_text(csv_path, plots.segments_csv(result))
    return (result, *views, str(json_path), str(csv_path))


@user_errors
def load_ground_truth(files, video):
    """An uploaded annotation file -> (the id picker, the table rows, the parsed set)."""
    if not files:
        return gr.update(choices=[], value=None, visible=False), gr.skip(), None
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
        return picker, gr.skip(), annotations
    return picker, groundtruth.table_rows(annotations[vid]), annotations


def match_loaded_ground_truth(annotations, video):
    """A new video: take its segments from the annotation file already loaded, if it names it."""
    vid = groundtruth.match_video(annotations, video) if annotations and video else None
    if vid is None:
        return gr.skip(), gr.skip()
    return gr.update(value=vid), groundtruth.table_rows(annotations[vid])


def pick_ground_truth(annotations, vid):
    if not annotations or vid not in annotations:
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
def render_video(session, theta, rounds, keyframes, gt_rows, request: gr.Request = None, progress=gr.Progress()):
    if not session:
        raise WECLError("run a prediction first")
    result, *_ = compute_views(session, theta, rounds, keyframes, gt_rows)
    truth = _truth_or_warn(gt_rows, result["video"]["duration"])
    out = session_dir(request) / f"{video_id(session['video'])}.annotated.mp4"
    render.render_annotated(session["video"], result, out, truth, progress=lambda f, d: progress(f, desc=d))
    return str(out), str(out)


# ---------------------------------------------------------------------------------------------
# The dataset tab: a background run per folder (wecl.dataset_run), polled by a timer


def _dataset_run(token):
    run = dataset_run.get_run(token)
    if run is None:
        raise WECLError("no dataset loaded: enter a folder and press Start")
    return run


def allowed_checkpoint(spec: str | None) -> str | None:
    """The checkpoint box's value, if this server may load it. On a Hugging Face Space (SPACE_ID
    set) only registry entries and the Hub ids or owners in WECL_CHECKPOINTS_ALLOW (comma-separated,
    `owner/name` or `owner/`); locally anything. None is the registry default."""
    spec = (spec or "").strip() or None
    if spec is None or not os.environ.get("SPACE_ID") or checkpoints.registry_entry(spec) is not None:
        return spec
    repo = checkpoints.parse_spec(spec)[0]
    allowed = [a.strip() for a in os.environ.get("WECL_CHECKPOINTS_ALLOW", "").split(",") if a.strip()]
    if any(repo == a or (a.endswith("/") and repo.startswith(a)) for a in allowed):
        return spec
    names = ", ".join(c["name"] for c in checkpoints.registry()["checkpoints"])
    raise WECLError(f"checkpoint {spec[:80]!r}: this Space loads only its own checkpoints ({names})"
                    + (f" and {', '.join(allowed)}" if allowed else ""))


def dataset_roots() -> list[Path]:
    """Folders the dataset tab may open (empty: any). WECL_DATASET_ROOTS (os.pathsep-separated)
    when set; else it fails closed: only the bundled assets/, unless the server listens on loopback
    alone (GRADIO_SERVER_NAME unset or 127.0.0.1, no share link) outside a Hugging Face Space."""
    explicit = [Path(p).expanduser().resolve() for p in os.environ.get("WECL_DATASET_ROOTS", "").split(os.pathsep) if p]
    if explicit:
        return explicit
    local = (not os.environ.get("SPACE_ID") and os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1") in LOOPBACK
             and os.environ.get("GRADIO_SHARE", "").lower() not in ("1", "true", "yes"))
    return [] if local else [ROOT / "assets"]


@user_errors
def start_dataset(folder: str, files, checkpoint_a: str | None, checkpoint_b: str | None, keyframes: str | None = "eq9",
                  request: gr.Request = None):
    folder = (folder or "").strip()
    if not folder:
        raise WECLError("no folder: type the path of a folder of videos")
    resolved = Path(folder).expanduser().resolve()
    roots = dataset_roots()
    if roots and not any(resolved.is_relative_to(root) for root in roots):
        allowed = ", ".join(str(r) for r in roots)
        raise WECLError(f"{folder}: this server opens dataset folders only under {allowed} (set WECL_DATASET_ROOTS)")
    specs = [allowed_checkpoint(checkpoint_a)]
    second = allowed_checkpoint(checkpoint_b) or ""
    if second and second != (specs[0] or checkpoints.registry()["default"]):
        specs.append(second)
    paths = [files] if isinstance(files, str) else list(files or [])
    # On a Space every visitor gets a run of their own, editing a copy: the bundled files never change.
    owner = (getattr(request, "session_hash", None) or "anonymous") if os.environ.get("SPACE_ID") else None
    run = dataset_run.start_run(folder, specs, paths or None, DEVICE, keyframe_rule=keyframes or "eq9", owner=owner)
    source = f"`{run.annotation_path}`" if run.annotation_path else "none: every video is listed, nothing is scored (add segments below)"
    if run.private and run.annotation_path:
        source = f"`{Path(run.annotation_paths[0]).name}`, a copy of your own (**Save** changes this copy, " \
                 "**Export** downloads it)"
    return (run.token, gr.Timer(active=True),
            f"{len(run.videos)} videos in `{run.folder}` · ground truth: {source} · results: `{run.db_path}`")


@user_errors
def stop_dataset(token):
    _dataset_run(token).stop()
    gr.Info("Stopping after the video in hand: everything finished is kept, and Start continues from there.")


def dataset_tables(run):
    """The table: one row per video, the second checkpoint's columns beside the first's."""
    tables = {name: dataset_view.video_table(run.results(i), run.ground_truth) for i, name in enumerate(run.names)}
    return dataset_view.compared_table(tables)


def dataset_aggregates(run) -> tuple:
    """The summary table and every aggregate figure, all from `evaluate.score` on the stored results."""
    scores = {name: dataset_view.dataset_scores(run.results(i), run.ground_truth, run.models[i].config.classes)
              for i, name in enumerate(run.names)}
    inside, outside = dataset_view.attention_samples(run.results(0), run.ground_truth)
    sweeps = {name: run.theta_sweep(i) for i, name in enumerate(run.names)}
    failures = run.failures(0)
    n = len(failures)
    note = f"\n\n{n} video{'s' if n != 1 else ''} could not be read: " + "; ".join(failures.values()) if n else ""
    first = scores[run.names[0]]
    return (
        dataset_view.scores_markdown(scores) + note,
        dataset_view.ap_curve_figure(scores, run.keyframe_rule),
        dataset_view.confusion_figure(first),
        dataset_view.per_class_accuracy_figure(scores),
        dataset_view.attention_distribution_figure(inside, outside),
        dataset_view.theta_sweep_figure(sweeps, run.keyframe_rule),
    )


@user_errors
def poll_dataset(token):
    """One timer tick: progress, the table so far, and once finished the aggregates."""
    run = dataset_run.get_run(token)
    if run is None:
        return (gr.Timer(active=False), *(gr.skip(),) * 8)
    finished = run.finished  # read once, before the status: the run may end while we look
    status = ("" if finished else f"{run.fraction():.0%} · ") + run.status()
    table = dataset_tables(run)
    if not finished:
        return (gr.Timer(active=True), status, table, *(gr.skip(),) * 6)
    return (gr.Timer(active=False), status, table, *dataset_aggregates(run))


def _dataset_video_views(run, vid: str) -> tuple:
    gt = run.ground_truth.get(vid)
    truth = gt.segments if gt else []
    results = {name: run.results(i).get(vid) for i, name in enumerate(run.names)}
    figures = dataset_view.video_timelines(results, truth)
    second = figures[1] if len(figures) > 1 else None
    first = results[run.names[0]]
    comparison = groundtruth.comparison_markdown(groundtruth.compare(truth, first)) if first else ""
    features = inference.cached_features(first["video"]["path"], run.models[0]) if first else None
    strip = plots.thumbnail_strip(features.thumbnails, first, columns=STRIP_COLUMNS) if features else None
    label = gt.label if gt else None
    heading = f"### {vid}\nground truth: **{label or '—'}**, {len(truth)} segments · file `{run.video_path(vid)}`"
    return (vid, heading, figures[0], gr.update(value=second, visible=second is not None), strip,
            groundtruth.table_rows(gt), comparison)


@user_errors
def open_dataset_video(token, evt: gr.SelectData):
    """A click on a table row opens that video (the row's first cell is its id, however sorted)."""
    run = _dataset_run(token)
    row = evt.row_value or []
    vid = str(row[0]) if row else None
    if not vid or run.video_path(vid) is None:
        return (gr.skip(),) * 7
    return _dataset_video_views(run, vid)


@user_errors
def save_dataset_ground_truth(token, vid, rows):
    run = _dataset_run(token)
    if not vid:
        raise WECLError("open a video from the table first")
    result = run.results(0).get(vid)
    truth = groundtruth.segments_from_rows(rows, result["video"]["duration"] if result else None)
    gt = run.ground_truth.get(vid)
    path = run.save_segments(vid, truth, label=None if gt and gt.label else majority_label(truth))
    gr.Info(f"Saved {len(truth)} segments of {vid} to {Path(path).name} (previous version: {Path(path).name}.bak)")
    return (dataset_tables(run), *dataset_aggregates(run), *_dataset_video_views(run, vid)[1:])


@user_errors
def export_dataset_ground_truth(token, request: gr.Request = None):
    run = _dataset_run(token)
    paths, problems = run.export_ground_truth(session_dir(request) / "dataset-export")
    for problem in problems:
        gr.Warning(f"left out {problem}")
    return gr.update(value=[str(p) for p in paths], visible=True)


API_DOC = """
The prediction is the endpoint **`/predict`**: `(video, checkpoint, theta, rounds, keyframes)` → the
result JSON (see the README, "API"). An empty checkpoint means the registry default; keyframes is
`"eq9"` (the paper's, the default) or `"fused"`.

```python
from gradio_client import Client, handle_file

# download_files=False keeps the JSON as sent: otherwise gradio_client mistakes
# result["video"] (a dict with a "path" key) for a file and replaces it with a local path.
client = Client("http://127.0.0.1:7860/", download_files=False)
result = client.predict(handle_file("clip.mp4"), "", 0.7, 1, "eq9", api_name="/predict")
print(result["prediction"], result["confidence"])
```
"""


# ---------------------------------------------------------------------------------------------
# The UI


def video_tab(choices, default: str, default_theta: float) -> None:
    """One video: upload or example, checkpoint, θ and rounds; the prediction, the attention
    timeline, the segment strip, and the tabs for segments, ground truth, downloads and the API."""
    session = gr.State(None)
    gt_set = gr.State(None)
    gt_files = gr.File(label="Annotation file (ActivityNet JSON, split JSON, CSV, or position.txt + video list)",
                       file_count="multiple", file_types=[".json", ".csv", ".txt"], render=False,
                       elem_id="gt-file")
    with gr.Row():
        with gr.Column(scale=1, min_width=320):
            video = gr.Video(label="Video", sources=["upload"], height=200, elem_id="video")
            checkpoint = gr.Dropdown(choices, value=default, allow_custom_value=True, label="Checkpoint",
                                     info="from the registry, or type a Hub id owner/name@revision or a folder",
                                     elem_id="checkpoint")
            theta = gr.Slider(0, 1, value=default_theta, step=0.01, label="θ: erasing threshold",
                              info="segments with A* ≥ θ in both modalities are erased (eq. 9)", elem_id="theta")
            rounds = gr.Slider(1, MAX_ROUNDS, value=1, step=1, label="Erasing rounds", elem_id="rounds",
                               info="rounds > 1 explore what the model turns to next; they change the "
                                    "detections only under the fused rule")
            keyframes = gr.Radio(KEYFRAME_CHOICES, value="eq9", label="Keyframes (detections)", elem_id="keyframes")
            run = gr.Button("Run", variant="primary", elem_id="run")
            rows = example_rows()
            if rows:
                gr.Examples(rows, inputs=[video, gt_files], label="Examples (their ground truth loads too)",
                            example_labels=[Path(r[0]).stem for r in rows], elem_id="examples")
            info = gr.Markdown(checkpoint_info(default), elem_id="checkpoint-info")
        with gr.Column(scale=3):
            with gr.Row():
                with gr.Column(scale=3):
                    summary = gr.Markdown("Upload a video or pick an example, then press **Run**.",
                                          elem_id="prediction")
                    notices = gr.Markdown(elem_id="notices")
                probabilities = gr.Plot(label="Class probabilities", scale=2, elem_id="probabilities")
            timeline = gr.Plot(label="Attention timeline", elem_id="timeline")
            gr.Markdown("**Segments**: one thumbnail each, erased ones framed in their round's colour",
                        elem_id="strip-caption")
            strip = gr.Image(show_label=False, type="numpy", interactive=False, elem_id="strip", height=270,
                             buttons=["fullscreen"])
    with gr.Tabs():
        with gr.Tab("Segments"):
            table = gr.Dataframe(headers=plots.SEGMENT_COLUMNS, interactive=False, elem_id="segments")
        with gr.Tab("Ground truth", elem_id="gt-tab"):
            with gr.Row():
                with gr.Column(scale=2):
                    gt_files.render()
                with gr.Column(scale=1):
                    gt_video = gr.Dropdown([], label="Video id in the file", visible=False)
                    clear = gr.Button("Clear ground truth")
            gt_table = gr.Dataframe(headers=groundtruth.TABLE_COLUMNS, datatype=["number", "number", "str"],
                                    interactive=True, row_count=3, label="Ground-truth segments (s); edit freely",
                                    elem_id="gt-table")
            comparison_md = gr.Markdown()
            comparison = gr.Dataframe(headers=groundtruth.COMPARISON_COLUMNS, interactive=False,
                                      label="Best tIoU of each ground-truth segment with a detection")
            export = gr.Button("Export ground truth (ActivityNet JSON and CSV)")
            exported = gr.File(label="Exported annotation", file_count="multiple", interactive=False, visible=False)
        with gr.Tab("Downloads"):
            with gr.Row():
                json_file = gr.File(label="Result JSON", interactive=False, height=90)
                csv_file = gr.File(label="Segments CSV", interactive=False, height=90)
            make_video = gr.Button("Render annotated MP4 (timeline and playhead under the video)")
            with gr.Row():
                annotated = gr.Video(label="Annotated video", interactive=False, height=380)
                annotated_file = gr.File(label="Annotated MP4", interactive=False, height=90)
        with gr.Tab("Result JSON"):
            result_json = gr.JSON(label="Result", elem_id="result-json")
        with gr.Tab("API"):
            gr.Markdown(API_DOC)
    view_outputs = [result_json, summary, notices, timeline, probabilities, strip, table, comparison,
                    comparison_md, json_file, csv_file]
    view_inputs = [session, theta, rounds, keyframes, gt_table]
    checkpoint.change(on_checkpoint, checkpoint, [info, theta], api_visibility="private")
    run.click(
        run_prediction, [video, checkpoint, theta, rounds, keyframes], [result_json, session], api_name="predict",
        concurrency_limit=1, concurrency_id="predict",
    ).success(update_views, view_inputs, view_outputs, api_visibility="private", show_progress="hidden")
    gr.on([theta.input, theta.release, rounds.input, rounds.release, keyframes.input], update_views, view_inputs, view_outputs,
          api_visibility="private", trigger_mode="always_last", show_progress="hidden",
          concurrency_limit=4, concurrency_id="views")
    gt_table.change(update_views, view_inputs, view_outputs, api_visibility="private", show_progress="hidden",
                    trigger_mode="always_last", concurrency_limit=4, concurrency_id="views")
    gt_files.change(load_ground_truth, [gt_files, video], [gt_video, gt_table, gt_set], api_visibility="private")
    video.change(match_loaded_ground_truth, [gt_set, video], [gt_video, gt_table], api_visibility="private")
    gt_video.input(pick_ground_truth, [gt_set, gt_video], gt_table, api_visibility="private")
    clear.click(lambda: ([], None, gr.update(visible=False)), None, [gt_table, gt_files, gt_video],
                api_visibility="private")
    export.click(export_ground_truth, [gt_table, video, session], exported, api_visibility="private")
    make_video.click(render_video, view_inputs, [annotated, annotated_file], api_visibility="private",
                     concurrency_limit=1, concurrency_id="render")


def dataset_tab(choices, default: str) -> None:
    """The researchers' half: a folder of videos with its annotation file, through one or two
    checkpoints; the table, the aggregates, one video's timelines, and ground-truth editing."""
    token, vid = gr.State(None), gr.State(None)
    timer = gr.Timer(1.0, active=False)
    gr.Markdown("Point the explorer at a folder of videos and its annotation file (any format the Video tab "
                "reads; default: the folder's own `annotations.json`/`.csv`). Every video runs in the "
                "background; results go to `FOLDER/.wecl/results.sqlite`, shared with `python -m wecl batch`, "
                "so nothing is computed twice. Pick a second checkpoint to compare two models.")
    with gr.Row():
        with gr.Column(scale=2):
            folder = gr.Textbox(value=str(ROOT / "assets" / "samples"), label="Folder of videos", elem_id="ds-folder")
            files = gr.File(label="Annotation file (optional)", file_count="multiple",
                            file_types=[".json", ".csv", ".txt"], height=90, elem_id="ds-gt-file")
        with gr.Column(scale=1):
            checkpoint_a = gr.Dropdown(choices, value=default, allow_custom_value=True, label="Checkpoint",
                                       elem_id="ds-checkpoint")
            checkpoint_b = gr.Dropdown([("— none —", "")] + choices, value="", allow_custom_value=True,
                                       label="Compare with (optional)", elem_id="ds-checkpoint-b")
            ds_keyframes = gr.Radio(KEYFRAME_CHOICES, value="eq9", label="Keyframes (detections)",
                                    elem_id="ds-keyframes")
            with gr.Row():
                start = gr.Button("Start", variant="primary", elem_id="ds-start")
                stop = gr.Button("Stop", variant="stop", elem_id="ds-stop")
    source = gr.Markdown(elem_id="ds-source")
    status = gr.Markdown(elem_id="ds-status")
    summary = gr.Markdown(elem_id="ds-summary")
    table = gr.Dataframe(headers=dataset_view.COLUMNS, interactive=False, show_search="filter", max_height=420,
                         label="Videos: sort or filter with a header's ⋮ menu; click a row to open its video", elem_id="ds-table")
    with gr.Tabs():
        with gr.Tab("Video"):
            heading = gr.Markdown("Click a row of the table to open its video.", elem_id="ds-video-heading")
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
            with gr.Row():
                ap_curve = gr.Plot(show_label=False, elem_id="ds-ap")
                sweep = gr.Plot(show_label=False, elem_id="ds-sweep")
            with gr.Row():
                confusion = gr.Plot(show_label=False, elem_id="ds-confusion")
                per_class = gr.Plot(show_label=False, elem_id="ds-per-class")
            distribution = gr.Plot(show_label=False, elem_id="ds-attention")
    aggregates = [summary, ap_curve, confusion, per_class, distribution, sweep]
    video_views = [heading, timeline_a, timeline_b, strip, gt_rows, comparison]
    start.click(start_dataset, [folder, files, checkpoint_a, checkpoint_b, ds_keyframes], [token, timer, source],
                api_visibility="private")
    stop.click(stop_dataset, token, None, api_visibility="private")
    timer.tick(poll_dataset, token, [timer, status, table, *aggregates], api_visibility="private",
               show_progress="hidden", concurrency_limit=4, concurrency_id="views")
    table.select(open_dataset_video, token, [vid, *video_views], api_visibility="private",
                 concurrency_limit=4, concurrency_id="views")
    save.click(save_dataset_ground_truth, [token, vid, gt_rows], [table, *aggregates, *video_views],
               api_visibility="private")
    export.click(export_dataset_ground_truth, token, exported, api_visibility="private")


def build_app() -> gr.Blocks:
    choices, default = checkpoint_choices()
    default_theta = checkpoint_theta(default) or 0.7
    with gr.Blocks(title="WECL Explorer", fill_width=True, delete_cache=(3600, 3600)) as demo:
        with gr.Row(equal_height=True):
            gr.Markdown("# WECL Explorer\nVideo emotion with cross-modal temporal erasing (CVPR 2023): "
                        "per-segment attention, the segments erased round by round, detections and ground truth.")
            gr.Markdown(f"**Device:** {device_label()}", elem_id="device")
        with gr.Tabs(elem_id="main-tabs"):
            with gr.Tab("Video", elem_id="video-tab"):
                video_tab(choices, default, default_theta)
            with gr.Tab("Dataset", elem_id="dataset-tab"):
                dataset_tab(choices, default)
        demo.unload(end_session)
    return demo


def served_files() -> list[str]:
    """The bundled example and sample files, one by one, as they are at start-up: a folder would
    also serve what appears in it later (`.bak` backups of a Save, the `.wecl/` results database)."""
    return [str(p) for folder in EXAMPLE_DIRS if folder.is_dir() for p in sorted(folder.iterdir())
            if p.is_file() and not p.name.startswith(".") and ".bak" not in p.suffixes]


def launch_options() -> dict:
    """What `launch()` needs beyond the address: upload limit, served folders, look."""
    return dict(
        max_file_size=MAX_FILE_SIZE,
        allowed_paths=served_files(),
        theme=gr.themes.Soft(), css=CSS, show_error=True,
    )


def create() -> gr.Blocks:
    """The app with its queue: one backbone run at a time, a bounded waiting line."""
    clean_outputs()
    return build_app().queue(default_concurrency_limit=2, max_size=32)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    create().launch(**launch_options())
