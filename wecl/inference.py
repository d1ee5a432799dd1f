"""Inference on one video: file -> frames / MFCC -> backbone features (cached) -> heads -> result.

Backbone features are computed once per (video content, backbones): they are kept in memory and
on disk, so a new theta or more erasing rounds only re-runs the heads (milliseconds).
"""
from __future__ import annotations

import functools
import json
import os
import queue
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from wecl import checkpoints
from wecl.atomic import atomic_write
from wecl.audio import mfcc_patches, read_audio
from wecl.config import cache_root
from wecl.detection import check_rule, detect, keyframes
from wecl.erasing import erasing_rounds
from wecl.errors import WECLError
from wecl.model import WECL
from wecl import video as video_io
from wecl.video import Clips, VideoInfo, read_clips

Progress = Callable[[float, str], None]
MEMORY_CACHE_SIZE = 32  # videos, and at most MEMORY_CACHE_BYTES of arrays
MEMORY_CACHE_BYTES = int(float(os.environ.get("WECL_MEMORY_CACHE_MB", 512)) * 2**20)
# The disk feature cache is trimmed to this size, least recently used first (WECL_CACHE_MAX, MB).
DISK_CACHE_BYTES = int(float(os.environ.get("WECL_CACHE_MAX", 2048)) * 2**20)
_memory: OrderedDict[tuple[str, str, str], "Features"] = OrderedDict()
_file_hashes: dict[tuple[str, int, int], str] = {}
MODEL_CACHE_SIZE = 4
_models: OrderedDict[tuple, WECL] = OrderedDict()  # (folder, revision, weights size, mtime, device, precision)
_hub_specs: OrderedDict[tuple, tuple] = OrderedDict()  # (Hub id, revision) -> what `resolve` found
_models_lock = threading.Lock()


def cache_dir() -> Path:
    """Where features are kept on disk: $WECL_CACHE/features (default ~/.cache/wecl/features)."""
    return cache_root() / "features"


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


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise WECLError("device 'cuda' was asked for but no CUDA GPU is available")
    return device


PRECISIONS = ("auto", "fp32", "bf16")


@functools.lru_cache(maxsize=1)
def cpu_has_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AMX or AVX-512 BF16), where bf16 autocast pays."""
    try:
        with open("/proc/cpuinfo") as handle:
            flags = next((line.split(":", 1)[1].split() for line in handle if line.startswith("flags")), [])
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def resolve_precision(precision: str, device: torch.device) -> str:
    """"auto" -> "bf16" on CUDA and on CPUs with native bf16, else "fp32"."""
    if precision not in PRECISIONS:
        raise WECLError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    if precision == "auto":
        return "bf16" if device.type == "cuda" or (device.type == "cpu" and cpu_has_bf16()) else "fp32"
    return precision


def source_of(model: WECL) -> dict:
    """What a result came from, as its JSON says: the checkpoint (id, revision, fingerprint) and
    the backbones' precision."""
    ref = getattr(model, "checkpoint", None)
    return {**(ref.to_json() if ref else {"id": "in-memory", "revision": None}), "precision": precision_of(model)}


def precision_of(model: WECL) -> str:
    """The precision this model's backbones run in ("fp32" or "bf16"; the heads are always fp32)."""
    return resolve_precision(model.precision, _device_of(model))


# Threads decoding one video's segments in `predict` (contiguous ranges, each its own decoder);
# batch tools decode several videos at once instead.
DECODE_THREADS = max(1, min(4, os.cpu_count() or 1))


def chunk_size(device: torch.device) -> int:
    """Segments per backbone call: a whole video (T <= 64) on a GPU; five on a CPU, so that the
    first half of a video's clips runs while the second half decodes. It depends on the device
    only, never on the thread count: a batch of one runs another convolution algorithm than a
    batch of several, and features must not change with the machine's cores."""
    return 64 if device.type == "cuda" else 5


