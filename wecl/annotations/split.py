"""The official code's split JSON: `{"labels": [...], "database": {id: {"subset", "annotations":
{"label": ...}}}}`, video-level labels only. Read by the ActivityNet reader (`activitynet.read`)."""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from wecl.annotations.activitynet import json_text, load_json
from wecl.annotations.model import PathLike, VideoAnnotation, class_names, read_text
from wecl.atomic import atomic_write_text
from wecl.errors import WECLError


def split_text(annotations: Mapping[str, VideoAnnotation], classes: Sequence[str] | None) -> str:
    labels = list(classes) if classes is not None else class_names(annotations)
    database = {}
    for vid, ann in annotations.items():
        entry: dict[str, Any] = {}
        if ann.subset is not None:
            entry["subset"] = ann.subset
        entry["annotations"] = {} if ann.label is None else {"label": ann.label}
        database[vid] = entry
    return json_text({"labels": labels, "database": database})


def write(annotations: Mapping[str, VideoAnnotation], path: PathLike, *,
          classes: Sequence[str] | None = None, **_options: Any) -> None:
    """`classes` gives the "labels" list (default: the sorted labels used)."""
    atomic_write_text(path, split_text(annotations, classes))


def split_labels(path: PathLike, text: str) -> list[str] | None:
    """The file's "labels" list (the class order), or None when it has none."""
    data = load_json(path, text)
    labels = data.get("labels") if isinstance(data, dict) else None
    if isinstance(labels, list) and all(isinstance(x, str) for x in labels):
        return list(labels)
    return None


def is_split_file(path: Path) -> bool:
    """True when a JSON file's first database entry has split-style `"annotations": {"label"}`
    (also for an unreadable or empty file: the split reader then reports the problem)."""
    try:
        data = json.loads(read_text(path))  # within the annotation size bound
    except (WECLError, ValueError, RecursionError):
        return True  # let the split reader report the problem with its line number
    db = data.get("database") if isinstance(data, dict) else None
    if not isinstance(db, dict) or not db:
        return True
    return isinstance(next(iter(db.values()), {}).get("annotations"), dict)
