"""Other models' scores (docs/formats.md#other-models-scores): a per-interval CSV
`video,start,end,score[,label][,model]`, or ActivityNet results JSON `{"results": {video: [{segment,
score, label}]}}`. Each model in a file is a named track: `Tracks` maps its name to an annotation
set whose segments carry scores.

A track is either detections (a few scored intervals) or a score track (a score for every stretch
of time, e.g. one per second); `as_detections` turns the second kind into detections by a
threshold or a top-k rule, so both are scored by the same `wecl.metrics` functions as WECL's own.

Files are checked within the bounds of annotation files (`WECL_MAX_ANNOTATION_MB`,
`WECL_MAX_ANNOTATION_ITEMS`): a number that is not finite, intervals of one model in one video that
overlap, and, given the videos a file is for (`known`: id -> duration), unknown videos and times
beyond a video's end are refused with a message naming the file and line.
"""
from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from wecl.annotations import activitynet
from wecl.annotations.model import (
    AnnotationSet,
    PathLike,
    Segment,
    VideoAnnotation,
    check_items,
    check_segment,
    fail,
    majority_label,
    parse_number,
    plain_cell,
    read_text,
)
from wecl.errors import WECLError

SCORE_HEADER = ("video", "start", "end", "score")  # required; "label" and "model" are optional
MAX_MODELS = 8  # named tracks in one file: each is a timeline row and a column group
MAX_NAME = 40  # characters of a model's name
# A time may lie this far past a video's end: durations are rounded differently by every tool.
END_TOLERANCE_S = 0.1

Tracks = dict[str, AnnotationSet]  # model name -> its scored intervals per video


def read_scores(path: PathLike, known: Mapping[str, float | None] | None = None, name: str | None = None) -> Tracks:
    """Every model's scored intervals in a CSV or ActivityNet results file. A file without a `model`
    column is one model, named `name` or after the file. `known` (video id -> duration or None):
    the videos the file may name; others, and times past a known duration, are refused."""
    text = read_text(path)
    stripped = text.lstrip()
    default = _model_name(name or Path(path).stem, path, None)
    if stripped.startswith("{") or Path(path).suffix.lower() == ".json":
        tracks, lines = {default: activitynet.read_prediction_file(path, text)}, None
    else:
        tracks, lines = _read_csv(path, text, default)
    if not any(ann.segments for track in tracks.values() for ann in track.values()):
        fail(path, "no scored interval in the file")
    for model, track in tracks.items():
        for vid, ann in track.items():
            check_video(path, model, ann, known, lines[model][vid].__getitem__ if lines else None)
    return tracks


def _model_name(name: str, path: PathLike, line: int | None) -> str:
    name = name.strip()
    if not name:
        fail(path, "empty model name", line)
    if len(name) > MAX_NAME or not name.isprintable():
        fail(path, f"model name {name[:MAX_NAME]!r}…: at most {MAX_NAME} printable characters", line)
    return name


def _read_csv(path: PathLike, text: str, default: str) -> tuple[Tracks, dict]:
    reader = csv.reader(io.StringIO(text))
    header = [h.strip().lower() for h in next(reader, [])]
    missing = [c for c in SCORE_HEADER if c not in header]
    if missing:
        fail(path, f"header must name the columns {','.join(SCORE_HEADER)} (and optionally label, model); "
                   f"missing {','.join(missing)}", 1)
    col = {c: header.index(c) for c in (*SCORE_HEADER, "label", "model") if c in header}
    tracks: Tracks = {}
    lines: dict[str, dict[str, list[int]]] = {}  # model -> video -> each segment's line
    try:
        for rows, row in enumerate(reader, 1):
            check_items(rows, path, "rows", reader.line_num)
            if not any(cell.strip() for cell in row):
                continue
            line = reader.line_num
            if len(row) < len(header):
                fail(path, f"expected {len(header)} columns, found {len(row)}", line)
            model = _model_name(row[col["model"]], path, line) if "model" in col else default
            if model not in tracks and len(tracks) == MAX_MODELS:
                fail(path, f"more than {MAX_MODELS} models in one file", line)
            vid = plain_cell(row[col["video"]].strip())
            if not vid:
                fail(path, "empty video id", line)
            start, end, score = (parse_number(row[col[c]], path, line, c) for c in ("start", "end", "score"))
            check_segment(start, end, path, line, "interval")
            label = plain_cell(row[col["label"]].strip()) or None if "label" in col else None
            track = tracks.setdefault(model, {})
            ann = track.setdefault(vid, VideoAnnotation(vid))
            ann.segments.append(Segment(start, end, label, score))
            lines.setdefault(model, {}).setdefault(vid, []).append(line)
    except csv.Error as exc:
        fail(path, f"not readable as CSV: {exc}", reader.line_num)
    for track in tracks.values():
        for ann in track.values():
            ann.label = majority_label(ann.segments)
    return tracks, lines


