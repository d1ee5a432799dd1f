"""The formats by name, and reading and writing through them: the one place that picks a format.

Readable: "activitynet" (ground truth `database` or predictions `results`), "split" (the
official code's split JSON), "ekman-position" (Frame-Transformer `position.txt` plus a video
list) and "csv". Export-only: "elan" (tab-delimited text) and "label-studio" (TimelineLabels).
Every file is written atomically; a malformed file raises WECLError naming the file and line.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from wecl.annotations import (
    activitynet,
    csv_format,
    elan,
    label_studio,
    positions,
    split,
)
from wecl.annotations.model import (
    AnnotationSet,
    PathLike,
    VideoAnnotation,
    check_for_writing,
    class_names,
    read_text,
)
from wecl.atomic import finish_pending
from wecl.errors import WECLError

Reader = Callable[..., AnnotationSet]  # (path, text, **options)
Writer = Callable[..., None]  # (annotations, path, **options)

# format -> (reader or None for export-only, writer). The order is the one messages list them in.
# One reader for "activitynet" and "split": a split entry is a database entry whose "annotations" is {"label"}.
TABLE: dict[str, tuple[Reader | None, Writer]] = {
    "activitynet": (activitynet.read, activitynet.write),
    "ekman-position": (positions.read, positions.write),
    "csv": (csv_format.read, csv_format.write),
    "split": (activitynet.read, split.write),
    "elan": (None, elan.write),
    "label-studio": (None, label_studio.write),
}
FORMATS = tuple(TABLE)
READABLE_FORMATS = tuple(fmt for fmt, (reader, _) in TABLE.items() if reader is not None)


def detect_format(path: PathLike, text: str | None = None) -> str:
    """Guess a readable format from the content: JSON object, CSV header, else keyframe positions."""
    text = read_text(path) if text is None else text
    stripped = text.lstrip()
    if stripped.startswith("{") or Path(path).suffix.lower() == ".json":
        return "activitynet"
    first = stripped.split("\n", 1)[0].strip().lower().replace(" ", "")
    if first.startswith("video,") or Path(path).suffix.lower() == ".csv":
        return "csv"
    return "ekman-position"


def read_annotations(path: PathLike, fmt: str | None = None,
                     video_list: PathLike | Sequence[str] | None = None) -> AnnotationSet:
    """Read an annotation file (format guessed when `fmt` is None); predictions files work too.

    `video_list` (a path or the ids in order) is for "ekman-position"; by default the reader looks
    for `<stem>_videos.txt` beside the positions file, which is what the writer writes.
    """
    if fmt is not None and fmt not in READABLE_FORMATS:
        known = ", ".join(READABLE_FORMATS)
        raise WECLError(f"{path}: cannot read format {fmt!r} (readable: {known})")
    finish_pending(path)  # a positions file + video list whose save a crash interrupted
    text = read_text(path)
    reader, _ = TABLE[fmt or detect_format(path, text)]
    return reader(path, text, video_list=video_list)


def read_class_names(path: PathLike, fmt: str | None = None) -> list[str]:
    """The dataset's classes: the split file's "labels" in its order, else the sorted labels used."""
    text = read_text(path)
    if (fmt or detect_format(path, text)) in ("activitynet", "split"):
        labels = split.split_labels(path, text)
        if labels is not None:
            return labels
    return class_names(read_annotations(path, fmt))


def write_annotations(annotations: Mapping[str, VideoAnnotation], path: PathLike, fmt: str, *,
                      video_list: PathLike | None = None, classes: Sequence[str] | None = None,
                      fps: float | None = None, video_url: str = "{video_id}.mp4",
                      from_name: str = "label", to_name: str = "video") -> None:
    """Write an annotation set in `fmt` (one of FORMATS), atomically. Options of one format:

    - "ekman-position": also writes the video list, to `video_list` or `<stem>_videos.txt`. Holds
      at most three segments per video and no labels; an unknown duration is written as 0.
    - "split": `classes` gives the "labels" list (default: the sorted labels used).
    - "elan": tab-delimited text (`wecl.annotations.elan` says how ELAN imports it).
    - "label-studio": `fps` is required (ranges are frame numbers); `video_url` is a format string
      with `{video_id}`; regions for `<TimelineLabels name=from_name toName=to_name>`
      (`wecl.annotations.label_studio`).
    Segments without a label take the video's label, else "emotion" (ELAN and Label Studio).
    """
    if fmt not in FORMATS:
        raise WECLError(f"{path}: unknown annotation format {fmt!r} (known: {', '.join(FORMATS)})")
    check_for_writing(annotations, path)
    _, writer = TABLE[fmt]
    writer(annotations, path, video_list=video_list, classes=classes, fps=fps, video_url=video_url,
           from_name=from_name, to_name=to_name)
