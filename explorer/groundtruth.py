"""Ground truth for one video against its prediction: pick the video's segments out of an annotation
file (any readable format of `wecl.annotations`), edit them as table rows, and compare them with
the detections (best tIoU per ground-truth segment) and with the erased time (precision/recall).
"""
from __future__ import annotations

import math
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from wecl.annotations import (
    AnnotationSet,
    Segment,
    VideoAnnotation,
    is_positions_file,
    majority_label,
    read_annotations,
    video_id,
    write_annotations,
)
from wecl.annotations.model import check_size
from wecl.errors import WECLError
from wecl.features import FileHashes
from wecl.metrics import overlap_seconds, tiou_matrix, total_length, union
from wecl.schema import Result
from wecl.settings import settings

TABLE_COLUMNS = ["start", "end", "label"]
T = TypeVar("T")


# Parsed uploads, shared by every session, by the files' names and contents: a browser session
# keeps only the paths, so the memory an annotation set takes is held once and bounded for the
# whole server, not per visitor. At most PARSED_FILES sets, `parsed_items()` videos + segments in all.
PARSED_FILES = 8  # and items: twice what one file may hold (`parsed_items`)
_parsed: OrderedDict[tuple, tuple[Any, int]] = OrderedDict()
_parsed_lock = threading.Lock()
PARSING = 2
_parsing = threading.Semaphore(PARSING)


_file_hashes = FileHashes(size=64)  # by (path, size, mtime): a file is read once while unchanged


def _content_key(paths: list[str]) -> tuple:
    key = []
    for path in paths:
        try:
            check_size(path)
            digest = _file_hashes(path)
        except FileNotFoundError:
            raise WECLError(f"{Path(path).name}: the file is gone; upload it again") from None
        except OSError as error:
            raise WECLError(f"{Path(path).name}: cannot read the file ({error.strerror or error})") from None
        key.append((Path(path).name, digest))
    return tuple(key)


def read_ground_truth(paths: str | Sequence[str]) -> AnnotationSet:
    """Read one annotation file, or a keyframe-positions file together with its video list. The
    set may be shared with other callers that read the same files: never change it."""
    paths = [str(paths)] if isinstance(paths, (str, Path)) else [str(p) for p in paths]
    if not paths:
        raise WECLError("no annotation file given")
    check_file_count(paths)
    return shared_parse(paths, "annotations", _read_files,
                        lambda annotations: len(annotations) + sum(len(a.segments) for a in annotations.values()))


def shared_parse(paths: list[str], kind: str, parse: Callable[[list[str]], T], items: Callable[[T], int]) -> T:
    """`parse(paths)`, held once for all sessions by `kind` and the files' names and contents (at
    most PARSED_FILES results, `parsed_items()` `items` in all; the oldest go first). The result may be
    shared with other callers: never change it."""
    key = (kind, _content_key(paths))
    with _parsing:  # at most PARSING parses at once (each up to ~280 MB while it runs)
        with _parsed_lock:
            if key in _parsed:  # also when another request parsed the same file while this one waited
                _parsed.move_to_end(key)
                return _parsed[key][0]
        parsed = parse(paths)
    with _parsed_lock:
        _parsed[key] = (parsed, items(parsed))
        while len(_parsed) > PARSED_FILES or (len(_parsed) > 1 and sum(n for _, n in _parsed.values()) > parsed_items()):
            _parsed.popitem(last=False)
    return parsed


def parsed_items() -> int:
    """Videos + segments the parsed files may hold in all: twice what one file may."""
    return 2 * settings().max_annotation_items


def check_file_count(paths: Sequence[str], positions: int = 1) -> None:
    """One annotation file, or two (a keyframe-positions file and its video list); WECLError
    otherwise, before any of them is read, hashed or copied."""
    if not 1 <= len(paths) <= 2 or (len(paths) == 2 and positions != 1):
        names = ", ".join(Path(p).name for p in paths[:3]) + (", ..." if len(paths) > 3 else "")
        raise WECLError(f"{names}: give one annotation file, or a keyframe-positions file and its video list")


def _read_files(paths: list[str]) -> AnnotationSet:
    if len(paths) == 1:
        return read_annotations(paths[0])
    positions = [p for p in paths if is_positions_file(p)]
    check_file_count(paths, len(positions))
    video_list = next(p for p in paths if p != positions[0])
    return read_annotations(positions[0], "ekman-position", video_list=video_list)


