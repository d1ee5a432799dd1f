"""The input pipeline: a video file -> clips and MFCC patches -> backbone features, once.

Backbone features depend on the video's bytes, the backbone weights and their precision, never on
the heads: they are kept in a bounded `FeatureCache` (memory and disk), so a new theta or more
erasing rounds re-runs only the heads (milliseconds). `prefetch` decodes the next videos of a
batch while the backbones run on the current one; `compute_features` overlaps decoding with the
backbones inside one video. The design: docs/design.md#2-input-sampling.
"""
from __future__ import annotations

import json
import os
import queue
import threading
import time
from collections import OrderedDict, deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence, TypeVar

import numpy as np
import torch

from wecl import video as video_io
from wecl.atomic import atomic_write
from wecl.audio import SoundPicture, mfcc_patches, read_audio, sound_picture
from wecl.config import WECLConfig, cache_root
from wecl.errors import WECLError
from wecl.model import WECL
from wecl.progress import Progress, silent
from wecl.settings import settings
from wecl.threads import Cancelled, Deadline, gather
from wecl.video import VideoInfo, read_clips
from wecl.weights import file_sha256

# Threads decoding one video's segments in `compute_features` (contiguous ranges, each its own
# decoder); batch tools decode several videos at once instead (`prefetch`).
DECODE_THREADS = max(1, min(4, os.cpu_count() or 1))


@dataclass
class Features:
    """One video's backbone features and what is needed to place them in time."""

    info: VideoInfo
    spans: list[tuple[float, float]]
    visual: np.ndarray | None  # (T, C_v) float32
    audio: np.ndarray | None  # (T, C_a)
    thumbnails: np.ndarray  # (T, h, w, 3) uint8, each segment's middle frame
    timings: dict[str, float] = field(default_factory=dict)
    source: str = "computed"  # "computed", "memory" or "disk"
    # Round 0 of the heads (independent of theta) per heads state, so a theta change skips it.
    first_round: dict = field(default_factory=dict, repr=False)
    sound: SoundPicture | None = None  # the timeline's picture of the sound, from the decoded samples

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.visual, self.audio, self.thumbnails, self.sound) if a is not None)


@dataclass
class Inputs:
    """What the backbones eat, for one video: decoded clips per view and the MFCC patches. The
    clips stay uint8 (a quarter of the bytes in prefetch buffers and between Ray tasks) until
    `frames` normalises them for the backbone."""

    info: VideoInfo
    spans: list[tuple[float, float]]
    clips: list[np.ndarray]  # per view (T, k, H, W, 3) uint8; view 0 is the centred one, [] for audio only
    patches: torch.Tensor | None  # (T, 3, S, S), None for a visual-only model
    thumbnails: np.ndarray  # (T, h, w, 3) uint8, of view 0
    timings: dict[str, float]
    sound: SoundPicture | None = None

    def frames(self, view: int, config: WECLConfig) -> torch.Tensor:
        """View `view`'s clips as the visual backbone takes them, (T, 3, k, H, W)."""
        return prepare_frames(self.clips[view], config.pixel_mean, config.pixel_std)


