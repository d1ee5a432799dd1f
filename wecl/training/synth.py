"""Synthetic "cue benchmark": real mp4 files whose emotion cues sit in known time spans.

It exists to train a tiny demo checkpoint (frozen, randomly initialised backbones) and to test
temporal detection (mAP@tIoU) end to end, so the cues are deliberately blunt: they must survive
random convolutions followed by global average pooling.

Every video carries one class. Its cue is present only inside 1-3 **cue spans**; everywhere else
the video shows **distractor** content.

Visual cue (inside a span, unless the span is audio-only): a centred rectangle of a saturated class
colour with a moving class texture, drawn over the distractor background.

    class     colour (RGB)      texture
    anger     red    230,25,25  diagonal stripes (16 px period) racing along at 4 px/frame
    joy       yellow 245,215,20 checkerboard (24 px period) drifting and bouncing
    sadness   blue   30,60,210  soft horizontal bands sinking slowly (1 px/frame)
    surprise  green  30,205,60  concentric rings expanding from the centre (3 px/frame)
    fear      violet 140,40,215 vertical bars that swap every 2 frames (flicker)
    disgust   olive  120,130,20 wobbling blotches

Audio cue (inside a span, unless the span is visual-only), mono 16 kHz, one class tone each, the
frequencies spread over the mel scale (test energy at the fundamental with an FFT):

    anger 150 Hz, rough (30 Hz amplitude modulation)     sadness 300 Hz, slow 1.5 Hz tremolo
    fear 520 Hz, deep 12 Hz tremolo                      joy 850 Hz, beeps at 4 Hz
    disgust 1400 Hz, slow 2 Hz pulses                    surprise 2300 Hz, fast beeps at 8 Hz

Distractors (outside the spans): a mid-grey background with a static noise pattern and 2-4 grey
circles/squares bouncing around; the sound is quiet white noise plus 1-3 short quiet neutral
tones at frequencies no class uses (1100, 3700, 5200 Hz).

Span rules (all times on frame boundaries, 1/fps s):
- 1-3 spans per video, each at least 1 s long, together 30-50 % of the duration, separated by at
  least 0.5 s of distractor content (so no two spans merge into one detection).
- Each span has a ``modality``: ``"both"`` (picture and sound), ``"visual"`` (cue picture with a
  silent sound track) or ``"audio"`` (a dark, almost black picture with the cue only in the sound).
  The strong span is usually ``"both"``; every video has a cue in each modality somewhere.
- Each span has a ``strength`` in (0, 1]. With one span it is 1; with several, one span is strong
  (1.0) and the others weaker (0.35-0.65): lower colour saturation, a smaller cue area and a
  quieter tone. A detector that finds only the dominant span misses the weaker context.
- Classes go round-robin over the videos (balanced); subsets come in class-balanced blocks: every
  fourth block of ``len(classes)`` videos is ``"validation"``, the rest ``"training"``.

Output: ``<out_dir>/<video_id>.mp4`` (H.264 yuv420p + AAC mono), ``annotations.json``
(ActivityNet layout, spans with extra keys ``modality`` and ``strength``; top-level ``labels``
gives the class list) and ``annotations.csv`` (``video,start,end,label``). Annotations depend
only on the seed and arguments; the mp4 bytes may differ between encoder builds.
"""
from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from wecl.errors import WECLError
from wecl.progress import Progress

DEFAULT_CLASSES = ("anger", "joy", "sadness", "surprise")
SAMPLE_RATE = 16000
NEUTRAL_TONES_HZ = (1100.0, 3700.0, 5200.0)
GREY = 128.0
MIN_SPAN_S = 1.0
MIN_GAP_S = 0.5
VALIDATION_EVERY = 4  # every 4th class-balanced block of videos is "validation"


@dataclass(frozen=True)
class ClassCue:
    colour: tuple[int, int, int]
    texture: str
    tone_hz: float
    sound: str


