"""WECL Explorer: run a WECL checkpoint on a video and look at its attention, erasing rounds and
detections next to the ground truth. This file holds the header, the tabs, the queue and the launch;
each tab's components and handlers are in `ui/` (`video_tab`, `dataset_tab`, shared bits in
`common`), what the app may load and serve in `explorer.policy`, plots in `explorer.plots`. Run
`python app.py`; the prediction is also the API endpoint `/predict`.
"""
from __future__ import annotations

import logging
from pathlib import Path

import gradio as gr
from starlette.middleware import Middleware

from explorer.policy import checkpoint_choices, checkpoint_settings, served_files
from ui import dataset_tab, fairness, video_tab

# `app.gpu` is also reached through this module: a Space checks that ZeroGPU wraps the prediction.
from ui.common import clean_outputs, device_label, end_session, gpu, set_threads  # noqa: F401
from ui.limits import BodyLimit, parse_size, sweep_stray_uploads, upload_folder
from wecl.settings import settings

CSS_FILE = Path(__file__).resolve().parent / "assets" / "app.css"
PLAYER_JS = Path(__file__).resolve().parent / "assets" / "player.js"  # the player that follows the timeline
QUEUE_BACKSTOP = 2000  # events waiting app-wide, all kinds together (`ui.fairness` bounds each visitor)


def build_app() -> gr.Blocks:
    choices, default = checkpoint_choices()
    start = checkpoint_settings(default) or (0.7, "eq9")  # (theta, keyframe rule) the controls start at
    with gr.Blocks(title="WECL Explorer", fill_width=True, delete_cache=(3600, 3600)) as demo:
        with gr.Row(equal_height=True):
            gr.Markdown("# WECL Explorer\nVideo emotion with cross-modal temporal erasing (CVPR 2023): "
                        "per-segment attention, the segments erased round by round, detections and ground truth.")
            gr.Markdown(f"**Device:** {device_label()}", elem_id="device")
        with gr.Tabs(elem_id="main-tabs"):
            with gr.Tab("Video", elem_id="video-tab"):
                video_tab.build(choices, default, start)
            with gr.Tab("Dataset", elem_id="dataset-tab"):
                dataset_tab.build(choices, default, start[1])
        demo.unload(end_session)
    return demo


def launch_options() -> dict:
    """What `launch()` needs beyond the address: upload and request-body limits (`ui.limits`;
    WECL_MAX_UPLOAD per upload request, all its files together), the sessions whose state (a
    prediction's features and thumbnails, about 2 MB) and last inputs Gradio keeps, oldest first
    (WECL_SESSIONS; Gradio's default is 10,000), served files, look."""
    limits = settings()
    return dict(
        max_file_size=limits.max_upload,
        app_kwargs={"middleware": [Middleware(BodyLimit, upload_limit=parse_size(limits.max_upload) + 2**20)]},
        state_session_capacity=limits.sessions,
        allowed_paths=served_files(),
        theme=gr.themes.Soft(), css=CSS_FILE.read_text(), js=PLAYER_JS.read_text(), show_error=True,
    )


def create() -> gr.Blocks:
    """The app with its queue: one backbone run at a time, and `ui.fairness` deciding who may wait
    (one prediction per visitor, cheap events never refused for what others do). Gradio's own
    app-wide cap is only a backstop: it counts every event, so a full line of predictions would
    refuse a checkpoint's info (a ZeroGPU Space also turns None into 1)."""
    set_threads()
    clean_outputs()
    sweep_stray_uploads(upload_folder())  # what a crash or a restart left of unfinished uploads
    demo = build_app().queue(default_concurrency_limit=2, max_size=QUEUE_BACKSTOP)
    fairness.install(demo)
    return demo


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    create().launch(**launch_options())