def _resolve(checkpoint: str | None, revision: str | None) -> tuple[Path, str, str | None]:
    """`checkpoints.resolve`, remembered for Hub ids (each call would ask the Hub again); a local
    folder is resolved every time, which is cheap and follows a changed file."""
    spec = (str(checkpoint or ""), revision)
    with _models_lock:
        if spec in _hub_specs:
            _hub_specs.move_to_end(spec)
            return _hub_specs[spec]
    found = checkpoints.resolve(checkpoint, revision)
    if found[2] is not None:  # from the Hub
        with _models_lock:
            _hub_specs[spec] = found
            while len(_hub_specs) > 64:
                _hub_specs.popitem(last=False)
    return found


def load_model(checkpoint: str | None = None, revision: str | None = None, device: str = "auto",
               precision: str | None = None) -> WECL:
    """Load a checkpoint onto a device, once: None is the project's default. Models are kept by
    what they are (resolved folder, revision, weights file size and time), not by how they were
    named, so `./x`, `x/` and `././x` share one copy; at most MODEL_CACHE_SIZE are kept (LRU).
    `precision` is the backbones' ("auto", "fp32", "bf16"; see `resolve_precision`); None is
    $WECL_PRECISION, default "auto" (the app and the dataset tab use that)."""
    dev = resolve_device(device)
    precision = resolve_precision(precision or os.environ.get("WECL_PRECISION", "auto"), dev)
    folder, ident, resolved = _resolve(checkpoint, revision)
    try:
        stamp = checkpoints.weights_stamp(folder)
    except OSError:
        raise WECLError(f"checkpoint {ident}: model.safetensors is missing") from None
    key = (str(folder), resolved, *stamp, str(dev), precision)
    with _models_lock:
        if key in _models:
            _models.move_to_end(key)
            return _models[key]
    model = checkpoints.load_resolved(folder, ident, resolved, device=dev, share_backbones=True)
    model.precision = precision
    with _models_lock:
        model = _models.setdefault(key, model)  # two threads loading at once keep one copy
        _models.move_to_end(key)
        while len(_models) > MODEL_CACHE_SIZE:
            _models.popitem(last=False)
    return model


