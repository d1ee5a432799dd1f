"""Label Studio tasks (export only): a list of `{"data": {"video": url}, "predictions": [...]}`
with TimelineLabels regions for `<TimelineLabels name=from_name toName=to_name>`.

Ranges are frame numbers, assumed 1-based and inclusive (frame k shows [(k-1)/fps, k/fps)); set
the same `frameRate` on the `<Video>` tag. `video_url` is a format string with `{video_id}`,
e.g. "/data/local-files/?d=videos/{video_id}.mp4".
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from wecl.annotations.activitynet import json_text
from wecl.annotations.model import PathLike, Segment, VideoAnnotation, segment_label
from wecl.atomic import atomic_write_text
from wecl.errors import WECLError


def _frame_range(seg: Segment, fps: float) -> dict[str, int]:
    """Label Studio frames: 1-based, inclusive; frame k shows time [(k-1)/fps, k/fps)."""
    # The 1e-6 guards keep e.g. 0.7 s * 30 fps = 21.000000000000004 from spilling into frame 22.
    first = math.floor(seg.start * fps + 1e-6) + 1
    last = max(first, math.ceil(seg.end * fps - 1e-6))
    return {"start": first, "end": last}


def _task(vid: str, ann: VideoAnnotation, fps: float, video_url: str, from_name: str, to_name: str) -> dict:
    result = []
    for i, seg in enumerate(ann.segments):
        region: dict[str, Any] = {
            "id": f"{vid}_{i}", "from_name": from_name, "to_name": to_name,
            "type": "timelinelabels",
            "value": {"ranges": [_frame_range(seg, fps)], "timelinelabels": [segment_label(seg, ann)]},
        }
        if seg.score is not None:
            region["score"] = seg.score
        result.append(region)
    prediction: dict[str, Any] = {"model_version": "wecl", "result": result}
    scores = [s.score for s in ann.segments if s.score is not None]
    if scores:
        prediction["score"] = max(scores)
    return {"data": {"video": video_url.replace("{video_id}", vid)}, "predictions": [prediction]}


def label_studio_text(annotations: Mapping[str, VideoAnnotation], fps: float,
                      video_url: str, from_name: str, to_name: str) -> str:
    return json_text([_task(vid, ann, fps, video_url, from_name, to_name) for vid, ann in annotations.items()])


def write(annotations: Mapping[str, VideoAnnotation], path: PathLike, *, fps: float | None = None,
          video_url: str = "{video_id}.mp4", from_name: str = "label", to_name: str = "video",
          **_options: Any) -> None:
    """`fps` (the video frame rate) is required: ranges are frame numbers."""
    if fps is None or not fps > 0:
        raise WECLError(f"{path}: Label Studio export needs the video frame rate (fps > 0), got {fps!r}")
    atomic_write_text(path, label_studio_text(annotations, fps, video_url, from_name, to_name))
