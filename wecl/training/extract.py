"""Feature extraction: run the frozen backbones over a dataset once and keep T x C features per video.

The backbones are frozen (paper 4.2), so training the heads never needs pixels again: this module
writes, per video, view 0 (centred clips, what inference sees) and views 1..n-1 (random clip
positions and crops, the paper's augmentation) of the visual features, and the audio features
(the MFCC input has no random part, so one audio view serves all).

The `FeatureStore` (`out_dir`, docs/formats.md#feature-store):
    manifest.json           source checkpoint, backbone key, dataset, classes, views
    features/<id>.npz        visual (V, T, C_v), audio (T, C_a), spans (T, 2), meta (JSON)
    errors.log              one line per video that could not be read

Resumable: a video whose file exists with the same backbone key and enough views is skipped, and
every file is written atomically, so an interrupted run continues where it stopped. Decoding and
MFCC run in a thread pool ahead of the main thread, which runs the backbones (PyAV and numpy
release the GIL, so decoding overlaps with the convolutions).
"""
from __future__ import annotations

import json
import os
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from wecl.atomic import atomic_write, atomic_write_text
from wecl.config import WECLConfig
from wecl.errors import WECLError, describe
from wecl.features import Features, Inputs, check_workers, prefetch, prepare_inputs
from wecl.model import WECL
from wecl.progress import Progress, silent
from wecl.training.datasets import Dataset, VideoItem
from wecl.video import VideoInfo

STORE_VERSION = 1
# Views per video, at most: each is decoded and held at once (about 6 MB of clips per view for the
# paper's input, times the videos decoded ahead), and each costs one more decode of the file.
MAX_VIEWS = 16


@dataclass
class ExtractStats:
    done: int = 0
    skipped: int = 0
    failed: int = 0
    errors: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


def view_rng(seed: int, video_id: str, view: int) -> np.random.Generator | None:
    """View 0 is the centred inference view; view j >= 1 has its own reproducible random draw."""
    return None if view == 0 else np.random.default_rng([seed, zlib.crc32(video_id.encode()), view])


def decode_video(item: VideoItem, config: WECLConfig, views: int, seed: int) -> Inputs:
    """Decode and MFCC one video: every view's clips (view 0 centred, the others drawn by
    `view_rng`) and the single MFCC input."""
    return prepare_inputs(str(item.path), config, views=[view_rng(seed, item.video_id, v) for v in range(views)],
                          limited=False)


def _segments_of(dataset: Dataset, video_id: str) -> list[list]:
    ann = dataset.annotations.get(video_id)
    return [] if ann is None else [[s.start, s.end, s.label or ann.label] for s in ann.segments]


def _read_meta(path: Path) -> dict | None:
    try:
        with np.load(path) as data:
            return json.loads(str(data["meta"]))
    except Exception:  # a damaged file is recomputed
        return None