def match_video(annotations: AnnotationSet, video: str | None) -> str | None:
    """The id in `annotations` that belongs to `video` (by file name), the only id, or None."""
    if video:
        vid = video_id(video)
        if vid in annotations:
            return vid
        # Uploads may gain a suffix or change case; a unique case-insensitive match still counts.
        close = [k for k in annotations if k.lower() == vid.lower()]
        if len(close) == 1:
            return close[0]
    if len(annotations) == 1:
        return next(iter(annotations))
    return None


# Segments of one video in the table, its plots and its comparison. Real keyframe annotations hold
# a handful; a table row is a request's worth of JSON and a figure's shape, so a hostile file or
# request is refused here rather than drawn.
MAX_ROWS = 1000


def _check_rows(count: int, where: str) -> None:
    if count > MAX_ROWS:
        raise WECLError(f"{where}: {count:,} segments; a video's ground truth holds at most {MAX_ROWS:,} here")


def table_rows(annotation: VideoAnnotation | None) -> list[list]:
    """A video's segments as [start, end, label] rows (sorted by start)."""
    if annotation is None:
        return []
    _check_rows(len(annotation.segments), f'video "{annotation.video_id}"')
    return [[s.start, s.end, s.label or annotation.label or ""] for s in sorted(annotation.segments, key=lambda s: s.start)]


def _cell_number(value, row: int, what: str) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise WECLError(f"ground-truth row {row}: {what} is not a number: {value!r}") from None
    if math.isnan(number):
        return None
    if not math.isfinite(number):
        raise WECLError(f"ground-truth row {row}: {what} is not a finite number: {value!r}")
    return number


def segments_from_rows(rows, duration: float | None = None) -> list[Segment]:
    """Table rows [start, end, label] -> segments; blank rows are skipped, bad ones raise WECLError."""
    if rows is None:
        return []
    _check_rows(len(rows), "the ground-truth table")  # before a posted table is converted
    if hasattr(rows, "values") and hasattr(rows, "columns"):  # a pandas DataFrame
        rows = rows.values.tolist()
    segments = []
    for n, row in enumerate(rows, 1):
        row = list(row) + [None] * (3 - len(row))
        start, end = _cell_number(row[0], n, "start"), _cell_number(row[1], n, "end")
        label = None if row[2] is None or (isinstance(row[2], float) and math.isnan(row[2])) else str(row[2]).strip() or None
        if start is None and end is None:
            continue
        if start is None or end is None:
            raise WECLError(f"ground-truth row {n}: give both start and end")
        if start < 0 or end <= start:
            raise WECLError(f"ground-truth row {n}: [{start:g}, {end:g}] is not a segment (need 0 <= start < end)")
        if duration is not None and start >= duration:
            raise WECLError(f"ground-truth row {n}: starts at {start:g} s, after the video's end ({duration:g} s)")
        segments.append(Segment(start, end, label))
    return segments


@dataclass
class Comparison:
    """Ground truth against one prediction."""

    best_tiou: list[float]  # per ground-truth segment: its best tIoU with any detection (0 if none)
    best_detection: list[int | None]  # index of that detection
    erased_seconds: float  # union of the erased segments' time
    truth_seconds: float  # union of the ground-truth time
    overlap_seconds: float  # their intersection
    precision: float  # overlap / erased time (nan when nothing is erased)
    recall: float  # overlap / ground-truth time (nan when there is no ground truth)


def erased_intervals(result: Result) -> list[tuple[float, float]]:
    """The time erased in any round (the keyframes the detections are built from), merged."""
    return union([(s["start"], s["end"]) for s in result["segments"] if s["erased_round"] is not None])


def compare(truth: Sequence[Segment], result: Result) -> Comparison:
    """Best tIoU of each ground-truth segment with a detection; precision and recall of the erased
    time against the ground-truth time (both as unions of intervals, in seconds)."""
    return compare_times(truth, [(d["start"], d["end"]) for d in result["detections"]], erased_intervals(result))