CLASS_CUES: dict[str, ClassCue] = {
    "anger": ClassCue((230, 25, 25), "stripes", 150.0, "rough"),
    "joy": ClassCue((245, 215, 20), "checker", 850.0, "beeps4"),
    "sadness": ClassCue((30, 60, 210), "bands", 300.0, "tremolo"),
    "surprise": ClassCue((30, 205, 60), "rings", 2300.0, "beeps8"),
    "fear": ClassCue((140, 40, 215), "flicker", 520.0, "shiver"),
    "disgust": ClassCue((120, 130, 20), "blotches", 1400.0, "pulses2"),
}


@dataclass(frozen=True)
class CueSpan:
    start_frame: int
    end_frame: int  # exclusive
    modality: str
    strength: float


def generate(
    out_dir: str | Path,
    videos: int,
    seed: int = 0,
    classes: Sequence[str] = DEFAULT_CLASSES,
    duration_range: tuple[float, float] = (6.0, 10.0),
    size: tuple[int, int] = (160, 120),
    fps: int = 15,
    progress: Progress | None = None,
) -> dict[str, dict]:
    """Write `videos` synthetic mp4 files plus annotations.json/.csv to `out_dir`.

    Returns the ActivityNet ``database`` dict (video id -> entry). `size` is (width, height);
    `progress(done, total, what)` is called after each video.
    """
    classes = list(classes)
    _check_arguments(videos, classes, duration_range, size, fps)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise WECLError(f"synthetic benchmark: output folder {out} is an existing file")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise WECLError(f"synthetic benchmark: cannot create output folder {out}: {err}") from err

    database: dict[str, dict] = {}
    for index in range(videos):
        video_id, database[video_id] = _synth_video(out, seed, index, classes, duration_range, size, fps)
        if progress is not None:
            progress(index + 1, videos, "videos")
    _write_annotations(out, seed, classes, database)
    return database


def _synth_video(out: Path, seed: int, index: int, classes: list[str], duration_range: tuple[float, float],
                 size: tuple[int, int], fps: int) -> tuple[str, dict]:
    """Render and encode video `index` (its own random stream); returns its id and its
    ActivityNet entry, with each cue's modality and strength."""
    rng = np.random.default_rng([seed, index])
    label = classes[index % len(classes)]
    block = index // len(classes)
    subset = "validation" if block % VALIDATION_EVERY == VALIDATION_EVERY - 1 else "training"
    n_frames = int(round(rng.uniform(*duration_range) * fps))
    spans = plan_spans(rng, n_frames, fps)
    frames = render_frames(rng, CLASS_CUES[label], spans, n_frames, size, fps)
    audio = render_audio(rng, CLASS_CUES[label], spans, n_frames, fps)
    video_id = f"synth_{seed}_{index:04d}"
    path = out / f"{video_id}.mp4"
    try:
        encode_mp4(path, frames, audio, fps)
    except OSError as err:
        raise WECLError(f"synthetic benchmark: cannot write {path}: {err}") from err
    return video_id, {
        "duration": round(n_frames / fps, 3),
        "subset": subset,
        "resolution": f"{size[0]}x{size[1]}",
        "label": label,
        "annotations": [
            {
                "segment": [round(s.start_frame / fps, 3), round(s.end_frame / fps, 3)],
                "label": label,
                "modality": s.modality,
                "strength": s.strength,
            }
            for s in spans
        ],
    }


