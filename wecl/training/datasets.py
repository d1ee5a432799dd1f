"""Dataset readers: which videos a dataset has, their labels, subsets and (when known) segments.

Layouts (docs/formats.md#dataset-layouts):
- "split": the official split JSON `{"labels", "database": {id: {"subset", "annotations":
  {"label"}}}}` with videos under `<root>/<label>/<id>.<ext>` (Ekman-6, VideoEmotion-8); its
  "validation" half is the test set when the file has no "testing" (`split_file_subsets`).
- "caer": CAER's folders `<root>/<train|validation|test>/<Class>/<clip>.avi`.
- "csv": a plain list `path,label[,split]` (header row; paths relative to the CSV's folder).
- "activitynet": a folder of videos `<dir>/<id>.<ext>` and an ActivityNet `annotations.json`
  (what `python -m wecl synth` writes); this one also carries temporal ground truth.

The class list comes from the dataset's own file (the split file's "labels", the synth file's
"labels"), else the sorted labels it uses. Subsets are normalised to "training", "validation"
and "testing". Parsing of the JSON annotation formats is `wecl.annotations`' job.
"""
from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from wecl.annotations import (
    COMMON_VIDEO_EXTENSIONS,
    VIDEO_EXTENSIONS,
    AnnotationSet,
    VideoAnnotation,
    class_names,
    is_split_file,
    read_annotations,
    read_class_names,
)
from wecl.errors import WECLError

LAYOUTS = ("activitynet", "split", "caer", "csv")
SUBSETS = {
    "training": "training", "train": "training",
    "validation": "validation", "val": "validation", "valid": "validation",
    "testing": "testing", "test": "testing",
}
CAER_FOLDERS = {"train": "training", "validation": "validation", "test": "testing"}


@dataclass
class VideoItem:
    video_id: str
    path: Path
    label: str | None
    subset: str | None = None


@dataclass
class Dataset:
    """A list of labelled videos; `annotations` holds temporal ground truth where the layout has it."""

    name: str
    layout: str
    classes: list[str]
    items: list[VideoItem]
    annotations: AnnotationSet = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)  # ids listed whose video file is absent
    synthetic: bool = False

    def subset(self, *names: str) -> list[VideoItem]:
        return [item for item in self.items if item.subset in names]

    def train_items(self) -> list[VideoItem]:
        """The training subset; a dataset without subsets trains on everything."""
        if all(item.subset is None for item in self.items):
            return list(self.items)
        return self.subset("training")

    def test_items(self) -> list[VideoItem]:
        """Held-out videos: "testing" if there are any, else "validation"; a dataset without
        subsets is all test. (An official split file's test half is read as "testing".)"""
        if all(item.subset is None for item in self.items):
            return list(self.items)
        return self.subset("testing") or self.subset("validation")

    def label_index(self, label: str) -> int:
        return self.classes.index(label)


def normalise_subset(value: str | None, where: str) -> str | None:
    if value is None or value == "":
        return None
    try:
        return SUBSETS[value.strip().lower()]
    except KeyError:
        raise WECLError(f"{where}: unknown subset {value!r} (use training, validation or testing)") from None


def split_file_subsets(anns: AnnotationSet, where: str | os.PathLike) -> dict[str, str | None]:
    """Video id -> normalised subset of an official split file.

    The official code's split files (VideoEmotion-8's 2:1, Ekman-6's 1:1) hold only "training" and
    "validation", and the code reports its figures on that "validation" half: it is the test set,
    so such a file is read as training + testing. Model selection then never sees it
    (`wecl.training.train` holds out part of training instead). A file that names all three is read as it is."""
    subsets = {vid: normalise_subset(a.subset, f"{where}: video {vid!r}") for vid, a in anns.items()}
    if "testing" not in subsets.values():
        subsets = {vid: "testing" if s == "validation" else s for vid, s in subsets.items()}
    return subsets


def _find_video(folder: Path, stem: str) -> Path | None:
    for ext in COMMON_VIDEO_EXTENSIONS:
        if (folder / f"{stem}{ext}").is_file():
            return folder / f"{stem}{ext}"
    if folder.is_dir():
        for path in sorted(folder.glob(f"{stem}.*")):
            if path.suffix.lower() in VIDEO_EXTENSIONS:
                return path
    return None


def _check_labels(path: Path, classes: list[str], anns: AnnotationSet) -> None:
    for vid, ann in anns.items():
        if ann.label is not None and ann.label not in classes:
            raise WECLError(f'{path}: video "{vid}" has label {ann.label!r}, not among the labels {classes}')


