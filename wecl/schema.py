"""The result JSON of one prediction, as types.

`inference.explain` builds it (`Result.json`); `python -m wecl predict --json`, the app's `/predict`
API, `python -m wecl batch --out` and the results database carry it unchanged, except that batch
runs add `video_id` and set `video.path` to the file's own path. docs/formats.md#result-json
gives every key's unit and meaning; tests/test_schema.py checks real predictions against these
types, key for key.

No import beyond `typing` (and no `from __future__ import annotations`, which would hide
`NotRequired` from `__required_keys__` on Python 3.11), so any consumer can import it cheaply.
"""
from typing import Literal, NotRequired, TypedDict

KeyframeRule = Literal["eq9", "fused"]  # config.KEYFRAME_RULES; see docs/detection.md
Precision = Literal["fp32", "bf16"]  # the backbones'; the heads always run in fp32
FeatureSource = Literal["computed", "memory", "disk"]  # where this prediction's backbone features came from


class Video(TypedDict):
    """The source file as probed (`video.VideoInfo.to_json()`)."""

    path: str  # as given; batch runs set the file's own path; the app gives the file's name alone
    duration: float  # seconds, of the video stream; segments and detections tile or lie in [0, duration]
    fps: float  # average frame rate (25.0 when the file declares none)
    width: int  # pixels as displayed, after rotation metadata
    height: int
    # The file has an audio stream; for a model with an audio stream, one that decoded to sound.
    has_audio: bool


class CheckpointSource(TypedDict):
    """What the prediction came from: the checkpoint and the backbones' precision."""

    id: str  # Hub repo id, the checkpoint folder's absolute path (the app: its name), or "in-memory"
    revision: str | None  # the Hub commit it resolved to; None for a folder or an in-memory model
    fingerprint: NotRequired[str]  # sha256 of the weights; absent for a model never saved or loaded
    precision: Precision


class SegmentRow(TypedDict):
    """One of the T temporal segments; they tile [0, duration] in order."""

    index: int  # 0 .. T-1
    start: float  # seconds
    end: float
    visual_attention: float | None  # raw A_v of eq. 7 (>= 0); None when the model has no visual stream
    audio_attention: float | None  # raw A_a; None when the model has no audio stream or the video no sound
    visual_attention_norm: float | None  # A*_v of eq. 8, in [0, 1]
    audio_attention_norm: float | None  # A*_a; None as audio_attention (the model's audio A on silence
    # means nothing, and eq. 9 ignores it: a segment's erasing follows its visual A* alone)
    erased_round: int | None  # the erasing round that erased it (0: an eq. 9 keyframe); None: never
    # Face checkpoints only (`visual_backbone: "face"`): whether a face was found in any of the
    # segment's sampled frames; a segment without one has attention 0.
    face: NotRequired[bool]


class Detection(TypedDict):
    """One maximal run of keyframes under `keyframe_rule` (docs/detection.md)."""

    start: float  # seconds: its first segment's start
    end: float  # its last segment's end
    score: float  # mean fused A* over the run x the predicted class's probability
    label: str  # the predicted class


class RoundAttention(TypedDict):
    """A* of one erasing round, mapped back to the original T segments."""

    round: int  # 0 is the full video
    visual: list[float | None] | None  # T values; None where the segment was erased in an earlier round
    audio: list[float | None] | None  # None (the whole list) when the model has no such stream or the video no sound


class Result(TypedDict):
    """The result JSON of one prediction (`inference.explain`)."""

    video: Video
    checkpoint: CheckpointSource
    classes: list[str]  # the checkpoint's class names, in its order
    probabilities: list[float]  # softmax of x_o's logits, one per class, same order
    prediction: str  # the most probable class
    confidence: float  # its probability
    theta: float  # the erasing threshold used
    rounds: int  # erasing rounds asked for (rounds_attention may hold fewer: runs stop early)
    keyframe_rule: KeyframeRule
    segments: list[SegmentRow]
    detections: list[Detection]
    rounds_attention: list[RoundAttention]
    notices: list[str]  # sentences every view shows (no sound or no audio model, no face, the checkpoint's provenance)
    training: str  # the checkpoint's provenance: "untrained", "synthetic", "real" or "rule" (heads set by rule)
    features: FeatureSource
    timings: dict[str, float]  # stage -> seconds; only "heads" when the features were cached
    video_id: NotRequired[str]  # the file name without its video extension; added by batch runs
