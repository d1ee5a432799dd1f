"""Plain CSV `video,start,end,label`: one row per segment; a row with empty start and end gives a
video-level label (or just lists the video). Extra columns are allowed and, when one video's
segments are saved (`csv_with_video`), kept."""
from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any

from wecl.annotations.model import (
    AnnotationSet,
    PathLike,
    Segment,
    VideoAnnotation,
    check_items,
    check_segment,
    fail,
    majority_label,
    number_text,
    parse_number,
    plain_cell,
    safe_cell,
)
from wecl.atomic import atomic_write_text

CSV_HEADER = ("video", "start", "end", "label")


def read(path: PathLike, text: str, **_options: Any) -> AnnotationSet:
    reader = csv.reader(io.StringIO(text))
    header = [h.strip().lower() for h in next(reader, [])]
    missing = [c for c in CSV_HEADER if c not in header]
    if missing:
        fail(path, f"header must name the columns {','.join(CSV_HEADER)}; missing {','.join(missing)}", 1)
    col = {c: header.index(c) for c in CSV_HEADER}
    segments: dict[str, list[Segment]] = {}
    labels: dict[str, str] = {}
    try:
        for rows, row in enumerate(reader, 1):
            check_items(rows, path, "rows", reader.line_num)
            if any(cell.strip() for cell in row):
                _csv_row(row, col, len(header), path, reader.line_num, segments, labels)
    except csv.Error as exc:
        fail(path, f"not readable as CSV: {exc}", reader.line_num)
    return {
        vid: VideoAnnotation(vid, None, labels.get(vid) or majority_label(segs), None, segs)
        for vid, segs in segments.items()
    }


def _csv_row(row: list[str], col: dict[str, int], width: int, path: PathLike, line: int,
             segments: dict[str, list[Segment]], labels: dict[str, str]) -> None:
    """Add one row: a segment, or (empty start and end) the video-level label."""
    if len(row) < width:
        fail(path, f"expected {width} columns, found {len(row)}", line)
    vid, start, end = plain_cell(row[col["video"]].strip()), row[col["start"]].strip(), row[col["end"]].strip()
    label = plain_cell(row[col["label"]].strip()) or None
    if not vid:
        fail(path, "empty video id", line)
    segments.setdefault(vid, [])
    if not start and not end:
        if label is None:
            return  # a bare id: the video is listed, with nothing known about it
        if labels.get(vid, label) != label:
            fail(path, f'video "{vid}" has two labels: {labels[vid]!r} and {label!r}', line)
        labels[vid] = label
        return
    if not start or not end:
        fail(path, "start and end must both be given or both be empty", line)
    s, e = parse_number(start, path, line, "start"), parse_number(end, path, line, "end")
    check_segment(s, e, path, line, "segment")
    segments[vid].append(Segment(s, e, label))


def _csv_text(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def write(annotations: Mapping[str, VideoAnnotation], path: PathLike, **_options: Any) -> None:
    rows = []
    for vid, ann in annotations.items():
        # A label-only row only where the reader could not infer the label from the segments.
        if not ann.segments or (ann.label is not None and ann.label != majority_label(ann.segments)):
            rows.append([safe_cell(vid), "", "", safe_cell(ann.label or "")])
        for s in ann.segments:
            rows.append([safe_cell(vid), number_text(s.start), number_text(s.end), safe_cell(s.label or "")])
    atomic_write_text(path, _csv_text(CSV_HEADER, rows))


# ---------------------------------------------------------------------------------------------
# One video's rows replaced, everything else kept


def csv_with_video(path: PathLike, text: str, vid: str, segments: Sequence[Segment], label: str | None) -> str:
    """The CSV text with one video's segment rows replaced and everything else kept: the header
    as written (every column, also ones this project does not know, such as `annotator`), other
    videos' rows cell for cell, and, for a segment whose start is unchanged, its extra cells."""
    read(path, text)  # the file must be valid before we edit it
    reader = csv.reader(io.StringIO(text))
    header = next(reader)
    col = {c: [h.strip().lower() for h in header].index(c) for c in CSV_HEADER}
    kept, label_row, by_start, at = _video_rows(reader, col, vid)
    rows = _new_video_rows(vid, segments, label, label_row, by_start, col, len(header))
    at = len(kept) if at is None else at
    return _csv_text(header, kept[:at] + rows + kept[at:])


def _video_rows(reader, col: dict[str, int], vid: str) -> tuple[list, list[str] | None, dict, int | None]:
    """The other videos' rows; this video's label row and segment rows by start; where its rows were."""
    kept: list = []
    label_row, by_start, at = None, {}, None
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        if plain_cell(row[col["video"]].strip()) != vid:
            kept.append(row)
            continue
        at = len(kept) if at is None else at  # the video's rows go where its first one was
        if not row[col["start"]].strip() and not row[col["end"]].strip():
            label_row = row
        else:
            by_start.setdefault(float(row[col["start"]]), row)
    return kept, label_row, by_start, at


def _new_video_rows(vid: str, segments: Sequence[Segment], label: str | None, label_row: list[str] | None,
                    by_start: dict, col: dict[str, int], width: int) -> list[list[str]]:
    rows = []
    current_label = label if label is not None else (plain_cell(label_row[col["label"]].strip()) if label_row else None)
    if label_row is not None or not segments or (current_label and current_label != majority_label(segments)):
        row = list(label_row or [""] * width)
        row[col["video"]], row[col["start"]], row[col["end"]] = safe_cell(vid), "", ""
        row[col["label"]] = safe_cell(current_label or "")
        rows.append(row)
    for seg in segments:
        row = (list(by_start.get(seg.start, [""] * width)) + [""] * width)[:width]
        row[col["video"]], row[col["start"]], row[col["end"]] = safe_cell(vid), number_text(seg.start), number_text(seg.end)
        row[col["label"]] = safe_cell(seg.label or "")
        rows.append(row)
    return rows
