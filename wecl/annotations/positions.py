"""Ekman-6 keyframe positions (Frame-Transformer `position.txt`) and the video list beside it.

One line per video, `b1 e1 b2 e2 b3 e3 duration`: at most three segments (an unused pair is
`0 0`), no labels, a zero duration for "unknown". The ids are in a separate list, line for line:
by default `<stem>_videos.txt` beside the positions file, which is what the writer writes.
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from wecl.annotations.model import (
    AnnotationSet,
    PathLike,
    Segment,
    VideoAnnotation,
    check_items,
    check_segment,
    fail,
    number_text,
    parse_number,
    read_text,
    video_id,
)
from wecl.atomic import atomic_write_texts


def default_video_list(path: PathLike) -> Path:
    p = Path(path)
    return p.with_name(f"{p.stem}_videos.txt")


HEAD_BYTES = 1 << 16  # where a positions file's first line must be: a sniff never reads a whole upload


def is_positions_file(path: str) -> bool:
    """True when the first non-blank line holds seven numbers (Ekman-6 `position.txt`)."""
    try:
        with open(path, encoding="utf-8-sig") as handle:
            head = handle.read(HEAD_BYTES)
    except (OSError, UnicodeDecodeError):
        return False
    line = next((line for line in head.splitlines() if line.strip()), "")
    fields = _fields(line)
    return len(fields) == 7 and all(_is_number(f) for f in fields)


def _fields(line: str) -> list[str]:
    return [f for f in re.split(r"[\s,]+", line.strip()) if f]


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


# ---------------------------------------------------------------------------------------------
# Reading


def _video_ids(path: PathLike, video_list: PathLike | Sequence[str] | None) -> tuple[list[str], str]:
    """The ids of the list (file or sequence) and a name for messages."""
    if video_list is None:
        video_list = default_video_list(path)
        if not video_list.exists():
            fail(path, f"keyframe positions need the video list (video_list=...); {video_list} not found")
    if isinstance(video_list, (str, os.PathLike)):
        lines = read_text(video_list).splitlines()
        return [video_id(s.strip()) for s in _trim_trailing_blank(lines)], str(video_list)
    return [video_id(s) for s in video_list], "the video list"


def _trim_trailing_blank(lines: list[str]) -> list[str]:
    # Only trailing blank lines are dropped: an inner one would shift the id/line pairing.
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return lines


def read(path: PathLike, text: str, *, video_list: PathLike | Sequence[str] | None = None,
         **_options: Any) -> AnnotationSet:
    """`video_list` is a path or the ids in order (default: `<stem>_videos.txt` beside `path`)."""
    ids, list_name = _video_ids(path, video_list)
    check_items(len(ids), list_name, "videos")
    lines = _trim_trailing_blank(text.splitlines())
    if len(ids) < len(lines):
        fail(path, f"no video id for this line: {list_name} lists only {len(ids)} videos", len(ids) + 1)
    if len(ids) > len(lines):
        fail(list_name, f'video "{ids[len(lines)]}" has no line in {path} ({len(lines)} lines)', len(lines) + 1)
    out, segments = {}, 0
    for n, (vid, line) in enumerate(zip(ids, lines), 1):
        out[vid] = _position_line(vid, line, path, n)
        segments += len(out[vid].segments)
        check_items(segments, path, "segments", n)  # up to three a line
    return out


def _position_line(vid: str, line: str, path: PathLike, lineno: int) -> VideoAnnotation:
    fields = _fields(line)
    if len(fields) != 7:
        fail(path, f"expected 7 numbers (b1 e1 b2 e2 b3 e3 duration), found {len(fields)}", lineno)
    numbers = [parse_number(f, path, lineno, f"field {i + 1}") for i, f in enumerate(fields)]
    segments = []
    for k in range(3):
        start, end = numbers[2 * k], numbers[2 * k + 1]
        if start == 0 and end == 0:
            continue  # unused pair
        check_segment(start, end, path, lineno, f"segment {k + 1}")
        segments.append(Segment(start, end))
    duration = numbers[6]
    if duration < 0:
        fail(path, f"negative duration {duration}", lineno)
    # A zero duration is how the format says "unknown".
    return VideoAnnotation(vid, duration or None, None, None, segments)


# ---------------------------------------------------------------------------------------------
# Writing


def positions_text(annotations: Mapping[str, VideoAnnotation], path: PathLike) -> str:
    lines = []
    for vid, ann in annotations.items():
        if len(ann.segments) > 3:
            fail(path, f'cannot write: video "{vid}" has {len(ann.segments)} segments, the format holds 3')
        pairs = [(s.start, s.end) for s in ann.segments] + [(0.0, 0.0)] * (3 - len(ann.segments))
        numbers = [x for pair in pairs for x in pair] + [ann.duration or 0.0]
        lines.append(" ".join(number_text(x) for x in numbers))
    return "".join(line + "\n" for line in lines)


def write(annotations: Mapping[str, VideoAnnotation], path: PathLike, *,
          video_list: PathLike | None = None, **_options: Any) -> None:
    """The positions and the video list (to `video_list`, default `<stem>_videos.txt`)."""
    # They pair up line by line: they are replaced together.
    ids = "".join(f"{vid}\n" for vid in annotations)
    atomic_write_texts({path: positions_text(annotations, path), video_list or default_video_list(path): ids})