def compare_times(truth: Sequence[Segment], det: Sequence[tuple[float, float]], time: Sequence[tuple[float, float]]
                  ) -> Comparison:
    """Best tIoU of each ground-truth segment with one of the detections `det`; precision and recall
    of a model's `time` (WECL's erased time, another model's detected time) against the ground truth's."""
    gt = [(g.start, g.end) for g in truth]
    if gt and det:
        ious = tiou_matrix(gt, det)  # (G, D)
        best = ious.argmax(1)
        best_tiou = [float(ious[i, j]) for i, j in enumerate(best)]
        best_detection = [int(j) if ious[i, j] > 0 else None for i, j in enumerate(best)]
    else:
        best_tiou, best_detection = [0.0] * len(gt), [None] * len(gt)
    erased, truth_union = union(time), union(gt)
    overlap = overlap_seconds(erased, truth_union)
    erased_s, truth_s = total_length(erased), total_length(truth_union)
    return Comparison(
        best_tiou, best_detection, erased_s, truth_s, overlap,
        overlap / erased_s if erased_s > 0 else math.nan,
        overlap / truth_s if truth_s > 0 else math.nan,
    )


def comparison_rows(truth: Sequence[Segment], result: Result, comparison: Comparison,
                    others: Mapping[str, Comparison] | None = None) -> list[list]:
    """Rows for a table: ground-truth segment, its label, the best detection, the best tIoU, and
    each other model's best tIoU (`others`, by model name; `comparison_columns` names them)."""
    rows = []
    for i, (g, iou, j) in enumerate(zip(truth, comparison.best_tiou, comparison.best_detection)):
        d = None if j is None else result["detections"][j]
        rows.append([f"{g.start:.2f}–{g.end:.2f} s", g.label or "",
                     "none" if d is None else f"{d['start']:.2f}–{d['end']:.2f} s", round(iou, 3),
                     *(round(other.best_tiou[i], 3) for other in (others or {}).values())])
    return rows


COMPARISON_COLUMNS = ["ground truth", "label", "best detection", "best tIoU"]


def comparison_columns(others: Mapping[str, Comparison] | None = None) -> list[str]:
    return COMPARISON_COLUMNS + [f"{name} tIoU" for name in others or {}]


def _pct(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x:.1%}"


MARKDOWN_SPECIALS = re.compile(r"([\\`*_\[\]<>|])")


def shown(name: str) -> str:
    """A name as Markdown shows it verbatim: a file's model names are the uploader's words, so no
    links, emphasis, HTML or table cells are made of them."""
    return MARKDOWN_SPECIALS.sub(r"\\\1", name)


def comparison_markdown(comparison: Comparison, others: Mapping[str, Comparison] | None = None,
                        rule: str = "as-is") -> str:
    """WECL's erased time against the ground truth, and each other model's detected time (its
    intervals made detections by `rule`)."""
    if comparison.truth_seconds == 0:
        return "No ground truth yet: upload an annotation file or type segments in the table."
    lines = [
        f"**Erased time vs ground truth:** precision {_pct(comparison.precision)} "
        f"({comparison.overlap_seconds:.2f} s of {comparison.erased_seconds:.2f} s erased lie in ground truth), "
        f"recall {_pct(comparison.recall)} ({comparison.overlap_seconds:.2f} s of {comparison.truth_seconds:.2f} s "
        f"of ground truth erased). Mean best tIoU {np.mean(comparison.best_tiou):.3f}."
    ]
    for name, other in (others or {}).items():
        lines.append(
            f"**{shown(name)}** (imported, intervals {rule}): precision {_pct(other.precision)} "
            f"({other.overlap_seconds:.2f} s of its {other.erased_seconds:.2f} s detected lie in ground truth), "
            f"recall {_pct(other.recall)}. Mean best tIoU {np.mean(other.best_tiou):.3f}.")
    return "\n\n".join(lines)


def annotation_set(vid: str, truth: Sequence[Segment], duration: float | None = None,
                   label: str | None = None) -> AnnotationSet:
    """One video's edited ground truth as an annotation set ready to write."""
    return {vid: VideoAnnotation(vid, duration, label or majority_label(truth), None, list(truth))}


def export(vid: str, truth: Sequence[Segment], folder: str | Path, duration: float | None = None) -> list[Path]:
    """Write the edited ground truth as ActivityNet JSON and CSV into `folder`; -> the two paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    annotations = annotation_set(vid, truth, duration)
    paths = [folder / f"{vid}.activitynet.json", folder / f"{vid}.csv"]
    write_annotations(annotations, paths[0], "activitynet")
    write_annotations(annotations, paths[1], "csv")
    return paths
