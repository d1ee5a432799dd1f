"""The data model of an annotation file, and the checks every format reader and writer shares.

An annotation set is `dict[str, VideoAnnotation]`, keyed by video id (the video's file stem).
A malformed file raises WECLError naming the file and line (`fail`).
"""
from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from wecl.errors import WECLError
from wecl.settings import settings

VIDEO_EXTENSIONS = {".mp4", ".avi", ".mkv", ".mov", ".webm", ".flv", ".wmv", ".mpg", ".mpeg", ".m4v", ".ogv", ".3gp"}
# The usual ones, tried in this order by name before a folder is listed for the others.
COMMON_VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".webm", ".mov")
# Label written where a format needs one and neither the segment nor the video has a label.
FALLBACK_LABEL = "emotion"
# An annotation file's size, and how many videos or segments it may hold, are settings
# (`WECL_MAX_ANNOTATION_MB`, `WECL_MAX_ANNOTATION_ITEMS`): parsing costs time and memory per item
# (benchmarks/limits.py: 64 MB of tiny JSON segments parse in 6 s into 1.4 GB of RSS).

PathLike = str | os.PathLike


@dataclass
class Segment:
    """One temporal segment in seconds; `score` is set on predictions only."""

    start: float
    end: float
    label: str | None = None
    score: float | None = None


@dataclass
class VideoAnnotation:
    """Everything a file says about one video: video-level label, subset and segments."""

    video_id: str
    duration: float | None = None
    label: str | None = None
    subset: str | None = None
    segments: list[Segment] = field(default_factory=list)


AnnotationSet = dict[str, VideoAnnotation]


def video_id(name: PathLike) -> str:
    """The id of a video from its path or name: the file name without a video extension."""
    base = Path(str(name).replace("\\", "/")).name
    stem, ext = os.path.splitext(base)
    # Only strip real video extensions: ids such as "clip.001" must survive unchanged.
    return stem if ext.lower() in VIDEO_EXTENSIONS else base


def majority_label(segments: Iterable[Segment]) -> str | None:
    """The most common segment label (ties: the one seen first), or None when none has a label."""
    counts = Counter(s.label for s in segments if s.label is not None)
    return counts.most_common(1)[0][0] if counts else None


def class_names(annotations: Mapping[str, VideoAnnotation]) -> list[str]:
    """Sorted labels used by videos or segments of an annotation set."""
    labels = {a.label for a in annotations.values()}
    labels |= {s.label for a in annotations.values() for s in a.segments}
    return sorted(x for x in labels if x is not None)


def segment_label(seg: Segment, ann: VideoAnnotation) -> str:
    """The label a format that needs one writes: the segment's, else the video's, else FALLBACK_LABEL."""
    return seg.label or ann.label or FALLBACK_LABEL


# ---------------------------------------------------------------------------------------------
# Checks shared by the format modules


def fail(path: PathLike, problem: str, line: Any = None) -> NoReturn:
    """Raise WECLError "<path>, line <line>: <problem>"; `line` may be a lazy `JsonLine`."""
    line = None if line is None else str(line)  # a JsonLine is searched for only now
    where = f"{path}, line {line}" if line else str(path)
    raise WECLError(f"{where}: {problem}")


def check_size(path: PathLike) -> None:
    """WECLError when the file is larger than an annotation file may be (WECL_MAX_ANNOTATION_MB)."""
    size, limit = Path(path).stat().st_size, settings().max_annotation_mb * 2**20
    if size > limit:
        fail(path, f"{size / 2**20:.0f} MB is more than an annotation file may hold here "
                   f"({limit / 2**20:.0f} MB, WECL_MAX_ANNOTATION_MB)")


def check_items(count: int, path: PathLike, what: str, line: Any = None) -> None:
    """WECLError when a file holds more than `settings().max_annotation_items` videos or segments
    (`what`): readers call it before they build the objects, or as they go."""
    limit = settings().max_annotation_items
    if count > limit:
        fail(path, f"more than {limit:,} {what}, more than an annotation file may hold here "
                   "(WECL_MAX_ANNOTATION_ITEMS)", line)


def read_text(path: PathLike) -> str:
    """The text of an annotation file, within WECL_MAX_ANNOTATION_MB, else WECLError."""
    try:
        check_size(path)
        # utf-8-sig: spreadsheets often save CSV with a byte-order mark.
        return Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        fail(path, "file not found")
    except UnicodeDecodeError as exc:
        fail(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})")
    except OSError as exc:
        fail(path, f"cannot read the file: {exc.strerror or exc}")


def parse_number(field: str, path: PathLike, line: int | None, what: str) -> float:
    """A finite float from a field of a text format, else WECLError."""
    try:
        value = float(field.strip())
    except ValueError:
        fail(path, f"{what} is not a number: {field!r}", line)
    return finite_number(value, path, line, what)


def finite_number(value: Any, path: PathLike, line: Any, what: str) -> float:
    """A finite float from a JSON value (strings are refused), else WECLError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        fail(path, f"{what} is not a number: {value!r}", line)
    if not math.isfinite(value):
        fail(path, f"{what} is not a finite number: {value!r}", line)
    return float(value)


def check_segment(start: float, end: float, path: PathLike, line: Any, what: str) -> None:
    if start < 0 or end < 0:
        fail(path, f"{what} has a negative time [{start}, {end}]", line)
    if end < start:
        fail(path, f"{what} ends before it starts [{start}, {end}]", line)


def optional_str(value: Any, path: PathLike, line: Any, what: str) -> str | None:
    if value is not None and not isinstance(value, str):
        fail(path, f"{what} must be a string, got {value!r}", line)
    return value


# A cell a spreadsheet would run as a formula (CSV injection): it is written with a leading
# apostrophe, which spreadsheets show as text and `plain_cell` takes off again when it is read.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(text: str) -> str:
    """`text` as a spreadsheet shows it and never runs it: `'=HYPERLINK(...)` for `=HYPERLINK(...)`
    (and `''x` for `'x`, so that every text reads back as it was)."""
    return "'" + text if text.startswith((*FORMULA_STARTS, "'")) else text


def plain_cell(text: str) -> str:
    """A cell as `safe_cell` wrote it, back as it was."""
    return text[1:] if text.startswith("'") and text[1:].startswith((*FORMULA_STARTS, "'")) else text


def number_text(x: float) -> str:
    # repr gives the shortest text that reads back as the same float: lossless round trips.
    return repr(float(x))


def check_for_writing(annotations: Mapping[str, VideoAnnotation], path: PathLike) -> None:
    """Refuse to write segments that no reader would accept back."""
    for vid, ann in annotations.items():
        for seg in ann.segments:
            what = f'cannot write: video "{vid}": segment'
            start = finite_number(seg.start, path, None, f"{what} start")
            end = finite_number(seg.end, path, None, f"{what} end")
            check_segment(start, end, path, None, what)