def prepare_frames(frames: np.ndarray, mean, std) -> torch.Tensor:
    """(T, k, H, W, 3) uint8 -> (T, 3, k, H, W) float, 0-255 minus mean over std (Hara et al.)."""
    x = torch.from_numpy(frames).permute(0, 4, 1, 2, 3).float()
    return (x - torch.tensor(mean).view(1, 3, 1, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1, 1)


def audio_patches(video: str, config: WECLConfig, info: VideoInfo, deadline: Deadline | None
                  ) -> tuple[torch.Tensor, bool, SoundPicture | None]:
    """The MFCC patches of the video's sound (silence when it has none), whether it has sound, and
    the timeline's picture of it, from the same samples."""
    c = config
    waveform = read_audio(video, c.sample_rate, info.duration, deadline) if info.has_audio else None
    spans = video_io.segment_spans(info.duration, c.segments)
    patches = mfcc_patches(waveform, c.sample_rate, spans, c.n_mfcc, c.mfcc_hop, c.audio_patch_size)
    return patches, waveform is not None and waveform.size > 0, sound_picture(waveform, c.sample_rate, info.duration)


PICTURE_RATE = 8000  # Hz: the sound of a checkpoint that does not listen, decoded for the picture alone


def sound_only(video: str, info: VideoInfo, deadline: Deadline | None) -> SoundPicture | None:
    """The picture of the sound for a visual-only checkpoint: its one decode of the audio."""
    waveform = read_audio(video, PICTURE_RATE, info.duration, deadline) if info.has_audio else None
    return sound_picture(waveform, PICTURE_RATE, info.duration)


def prepare_inputs(video: str, config: WECLConfig, progress: Progress | None = None,
                   views: Sequence[np.random.Generator | None] = (None,),
                   limited: bool = True) -> Inputs:
    """Decode the clips of each view and compute the MFCC patches (CPU work only). `views`: one
    random generator per view, None for the centred inference view (with a generator: random
    clip positions and crops, paper 4.2). Thread-safe and GIL-light (PyAV, numpy), so batch
    tools run it in worker threads while the main thread runs the backbones. `limited`: each view's
    decoding may take the settings' time budget (False: no limit, as feature extraction runs)."""
    c, progress = config, progress or silent
    timings: dict[str, float] = {}
    progress(0.0, 1.0, "decoding video")
    start = time.perf_counter()
    # A runaway decode ends with a message: each view may take the budget of one video.
    deadline = Deadline(settings().time_budget_s * max(1, len(views)) if limited else None)
    decoded = []  # view 0 probes the file as it decodes; the other views reuse what it found
    for rng in views if c.uses_visual else views[:1]:
        decoded.append(read_clips(video, c.segments, c.frames_per_segment, c.frame_size, rng=rng, deadline=deadline,
                                  info=decoded[0].info if decoded else None, whole=c.face))
    info, spans = decoded[0].info, decoded[0].spans
    timings["decode"] = time.perf_counter() - start
    patches = sound = None
    if c.uses_audio:
        progress(0.2, 1.0, "audio: MFCC")
        start = time.perf_counter()
        patches, info.has_audio, sound = audio_patches(video, c, info, deadline)
        timings["audio"] = time.perf_counter() - start
    clips = [view.frames for view in decoded] if c.uses_visual else []
    return Inputs(info, spans, clips, patches, np.stack(decoded[0].thumbnails), timings, sound)


def run_backbones(inputs: Inputs, model: WECL, progress: Progress | None = None) -> Features:
    """Both frozen backbones on prepared inputs (view 0) -> per-segment features."""
    progress = progress or silent
    timings = dict(inputs.timings)
    visual = audio = None
    if model.visual_backbone is not None:
        progress(0.35, 1.0, "visual backbone (faces)" if model.config.face else "visual backbone (3D ResNet)")
        start = time.perf_counter()
        visual = model.encode_visual(inputs.frames(0, model.config)).numpy()
        timings["visual_backbone"] = time.perf_counter() - start
    if model.audio_backbone is not None:
        progress(0.8, 1.0, "audio backbone (2D ResNet)")
        start = time.perf_counter()
        audio = model.encode_audio(inputs.patches).numpy()
        timings["audio_backbone"] = time.perf_counter() - start
    return Features(inputs.info, inputs.spans, visual, audio, inputs.thumbnails, timings, sound=inputs.sound)


def compute_features(video: str, model: WECL, progress: Progress | None = None) -> Features:
    """Decode, MFCC and both backbones for one video, timing each stage.

    The stages overlap: one thread decodes the clips (in DECODE_THREADS ranges of segments),
    another the sound and its MFCC, while this thread runs the visual backbone on each chunk of
    segments as soon as it is decoded; the audio backbone runs last. `timings["overlap_saved"]`
    is the sum of the stage times minus the time it all took."""
    c = model.config
    if model.visual_backbone is None:  # nothing to overlap with
        return run_backbones(prepare_inputs(video, c, progress), model, progress)
    progress, began = progress or silent, time.perf_counter()
    deadline = Deadline(settings().time_budget_s)  # shared: a failing thread stops the other
    info = video_io.probe(video)
    ready: queue.Queue = queue.Queue()
    timings: dict[str, float] = {}

    def decode():
        try:
            return _timed(timings, "decode", read_clips, video, c.segments, c.frames_per_segment, c.frame_size,
                          deadline=deadline, on_segment=lambda i, frames: ready.put((i, frames)),
                          threads=DECODE_THREADS, info=info, whole=c.face)
        finally:
            ready.put(None)  # the end, decoded or not

    progress(0.0, 1.0, "decoding video")
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="wecl-input") as pool:
        threads = [pool.submit(deadline.run, decode)]
        if c.uses_audio:
            threads.append(pool.submit(deadline.run, _timed, timings, "audio", audio_patches, video, c, info, deadline))
        else:  # a checkpoint that does not listen: the sound is decoded once, for the timeline's picture
            threads.append(pool.submit(deadline.run, _timed, timings, "sound", sound_only, video, info, deadline))
        try:
            visual, timings["visual_backbone"] = deadline.run(_visual_as_decoded, ready, model, progress,
                                                              lambda: deadline.check(video))
        except Cancelled:  # a decoding thread failed: `gather` below raises its own failure
            visual = None
    clips, heard = gather(threads)  # the failure of either thread, not the other's stop
    patches, has_audio, sound = heard if c.uses_audio else (None, clips.info.has_audio, heard)
    clips.info.has_audio = has_audio
    audio = None
    if model.audio_backbone is not None:
        progress(0.8, 1.0, "audio backbone (2D ResNet)")
        deadline.check(video)
        audio = _timed(timings, "audio_backbone", model.encode_audio, patches).numpy()
    timings["overlap_saved"] = max(0.0, sum(timings.values()) - (time.perf_counter() - began))
    return Features(clips.info, clips.spans, visual, audio, np.stack(clips.thumbnails), timings, sound=sound)


