"""Saving edited annotations back to their file: under an exclusive lock on the file's folder,
with the previous versions kept as backups, and the new file replacing the old atomically."""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from wecl.annotations import activitynet, csv_format
from wecl.annotations.formats import detect_format, read_annotations, write_annotations
from wecl.annotations.model import (
    PathLike,
    Segment,
    VideoAnnotation,
    check_for_writing,
    fail,
    read_text,
)
from wecl.atomic import atomic_write_text

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
    atomic_write_text(backup_path(path), read_text(path))


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
    segment's extra cells when its start is unchanged (`csv_format.csv_with_video`); a positions
    file is rewritten from its parsed content. `label`/`duration` None keep the video's current ones.
    """
    path = Path(path)
    with _locked_save(path):
        text = read_text(path) if path.exists() else None
        fmt = detect_format(path, text) if text is not None else ("csv" if path.suffix.lower() == ".csv" else "activitynet")
        if fmt == "activitynet":
            _save_json_video(path, text, vid, segments, label, duration)
        elif fmt == "csv" and text:
            _save_csv_video(path, text, vid, segments, label)
        else:
            _save_parsed_video(path, fmt, text, vid, segments, label, duration, video_list)


def _save_json_video(path: Path, text: str | None, vid: str, segments: Sequence[Segment],
                     label: str | None, duration: float | None) -> None:
    """The video's entry changed in the parsed JSON; every other key written back as it was."""
    data = activitynet.load_json(path, text) if text else {"database": {}}
    database = activitynet.top_object(data, path, text or "", "database")
    entry = database.setdefault(vid, {})
    if not isinstance(entry.get("annotations", []), list):
        fail(path, f"video {vid!r}: its annotations are a split-file label, not segments")
    old = {(a.get("segment") or [None, None])[0]: a for a in entry.get("annotations", []) if isinstance(a, dict)}
    items = []
    for seg in segments:
        # a segment that keeps its start keeps its own extra keys
        item = {k: v for k, v in old.get(seg.start, {}).items() if k not in ("segment", "label")}
        item.update(activitynet.segment_json(seg, with_score=False))
        items.append(item)
    entry["annotations"] = items
    if label is not None:
        entry["label"] = label
    if duration is not None and "duration" not in entry:
        entry["duration"] = duration
    new_text = activitynet.json_text(data)
    check_for_writing(activitynet.read(path, new_text), path)  # what we write must read back
    atomic_write_text(path, new_text)


def _save_csv_video(path: Path, text: str, vid: str, segments: Sequence[Segment], label: str | None) -> None:
    new_text = csv_format.csv_with_video(path, text, vid, segments, label)
    check_for_writing(csv_format.read(path, new_text), path)  # what we write must read back
    atomic_write_text(path, new_text)


def _save_parsed_video(path: Path, fmt: str, text: str | None, vid: str, segments: Sequence[Segment],
                       label: str | None, duration: float | None, video_list: PathLike | None) -> None:
    """A format without extra keys to keep (positions): read, change the video, write it all."""
    annotations = read_annotations(path, fmt, video_list=video_list) if text else {}
    current = annotations.get(vid) or VideoAnnotation(vid, duration)
    annotations[vid] = VideoAnnotation(vid, current.duration if current.duration is not None else duration,
                                       label if label is not None else current.label, current.subset, list(segments))
    write_annotations(annotations, path, fmt, video_list=video_list)