def _write_annotations(out: Path, seed: int, classes: list[str], database: dict[str, dict]) -> None:
    """annotations.json (ActivityNet, with the generator's version, seed and labels) and annotations.csv."""
    document = {
        "version": "wecl-synth-1",
        "seed": seed,
        "labels": classes,
        "database": database,
    }
    (out / "annotations.json").write_text(json.dumps(document, indent=2) + "\n")
    with open(out / "annotations.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["video", "start", "end", "label"])
        for video_id, entry in database.items():
            for ann in entry["annotations"]:
                writer.writerow([video_id, ann["segment"][0], ann["segment"][1], ann["label"]])


def _check_arguments(videos, classes, duration_range, size, fps) -> None:
    problems = []
    if not isinstance(videos, int) or videos < 1:
        problems.append(f"videos must be a positive integer, not {videos!r}")
    unknown = [c for c in classes if c not in CLASS_CUES]
    if unknown:
        problems.append(f"no cue defined for classes {unknown}; known: {sorted(CLASS_CUES)}")
    if len(classes) < 2 or len(set(classes)) != len(classes):
        problems.append(f"needs at least two distinct classes, got {classes}")
    low, high = duration_range
    if not 3.0 <= low <= high:
        problems.append(f"duration range must satisfy 3 <= min <= max seconds, not {duration_range}")
    width, height = size
    if width < 32 or height < 32 or width % 2 or height % 2:
        problems.append(f"size must be even and at least 32x32, not {width}x{height}")
    if fps < 5:
        problems.append(f"fps must be at least 5, not {fps}")
    if problems:
        raise WECLError("synthetic benchmark: " + "; ".join(problems))


def plan_spans(rng: np.random.Generator, n_frames: int, fps: int) -> list[CueSpan]:
    """Draw 1-3 non-overlapping cue spans (frame ranges) following the module's span rules."""
    min_len = int(np.ceil(MIN_SPAN_S * fps))
    min_gap = int(np.ceil(MIN_GAP_S * fps))
    cue_frames = int(round(rng.uniform(0.30, 0.50) * n_frames))
    n_spans = int(rng.choice([1, 2, 3], p=[0.3, 0.4, 0.3]))
    # Fewer spans when the cue time cannot hold n spans of >= 1 s (short videos).
    n_spans = max(1, min(n_spans, cue_frames // min_len))
    cue_frames = max(cue_frames, min_len)

    lengths = _split(rng, cue_frames - n_spans * min_len, n_spans) + min_len
    free = n_frames - cue_frames - (n_spans - 1) * min_gap
    gaps = _split(rng, free, n_spans + 1)
    gaps[1:-1] += min_gap

    if n_spans == 1:
        strengths = [1.0]
    else:
        strong = int(rng.integers(n_spans))
        strengths = [1.0 if i == strong else round(float(rng.uniform(0.35, 0.65)), 2)
                     for i in range(n_spans)]
    spans, position = [], 0
    for i in range(n_spans):
        position += int(gaps[i])
        # The strong span usually carries both modalities, so the class stays learnable;
        # the weaker context is more often single-modality.
        p = [0.7, 0.15, 0.15] if strengths[i] == 1.0 else [0.4, 0.3, 0.3]
        modality = str(rng.choice(["both", "visual", "audio"], p=p))
        spans.append(CueSpan(position, position + int(lengths[i]), modality, strengths[i]))
        position += int(lengths[i])
    # Every video carries its class in both modalities somewhere: if the draw left one modality
    # without any cue, the strong span carries both.
    kinds = {s.modality for s in spans}
    if not ({"both", "visual"} & kinds and {"both", "audio"} & kinds):
        i = strengths.index(1.0)
        spans[i] = CueSpan(spans[i].start_frame, spans[i].end_frame, "both", 1.0)
    return spans


def _split(rng: np.random.Generator, total: int, parts: int) -> np.ndarray:
    """Split `total` non-negative integer units into `parts` random non-negative integers."""
    if parts == 1:
        return np.array([total])
    cuts = np.sort(rng.integers(0, total + 1, size=parts - 1))
    return np.diff(np.concatenate([[0], cuts, [total]]))


def _span_at(spans: list[CueSpan], frame: int) -> CueSpan | None:
    for span in spans:
        if span.start_frame <= frame < span.end_frame:
            return span
    return None


def _cue_texture(texture: str, yy: np.ndarray, xx: np.ndarray, t: int) -> np.ndarray:
    """Texture in [0, 1] at frame t on a pixel grid centred on the frame centre."""
    if texture == "stripes":
        return (((xx + yy + 4 * t) // 8) % 2).astype(np.float32)
    if texture == "checker":
        dy = np.round(6 * np.sin(t / 3.0))
        return ((((xx + 2 * t) // 12) + ((yy + dy) // 12)) % 2).astype(np.float32)
    if texture == "bands":
        return 0.5 + 0.5 * np.sin(2 * np.pi * (yy - t) / 30.0)
    if texture == "rings":
        radius = np.sqrt(xx**2 + yy**2)
        return (((radius - 3 * t) // 7) % 2).astype(np.float32)
    if texture == "flicker":
        return (((xx // 10) + t // 2) % 2).astype(np.float32)
    if texture == "blotches":
        return 0.5 + 0.25 * (np.sin(xx / 9.0 + t / 5.0) + np.sin(yy / 7.0 - t / 7.0))
    raise ValueError(texture)


def render_frames(
    rng: np.random.Generator,
    cue: ClassCue,
    spans: list[CueSpan],
    n_frames: int,
    size: tuple[int, int],
    fps: int,
) -> np.ndarray:
    """(N, H, W, 3) uint8 frames: distractors everywhere, the class cue inside visual spans."""
    width, height = size
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    cy, cx = (height - 1) / 2, (width - 1) / 2
    # A static noise pattern costs the encoder almost nothing, unlike fresh noise every frame.
    background = rng.uniform(110, 145) + rng.normal(0, 6, (height, width)).astype(np.float32)

    shapes = []
    for _ in range(int(rng.integers(2, 5))):
        shapes.append({
            "square": bool(rng.integers(2)),
            "radius": float(rng.uniform(8, 18)),
            "grey": float(rng.choice([60.0, 95.0, 175.0, 210.0])),
            "pos": rng.uniform([0, 0], [width, height]),
            "vel": rng.uniform(1.0, 3.0, 2) * rng.choice([-1, 1], 2),
        })

    frames = np.empty((n_frames, height, width, 3), np.uint8)
    for t in range(n_frames):
        span = _span_at(spans, t)
        if span is not None and span.modality == "audio":
            frames[t] = 12  # dark picture: the cue is only in the sound
            continue
        image = background.copy()
        for shape in shapes:
            x, y = _bounce(shape["pos"] + shape["vel"] * t, (width, height))
            r = shape["radius"]
            if shape["square"]:
                mask = (np.abs(xx - x) <= r) & (np.abs(yy - y) <= r)
            else:
                mask = (xx - x) ** 2 + (yy - y) ** 2 <= r * r
            image[mask] = shape["grey"]
        rgb = np.repeat(image[..., None], 3, axis=2)
        if span is not None:
            s = span.strength
            saturation = 0.3 + 0.7 * s
            side = np.sqrt(0.35 + 0.65 * s)  # cue area 35-100 % of the frame, centred
            h, w = int(round(height * side / 2)), int(round(width * side / 2))
            y0, y1 = int(round(cy)) - h, int(round(cy)) + h
            x0, x1 = int(round(cx)) - w, int(round(cx)) + w
            y0, x0 = max(y0, 0), max(x0, 0)
            colour = GREY + saturation * (np.array(cue.colour, np.float32) - GREY)
            pattern = _cue_texture(cue.texture, yy[y0:y1, x0:x1] - cy, xx[y0:y1, x0:x1] - cx, t)
            rgb[y0:y1, x0:x1] = colour * (0.55 + 0.45 * pattern)[..., None]
        frames[t] = np.clip(rgb, 0, 255).astype(np.uint8)
    return frames


def _bounce(position: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Reflect a free-flying position back into [0, size) like a ball bouncing off the borders."""
    limits = np.array(size, np.float64)
    folded = np.mod(position, 2 * limits)
    return np.where(folded < limits, folded, 2 * limits - folded)


def _class_tone(cue: ClassCue, t: np.ndarray) -> np.ndarray:
    """The class tone at times t (s), peak amplitude about 1."""
    carrier = np.sin(2 * np.pi * cue.tone_hz * t)

    def gate(rate: float) -> np.ndarray:
        # Smoothed on/off pattern: a hard square wave would click (broadband energy).
        return 0.5 + 0.5 * np.tanh(6 * np.sin(2 * np.pi * rate * t))

    envelope = {
        "rough": 0.6 + 0.4 * np.sin(2 * np.pi * 30 * t),
        "tremolo": 0.7 + 0.3 * np.sin(2 * np.pi * 1.5 * t),
        "shiver": 0.5 + 0.5 * np.sin(2 * np.pi * 12 * t),
        "beeps4": gate(4.0),
        "pulses2": gate(2.0),
        "beeps8": gate(8.0),
    }[cue.sound]
    return carrier * envelope


def render_audio(
    rng: np.random.Generator,
    cue: ClassCue,
    spans: list[CueSpan],
    n_frames: int,
    fps: int,
) -> np.ndarray:
    """(samples,) float32 mono waveform at SAMPLE_RATE aligned with the frames."""
    n_samples = int(round(n_frames / fps * SAMPLE_RATE))
    t = np.arange(n_samples) / SAMPLE_RATE
    wave = rng.normal(0, 0.008, n_samples)

    def samples(frame: int) -> int:
        return int(round(frame / fps * SAMPLE_RATE))

    # Neutral tones, each wholly inside a gap between spans.
    bounds = [0] + [f for s in spans for f in (s.start_frame, s.end_frame)] + [n_frames]
    gaps = [(samples(a), samples(b)) for a, b in zip(bounds[::2], bounds[1::2])]
    for _ in range(int(rng.integers(1, 4))):
        length = int(rng.uniform(0.3, 0.9) * SAMPLE_RATE)
        fitting = [g for g in gaps if g[1] - g[0] > length]
        freq = float(rng.choice(NEUTRAL_TONES_HZ))
        amplitude = float(rng.uniform(0.04, 0.08))
        if not fitting:
            continue
        a, b = fitting[int(rng.integers(len(fitting)))]
        start = int(rng.integers(a, b - length))
        tone = amplitude * np.sin(2 * np.pi * freq * t[start:start + length])
        wave[start:start + length] += tone * _fade(length)

    for span in spans:
        a, b = samples(span.start_frame), samples(span.end_frame)
        if span.modality == "visual":
            wave[a:b] = 0.0  # silence: the cue is only in the picture
            continue
        amplitude = 0.45 * (0.3 + 0.7 * span.strength)
        wave[a:b] += amplitude * _class_tone(cue, t[a:b]) * _fade(b - a)
    return np.clip(wave, -1, 1).astype(np.float32)


def _fade(length: int, ramp: int = int(0.02 * SAMPLE_RATE)) -> np.ndarray:
    """20 ms linear fade in/out, so tones start and stop without clicks."""
    envelope = np.ones(length)
    ramp = min(ramp, length // 2)
    if ramp:
        envelope[:ramp] = np.linspace(0, 1, ramp)
        envelope[-ramp:] = np.linspace(1, 0, ramp)
    return envelope


def encode_mp4(path: Path, frames: np.ndarray, audio: np.ndarray, fps: int) -> None:
    """Write H.264 (yuv420p) + AAC (mono, SAMPLE_RATE) with PyAV."""
    _, height, width, _ = frames.shape
    with av.open(str(path), mode="w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"crf": "30", "preset": "veryfast"}
        sound = container.add_stream("aac", rate=SAMPLE_RATE, layout="mono")
        sound.bit_rate = 16000

        for i, frame in enumerate(frames):
            picture = av.VideoFrame.from_ndarray(frame, format="rgb24")
            picture.pts, picture.time_base = i, Fraction(1, fps)
            container.mux(video.encode(picture))
        chunk = 1024  # the AAC frame size
        for start in range(0, len(audio), chunk):
            block = av.AudioFrame.from_ndarray(
                audio[None, start:start + chunk], format="fltp", layout="mono")
            block.sample_rate = SAMPLE_RATE
            block.pts, block.time_base = start, Fraction(1, SAMPLE_RATE)
            container.mux(sound.encode(block))
        container.mux(video.encode(None))
        container.mux(sound.encode(None))