def known_hash(path: str) -> str | None:
    """The content hash of a file if this process has already computed it (and the file has not
    changed since), else None: never reads the file."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return _file_hashes.get((os.path.abspath(path), stat.st_size, stat.st_mtime_ns))


def video_hash(path: str) -> str:
    stat = os.stat(path)
    key = (os.path.abspath(path), stat.st_size, stat.st_mtime_ns)
    if key not in _file_hashes:
        _file_hashes[key] = checkpoints.file_sha256(Path(path))
    return _file_hashes[key]


def backbone_key(model: WECL) -> str:
    """What features depend on: the backbone weights and the input pipeline's config.

    Stronger than a checkpoint id + revision: re-trained heads on the same backbones reuse the
    cached features, and a changed backbone never does."""
    if getattr(model, "_backbone_key", None) is None:
        model._backbone_key = checkpoints.backbone_digests(model)[1]
    return model._backbone_key


def _device_of(model: WECL) -> torch.device:
    return next(model.parameters()).device


def run_backbone(backbone, batch: torch.Tensor, device: torch.device, chunk: int, precision: str) -> np.ndarray:
    """A backbone in inference mode on (N, ...) inputs, `chunk` at a time -> (N, C) float32.
    "bf16": autocast to bfloat16 with channels-last inputs (what oneDNN and cuDNN run fastest);
    the features come back as float32."""
    bf16 = precision == "bf16"
    outs = []
    with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        for part in batch.split(chunk):
            part = part.to(device, non_blocking=True)
            if bf16:
                part = part.contiguous(memory_format=torch.channels_last_3d if part.dim() == 5 else torch.channels_last)
            outs.append(backbone(part).float().cpu())
    return torch.cat(outs).numpy()


def prepare_frames(frames: np.ndarray, mean, std) -> torch.Tensor:
    """(T, k, H, W, 3) uint8 -> (T, 3, k, H, W) float, 0-255 minus mean over std (Hara et al.)."""
    x = torch.from_numpy(frames).permute(0, 4, 1, 2, 3).float()
    return (x - torch.tensor(mean).view(1, 3, 1, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1, 1)


@dataclass
class Inputs:
    """What the backbones eat, for one video: decoded clips and MFCC patches (CPU work only)."""

    clips: Clips
    patches: torch.Tensor | None  # (T, 3, 224, 224), None for a visual-only model
    timings: dict[str, float]


def prepare_inputs(video: str, config, progress: Progress | None = None, rng: np.random.Generator | None = None) -> Inputs:
    """Decode the clips and compute the MFCC patches. Thread-safe and GIL-light (PyAV, numpy), so
    batch tools run it in worker threads while the main thread runs the backbones."""
    c = config
    progress = progress or (lambda fraction, desc: None)
    timings = {}
    progress(0.0, "decoding video")
    start = time.perf_counter()
    deadline = time.monotonic() + video_io.TIME_BUDGET_S  # a runaway decode ends with a message
    clips = read_clips(video, c.segments, c.frames_per_segment, c.frame_size, rng=rng, deadline=deadline)
    timings["decode"] = time.perf_counter() - start
    patches = None
    if c.uses_audio:
        progress(0.2, "audio: MFCC")
        start = time.perf_counter()
        waveform = read_audio(video, c.sample_rate, clips.info.duration, deadline) if clips.info.has_audio else None
        clips.info.has_audio = waveform is not None and waveform.size > 0
        patches = mfcc_patches(waveform, c.sample_rate, clips.spans, c.n_mfcc, c.mfcc_hop, c.audio_patch_size)
        timings["audio"] = time.perf_counter() - start
    return Inputs(clips, patches, timings)


def run_backbones(inputs: Inputs, model: WECL, progress: Progress | None = None) -> Features:
    """Both frozen backbones on prepared inputs -> per-segment features."""
    c, device, precision = model.config, _device_of(model), precision_of(model)
    progress = progress or (lambda fraction, desc: None)
    timings = dict(inputs.timings)
    chunk = chunk_size(device)
    clips = inputs.clips
    visual = audio = None
    if model.visual_backbone is not None:
        progress(0.35, "visual backbone (3D ResNet)")
        start = time.perf_counter()
        visual = run_backbone(model.visual_backbone, prepare_frames(clips.frames, c.pixel_mean, c.pixel_std), device,
                              chunk, precision)
        timings["visual_backbone"] = time.perf_counter() - start
    if model.audio_backbone is not None:
        progress(0.8, "audio backbone (2D ResNet)")
        start = time.perf_counter()
        audio = run_backbone(model.audio_backbone, inputs.patches, device, chunk, precision)
        timings["audio_backbone"] = time.perf_counter() - start
    return Features(clips.info, clips.spans, visual, audio, np.stack(clips.thumbnails), timings)


def compute_features(
    video: str, model: WECL, progress: Progress | None = None, rng: np.random.Generator | None = None
) -> Features:
    """Decode, MFCC and both backbones for one video, timing each stage. With `rng`, an augmented
    training view (random clip positions and crops, paper 4.2) instead of the centred one.

    The stages overlap: one thread decodes the clips (in DECODE_THREADS ranges of segments),
    another the sound and its MFCC, while this thread runs the visual backbone on each chunk of
    segments as soon as it is decoded; the audio backbone runs last. `timings["overlap_saved"]`
    is the sum of the stage times minus the time it all took."""
    c, device, precision = model.config, _device_of(model), precision_of(model)
    if model.visual_backbone is None:  # nothing to overlap with
        return run_backbones(prepare_inputs(video, c, progress, rng), model, progress)
    progress = progress or (lambda fraction, desc: None)
    chunk, deadline, began = chunk_size(device), time.monotonic() + video_io.TIME_BUDGET_S, time.perf_counter()
    info = video_io.probe(video)
    ready: queue.Queue = queue.Queue()
    done: dict = {}
    timings: dict[str, float] = {}

    def decode() -> None:
        try:
            start = time.perf_counter()
            done["clips"] = read_clips(video, c.segments, c.frames_per_segment, c.frame_size, rng=rng, deadline=deadline,
                                       on_segment=lambda i, frames: ready.put((i, frames)), threads=DECODE_THREADS,
                                       info=info)
            timings["decode"] = time.perf_counter() - start
        except BaseException as error:  # noqa: BLE001 - handed to the caller's thread below
            done["error"] = error
        finally:
            ready.put(None)

    def sound() -> None:
        try:
            start = time.perf_counter()
            waveform = read_audio(video, c.sample_rate, info.duration, deadline) if info.has_audio else None
            done["has_audio"] = waveform is not None and waveform.size > 0
            spans = video_io.segment_spans(info.duration, c.segments)
            done["patches"] = mfcc_patches(waveform, c.sample_rate, spans, c.n_mfcc, c.mfcc_hop, c.audio_patch_size)
            timings["audio"] = time.perf_counter() - start
        except BaseException as error:  # noqa: BLE001
            done["audio_error"] = error

    worker = threading.Thread(target=decode, name="wecl-decode", daemon=True)
    listener = threading.Thread(target=sound, name="wecl-audio", daemon=True) if c.uses_audio else None
    progress(0.0, "decoding video")
    worker.start()
    if listener is not None:
        listener.start()
    parts, arrived, next_start, backbone_s = [], {}, 0, 0.0
    try:
        while True:
            item = ready.get()
            if item is None:
                break
            arrived[item[0]] = item[1]
            # the next chunk of segments, in time order, as soon as all of it is decoded
            while next_start < c.segments and all(i in arrived for i in range(next_start, min(next_start + chunk, c.segments))):
                end = min(next_start + chunk, c.segments)
                progress(0.1 + 0.6 * end / c.segments, f"visual backbone, segments {end}/{c.segments}")
                start = time.perf_counter()
                batch = prepare_frames(np.stack([arrived.pop(i) for i in range(next_start, end)]), c.pixel_mean, c.pixel_std)
                parts.append(run_backbone(model.visual_backbone, batch, device, chunk, precision))
                backbone_s += time.perf_counter() - start
                next_start = end
    finally:
        worker.join()
        if listener is not None:
            listener.join()
    for failure in ("error", "audio_error"):
        if failure in done:
            raise done[failure]
    clips = done["clips"]
    if c.uses_audio:
        clips.info.has_audio = done["has_audio"]
    timings["visual_backbone"] = backbone_s
    audio = None
    if model.audio_backbone is not None:
        progress(0.8, "audio backbone (2D ResNet)")
        start = time.perf_counter()
        audio = run_backbone(model.audio_backbone, done["patches"], device, chunk, precision)
        timings["audio_backbone"] = time.perf_counter() - start
    timings["overlap_saved"] = max(0.0, sum(timings.values()) - (time.perf_counter() - began))
    return Features(clips.info, clips.spans, np.concatenate(parts), audio, np.stack(clips.thumbnails), timings)


def _save_features(path: Path, f: Features) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {"thumbnails": f.thumbnails, "spans": np.asarray(f.spans, np.float64)}
    for name in ("visual", "audio"):
        if getattr(f, name) is not None:
            arrays[name] = getattr(f, name)
    meta = json.dumps({"info": f.info.to_json(), "timings": f.timings})
    atomic_write(path, lambda tmp: np.savez(tmp, meta=np.array(meta), **arrays))


def _load_features(path: Path, video: str) -> Features | None:
    try:
        with np.load(path) as data:
            meta = json.loads(str(data["meta"]))
            info = VideoInfo(**{**meta["info"], "path": str(video)})
            spans = [tuple(s) for s in data["spans"].tolist()]
            get = lambda name: data[name] if name in data.files else None  # noqa: E731
            return Features(info, spans, get("visual"), get("audio"), data["thumbnails"], meta["timings"], "disk")
    except Exception:  # a damaged cache entry is recomputed, never trusted
        return None


def _cache_key(video: str, model: WECL) -> tuple[str, str, str]:
    return video_hash(video), backbone_key(model), precision_of(model)


def _disk_path(key: tuple[str, str, str]) -> Path:
    return cache_dir() / f"{key[0][:24]}-{key[1][:24]}-{key[2]}.npz"


def cached_features(video: str, model: WECL, use_disk: bool = True) -> Features | None:
    """This video's features for this model's backbones from memory or disk, or None."""
    key = _cache_key(video, model)
    if key in _memory:
        _memory.move_to_end(key)
        c = _memory[key]
        # keyed by content: the same bytes under another name report the name asked for
        return Features(replace(c.info, path=str(video)), c.spans, c.visual, c.audio, c.thumbnails, c.timings, "memory", c.first_round)
    path = _disk_path(key)
    features = _load_features(path, video) if use_disk and path.exists() else None
    if features is not None:
        _remember(key, features)
        try:
            os.utime(path)  # used now: the last to go when the disk cache is trimmed
        except OSError:
            pass
    return features


def _nbytes(f: Features) -> int:
    return sum(a.nbytes for a in (f.visual, f.audio, f.thumbnails) if a is not None)


def _remember(key: tuple[str, str, str], features: Features) -> None:
    _memory[key] = features
    while len(_memory) > MEMORY_CACHE_SIZE or (len(_memory) > 1 and sum(map(_nbytes, _memory.values())) > MEMORY_CACHE_BYTES):
        _memory.popitem(last=False)


def trim_disk_cache(max_bytes: int | None = None) -> int:
    """Delete the least recently used feature files until the disk cache holds at most
    `max_bytes` (default DISK_CACHE_BYTES); returns the bytes it then holds."""
    max_bytes = DISK_CACHE_BYTES if max_bytes is None else max_bytes
    entries = []
    for path in cache_dir().glob("*.npz"):
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


def store_features(video: str, model: WECL, features: Features, use_disk: bool = True) -> None:
    """Keep freshly computed features in memory and (atomically) on disk."""
    key = _cache_key(video, model)
    if use_disk:
        try:
            _save_features(_disk_path(key), features)
            trim_disk_cache()
        except OSError:
            pass  # a read-only or full cache disk only costs speed
    _remember(key, features)


def features_for(video: str, model: WECL, progress: Progress | None = None, use_disk: bool = True) -> Features:
    """Features from memory, else disk, else computed (and then stored in both)."""
    video = str(video)
    if not os.path.isfile(video):
        raise WECLError(f"{video}: no such file")
    features = cached_features(video, model, use_disk)
    if features is None:
        features = compute_features(video, model, progress)
        store_features(video, model, features, use_disk)
    return features


@dataclass
class Result:
    """One prediction: `json` is DESIGN.md section 10 (plus extra keys); `features` its inputs."""

    json: dict
    features: Features

    @property
    def prediction(self) -> str:
        return self.json["prediction"]

    def save_json(self, path: str | os.PathLike) -> None:
        from wecl.annotations import atomic_write_text

        atomic_write_text(path, json.dumps(self.json, indent=2) + "\n")


def _floats(values) -> list[float | None]:
    return [None if v is None or not np.isfinite(v) else float(v) for v in values]


def explain(features: Features, model: WECL, theta: float | None = None, rounds: int = 1,
            keyframe_rule: str | None = None) -> Result:
    """The heads, the erasing rounds and the detections on cached features (no decode, no backbone).
    theta and keyframe_rule None mean the checkpoint's."""
    c = model.config
    theta = c.theta if theta is None else float(theta)
    rule = check_rule(c.keyframe_rule if keyframe_rule is None else keyframe_rule)
    if not 0.0 <= theta <= 1.0:
        raise WECLError(f"theta must lie in [0, 1], not {theta}")
    if rounds < 1:
        raise WECLError(f"rounds must be at least 1, not {rounds}")
    start = time.perf_counter()
    device = _device_of(model)
    as_tensor = lambda a: None if a is None else torch.from_numpy(np.asarray(a, np.float32))[None].to(device)  # noqa: E731
    was_training = model.heads.training  # only the heads run here; eval() on the whole model
    if was_training:  # would walk the backbones' thousands of modules at every theta change
        model.heads.eval()
    # Parameter versions change with every in-place update (optimiser steps, load_state_dict).
    heads_state = (id(model.heads), str(device), tuple(p._version for p in model.heads.parameters()))
    with torch.inference_mode():
        out = erasing_rounds(model.heads, as_tensor(features.visual), as_tensor(features.audio), theta, rounds,
                             audio_present=features.info.has_audio, first=features.first_round.get(heads_state))
    features.first_round.clear()
    features.first_round[heads_state] = out["output"]
    if was_training:
        model.heads.train()
    head = out["output"]
    probs = torch.softmax(head.logits[0].float(), -1).cpu().numpy()
    best = int(probs.argmax())
    raw_v = None if head.visual_attention is None else head.visual_attention[0].cpu().numpy()
    raw_a = None if head.audio_attention is None else head.audio_attention[0].cpu().numpy()
    norm_v, norm_a = (None if a is None else a.cpu().numpy() for a in out["attention"][0])
    erased = out["erased_round"].cpu().numpy()
    segments = []
    for i, (s, e) in enumerate(features.spans):
        segments.append({
            "index": i, "start": float(s), "end": float(e),
            "visual_attention": None if raw_v is None else float(raw_v[i]),
            "audio_attention": None if raw_a is None else float(raw_a[i]),
            "visual_attention_norm": None if norm_v is None else float(norm_v[i]),
            "audio_attention_norm": None if norm_a is None else float(norm_a[i]),
            "erased_round": None if erased[i] < 0 else int(erased[i]),
        })
    # Detection (DESIGN.md 5, `wecl.detection`): keyframes by the named rule, eq. 9 by default.
    # Audio counts when the video has sound (and is all there is for an audio-only model).
    counted = [(v, a if features.info.has_audio or v is None else None) for v, a in out["attention"]]
    counted = [tuple(None if x is None else x.cpu().numpy() for x in pair) for pair in counted]
    mask, scored = keyframes(rule, counted, erased, theta)
    detections = detect(features.spans, mask, scored, float(probs[best]), c.classes[best])
    notices = []
    if not features.info.has_audio:
        notices.append("This video has no audio track: the audio input is silence and erasing follows the visual attention alone.")
    note = checkpoints.training_notice(c)
    if note:
        notices.append(note)
    timings = dict(features.timings) if features.source == "computed" else {}
    timings["heads"] = time.perf_counter() - start
    data = {
        "video": features.info.to_json(),
        "checkpoint": source_of(model),
        "classes": list(c.classes),
        "probabilities": [float(p) for p in probs],
        "prediction": c.classes[best],
        "confidence": float(probs[best]),
        "theta": theta,
        "rounds": rounds,
        "keyframe_rule": rule,
        "segments": segments,
        "detections": detections,
        "rounds_attention": [
            {"round": r, "visual": None if v is None else _floats(v.cpu().numpy()),
             "audio": None if a is None else _floats(a.cpu().numpy())}
            for r, (v, a) in enumerate(out["attention"])
        ],
        "notices": notices,
        "training": c.training,
        "features": features.source,
        "timings": timings,
    }
    return Result(data, features)


def predict(
    video: str | os.PathLike,
    model: WECL | str | None = None,
    theta: float | None = None,
    rounds: int = 1,
    device: str = "auto",
    progress: Progress | None = None,
    keyframe_rule: str | None = None,
) -> Result:
    """Run WECL on one video. `model`: a loaded WECL, a checkpoint (Hub id, folder) or None for the
    default. theta None means the checkpoint's. The result's JSON form is DESIGN.md section 10."""
    if not isinstance(model, WECL):
        model = load_model(model, device=device)
    features = features_for(str(video), model, progress)
    if progress:
        progress(0.95, "heads and erasing")
    return explain(features, model, theta, rounds, keyframe_rule)
