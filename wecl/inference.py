"""Prediction on one video: load a checkpoint (cached), get the video's backbone features (cached,
`wecl.features`), run the heads and the erasing rounds, and write the result JSON
(docs/formats.md#result-json, typed by `wecl.schema.Result`).
"""
from __future__ import annotations

import json
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from wecl import cards, checkpoints, detection, weights
from wecl.atomic import atomic_write_text
from wecl.config import mask_rule
from wecl.device import resolve_device, resolve_precision
from wecl.erasing import erasing_rounds
from wecl.errors import WECLError
from wecl.face import FACE
from wecl.features import Features, features_for
from wecl.model import WECL
from wecl.progress import Progress
from wecl.schema import CheckpointSource, Result, SegmentRow
from wecl.settings import settings

MODEL_CACHE_SIZE = 4
_models: OrderedDict[tuple, WECL] = OrderedDict()  # (folder, revision, weights size, mtime, device, precision)
_hub_specs: OrderedDict[tuple, tuple] = OrderedDict()  # (Hub id, revision) -> what `resolve` found
_models_lock = threading.Lock()


def source_of(model: WECL) -> CheckpointSource:
    """What a result came from, as its JSON says: the checkpoint (id, revision, fingerprint) and
    the backbones' precision."""
    ref = model.checkpoint
    return {**(ref.to_json() if ref else {"id": "in-memory", "revision": None}), "precision": model.backbone_precision}


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
    precision = resolve_precision(precision or settings().precision, dev)
    folder, ident, resolved = _resolve(checkpoint, revision)
    try:
        stamp = weights.weights_stamp(folder)
    except OSError:
        raise WECLError(f"checkpoint {ident}: model.safetensors is missing") from None
    key = (str(folder), resolved, *stamp, str(dev), precision)
    with _models_lock:
        if key in _models:
            _models.move_to_end(key)
            return _models[key]
    model = checkpoints.load_resolved(WECL, folder, ident, resolved, device=dev, share_backbones=True)
    model.precision = precision
    with _models_lock:
        model = _models.setdefault(key, model)  # two threads loading at once keep one copy
        _models.move_to_end(key)
        while len(_models) > MODEL_CACHE_SIZE:
            _models.popitem(last=False)
    return model


@dataclass
class Explanation:
    """What `predict` and `explain` give: `json`, the result (docs/formats.md#result-json, typed by
    `wecl.schema.Result`, the one Result type), and `features`, the backbone features it came from."""

    json: Result
    features: Features

    def save_json(self, path: str | os.PathLike) -> None:
        atomic_write_text(path, json.dumps(self.json, indent=2) + "\n")


def _floats(values) -> list[float | None]:
    return [None if v is None or not np.isfinite(v) else float(v) for v in values]


def _numpy(x: torch.Tensor | None) -> np.ndarray | None:
    return None if x is None else x.cpu().numpy()


def explain_settings(model: WECL, theta: float | None, rounds: int, keyframe_rule: str | None
                     ) -> tuple[float, int, str]:
    """(theta, rounds, keyframe rule) as `explain` runs them: None is the checkpoint's; WECLError
    when one is out of range (dataset runs check before their first video)."""
    c = model.config
    theta = c.theta if theta is None else float(theta)
    rule = detection.check_rule(c.keyframe_rule if keyframe_rule is None else keyframe_rule)
    if not 0.0 <= theta <= 1.0:
        raise WECLError(f"theta must lie in [0, 1], not {theta}")
    if rounds < 1:
        raise WECLError(f"rounds must be at least 1, not {rounds}")
    return theta, rounds, rule


