"""Feature extraction: run the frozen backbones over a dataset once and keep T x C features per video.

The backbones are frozen (paper 4.2), so training the heads never needs pixels again: this module
writes, per video, view 0 (centred clips, what inference sees) and views 1..n-1 (random clip
positions and crops, the paper's augmentation) of the visual features, and the audio features
(the MFCC input has no random part, so one audio view serves all).

Store layout (`out_dir`):
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
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from wecl.atomic import atomic_write
from wecl.atomic import atomic_write_text
from wecl.audio import mfcc_patches, read_audio
from wecl.config import WECLConfig
from wecl.datasets import Dataset, VideoItem
from wecl.errors import WECLError
from wecl.inference import Features, backbone_key, chunk_size, precision_of, prepare_frames, run_backbone
from wecl.model import WECL
from wecl.video import VideoInfo, read_clips

STORE_VERSION = 1


@dataclass
class DecodedVideo:
    """Backbone inputs of one video: every view's frames and the (single) MFCC patches."""

    item: VideoItem
    info: VideoInfo
    spans: list[tuple[float, float]]
    frames: list[torch.Tensor]  # per view (T, 3, k, H, W)
    patches: torch.Tensor | None  # (T, 3, S, S)
    seconds: float


@dataclass
class ExtractStats:
    done: int = 0
    skipped: int = 0
    failed: int = 0
    errors: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


def feature_file(out_dir: Path, video_id: str) -> Path:
    # CAER ids hold "/" (subset/class/clip); keep one flat folder.
    return Path(out_dir) / "features" / (video_id.replace("/", "__") + ".npz")


def view_rng(seed: int, video_id: str, view: int) -> np.random.Generator | None:
    """View 0 is the centred inference view; view j >= 1 has its own reproducible random draw."""
    return None if view == 0 else np.random.default_rng([seed, zlib.crc32(video_id.encode()), view])


def decode_video(item: VideoItem, config: WECLConfig, views: int, seed: int) -> DecodedVideo:
    """Decode and MFCC one video: what `inference.compute_features` does before the backbones."""
    c = config
    start = time.perf_counter()
    frames, info, spans = [], None, None
    for view in range(views if c.uses_visual else 1):
        clips = read_clips(str(item.path), c.segments, c.frames_per_segment, c.frame_size, rng=view_rng(seed, item.video_id, view))
        info, spans = info or clips.info, spans or clips.spans
        if c.uses_visual:
            frames.append(prepare_frames(clips.frames, c.pixel_mean, c.pixel_std))
    patches = None
    if c.uses_audio:
        waveform = read_audio(str(item.path), c.sample_rate, info.duration) if info.has_audio else None
        info.has_audio = waveform is not None and waveform.size > 0
        patches = mfcc_patches(waveform, c.sample_rate, spans, c.n_mfcc, c.mfcc_hop, c.audio_patch_size)
    return DecodedVideo(item, info, spans, frames, patches, time.perf_counter() - start)


def _segments_of(dataset: Dataset, video_id: str) -> list[list]:
    ann = dataset.annotations.get(video_id)
    return [] if ann is None else [[s.start, s.end, s.label or ann.label] for s in ann.segments]


def _atomic_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: np.savez(tmp, **arrays))


def _read_meta(path: Path) -> dict | None:
    try:
        with np.load(path) as data:
            return json.loads(str(data["meta"]))
    except Exception:  # a damaged file is recomputed
        return None


def is_done(path: Path, key: str, views: int, precision: str = "fp32") -> bool:
    meta = _read_meta(path) if path.is_file() else None
    return (meta is not None and meta.get("backbone_key") == key and meta.get("views", 0) >= views
            and meta.get("precision", "fp32") == precision)


def write_manifest(out_dir: Path, dataset: Dataset, model: WECL, key: str, views: int, seed: int) -> dict:
    """Create or check `manifest.json`: one store holds features of one set of backbones."""
    path = Path(out_dir) / "manifest.json"
    ref = getattr(model, "checkpoint", None)
    manifest = {
        "version": STORE_VERSION,
        "backbone_key": key,
        "checkpoint": {"id": ref.id if ref else "in-memory", "path": str(ref.path) if ref else None,
                       "revision": ref.revision if ref else None},
        "config": model.config.to_dict(),
        "dataset": {"name": dataset.name, "layout": dataset.layout, "classes": dataset.classes,
                    "synthetic": dataset.synthetic},
        "views": views,
        "seed": seed,
        "precision": precision_of(model),
    }
    if path.is_file():
        try:
            old = json.loads(path.read_text())
        except ValueError:
            old = {}
        if old.get("backbone_key") not in (None, key):
            raise WECLError(f"{out_dir}: holds features of other backbones (checkpoint {old.get('checkpoint', {}).get('id')}); "
                            "use another output folder")
        if old.get("precision", "fp32") != manifest["precision"]:
            raise WECLError(f"{out_dir}: holds features computed in {old.get('precision', 'fp32')}, not "
                            f"{manifest['precision']}; pass --precision {old.get('precision', 'fp32')} or use another output folder")
        manifest["views"] = max(views, old.get("views", 0))
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(manifest, indent=2) + "\n")
    return manifest