class FeatureStore:
    """A folder of backbone features of one dataset under one set of backbones, in one precision:
    what `extract` writes and training and cached evaluation read."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)

    def file(self, video_id: str) -> Path:
        # CAER ids hold "/" (subset/class/clip); keep one flat folder.
        return self.folder / "features" / (video_id.replace("/", "__") + ".npz")

    def manifest(self) -> dict:
        path = self.folder / "manifest.json"
        if not path.is_file():
            raise WECLError(f"{self.folder}: no manifest.json; run `python -m wecl extract` first")
        try:
            return json.loads(path.read_text())
        except ValueError as error:
            raise WECLError(f"{path}: not valid JSON ({error})") from None

    def begin(self, dataset: Dataset, model: WECL, views: int, seed: int) -> dict:
        """Create or check `manifest.json`: one store holds features of one set of backbones."""
        path = self.folder / "manifest.json"
        ref = model.checkpoint
        manifest = {
            "version": STORE_VERSION,
            "backbone_key": model.backbone_key,
            "checkpoint": {"id": ref.id if ref else "in-memory", "path": str(ref.path) if ref else None,
                           "revision": ref.revision if ref else None},
            "config": model.config.to_dict(),
            "dataset": {"name": dataset.name, "layout": dataset.layout, "classes": dataset.classes,
                        "synthetic": dataset.synthetic},
            "views": views,
            "seed": seed,
            "precision": model.backbone_precision,
        }
        if path.is_file():
            try:
                old = json.loads(path.read_text())
            except ValueError:
                old = {}
            if old.get("backbone_key") not in (None, manifest["backbone_key"]):
                raise WECLError(f"{self.folder}: holds features of other backbones (checkpoint "
                                f"{old.get('checkpoint', {}).get('id')}); use another output folder")
            if old.get("precision", "fp32") != manifest["precision"]:
                raise WECLError(f"{self.folder}: holds features computed in {old.get('precision', 'fp32')}, not "
                                f"{manifest['precision']}; pass --precision {old.get('precision', 'fp32')} "
                                "or use another output folder")
            manifest["views"] = max(views, old.get("views", 0))
        self.folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(manifest, indent=2) + "\n")
        return manifest

    def has(self, video_id: str, key: str, views: int, precision: str = "fp32") -> bool:
        """Whether the video's file is finished for these backbones, with at least `views` views."""
        path = self.file(video_id)
        meta = _read_meta(path) if path.is_file() else None
        return (meta is not None and meta.get("backbone_key") == key and meta.get("views", 0) >= views
                and meta.get("precision", "fp32") == precision)

    def write(self, dataset: Dataset, model: WECL, item: VideoItem, inputs: Inputs, views: int,
              arrays: dict[str, np.ndarray], backbone_seconds: float) -> None:
        """One video's feature file (atomically), as every extraction path writes it."""
        arrays = {"spans": np.asarray(inputs.spans, np.float64), **arrays}
        meta = {
            "video_id": item.video_id, "path": str(item.path), "label": item.label, "subset": item.subset,
            "segments": _segments_of(dataset, item.video_id), "info": inputs.info.to_json(),
            "backbone_key": model.backbone_key, "views": views if model.visual_backbone is not None else 1,
            "precision": model.backbone_precision,
            "timings": {"decode": sum(inputs.timings.values()), "backbones": backbone_seconds},
        }
        arrays["meta"] = np.array(json.dumps(meta))
        path = self.file(item.video_id)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, lambda tmp: np.savez(tmp, **arrays))
        except OSError as error:
            raise _unwritable(path, error) from None

    def log_failure(self, item: VideoItem, message: str) -> None:
        """A line in errors.log for a video that could not be read."""
        path = self.folder / "errors.log"
        try:
            with open(path, "a", encoding="utf-8") as handle:
                handle.write(f"{item.video_id}\t{item.path}\t{message}\n")
        except OSError as error:
            raise _unwritable(path, error) from None

    def load(self, views: int | None = None) -> FeatureTable:
        """Every finished video, features stacked (the first `views` views)."""
        manifest = self.manifest()
        key = manifest["backbone_key"]
        rows = []
        for path in sorted((self.folder / "features").glob("*.npz")):
            try:
                with np.load(path) as data:
                    meta = json.loads(str(data["meta"]))
                    if meta.get("backbone_key") != key:
                        continue
                    rows.append((meta, data["visual"] if "visual" in data.files else None,
                                 data["audio"] if "audio" in data.files else None, data["spans"]))
            except Exception:  # noqa: BLE001 - an unreadable file is left out, extract redoes it
                continue
        if not rows:
            raise WECLError(f"{self.folder}: the feature store holds no finished video")
        return FeatureTable.of(manifest, rows, views)


def _unwritable(path: Path, error: OSError) -> WECLError:
    """The store cannot be written (a full disk, no permission): the run stops, with this message."""
    return WECLError(f"{path}: cannot write the feature store ({error.strerror or error})")


@dataclass
class ExtractPlan:
    """One extraction: its store and settings, the videos left to do, and the bookkeeping every
    way of running it shares (`extract` here, `distributed.extract_ray`)."""

    store: FeatureStore
    dataset: Dataset
    model: WECL
    views: int
    todo: list[VideoItem]
    total: int
    progress: Progress
    stats: ExtractStats = field(default_factory=ExtractStats)
    started: float = field(default_factory=time.perf_counter)

    def keep(self, item: VideoItem, inputs: Inputs, arrays: dict[str, np.ndarray], backbone_seconds: float) -> None:
        """Write one video's features and count it."""
        self.store.write(self.dataset, self.model, item, inputs, self.views, arrays, backbone_seconds)
        self.stats.done += 1
        self._tick()

    def fail(self, item: VideoItem, message: str) -> None:
        """Count a video that could not be read and log it; it never stops the run."""
        self.stats.failed += 1
        self.stats.errors[item.video_id] = message
        self.store.log_failure(item, message)
        self._tick()

    def finish(self) -> ExtractStats:
        self.stats.seconds = time.perf_counter() - self.started
        return self.stats

    def _tick(self) -> None:
        self.progress(self.stats.done + self.stats.skipped + self.stats.failed, self.total, "videos")