# ---------------------------------------------------------------------------------------------


def read_activitynet_folder(folder: str | os.PathLike, annotations: str | os.PathLike | None = None) -> Dataset:
    """A folder of videos `<id>.<ext>` with an ActivityNet `annotations.json` (synth's layout)."""
    folder = Path(folder)
    ann_path = Path(annotations) if annotations else folder / "annotations.json"
    if not ann_path.is_file():
        raise WECLError(f"{folder}: no annotations.json (ActivityNet format) in this folder")
    anns = read_annotations(ann_path, "activitynet")
    classes = read_class_names(ann_path, "activitynet")
    _check_labels(ann_path, classes, anns)
    items, missing = [], []
    for vid, ann in anns.items():
        path = _find_video(ann_path.parent, vid)
        if path is None:
            missing.append(vid)
            continue
        items.append(VideoItem(vid, path, ann.label, normalise_subset(ann.subset, f"{ann_path}: video {vid!r}")))
    synthetic = False
    try:
        synthetic = str(json.loads(ann_path.read_text()).get("version", "")).startswith("wecl-synth")
    except (ValueError, AttributeError):
        pass
    return Dataset(folder.name, "activitynet", classes, items, anns, missing, synthetic)


def read_split(split_file: str | os.PathLike, root: str | os.PathLike | None = None) -> Dataset:
    """The official split JSON; videos under `<root>/<label>/<id>.<ext>` (root: the file's folder)."""
    split_file = Path(split_file)
    root = Path(root) if root else split_file.parent
    anns = read_annotations(split_file, "split")
    classes = read_class_names(split_file, "split")
    _check_labels(split_file, classes, anns)
    subsets = split_file_subsets(anns, split_file)
    items, missing = [], []
    for vid, ann in anns.items():
        if ann.label is None:
            raise WECLError(f'{split_file}: video "{vid}" has no "annotations": {{"label": ...}}')
        path = _find_video(root / ann.label, vid)
        if path is None:
            missing.append(vid)
            continue
        items.append(VideoItem(vid, path, ann.label, subsets[vid]))
    return Dataset(split_file.stem, "split", classes, items, {}, missing)


def read_caer(root: str | os.PathLike) -> Dataset:
    """CAER: `<root>/<train|validation|test>/<Class>/<clip>.<ext>`; classes are the folder names."""
    root = Path(root)
    present = [name for name in CAER_FOLDERS if (root / name).is_dir()]
    if not present:
        raise WECLError(f"{root}: not a CAER folder (expected train/, validation/ or test/ inside)")
    classes = sorted({d.name for name in present for d in (root / name).iterdir() if d.is_dir()})
    if len(classes) < 2:
        raise WECLError(f"{root}: CAER needs at least two class folders, found {classes}")
    items = []
    for name in present:
        for label in classes:
            for path in sorted((root / name / label).glob("*")) if (root / name / label).is_dir() else []:
                if path.suffix.lower() in VIDEO_EXTENSIONS:
                    # CAER reuses clip names across classes and subsets: the id keeps them apart.
                    items.append(VideoItem(f"{name}/{label}/{path.stem}", path, label, CAER_FOLDERS[name]))
    if not items:
        raise WECLError(f"{root}: no video files in the CAER class folders")
    return Dataset(root.name, "caer", classes, items)


def read_csv_list(csv_file: str | os.PathLike) -> Dataset:
    """A CSV with the header `path,label[,split]`; relative paths start at the CSV's folder."""
    csv_file = Path(csv_file)
    try:
        text = csv_file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise WECLError(f"{csv_file}: cannot read the file ({error})") from None
    reader = csv.reader(io.StringIO(text))
    header = [h.strip().lower() for h in next(reader, [])]
    if header[:2] != ["path", "label"] or len(header) > 3 or (len(header) == 3 and header[2] not in ("split", "subset")):
        raise WECLError(f"{csv_file}, line 1: the header must be path,label or path,label,split; found {','.join(header)!r}")
    items, missing, seen, labels = [], [], {}, set()
    try:
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise WECLError(f"{csv_file}, line {line}: expected {len(header)} columns, found {len(row)}")
            path, label = row[0].strip(), row[1].strip()
            if not path:
                raise WECLError(f"{csv_file}, line {line}: empty path")
            if not label:
                raise WECLError(f"{csv_file}, line {line}: empty label")
            subset = normalise_subset(row[2], f"{csv_file}, line {line}") if len(header) == 3 else None
            full = Path(path) if Path(path).is_absolute() else csv_file.parent / path
            vid = full.stem
            if vid in seen:
                raise WECLError(f"{csv_file}, line {line}: video id {vid!r} already listed on line {seen[vid]}")
            seen[vid] = line
            labels.add(label)
            if not full.is_file():
                missing.append(vid)
                continue
            items.append(VideoItem(vid, full, label, subset))
    except csv.Error as error:
        raise WECLError(f"{csv_file}, line {reader.line_num}: not readable as CSV ({error})") from None
    if not items:
        raise WECLError(f"{csv_file}: lists no video that exists")
    return Dataset(csv_file.stem, "csv", sorted(labels), items, {}, missing)