def extract(
    dataset: Dataset,
    model: WECL,
    out_dir: str | os.PathLike,
    views: int = 3,
    seed: int = 0,
    workers: int = 2,
    items: list[VideoItem] | None = None,
    progress: Callable[[int], None] | None = None,
) -> ExtractStats:
    """Backbone features of every video of `dataset` (or of `items`) into the store at `out_dir`.

    `views`: 1 is the centred view only (enough for evaluation); training uses more. A video that
    cannot be read is logged to errors.log and skipped; it never stops the run."""
    if views < 1:
        raise WECLError(f"views must be at least 1, not {views}")
    out_dir = Path(out_dir)
    model.eval()
    key, precision = backbone_key(model), precision_of(model)
    write_manifest(out_dir, dataset, model, key, views, seed)
    items = dataset.items if items is None else items
    stats = ExtractStats()
    start = time.perf_counter()
    todo = []
    for item in items:
        if is_done(feature_file(out_dir, item.video_id), key, views, precision):
            stats.skipped += 1
        else:
            todo.append(item)
    if progress:
        progress(stats.skipped)
    device = next(model.parameters()).device
    chunk = chunk_size(device)
    log = out_dir / "errors.log"

    def fail(item: VideoItem, error: Exception) -> None:
        message = str(error) if isinstance(error, WECLError) else f"{type(error).__name__}: {error}"
        stats.failed += 1
        stats.errors[item.video_id] = message
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(f"{item.video_id}\t{item.path}\t{message}\n")

    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="wecl-decode") as pool:
        pending: deque[tuple[VideoItem, Future]] = deque()
        queue = iter(todo)

        def refill() -> None:
            while len(pending) < 2 * max(1, workers):
                item = next(queue, None)
                if item is None:
                    return
                pending.append((item, pool.submit(decode_video, item, model.config, views, seed)))

        refill()
        while pending:
            item, future = pending.popleft()
            refill()
            try:
                decoded = future.result()
                _store(out_dir, dataset, model, key, decoded, views, device, chunk)
                stats.done += 1
            except Exception as error:  # noqa: BLE001 - a bad video is logged, never fatal
                fail(item, error)
            if progress:
                progress(stats.done + stats.skipped + stats.failed)
    stats.seconds = time.perf_counter() - start
    return stats


def _store(out_dir: Path, dataset: Dataset, model: WECL, key: str, d: DecodedVideo, views: int,
           device: torch.device, chunk: int) -> None:
    start = time.perf_counter()
    arrays = backbone_arrays(model, d, device, chunk)
    write_features(out_dir, dataset, model, key, d, views, arrays, time.perf_counter() - start)


def backbone_arrays(model: WECL, d: DecodedVideo, device: torch.device, chunk: int) -> dict[str, np.ndarray]:
    """The backbones on one decoded video: visual (views, T, C) and audio (T, C) float32."""
    precision, arrays = precision_of(model), {}
    if model.visual_backbone is not None:
        arrays["visual"] = np.stack([run_backbone(model.visual_backbone, f, device, chunk, precision)
                                     for f in d.frames]).astype(np.float32)
    if model.audio_backbone is not None:
        arrays["audio"] = run_backbone(model.audio_backbone, d.patches, device, chunk, precision).astype(np.float32)
    return arrays


def write_features(out_dir: Path, dataset: Dataset, model: WECL, key: str, d: DecodedVideo, views: int,
                   arrays: dict[str, np.ndarray], backbone_seconds: float) -> None:
    """One video's feature file (atomically), as every extraction path writes it."""
    arrays = {"spans": np.asarray(d.spans, np.float64), **arrays}
    meta = {
        "video_id": d.item.video_id, "path": str(d.item.path), "label": d.item.label, "subset": d.item.subset,
        "segments": _segments_of(dataset, d.item.video_id), "info": d.info.to_json(),
        "backbone_key": key, "views": views if model.visual_backbone is not None else 1,
        "precision": precision_of(model),
        "timings": {"decode": d.seconds, "backbones": backbone_seconds},
    }
    arrays["meta"] = np.array(json.dumps(meta))
    _atomic_npz(feature_file(out_dir, d.item.video_id), arrays)


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

    def features(self, i: int, view: int = 0) -> Features:
        """Video i as the `inference.Features` that `inference.explain` takes (no thumbnails)."""
        v = None if self.visual is None else self.visual[i, view]
        a = None if self.audio is None else self.audio[i]
        t = len(self.spans[i])
        return Features(self.infos[i], self.spans[i], v, a, np.zeros((t, 1, 1, 3), np.uint8), {}, "disk")


def read_manifest(out_dir: str | os.PathLike) -> dict:
    path = Path(out_dir) / "manifest.json"
    if not path.is_file():
        raise WECLError(f"{out_dir}: no manifest.json; run `python -m wecl extract` first")
    try:
        return json.loads(path.read_text())
    except ValueError as error:
        raise WECLError(f"{path}: not valid JSON ({error})") from None


def load_table(out_dir: str | os.PathLike, views: int | None = None) -> FeatureTable:
    """Every finished video of a store, features stacked (the first `views` views)."""
    manifest = read_manifest(out_dir)
    key = manifest["backbone_key"]
    files = sorted((Path(out_dir) / "features").glob("*.npz"))
    rows = []
    for path in files:
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
        raise WECLError(f"{out_dir}: the feature store holds no finished video")
    n_views = min(m["views"] for m, *_ in rows) if rows[0][1] is not None else 1
    n_views = n_views if views is None else min(views, n_views)
    visual = None if rows[0][1] is None else np.stack([v[:n_views] for _, v, _, _ in rows])
    audio = None if rows[0][2] is None else np.stack([a for _, _, a, _ in rows])
    return FeatureTable(
        manifest,
        [m["video_id"] for m, *_ in rows],
        [m["label"] for m, *_ in rows],
        [m["subset"] for m, *_ in rows],
        [m["segments"] for m, *_ in rows],
        [VideoInfo(**m["info"]) for m, *_ in rows],
        [[tuple(s) for s in sp.tolist()] for *_, sp in rows],
        visual,
        audio,
        np.array([m["info"]["has_audio"] for m, *_ in rows], bool),
    )