def explain(features: Features, model: WECL, theta: float | None = None, rounds: int = 1,
            keyframe_rule: str | None = None) -> Explanation:
    """The heads, the erasing rounds and the detections on cached features (no decode, no backbone).
    theta and keyframe_rule None mean the checkpoint's."""
    c = model.config
    theta, rounds, rule = explain_settings(model, theta, rounds, keyframe_rule)
    start = time.perf_counter()
    out = _run_heads(features, model, theta, rounds, mask_rule(rule))
    probs = torch.softmax(out["output"].logits[0].float(), -1).cpu().numpy()
    best = int(probs.argmax())
    # The modalities that count (`detection.counted`) are the ones shown: without sound the audio A
    # (of silence) is neither, except for an audio-only model (it is all there is).
    attention = detection.counted([(_numpy(v), _numpy(a)) for v, a in out["attention"]], features.info.has_audio)
    heard = attention[0][1] is not None
    erased = out["erased_round"].cpu().numpy()
    faces = _faces(features, model)
    mask, scored = detection.keyframes(rule, attention, erased, theta)
    timings = dict(features.timings) if features.source == "computed" else {}
    timings["heads"] = time.perf_counter() - start
    data: Result = {
        "video": features.info.to_json(),
        "checkpoint": source_of(model),
        "classes": list(c.classes),
        "probabilities": [float(p) for p in probs],
        "prediction": c.classes[best],
        "confidence": float(probs[best]),
        "theta": theta,
        "rounds": rounds,
        "keyframe_rule": rule,
        "segments": _segment_rows(features, out["output"], attention[0], erased, faces, heard),
        "detections": detection.detect(features.spans, mask, scored, float(probs[best]), c.classes[best]),
        "rounds_attention": [
            {"round": r, "visual": None if v is None else _floats(v), "audio": None if a is None else _floats(a)}
            for r, (v, a) in enumerate(attention)
        ],
        "notices": _notices(features, model, faces, _numpy(out["output"].visual_attention)),
        "training": c.training,
        "features": features.source,
        "timings": timings,
    }
    return Explanation(data, features)


def _run_heads(features: Features, model: WECL, theta: float, rounds: int, rule: str) -> dict:
    """`erasing_rounds` on one video's features under mask `rule`, reusing its theta-independent round 0."""
    device = model.device
    as_tensor = lambda a: None if a is None else torch.from_numpy(np.asarray(a, np.float32))[None].to(device)  # noqa: E731
    was_training = model.heads.training  # only the heads run here; eval() on the whole model
    if was_training:  # would walk the backbones' thousands of modules at every theta change
        model.heads.eval()
    # Parameter versions change with every in-place update (optimiser steps, load_state_dict).
    heads_state = (id(model.heads), str(device), tuple(p._version for p in model.heads.parameters()))
    try:
        with torch.inference_mode():
            out = erasing_rounds(model.heads, as_tensor(features.visual), as_tensor(features.audio), theta, rounds,
                                 audio_present=features.info.has_audio, first=features.first_round.get(heads_state),
                                 rule=rule)
    finally:
        if was_training:
            model.heads.train()
    features.first_round.clear()
    features.first_round[heads_state] = out["output"]
    return out


def _faces(features: Features, model: WECL) -> np.ndarray | None:
    """Per segment, whether the face backbone found a face in it (None for other backbones)."""
    if not model.config.face or features.visual is None:
        return None
    return np.asarray(features.visual)[:, FACE] > 0


def _segment_rows(features: Features, head, normalised, erased: np.ndarray, faces: np.ndarray | None,
                  heard: bool) -> list[SegmentRow]:
    """Per segment: its span, the raw (eq. 7) and normalised (eq. 8) attention (audio only where
    the video has sound), its erasing round, and for a face checkpoint whether it has a face."""
    raw_v, raw_a = _numpy(head.visual_attention), _numpy(head.audio_attention) if heard else None
    norm_v, norm_a = normalised
    value = lambda a, i: None if a is None else float(a[i])  # noqa: E731
    rows: list[SegmentRow] = []
    for i, (s, e) in enumerate(features.spans):
        row: SegmentRow = {
            "index": i, "start": float(s), "end": float(e),
            "visual_attention": None if raw_v is None else float(raw_v[0, i]),
            "audio_attention": None if raw_a is None else float(raw_a[0, i]),
            "visual_attention_norm": value(norm_v, i),
            "audio_attention_norm": value(norm_a, i),
            "erased_round": None if erased[i] < 0 else int(erased[i]),
        }
        if faces is not None:
            row["face"] = bool(faces[i])
        rows.append(row)
    return rows


