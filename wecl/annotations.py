"""Temporal-annotation file formats: the one module that reads and writes them (DESIGN.md section 6).

An annotation set is `dict[str, VideoAnnotation]`, keyed by video id (the video's file stem).
Readable formats: "activitynet" (ground truth `database` or predictions `results`), "split"
(the official code's split JSON), "ekman-position" (Frame-Transformer `position.txt` plus a video
list) and "csv". Export-only: "elan" (tab-delimited text) and "label-studio" (TimelineLabels).
Every file is written atomically; a malformed file raises WECLError naming the file and line.
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from wecl.atomic import atomic_write_text, atomic_write_texts, finish_pending  # noqa: F401  (public here too)
from wecl.errors import WECLError

FORMATS = ("activitynet", "ekman-position", "csv", "split", "elan", "label-studio")
READABLE_FORMATS = ("activitynet", "ekman-position", "csv", "split")
CSV_HEADER = ("video", "start", "end", "label")
VIDEO_EXTENSIONS = {".mp4", ".avi", ".mkv", ".mov", ".webm", ".flv", ".wmv", ".mpg", ".mpeg", ".m4v", ".ogv", ".3gp"}
# Label written where a format needs one and neither the segment nor the video has a label.
FALLBACK_LABEL = "emotion"

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


# ---------------------------------------------------------------------------------------------
# Shared helpers


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


def _fail(path: PathLike, problem: str, line: "int | _JsonLine | None" = None) -> NoReturn:
    line = None if line is None else str(line)  # a _JsonLine is searched for only now
    where = f"{path}, line {line}" if line else str(path)
    raise WECLError(f"{where}: {problem}")


MAX_ANNOTATION_BYTES = int(float(os.environ.get("WECL_MAX_ANNOTATION_MB", 64)) * 2**20)


def _read_text(path: PathLike) -> str:
    try:
        size = Path(path).stat().st_size
        if size > MAX_ANNOTATION_BYTES:
            _fail(path, f"{size / 2**20:.0f} MB is more than an annotation file may hold here "
                        f"({MAX_ANNOTATION_BYTES / 2**20:.0f} MB, WECL_MAX_ANNOTATION_MB)")
        # utf-8-sig: spreadsheets often save CSV with a byte-order mark.
        return Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        _fail(path, "file not found")
    except UnicodeDecodeError as exc:
        _fail(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})")
    except OSError as exc:
        _fail(path, f"cannot read the file: {exc.strerror or exc}")


def _parse_number(field: str, path: PathLike, line: int | None, what: str) -> float:
    """A finite float from a field of a text format, else WECLError."""
    try:
        value = float(field.strip())
    except ValueError:
        _fail(path, f"{what} is not a number: {field!r}", line)
    return _number(value, path, line, what)


def _number(value: Any, path: PathLike, line: int | None, what: str) -> float:
    """A finite float from a JSON value (strings are refused), else WECLError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        _fail(path, f"{what} is not a number: {value!r}", line)
    if not math.isfinite(value):
        _fail(path, f"{what} is not a finite number: {value!r}", line)
    return float(value)


def _checked_segment(start: float, end: float, path: PathLike, line: int | None, what: str) -> None:
    if start < 0 or end < 0:
        _fail(path, f"{what} has a negative time [{start}, {end}]", line)
    if end < start:
        _fail(path, f"{what} ends before it starts [{start}, {end}]", line)


def _optional_str(value: Any, path: PathLike, line: int | None, what: str) -> str | None:
    if value is not None and not isinstance(value, str):
        _fail(path, f"{what} must be a string, got {value!r}", line)
    return value


def _fmt_number(x: float) -> str:
    # repr gives the shortest text that reads back as the same float: lossless round trips.
    return repr(float(x))


def _check_for_writing(annotations: Mapping[str, VideoAnnotation], path: PathLike) -> None:
    """Refuse to write segments that no reader would accept back."""
    for vid, ann in annotations.items():
        for seg in ann.segments:
            what = f'cannot write: video "{vid}": segment'
            start = _number(seg.start, path, None, f"{what} start")
            end = _number(seg.end, path, None, f"{what} end")
            _checked_segment(start, end, path, None, what)