def plan_extract(dataset: Dataset, model: WECL, out_dir: str | os.PathLike, views: int, seed: int,
                 items: list[VideoItem] | None, progress: Progress | None) -> ExtractPlan:
    """Open the store (creating or checking its manifest) and count the videos already done."""
    if not 1 <= views <= MAX_VIEWS:
        raise WECLError(f"views must lie in [1, {MAX_VIEWS}], not {views}")
    store = FeatureStore(out_dir)
    store.begin(dataset, model, views, seed)
    items = dataset.items if items is None else items
    key, precision = model.backbone_key, model.backbone_precision
    started = time.perf_counter()
    stored_views = views if model.visual_backbone is not None else 1  # the sound has one view (`write`)
    todo = [item for item in items if not store.has(item.video_id, key, stored_views, precision)]
    run = ExtractPlan(store, dataset, model, views, todo, len(items), progress or silent, started=started)
    run.stats.skipped = len(items) - len(todo)
    run.progress(run.stats.skipped, run.total, "videos")
    return run


def extract(
    dataset: Dataset,
    model: WECL,
    out_dir: str | os.PathLike,
    views: int = 3,
    seed: int = 0,
    workers: int = 2,
    items: list[VideoItem] | None = None,
    progress: Progress | None = None,
) -> ExtractStats:
    """Backbone features of every video of `dataset` (or of `items`) into the store at `out_dir`.

    `views`: 1 is the centred view only (enough for evaluation); training uses more. A video that
    cannot be read is logged to errors.log and skipped; it never stops the run."""
    model.eval()
    check_workers(workers)
    run = plan_extract(dataset, model, out_dir, views, seed, items, progress)
    for item, decoded in prefetch(run.todo, lambda item: decode_video(item, model.config, views, seed), workers):
        try:
            inputs = decoded.result()
            start = time.perf_counter()
            arrays = backbone_arrays(model, inputs)
        except Exception as error:  # noqa: BLE001 - a bad video is logged, never fatal
            run.fail(item, describe(error))
            continue
        run.keep(item, inputs, arrays, time.perf_counter() - start)  # a store that cannot be written stops the run
    return run.finish()


def backbone_arrays(model: WECL, inputs: Inputs) -> dict[str, np.ndarray]:
    """The backbones on one decoded video: visual (views, T, C) and audio (T, C) float32."""
    arrays = {}
    if model.visual_backbone is not None:
        arrays["visual"] = np.stack([model.encode_visual(inputs.frames(v, model.config)).numpy()
                                     for v in range(len(inputs.clips))]).astype(np.float32)
    if model.audio_backbone is not None:
        arrays["audio"] = model.encode_audio(inputs.patches).numpy().astype(np.float32)
    return arrays


# ---------------------------------------------------------------------------------------------
# Reading a store back


@dataclass
class FeatureTable:
    """A whole store in memory: what training and cached evaluation read."""

    manifest: dict
    ids: list[str]
    labels: list[str | None]
    subsets: list[str | None]
    segments: list[list]  # per video [[start, end, label], ...] (temporal ground truth, may be empty)
    infos: list[VideoInfo]
    spans: list[list[tuple[float, float]]]
    visual: np.ndarray | None  # (N, V, T, C_v)
    audio: np.ndarray | None  # (N, T, C_a)
    has_audio: np.ndarray  # (N,) bool

    @property
    def classes(self) -> list[str]:
        return list(self.manifest["dataset"]["classes"])

    def indices(self, *subsets: str) -> list[int]:
        return [i for i, s in enumerate(self.subsets) if s in subsets]

    @classmethod
    def of(cls, manifest: dict, rows: list[tuple], views: int | None) -> FeatureTable:
        """The table of a store's rows: (meta, visual (V, T, C) or None, audio or None, spans)."""
        n_views = min(m["views"] for m, *_ in rows) if rows[0][1] is not None else 1
        n_views = n_views if views is None else min(views, n_views)
        return cls(
            manifest,
            [m["video_id"] for m, *_ in rows],
            [m["label"] for m, *_ in rows],
            [m["subset"] for m, *_ in rows],
            [m["segments"] for m, *_ in rows],
            [VideoInfo(**m["info"]) for m, *_ in rows],
            [[tuple(s) for s in sp.tolist()] for *_, sp in rows],
            None if rows[0][1] is None else np.stack([v[:n_views] for _, v, _, _ in rows]),
            None if rows[0][2] is None else np.stack([a for _, _, a, _ in rows]),
            np.array([m["info"]["has_audio"] for m, *_ in rows], bool),
        )

    def features(self, i: int, view: int = 0) -> Features:
        """Video i as the `features.Features` that `inference.explain` takes (no thumbnails)."""
        v = None if self.visual is None else self.visual[i, view]
        a = None if self.audio is None else self.audio[i]
        t = len(self.spans[i])
        return Features(self.infos[i], self.spans[i], v, a, np.zeros((t, 1, 1, 3), np.uint8), {}, "disk")