NO_AUDIO_MODEL = ("This checkpoint has no audio model: it does not listen to the sound, and no audio "
                  "attention is shown (erasing follows the visual attention alone).")
NO_AUDIO_MODEL_FACE = ("This checkpoint has no audio model: no package that can be installed here ships a trained "
                       "speech-emotion network that runs offline, so it does not listen to the sound and no audio "
                       "attention is shown.")


# What a face checkpoint's raw attention (1 - P(neutral), in [0, 1]) says beside eq. 8's min-max.
NEUTRAL_BELOW = 0.5  # the most expressive face is this close to neutral, or closer
FLAT_RANGE = 0.2  # the expression's intensity spans less than this over the video


def _face_notices(raw: np.ndarray | None, faces: np.ndarray) -> list[str]:
    """Eq. 8 rescales attention to each video's own range: say so when the range is nothing to go by."""
    if raw is None or not faces.any():
        return []
    # the range eq. 8 stretches: segments without a face (attention 0) count, they are part of it
    attention = np.asarray(raw)[0]
    low, high = float(attention.min()), float(attention[faces].max())
    if high < NEUTRAL_BELOW:
        return [f"The faces read mostly neutral (at most {high:.0%} away from neutral, the raw attention): eq. 8 "
                "rescales attention to this video's own range, so its keyframes are only the least neutral moments, "
                "and the emotion is read from weak expressions with neutral left out."]
    if high - low < FLAT_RANGE and faces.sum() > 1:
        return [f"The expression barely changes over the video ({low:.0%} to {high:.0%} away from neutral, the raw "
                "attention): eq. 8 stretches that small range to [0, 1], so the keyframes mark small differences."]
    return []


def _notices(features: Features, model: WECL, faces: np.ndarray | None, raw_visual: np.ndarray | None = None
             ) -> list[str]:
    notices = []
    if not model.config.uses_audio:
        notices.append(NO_AUDIO_MODEL_FACE if model.config.face else NO_AUDIO_MODEL)
    elif not features.info.has_audio:
        notices.append("This video has no audio track: the audio input is silence "
                       "and erasing follows the visual attention alone.")
    if faces is not None and not faces.any():
        notices.append("No face was found in this video: the face-expression model has nothing to read, so every "
                       "segment's attention is 0 and the class probabilities are uniform; the prediction, and any "
                       "keyframe or detection (at θ 0 every segment passes eq. 9), mean nothing.")
    elif faces is not None and not faces.all():
        missing = ", ".join(str(i) for i in np.flatnonzero(~faces))
        notices.append(f"No face in segment(s) {missing} of {len(faces)}: their attention is 0 (`face: false`).")
    if faces is not None and model.config.training == "rule":  # raw attention is 1 - P(neutral) by rule
        notices += _face_notices(raw_visual, faces)
    note = cards.training_notice(model.config)
    if note:
        notices.append(note)
    return notices


def predict(
    video: str | os.PathLike,
    model: WECL | str | None = None,
    theta: float | None = None,
    rounds: int = 1,
    device: str = "auto",
    progress: Progress | None = None,
    keyframe_rule: str | None = None,
) -> Explanation:
    """Run WECL on one video. `model`: a loaded WECL, a checkpoint (Hub id, folder) or None for the
    default. theta None means the checkpoint's. The result's JSON form: docs/formats.md#result-json."""
    if not isinstance(model, WECL):
        model = load_model(model, device=device)
    features = features_for(str(video), model, progress)
    if progress:
        progress(0.95, 1.0, "heads and erasing")
    return explain(features, model, theta, rounds, keyframe_rule)