def check_video(path: PathLike, model: str, ann: VideoAnnotation, known: Mapping[str, float | None] | None = None,
                line_of=None) -> None:
    """One model's intervals in one video: no overlaps, and, against `known`, a known video and no
    time past its end. `line_of(i)`: the file line of segment i, where the format has lines."""
    what = f'model "{model}", video "{ann.video_id}"'
    where = line_of or (lambda i: None)
    if known is not None:
        if ann.video_id not in known:
            some = ", ".join(sorted(known)[:5]) + (", …" if len(known) > 5 else "")
            fail(path, f'video "{ann.video_id}" is not one of the videos here ({some or "none"})',
                 where(0) if ann.segments else None)
        duration = known[ann.video_id]
        for i, seg in enumerate(ann.segments):
            if duration is not None and seg.end > duration + END_TOLERANCE_S:
                fail(path, f"{what}: interval [{seg.start:g}, {seg.end:g}] s ends after the video's end "
                           f"({duration:g} s)", where(i))
    order = sorted(range(len(ann.segments)), key=lambda i: (ann.segments[i].start, ann.segments[i].end))
    for a, b in zip(order, order[1:]):
        first, second = ann.segments[a], ann.segments[b]
        if second.start < first.end:
            places = (f"lines {line_of(a)} and {line_of(b)}" if line_of else f"results {a + 1} and {b + 1}")
            fail(path, f"{what}: {places} overlap ([{first.start:g}, {first.end:g}] and [{second.start:g}, "
                       f"{second.end:g}] s); a model's intervals in one video must not overlap (apply "
                       "non-maximum suppression first, or name each set of intervals its own model)",
                 where(b))


def known_videos(annotations: Mapping[str, VideoAnnotation]) -> dict[str, float | None]:
    """The `known` argument of `read_scores` for the videos of an annotation set."""
    return {vid: ann.duration for vid, ann in annotations.items()}


# ---------------------------------------------------------------------------------------------
# Score tracks as detections


@dataclass(frozen=True)
class Rule:
    """How a track's intervals become detections: "as-is" (they are detections), "threshold"
    (runs of touching intervals scoring at least `value`, each one detection scored by its
    duration-weighted mean) or "top-k" (each video's `value` highest-scoring intervals)."""

    kind: str = "as-is"
    value: float = 0.0

    def __str__(self) -> str:
        return self.kind if self.kind == "as-is" else f"{self.kind}:{self.value:g}"


RULE_KINDS = ("as-is", "threshold", "top-k")


def parse_rule(text: str | None) -> Rule:
    """"as-is", "threshold:0.5" or "top-k:3" -> Rule; WECLError otherwise."""
    text = (text or "as-is").strip().lower()
    kind, _, value = text.partition(":")
    if kind == "as-is" and not value:
        return Rule()
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if kind == "threshold" and math.isfinite(number):
        return Rule("threshold", number)
    if kind == "top-k" and math.isfinite(number) and number == int(number) and 1 <= number <= 10_000:
        return Rule("top-k", int(number))
    raise WECLError(f"score rule {text!r}: use as-is, threshold:<score> or top-k:<count>")


def as_detections(track: AnnotationSet, rule: Rule) -> AnnotationSet:
    """The track's detections under `rule` (a new set; the track is left as it is)."""
    out = {}
    for vid, ann in track.items():
        segments = sorted(ann.segments, key=lambda s: s.start)
        if rule.kind == "threshold":
            segments = _runs([s for s in segments if s.score >= rule.value])
        elif rule.kind == "top-k":
            segments = sorted(sorted(segments, key=lambda s: -s.score)[:int(rule.value)], key=lambda s: s.start)
        out[vid] = VideoAnnotation(vid, ann.duration, ann.label, ann.subset, segments)
    return out


def _runs(kept: list[Segment]) -> list[Segment]:
    """Touching intervals (sorted) merged into one segment each, scored by their duration-weighted mean."""
    runs: list[list[Segment]] = []
    for seg in kept:
        if runs and seg.start <= runs[-1][-1].end + 1e-9:
            runs[-1].append(seg)
        else:
            runs.append([seg])
    out = []
    for run in runs:
        weights = [max(s.end - s.start, 1e-9) for s in run]
        score = sum(w * s.score for w, s in zip(weights, run)) / sum(weights)
        out.append(Segment(run[0].start, run[-1].end, majority_label(run), score))
    return out