def _timed(timings: dict[str, float], stage: str, fn: Callable, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    timings[stage] = time.perf_counter() - start
    return out


def _visual_as_decoded(ready: queue.Queue, model: WECL, progress: Progress,
                       check: Callable[[], None]) -> tuple[np.ndarray | None, float]:
    """The visual backbone on each chunk of segments, in time order, as soon as all of the chunk
    is decoded (`check` before each: the video's time budget); returns the features (None when
    decoding failed) and the seconds it ran."""
    c = model.config
    chunk = model.chunk_size
    parts, arrived, next_start, seconds = [], {}, 0, 0.0
    while (item := ready.get()) is not None:
        arrived[item[0]] = item[1]
        while next_start < c.segments and all(i in arrived for i in range(next_start, min(next_start + chunk, c.segments))):
            end = min(next_start + chunk, c.segments)
            check()
            progress(0.1 + 0.6 * end / c.segments, 1.0, f"visual backbone, segments {end}/{c.segments}")
            start = time.perf_counter()
            batch = prepare_frames(np.stack([arrived.pop(i) for i in range(next_start, end)]), c.pixel_mean, c.pixel_std)
            parts.append(model.encode_visual(batch).numpy())
            seconds += time.perf_counter() - start
            next_start = end
    return (np.concatenate(parts) if next_start == c.segments else None), seconds


# ---------------------------------------------------------------------------------------------
# Content hashes and the feature cache


class FileHashes:
    """SHA-256 of files by (path, size, mtime), so a file is read once while it is unchanged;
    the `size` most recently used are remembered (by default as many as a dataset folder's scan
    may look at, `settings().max_scanned`: the dataset tab finds each result by its video's known hash)."""

    def __init__(self, size: int | None = None):
        self._size = size
        self._known: OrderedDict[tuple[str, int, int], str] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _key(path: str) -> tuple[str, int, int]:
        stat = os.stat(path)
        return os.path.abspath(path), stat.st_size, stat.st_mtime_ns

    def known(self, path: str) -> str | None:
        """The hash if it is already known for the file as it is now; never reads the file."""
        try:
            key = self._key(path)
        except OSError:
            return None
        with self._lock:
            if key in self._known:
                self._known.move_to_end(key)
            return self._known.get(key)

    def __call__(self, path: str) -> str:
        key = self._key(path)
        with self._lock:
            if key in self._known:
                self._known.move_to_end(key)
                return self._known[key]
        digest = file_sha256(Path(path))
        with self._lock:
            self._known[key] = digest
            while len(self._known) > (self._size or settings().max_scanned):
                self._known.popitem(last=False)
        return digest

    def clear(self) -> None:
        with self._lock:
            self._known.clear()


video_hash = FileHashes()


def cache_dir() -> Path:
    """Where features are kept on disk: $WECL_CACHE/features (default ~/.cache/wecl/features)."""
    return cache_root() / "features"


CacheKey = tuple[str, str, str]  # (video content hash, backbone key, precision)


class FeatureCache:
    """Features by (video content, backbones, precision): the `max_items` most recently used in
    memory (and at most `max_bytes` of arrays), and npz files in `folder` (default `cache_dir()`,
    read when used) trimmed to `max_disk_bytes`, least recently used first; the byte bounds default
    to the settings' (`WECL_MEMORY_CACHE_MB`, `WECL_CACHE_MAX`). Thread-safe; a damaged file is
    recomputed, never trusted."""

    def __init__(self, folder: Path | None = None, max_items: int = 32, max_bytes: int | None = None,
                 max_disk_bytes: int | None = None):
        self._folder, self.max_items, self._max_bytes, self._max_disk_bytes = folder, max_items, max_bytes, max_disk_bytes
        self._memory: OrderedDict[CacheKey, Features] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def max_bytes(self) -> int:
        return self._max_bytes if self._max_bytes is not None else int(settings().memory_cache_mb * 2**20)

    @property
    def max_disk_bytes(self) -> int:
        return self._max_disk_bytes if self._max_disk_bytes is not None else int(settings().cache_max_mb * 2**20)

    @property
    def folder(self) -> Path:
        return self._folder or cache_dir()

    def key(self, video: str, model: WECL) -> CacheKey:
        return video_hash(video), model.backbone_key, model.backbone_precision

    def path(self, key: CacheKey) -> Path:
        return self.folder / f"{key[0][:24]}-{key[1][:24]}-{key[2]}.npz"

    def get(self, video: str, model: WECL, use_disk: bool = True) -> Features | None:
        """This video's features for this model's backbones from memory or disk, or None."""
        key = self.key(video, model)
        with self._lock:
            kept = self._memory.get(key)
            if kept is not None:
                self._memory.move_to_end(key)
        if kept is not None:  # keyed by content: the same bytes under another name report the name asked for
            return replace(kept, info=replace(kept.info, path=str(video)), source="memory")
        path = self.path(key)
        features = _read_npz(path, video) if use_disk and path.exists() else None
        if features is not None:
            self._remember(key, features)
            try:
                os.utime(path)  # used now: the last to go when the disk cache is trimmed
            except OSError:
                pass
        return features

    def put(self, video: str, model: WECL, features: Features, use_disk: bool = True) -> None:
        """Keep freshly computed features in memory and (atomically) on disk."""
        key = self.key(video, model)
        if use_disk:
            try:
                _write_npz(self.path(key), features)
                self.trim()
            except OSError:
                pass  # a read-only or full cache disk only costs speed
        self._remember(key, features)

    def clear(self) -> None:
        """Forget what is in memory (the disk files stay)."""
        with self._lock:
            self._memory.clear()

    def trim(self, max_bytes: int | None = None) -> int:
        """Delete the least recently used feature files until the folder holds at most
        `max_bytes` (default `max_disk_bytes`); returns the bytes it then holds."""
        max_bytes = self.max_disk_bytes if max_bytes is None else max_bytes
        entries = []
        for path in self.folder.glob("*.npz"):
            try:
                stat = path.stat()
            except OSError:
                continue
            entries.append((stat.st_mtime, stat.st_size, path))
        total = sum(size for _, size, _ in entries)
        for _, size, path in sorted(entries):
            if total <= max_bytes:
                break
            try:
                path.unlink()
                total -= size
            except OSError:
                pass
        return total

    def _remember(self, key: CacheKey, features: Features) -> None:
        with self._lock:
            self._memory[key] = features
            while len(self._memory) > self.max_items or (
                    len(self._memory) > 1 and sum(f.nbytes for f in self._memory.values()) > self.max_bytes):
                self._memory.popitem(last=False)


def _write_npz(path: Path, f: Features) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {"thumbnails": f.thumbnails, "spans": np.asarray(f.spans, np.float64)}
    for name in ("visual", "audio"):
        if getattr(f, name) is not None:
            arrays[name] = getattr(f, name)
    if f.sound is not None:
        arrays.update(sound_db=f.sound.mel_db, sound_hz=np.asarray(f.sound.band_hz))
    meta = json.dumps({"info": f.info.to_json(), "timings": f.timings, "sound": f.sound is not None})
    atomic_write(path, lambda tmp: np.savez(tmp, meta=np.array(meta), **arrays))


def _read_npz(path: Path, video: str) -> Features | None:
    try:
        with np.load(path) as data:
            meta = json.loads(str(data["meta"]))
            if "sound" not in meta:  # written before the sound's picture was kept: computed again, once
                return None
            info = VideoInfo(**{**meta["info"], "path": str(video)})
            spans = [tuple(s) for s in data["spans"].tolist()]
            get = lambda name: data[name] if name in data.files else None  # noqa: E731
            sound = SoundPicture(data["sound_db"], data["sound_hz"].tolist()) if "sound_db" in data.files else None
            return Features(info, spans, get("visual"), get("audio"), data["thumbnails"], meta["timings"], "disk",
                            sound=sound)
    except Exception:  # a damaged cache entry is recomputed, never trusted
        return None


cache = FeatureCache()  # the process's cache: the app, predict and batch share it


def features_for(video: str, model: WECL, progress: Progress | None = None, use_disk: bool = True) -> Features:
    """Features from memory, else disk, else computed (and then stored in both)."""
    video = str(video)
    if not os.path.isfile(video):
        raise WECLError(f"{video}: no such file")
    features = cache.get(video, model, use_disk)
    if features is None:
        features = compute_features(video, model, progress)
        cache.put(video, model, features, use_disk)
    elif features.sound is None and features.info.has_audio and not model.config.uses_audio:
        # A dataset run (`batch`, Ray) decodes no sound for a checkpoint that does not listen: the
        # timeline's picture of it is made here, from one decode of the sound alone, and kept.
        features.sound = sound_only(video, features.info, Deadline(settings().time_budget_s))
        if features.sound is not None:
            cache.put(video, model, features, use_disk)
    return features


# ---------------------------------------------------------------------------------------------
# Decoding ahead

MAX_WORKERS = 32  # decoding threads ahead of the backbones, at most
Item = TypeVar("Item")
Out = TypeVar("Out")


def check_workers(workers: int) -> None:
    """WECLError past MAX_WORKERS; dataset runs call it before they hash or plan anything."""
    if workers > MAX_WORKERS:
        raise WECLError(f"workers must be at most {MAX_WORKERS}, not {workers}: each holds a decoded video")


def prefetch(items: Iterable[Item], work: Callable[[Item], Out], workers: int = 2, ahead: int | None = None
             ) -> Iterator[tuple[Item, Future]]:
    """`work(item)` for the next items in `workers` threads while the caller handles the current
    one: yields (item, future) in the items' order, with at most `ahead` (default 2 x workers)
    submitted; `future.result()` is the work's result or raises its error. Leaving the loop
    early cancels what has not started."""
    check_workers(workers)
    workers = max(1, workers)
    ahead = max(1, 2 * workers if ahead is None else ahead)
    items = iter(items)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="wecl-decode") as pool:
        pending: deque[tuple[Item, Future]] = deque()
        try:
            while True:
                while len(pending) < ahead and (item := next(items, _END)) is not _END:
                    pending.append((item, pool.submit(work, item)))
                if not pending:
                    return
                yield pending.popleft()
        finally:
            for _, future in pending:
                future.cancel()


_END = object()