# ---------------------------------------------------------------------------------------------
# JSON: ActivityNet ground truth and predictions, the official split file


def _load_json(path: PathLike, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        _fail(path, f"not valid JSON: {exc.msg} (column {exc.colno})", exc.lineno)


class _JsonLine:
    """The line where a video's key first appears, so structural errors point somewhere useful.
    Searched for only when an error names it (`str()`): searching for every video would make
    reading a file quadratic in its size (8,000 videos: over a minute)."""

    __slots__ = ("text", "key")

    def __init__(self, text: str, key: str):
        self.text, self.key = text, key

    def __str__(self) -> str:
        for needle in (json.dumps(self.key, ensure_ascii=False), json.dumps(self.key)):
            at = self.text.find(needle)
            if at >= 0:
                return str(self.text.count("\n", 0, at) + 1)
        return ""


def _json_segment(item: Any, path: PathLike, line: int | None, what: str, need_score: bool) -> Segment:
    if not isinstance(item, dict) or "segment" not in item:
        _fail(path, f'{what} must be an object with a "segment" key', line)
    pair = item["segment"]
    if not isinstance(pair, list) or len(pair) != 2:
        _fail(path, f'{what}: "segment" must be [start, end], got {pair!r}', line)
    start = _number(pair[0], path, line, f"{what} start")
    end = _number(pair[1], path, line, f"{what} end")
    _checked_segment(start, end, path, line, what)
    label = _optional_str(item.get("label"), path, line, f"{what} label")
    if need_score and "score" not in item:
        _fail(path, f'{what} has no "score"', line)
    score = _number(item["score"], path, line, f"{what} score") if "score" in item else None
    return Segment(start, end, label, score)


def _top_object(data: Any, path: PathLike, text: str, key: str) -> dict[str, Any]:
    if not isinstance(data, dict) or key not in data:
        _fail(path, f'no "{key}" object at the top level', 1)
    if not isinstance(data[key], dict):
        _fail(path, f'"{key}" must be an object keyed by video id', _JsonLine(text, key))
    return data[key]


def _database_entry(vid: str, entry: Any, path: PathLike, line: int | None) -> VideoAnnotation:
    """One `database` entry: ActivityNet (list of segments) or split style ({"label": ...})."""
    what = f'video "{vid}"'
    if not isinstance(entry, dict):
        _fail(path, f"{what} must be an object", line)
    duration = entry.get("duration")
    duration = None if duration is None else _number(duration, path, line, f"{what} duration")
    subset = _optional_str(entry.get("subset"), path, line, f"{what} subset")
    annotations = entry.get("annotations", [])
    if isinstance(annotations, dict):
        # Split style: a video-level label and no segments (testing entries may have none).
        label = _optional_str(annotations.get("label"), path, line, f"{what} label")
        return VideoAnnotation(vid, duration, label, subset, [])
    if not isinstance(annotations, list):
        _fail(path, f'{what}: "annotations" must be a list of segments', line)
    segments = [
        _json_segment(item, path, line, f"{what} annotation {i + 1}", need_score=False)
        for i, item in enumerate(annotations)
    ]
    label = _optional_str(entry.get("label"), path, line, f"{what} label") or majority_label(segments)
    return VideoAnnotation(vid, duration, label, subset, segments)


def _read_database_json(data: Any, path: PathLike, text: str) -> AnnotationSet:
    database = _top_object(data, path, text, "database")
    return {
        vid: _database_entry(vid, entry, path, _JsonLine(text, vid))
        for vid, entry in database.items()
    }


def _read_results_json(data: Any, path: PathLike, text: str) -> AnnotationSet:
    results = _top_object(data, path, text, "results")
    out: AnnotationSet = {}
    for vid, items in results.items():
        line = _JsonLine(text, vid)
        if not isinstance(items, list):
            _fail(path, f'video "{vid}": results must be a list of segments', line)
        segments = [
            _json_segment(item, path, line, f'video "{vid}" result {i + 1}', need_score=True)
            for i, item in enumerate(items)
        ]
        out[vid] = VideoAnnotation(vid, None, majority_label(segments), None, segments)
    return out


def _read_json(path: PathLike, text: str) -> AnnotationSet:
    data = _load_json(path, text)
    if isinstance(data, dict) and "results" in data and "database" not in data:
        return _read_results_json(data, path, text)
    return _read_database_json(data, path, text)


def _json_text(obj: Any) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def _activitynet_text(annotations: Mapping[str, VideoAnnotation]) -> str:
    database = {}
    for vid, ann in annotations.items():
        entry: dict[str, Any] = {}
        if ann.duration is not None:
            entry["duration"] = ann.duration
        if ann.subset is not None:
            entry["subset"] = ann.subset
        if ann.label is not None:
            entry["label"] = ann.label
        entry["annotations"] = [_segment_json(s, with_score=False) for s in ann.segments]
        database[vid] = entry
    return _json_text({"database": database})


def _segment_json(seg: Segment, with_score: bool) -> dict[str, Any]:
    item: dict[str, Any] = {"segment": [seg.start, seg.end]}
    if with_score:
        item["score"] = seg.score
    if seg.label is not None:
        item["label"] = seg.label
    return item


def _split_text(annotations: Mapping[str, VideoAnnotation], classes: Sequence[str] | None) -> str:
    labels = list(classes) if classes is not None else class_names(annotations)
    database = {}
    for vid, ann in annotations.items():
        entry: dict[str, Any] = {}
        if ann.subset is not None:
            entry["subset"] = ann.subset
        entry["annotations"] = {} if ann.label is None else {"label": ann.label}
        database[vid] = entry
    return _json_text({"labels": labels, "database": database})


def _results_text(predictions: Mapping[str, VideoAnnotation], path: PathLike) -> str:
    for vid, ann in predictions.items():
        if any(s.score is None for s in ann.segments):
            _fail(path, f'cannot write: video "{vid}" has a predicted segment without a score')
    results = {
        vid: [_segment_json(s, with_score=True) for s in ann.segments]
        for vid, ann in predictions.items()
    }
    # "version" and "external_data" are what ActivityNet's own evaluator expects beside "results".
    return _json_text({"version": "WECL", "results": results, "external_data": {}})


# ---------------------------------------------------------------------------------------------
# Ekman-6 keyframe positions (Frame-Transformer `position.txt`) and its video list


def _default_video_list(path: PathLike) -> Path:
    p = Path(path)
    return p.with_name(f"{p.stem}_videos.txt")


def _video_ids(path: PathLike, video_list: PathLike | Sequence[str] | None) -> tuple[list[str], str]:
    """The ids of the list (file or sequence) and a name for messages."""
    if video_list is None:
        video_list = _default_video_list(path)
        if not video_list.exists():
            _fail(path, f"keyframe positions need the video list (video_list=...); {video_list} not found")
    if isinstance(video_list, (str, os.PathLike)):
        lines = _read_text(video_list).splitlines()
        return [video_id(s.strip()) for s in _trim_trailing_blank(lines)], str(video_list)
    return [video_id(s) for s in video_list], "the video list"


def _trim_trailing_blank(lines: list[str]) -> list[str]:
    # Only trailing blank lines are dropped: an inner one would shift the id/line pairing.
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return lines


def _read_position(path: PathLike, text: str, video_list: PathLike | Sequence[str] | None) -> AnnotationSet:
    ids, list_name = _video_ids(path, video_list)
    lines = _trim_trailing_blank(text.splitlines())
    if len(ids) < len(lines):
        _fail(path, f"no video id for this line: {list_name} lists only {len(ids)} videos", len(ids) + 1)
    if len(ids) > len(lines):
        _fail(list_name, f'video "{ids[len(lines)]}" has no line in {path} ({len(lines)} lines)', len(lines) + 1)
    return {vid: _position_line(vid, line, path, n) for n, (vid, line) in enumerate(zip(ids, lines), 1)}


def _position_line(vid: str, line: str, path: PathLike, lineno: int) -> VideoAnnotation:
    fields = [f for f in re.split(r"[\s,]+", line.strip()) if f]
    if len(fields) != 7:
        _fail(path, f"expected 7 numbers (b1 e1 b2 e2 b3 e3 duration), found {len(fields)}", lineno)
    numbers = [_parse_number(f, path, lineno, f"field {i + 1}") for i, f in enumerate(fields)]
    segments = []
    for k in range(3):
        start, end = numbers[2 * k], numbers[2 * k + 1]
        if start == 0 and end == 0:
            continue  # unused pair
        _checked_segment(start, end, path, lineno, f"segment {k + 1}")
        segments.append(Segment(start, end))
    duration = numbers[6]
    if duration < 0:
        _fail(path, f"negative duration {duration}", lineno)
    # A zero duration is how the format says "unknown".
    return VideoAnnotation(vid, duration or None, None, None, segments)


def _position_text(annotations: Mapping[str, VideoAnnotation], path: PathLike) -> str:
    lines = []
    for vid, ann in annotations.items():
        if len(ann.segments) > 3:
            _fail(path, f'cannot write: video "{vid}" has {len(ann.segments)} segments, the format holds 3')
        pairs = [(s.start, s.end) for s in ann.segments] + [(0.0, 0.0)] * (3 - len(ann.segments))
        numbers = [x for pair in pairs for x in pair] + [ann.duration or 0.0]
        lines.append(" ".join(_fmt_number(x) for x in numbers))
    return "".join(line + "\n" for line in lines)


# ---------------------------------------------------------------------------------------------
# Plain CSV `video,start,end,label`


def _read_csv(path: PathLike, text: str) -> AnnotationSet:
    reader = csv.reader(io.StringIO(text))
    header = [h.strip().lower() for h in next(reader, [])]
    missing = [c for c in CSV_HEADER if c not in header]
    if missing:
        _fail(path, f"header must name the columns {','.join(CSV_HEADER)}; missing {','.join(missing)}", 1)
    col = {c: header.index(c) for c in CSV_HEADER}
    segments: dict[str, list[Segment]] = {}
    labels: dict[str, str] = {}
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                _csv_row(row, col, len(header), path, reader.line_num, segments, labels)
    except csv.Error as exc:
        _fail(path, f"not readable as CSV: {exc}", reader.line_num)
    return {
        vid: VideoAnnotation(vid, None, labels.get(vid) or majority_label(segs), None, segs)
        for vid, segs in segments.items()
    }


def _csv_row(row: list[str], col: dict[str, int], width: int, path: PathLike, line: int,
             segments: dict[str, list[Segment]], labels: dict[str, str]) -> None:
    """Add one row: a segment, or (empty start and end) the video-level label."""
    if len(row) < width:
        _fail(path, f"expected {width} columns, found {len(row)}", line)
    vid, start, end = row[col["video"]].strip(), row[col["start"]].strip(), row[col["end"]].strip()
    label = row[col["label"]].strip() or None
    if not vid:
        _fail(path, "empty video id", line)
    segments.setdefault(vid, [])
    if not start and not end:
        if label is None:
            return  # a bare id: the video is listed, with nothing known about it
        if labels.get(vid, label) != label:
            _fail(path, f'video "{vid}" has two labels: {labels[vid]!r} and {label!r}', line)
        labels[vid] = label
        return
    if not start or not end:
        _fail(path, "start and end must both be given or both be empty", line)
    s, e = _parse_number(start, path, line, "start"), _parse_number(end, path, line, "end")
    _checked_segment(s, e, path, line, "segment")
    segments[vid].append(Segment(s, e, label))


def _csv_with_video(path: PathLike, text: str, vid: str, segments: Sequence[Segment], label: str | None) -> str:
    """The CSV text with one video's segment rows replaced and everything else kept: the header
    as written (every column, also ones this project does not know, such as `annotator`), other
    videos' rows cell for cell, and, for a segment whose start is unchanged, its extra cells."""
    _read_csv(path, text)  # the file must be valid before we edit it
    reader = csv.reader(io.StringIO(text))
    header = next(reader)
    col = {c: [h.strip().lower() for h in header].index(c) for c in CSV_HEADER}
    width = len(header)
    kept: list = []
    label_row, by_start, at = None, {}, None
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        if row[col["video"]].strip() != vid:
            kept.append(row)
            continue
        at = len(kept) if at is None else at  # the video's rows go where its first one was
        if not row[col["start"]].strip() and not row[col["end"]].strip():
            label_row = row
        else:
            by_start.setdefault(float(row[col["start"]]), row)
    rows = []
    current_label = label if label is not None else (label_row[col["label"]].strip() if label_row else None)
    if label_row is not None or not segments or (current_label and current_label != majority_label(segments)):
        row = list(label_row or [""] * width)
        row[col["video"]], row[col["start"]], row[col["end"]] = vid, "", ""
        row[col["label"]] = current_label or ""
        rows.append(row)
    for seg in segments:
        row = list(by_start.get(seg.start, [""] * width)) + [""] * width
        row = row[:width]
        row[col["video"]], row[col["start"]], row[col["end"]] = vid, _fmt_number(seg.start), _fmt_number(seg.end)
        row[col["label"]] = seg.label or ""
        rows.append(row)
    at = len(kept) if at is None else at
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(kept[:at] + rows + kept[at:])
    return out.getvalue()


def _csv_text(annotations: Mapping[str, VideoAnnotation]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for vid, ann in annotations.items():
        # A label-only row only where the reader could not infer the label from the segments.
        if not ann.segments or (ann.label is not None and ann.label != majority_label(ann.segments)):
            writer.writerow([vid, "", "", ann.label or ""])
        for s in ann.segments:
            writer.writerow([vid, _fmt_number(s.start), _fmt_number(s.end), s.label or ""])
    return out.getvalue()


# ---------------------------------------------------------------------------------------------
# Export-only: ELAN and Label Studio


def _segment_label(seg: Segment, ann: VideoAnnotation) -> str:
    return seg.label or ann.label or FALLBACK_LABEL


def _elan_text(annotations: Mapping[str, VideoAnnotation]) -> str:
    """Rows `tier<TAB>begin<TAB>end<TAB>annotation`; the tier is the video id."""
    def clean(s: str) -> str:
        return re.sub(r"[\t\r\n]+", " ", s)

    rows = []
    for vid, ann in annotations.items():
        for seg in sorted(ann.segments, key=lambda s: (s.start, s.end)):
            rows.append(f"{clean(vid)}\t{seg.start:.3f}\t{seg.end:.3f}\t{clean(_segment_label(seg, ann))}\n")
    return "".join(rows)


def _frame_range(seg: Segment, fps: float) -> dict[str, int]:
    """Label Studio frames: 1-based, inclusive; frame k shows time [(k-1)/fps, k/fps)."""
    # The 1e-6 guards keep e.g. 0.7 s * 30 fps = 21.000000000000004 from spilling into frame 22.
    first = math.floor(seg.start * fps + 1e-6) + 1
    last = max(first, math.ceil(seg.end * fps - 1e-6))
    return {"start": first, "end": last}


def _label_studio_text(annotations: Mapping[str, VideoAnnotation], fps: float,
                       video_url: str, from_name: str, to_name: str) -> str:
    tasks = []
    for vid, ann in annotations.items():
        result = []
        for i, seg in enumerate(ann.segments):
            region: dict[str, Any] = {
                "id": f"{vid}_{i}", "from_name": from_name, "to_name": to_name,
                "type": "timelinelabels",
                "value": {"ranges": [_frame_range(seg, fps)], "timelinelabels": [_segment_label(seg, ann)]},
            }
            if seg.score is not None:
                region["score"] = seg.score
            result.append(region)
        prediction: dict[str, Any] = {"model_version": "wecl", "result": result}
        scores = [s.score for s in ann.segments if s.score is not None]
        if scores:
            prediction["score"] = max(scores)
        tasks.append({"data": {"video": video_url.replace("{video_id}", vid)}, "predictions": [prediction]})
    return _json_text(tasks)


# ---------------------------------------------------------------------------------------------
# Public entry points


def detect_format(path: PathLike, text: str | None = None) -> str:
    """Guess a readable format from the content: JSON object, CSV header, else keyframe positions."""
    text = _read_text(path) if text is None else text
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
    text = _read_text(path)
    fmt = fmt or detect_format(path, text)
    if fmt in ("activitynet", "split"):
        # One reader for both: a split entry is a database entry whose "annotations" is {"label"}.
        return _read_json(path, text)
    if fmt == "csv":
        return _read_csv(path, text)
    return _read_position(path, text, video_list)


def read_predictions(path: PathLike) -> AnnotationSet:
    """Read ActivityNet predictions `{"results": {id: [{"segment", "score", "label"}]}}`."""
    text = _read_text(path)
    return _read_results_json(_load_json(path, text), path, text)


def write_predictions(predictions: Mapping[str, VideoAnnotation], path: PathLike) -> None:
    """Write ActivityNet predictions; every segment needs a score."""
    _check_for_writing(predictions, path)
    atomic_write_text(path, _results_text(predictions, path))


def read_class_names(path: PathLike, fmt: str | None = None) -> list[str]:
    """The dataset's classes: the split file's "labels" in its order, else the sorted labels used."""
    text = _read_text(path)
    if (fmt or detect_format(path, text)) in ("activitynet", "split"):
        data = _load_json(path, text)
        labels = data.get("labels") if isinstance(data, dict) else None
        if isinstance(labels, list) and all(isinstance(x, str) for x in labels):
            return list(labels)
    return class_names(read_annotations(path, fmt))


def class_names(annotations: Mapping[str, VideoAnnotation]) -> list[str]:
    """Sorted labels used by videos or segments of an annotation set."""
    labels = {a.label for a in annotations.values()}
    labels |= {s.label for a in annotations.values() for s in a.segments}
    return sorted(x for x in labels if x is not None)


def write_annotations(annotations: Mapping[str, VideoAnnotation], path: PathLike, fmt: str, *,
                      video_list: PathLike | None = None, classes: Sequence[str] | None = None,
                      fps: float | None = None, video_url: str = "{video_id}.mp4",
                      from_name: str = "label", to_name: str = "video") -> None:
    """Write an annotation set in `fmt` (one of FORMATS), atomically.

    - "ekman-position": also writes the video list, to `video_list` or `<stem>_videos.txt`. Holds
      at most three segments per video and no labels; an unknown duration is written as 0.
    - "split": `classes` gives the "labels" list (default: the sorted labels used).
    - "elan": tab-delimited text, one row per segment: tier (the video id), begin and end in
      seconds with three decimals, annotation (the label). Import in ELAN with File > Import >
      CSV / Tab-delimited Text File, delimiter Tab, first row of data 1, and column types
      1 = Tier, 2 = Begin Time, 3 = End Time, 4 = Annotation.
    - "label-studio": a list of tasks `{"data": {"video": url}, "predictions": [...]}` with
      TimelineLabels regions for `<TimelineLabels name=from_name toName=to_name>`. `fps` is
      required: ranges are frame numbers, assumed 1-based and inclusive (frame k shows
      [(k-1)/fps, k/fps)); set the same `frameRate` on the `<Video>` tag. `video_url` is a
      format string with `{video_id}`, e.g. "/data/local-files/?d=videos/{video_id}.mp4".
    Segments without a label take the video's label, else "emotion" (ELAN and Label Studio).
    """
    if fmt not in FORMATS:
        raise WECLError(f"{path}: unknown annotation format {fmt!r} (known: {', '.join(FORMATS)})")
    _check_for_writing(annotations, path)
    if fmt == "activitynet":
        text = _activitynet_text(annotations)
    elif fmt == "split":
        text = _split_text(annotations, classes)
    elif fmt == "csv":
        text = _csv_text(annotations)
    elif fmt == "elan":
        text = _elan_text(annotations)
    elif fmt == "label-studio":
        if fps is None or not fps > 0:
            raise WECLError(f"{path}: Label Studio export needs the video frame rate (fps > 0), got {fps!r}")
        text = _label_studio_text(annotations, fps, video_url, from_name, to_name)
    else:
        # The positions and the video list pair up line by line: they are replaced together.
        ids = "".join(f"{vid}\n" for vid in annotations)
        atomic_write_texts({path: _position_text(annotations, path), video_list or _default_video_list(path): ids})
        return
    atomic_write_text(path, text)


BACKUPS = 5  # versions kept: <name>.bak (the previous one), <name>.bak.1 (the one before), ...


def backup_path(path: PathLike, age: int = 0) -> Path:
    """Where `save_annotations` keeps the previous version of an annotation file (`age` 0), and
    the versions before it (1 .. BACKUPS - 1)."""
    path = Path(path)
    return path.with_name(path.name + ".bak" + (f".{age}" if age else ""))


def _keep_backup(path: Path) -> None:
    """Shift the backups one age older (the oldest falls off) and keep the current file as `.bak`:
    a second save no longer loses what the first one replaced."""
    for age in range(BACKUPS - 1, 0, -1):
        older = backup_path(path, age - 1)
        if older.exists():
            os.replace(older, backup_path(path, age))
    atomic_write_text(backup_path(path), _read_text(path))


@contextmanager
def _locked_save(path: Path):
    """Hold an exclusive lock on the file's folder, and keep the current file as `<name>.bak`
    (older versions as `<name>.bak.1` .. `.bak.4`)."""
    import fcntl

    folder = os.open(path.parent if str(path.parent) else ".", os.O_RDONLY)
    try:
        fcntl.flock(folder, fcntl.LOCK_EX)
        if path.exists():
            _keep_backup(path)
        yield
    finally:
        fcntl.flock(folder, fcntl.LOCK_UN)
        os.close(folder)


def save_annotations(annotations: Mapping[str, VideoAnnotation], path: PathLike, fmt: str | None = None,
                     **options: Any) -> None:
    """Save edited annotations back to their file: the previous version is kept as `<name>.bak`,
    and the new one replaces the file atomically (`atomic_write_text`).

    Saves are serialised by an exclusive lock on the file's folder, so two saves at once leave the
    last one whole, never a mix; a crash at any point leaves the old or the new file, both whole.
    """
    path = Path(path)
    fmt = fmt or detect_format(path)
    with _locked_save(path):
        write_annotations(annotations, path, fmt, **options)


def save_video_segments(path: PathLike, vid: str, segments: Sequence[Segment], *, label: str | None = None,
                        duration: float | None = None, video_list: PathLike | None = None) -> None:
    """Replace one video's ground-truth segments in an annotation file and keep everything else.

    The file is read, changed and written under `save_annotations`' lock (with its backup and
    atomic replace), so two people saving different videos of one file keep both edits. An
    ActivityNet JSON keeps every key it had (top-level "labels", the video's own extra keys,
    other videos untouched); a CSV keeps every column and every row of other videos, and a
    segment's extra cells when its start is unchanged (`_csv_with_video`); a positions file is
    rewritten from its parsed content. `label`/`duration` None keep the video's current ones.
    """
    path = Path(path)
    with _locked_save(path):
        text = _read_text(path) if path.exists() else None
        fmt = detect_format(path, text) if text is not None else ("csv" if path.suffix.lower() == ".csv" else "activitynet")
        if fmt == "activitynet":
            data = _load_json(path, text) if text else {"database": {}}
            database = _top_object(data, path, text or "", "database")
            entry = database.setdefault(vid, {})
            if not isinstance(entry.get("annotations", []), list):
                _fail(path, f"video {vid!r}: its annotations are a split-file label, not segments")
            old = {(a.get("segment") or [None, None])[0]: a for a in entry.get("annotations", []) if isinstance(a, dict)}
            items = []
            for seg in segments:
                item = {k: v for k, v in old.get(seg.start, {}).items() if k not in ("segment", "label")}
                item.update(_segment_json(seg, with_score=False))
                items.append(item)
            entry["annotations"] = items
            if label is not None:
                entry["label"] = label
            if duration is not None and "duration" not in entry:
                entry["duration"] = duration
            check = _read_json(path, _json_text(data))  # what we write must read back
            _check_for_writing(check, path)
            atomic_write_text(path, _json_text(data))
            return
        if fmt == "csv" and text:
            new_text = _csv_with_video(path, text, vid, segments, label)
            _check_for_writing(_read_csv(path, new_text), path)  # what we write must read back
            atomic_write_text(path, new_text)
            return
        annotations = read_annotations(path, fmt, video_list=video_list) if text else {}
        current = annotations.get(vid) or VideoAnnotation(vid, duration)
        annotations[vid] = VideoAnnotation(vid, current.duration if current.duration is not None else duration,
                                           label if label is not None else current.label, current.subset, list(segments))
        write_annotations(annotations, path, fmt, video_list=video_list)
