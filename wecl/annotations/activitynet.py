"""ActivityNet JSON: ground truth `{"database": {id: {"duration", "subset", "annotations": [...]}}}`
and results `{"results": {id: [{"segment", "score", "label"}]}}`, and the prediction files of this
project, which are ActivityNet results plus "video_labels" (the top-1 class of every video, also of
videos without any detection; other tools ignore the key).

The reader also reads split files (`wecl.annotations.split`): a split entry is a database entry
whose "annotations" is `{"label": ...}`.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from wecl.annotations.model import (
    AnnotationSet,
    PathLike,
    Segment,
    VideoAnnotation,
    check_for_writing,
    check_items,
    check_segment,
    fail,
    finite_number,
    majority_label,
    optional_str,
    read_text,
)
from wecl.atomic import atomic_write_text


class JsonLine:
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


def load_json(path: PathLike, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        fail(path, f"not valid JSON: {exc.msg} (column {exc.colno})", exc.lineno)
    except RecursionError:  # "[[[[..." a few thousand deep: no annotation file nests like that
        fail(path, "not valid JSON here: its values are nested too deeply")


def json_text(obj: Any) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def top_object(data: Any, path: PathLike, text: str, key: str) -> dict[str, Any]:
    """The object under a top-level key ("database", "results"), keyed by video id."""
    if not isinstance(data, dict) or key not in data:
        fail(path, f'no "{key}" object at the top level', 1)
    if not isinstance(data[key], dict):
        fail(path, f'"{key}" must be an object keyed by video id', JsonLine(text, key))
    return data[key]


def segment_json(seg: Segment, with_score: bool) -> dict[str, Any]:
    item: dict[str, Any] = {"segment": [seg.start, seg.end]}
    if with_score:
        item["score"] = seg.score
    if seg.label is not None:
        item["label"] = seg.label
    return item


def _json_segment(item: Any, path: PathLike, line: JsonLine, what: str, need_score: bool) -> Segment:
    if not isinstance(item, dict) or "segment" not in item:
        fail(path, f'{what} must be an object with a "segment" key', line)
    pair = item["segment"]
    if not isinstance(pair, list) or len(pair) != 2:
        fail(path, f'{what}: "segment" must be [start, end], got {pair!r}', line)
    start = finite_number(pair[0], path, line, f"{what} start")
    end = finite_number(pair[1], path, line, f"{what} end")
    check_segment(start, end, path, line, what)
    label = optional_str(item.get("label"), path, line, f"{what} label")
    if need_score and "score" not in item:
        fail(path, f'{what} has no "score"', line)
    score = finite_number(item["score"], path, line, f"{what} score") if "score" in item else None
    return Segment(start, end, label, score)


# ---------------------------------------------------------------------------------------------
# Reading


def _database_entry(vid: str, entry: Any, path: PathLike, line: JsonLine) -> VideoAnnotation:
    """One `database` entry: ActivityNet (list of segments) or split style ({"label": ...})."""
    what = f'video "{vid}"'
    if not isinstance(entry, dict):
        fail(path, f"{what} must be an object", line)
    duration = entry.get("duration")
    duration = None if duration is None else finite_number(duration, path, line, f"{what} duration")
    subset = optional_str(entry.get("subset"), path, line, f"{what} subset")
    annotations = entry.get("annotations", [])
    if isinstance(annotations, dict):
        # Split style: a video-level label and no segments (testing entries may have none).
        label = optional_str(annotations.get("label"), path, line, f"{what} label")
        return VideoAnnotation(vid, duration, label, subset, [])
    if not isinstance(annotations, list):
        fail(path, f'{what}: "annotations" must be a list of segments', line)
    segments = [
        _json_segment(item, path, line, f"{what} annotation {i + 1}", need_score=False)
        for i, item in enumerate(annotations)
    ]
    label = optional_str(entry.get("label"), path, line, f"{what} label") or majority_label(segments)
    return VideoAnnotation(vid, duration, label, subset, segments)


def _check_counts(entries: dict[str, Any], path: PathLike, segments_of) -> None:
    """The item bound, counted on the parsed JSON before any object is built from it."""
    check_items(len(entries), path, "videos")
    check_items(sum(len(s) for s in map(segments_of, entries.values()) if isinstance(s, list)), path, "segments")


def _read_database(data: Any, path: PathLike, text: str) -> AnnotationSet:
    database = top_object(data, path, text, "database")
    _check_counts(database, path, lambda entry: entry.get("annotations") if isinstance(entry, dict) else None)
    return {
        vid: _database_entry(vid, entry, path, JsonLine(text, vid))
        for vid, entry in database.items()
    }


def _read_results(data: Any, path: PathLike, text: str) -> AnnotationSet:
    results = top_object(data, path, text, "results")
    _check_counts(results, path, lambda items: items)
    out: AnnotationSet = {}
    for vid, items in results.items():
        line = JsonLine(text, vid)
        if not isinstance(items, list):
            fail(path, f'video "{vid}": results must be a list of segments', line)
        segments = [
            _json_segment(item, path, line, f'video "{vid}" result {i + 1}', need_score=True)
            for i, item in enumerate(items)
        ]
        out[vid] = VideoAnnotation(vid, None, majority_label(segments), None, segments)
    return out


def read(path: PathLike, text: str, **_options: Any) -> AnnotationSet:
    """Ground truth (`database`, also a split file's) or results, whichever the file holds."""
    data = load_json(path, text)
    if isinstance(data, dict) and "results" in data and "database" not in data:
        return _read_results(data, path, text)
    return _read_database(data, path, text)


def read_prediction_file(path: PathLike, text: str | None = None) -> AnnotationSet:
    """A predictions file (ActivityNet results; `text`: its contents, when the caller has read them);
    a video's label is its "video_labels" entry when the file has one, else the most common label
    of its predicted segments."""
    text = read_text(path) if text is None else text
    data = load_json(path, text)
    predictions = _read_results(data, path, text)
    labels = data.get("video_labels") or {}
    if not isinstance(labels, dict):
        fail(path, '"video_labels" must map video ids to labels')
    for vid, label in labels.items():
        label = optional_str(label, path, None, f'"video_labels" of {vid!r}')
        if vid not in predictions:
            predictions[vid] = VideoAnnotation(vid, None, label, None, [])
        elif label is not None:
            predictions[vid].label = label
    return predictions


# ---------------------------------------------------------------------------------------------
# Writing


def activitynet_text(annotations: Mapping[str, VideoAnnotation]) -> str:
    database = {}
    for vid, ann in annotations.items():
        entry: dict[str, Any] = {}
        if ann.duration is not None:
            entry["duration"] = ann.duration
        if ann.subset is not None:
            entry["subset"] = ann.subset
        if ann.label is not None:
            entry["label"] = ann.label
        entry["annotations"] = [segment_json(s, with_score=False) for s in ann.segments]
        database[vid] = entry
    return json_text({"database": database})


def write(annotations: Mapping[str, VideoAnnotation], path: PathLike, **_options: Any) -> None:
    atomic_write_text(path, activitynet_text(annotations))


def write_prediction_file(predictions: Mapping[str, VideoAnnotation], path: PathLike) -> None:
    """ActivityNet results JSON, plus "video_labels" (top-1 class of every video); every
    predicted segment needs a score."""
    check_for_writing(predictions, path)
    for vid, ann in predictions.items():
        if any(s.score is None for s in ann.segments):
            fail(path, f'cannot write: video "{vid}" has a predicted segment without a score')
    results = {
        vid: [segment_json(s, with_score=True) for s in ann.segments]
        for vid, ann in predictions.items()
    }
    labels = {vid: ann.label for vid, ann in predictions.items()}
    # "version" and "external_data" are what ActivityNet's own evaluator expects beside "results".
    atomic_write_text(path, json_text({"version": "WECL", "results": results, "external_data": {},
                                       "video_labels": labels}))