def detect_layout(spec: str | os.PathLike) -> str:
    path = Path(spec)
    if path.is_dir():
        if (path / "annotations.json").is_file():
            return "activitynet"
        if any((path / name).is_dir() for name in CAER_FOLDERS):
            return "caer"
        raise WECLError(f"{path}: neither a folder with annotations.json nor a CAER folder (train/validation/test)")
    if not path.exists():
        raise WECLError(f"{path}: no such file or folder")
    if path.suffix.lower() == ".csv":
        return "csv"
    if path.suffix.lower() == ".json":
        return "split" if is_split_file(path) else "activitynet"
    raise WECLError(f"{path}: cannot tell the dataset layout (a folder, a .json split file or a .csv list)")


def open_dataset(spec: str | os.PathLike, layout: str | None = None, root: str | os.PathLike | None = None) -> Dataset:
    """Read a dataset from a folder or file; the layout is detected unless given."""
    layout = layout or detect_layout(spec)
    if layout == "activitynet":
        return read_activitynet_folder(Path(spec).parent if Path(spec).is_file() else spec,
                                       spec if Path(spec).is_file() else None)
    if layout == "split":
        return read_split(spec, root)
    if layout == "caer":
        return read_caer(spec)
    if layout == "csv":
        return read_csv_list(spec)
    raise WECLError(f"unknown dataset layout {layout!r} (known: {', '.join(LAYOUTS)})")


def class_folder_videos(root: str | os.PathLike) -> dict[str, list[str]]:
    """Class -> sorted video ids of a `<root>/<label>/<id>.<ext>` tree (VideoEmotion-8, Ekman-6)."""
    root = Path(root)
    if not root.is_dir():
        raise WECLError(f"{root}: no such folder")
    classes, seen = {}, {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        ids = sorted(p.stem for p in folder.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS)
        for vid in ids:
            if vid in seen:
                raise WECLError(f"{root}: video id {vid!r} is in both {seen[vid]}/ and {folder.name}/; ids must be unique")
            seen[vid] = folder.name
        if ids:
            classes[folder.name] = ids
    if len(classes) < 2:
        raise WECLError(f"{root}: expected one folder of videos per class, found {len(classes)} with videos")
    return classes


def make_splits(root: str | os.PathLike, ratio: tuple[int, int], count: int,
                seed: int = 0) -> tuple[list[str], list[AnnotationSet]]:
    """`count` seeded train:test splits of a class-folder tree, class by class in `ratio`
    (VideoEmotion-8: ten 2:1 splits; Ekman-6: one 1:1), with explicit "training" and "testing"
    subsets; -> the classes and the splits, to write as "split" files (the official format).
    Split j depends only on the file names, the seed and j."""
    if count < 1 or min(ratio) < 1:
        raise WECLError(f"splits need a positive count and ratio, not {count} and {ratio[0]}:{ratio[1]}")
    classes = class_folder_videos(root)
    splits = []
    for j in range(count):
        rng = np.random.default_rng([seed, j])
        split = {}
        for label, ids in classes.items():
            order = rng.permutation(len(ids))
            n_train = int(round(len(ids) * ratio[0] / sum(ratio)))
            for rank, k in enumerate(order):
                split[ids[k]] = VideoAnnotation(ids[k], None, label, "training" if rank < n_train else "testing")
        splits.append(dict(sorted(split.items())))
    return list(classes), splits


def ground_truth(dataset: Dataset, items: list[VideoItem] | None = None) -> AnnotationSet:
    """Ground truth for scoring: temporal segments where known, else video labels only."""
    items = dataset.items if items is None else items
    out = {}
    for item in items:
        ann = dataset.annotations.get(item.video_id)
        out[item.video_id] = ann if ann is not None else VideoAnnotation(item.video_id, None, item.label, item.subset)
    return out


__all__ = ["Dataset", "VideoItem", "open_dataset", "read_activitynet_folder", "read_split", "read_caer",
           "read_csv_list", "ground_truth", "class_names", "LAYOUTS"]
