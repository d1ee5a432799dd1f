"""Video input (docs/design.md#2-input-sampling): any file ffmpeg reads -> T segments x k frames, 112x112.

Decoding uses PyAV and only what is needed: for each segment it seeks to the nearest keyframe
before the clip (unless the clip is close ahead of where decoding already is), decodes up to the
clip's last frame, and converts only the frames that are used. The frame shown at time t is the
last frame whose timestamp is <= t, so variable frame rates and odd timestamps need no special
case. Rotation metadata is applied, as players do. (PyAV over moviepy: see benchmarks/decode.py.)
"""
from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from typing import Callable

import av
import numpy as np

from wecl.errors import WECLError
from wecl.settings import settings
from wecl.threads import Deadline, gather

# The limits (`wecl.settings`): a video's duration, picture side and aspect ratio (the short side is
# resized to 112 px, so an 8192x2 stream would become 458,752 px wide frames); the packets a file
# may index (all streams, what its header declares: a demuxer holds about 40 bytes a packet, once
# per decoding thread, so a 200 MB upload of millions of tiny packets is refused at the first open;
# an hour at 240 frames per second with its sound is about 1 M); the pixels of one decoded picture
# (the decoder refuses a bigger one before it allocates it, and every picture is checked against
# the side and aspect limits as it is decoded: a header may say 64x64 while later pictures are
# 12000x12000 or 3000x1); and the seconds one video's analysis may take (decoding, pictures and
# sound, and backbones, checked at every decoded frame and before each backbone step).
THUMBNAIL_BOX = 224  # a thumbnail's long side, at most


# Continue decoding forward instead of seeking when the next clip starts less than this ahead.
SEEK_GAP_S = 1.5
SKIP_MARGIN_S = 1.0


@dataclass
class VideoInfo:
    path: str
    duration: float
    fps: float
    width: int  # as displayed, after rotation
    height: int
    has_audio: bool

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class Clips:
    info: VideoInfo
    spans: list[tuple[float, float]]  # each segment's (start, end) in seconds; they tile [0, duration]
    frames: np.ndarray  # (T, k, size, size, 3) uint8 RGB
    thumbnails: list[np.ndarray]  # one per segment: its middle frame, uncropped, long side <= THUMBNAIL_BOX
    times: np.ndarray  # (T, k) float64: each frame's own timestamp in seconds


def segment_spans(duration: float, segments: int) -> list[tuple[float, float]]:
    """T equal-length spans that tile [0, duration] exactly (paper 3.1)."""
    edges = [duration * i / segments for i in range(segments)] + [duration]
    return list(zip(edges[:-1], edges[1:]))


def _open(path: str):
    if not os.path.isfile(path):
        raise WECLError(f"{path}: no such file")
    if os.path.getsize(path) == 0:
        raise WECLError(f"{path}: the file is empty")
    try:
        return av.open(path)
    except av.FFmpegError as error:
        raise WECLError(f"{path}: not a video file ffmpeg can read ({error.strerror or error})") from None


def _probe(container, path: str, max_duration: float) -> VideoInfo:
    if not container.streams.video:
        kind = "an audio-only file" if container.streams.audio else "no video stream"
        raise WECLError(f"{path}: {kind}; a video is needed")
    packets = sum(s.frames or 0 for s in container.streams)
    if packets > settings().max_packets:
        raise WECLError(f"{path}: the file declares {packets:,} packets, more than the {settings().max_packets:,} "
                        "a video may have here (WECL_MAX_PACKETS)")
    stream = container.streams.video[0]
    duration = None
    if stream.duration and stream.time_base:
        duration = float(stream.duration * stream.time_base)
    elif container.duration:
        duration = container.duration / av.time_base
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    fps = float(rate) if rate else 0.0
    if not duration or duration <= 0 or not math.isfinite(duration):
        raise WECLError(f"{path}: the video has no duration; the file is damaged or empty")
    if duration > max_duration:
        raise WECLError(f"{path}: the video lasts {duration:.0f} s, more than the maximum of {max_duration:.0f} s")
    width, height = stream.codec_context.width, stream.codec_context.height
    if not width or not height:
        raise WECLError(f"{path}: the video stream has no picture size; the file is damaged")
    check_picture(path, width, height)
    return VideoInfo(path, duration, fps if fps > 0 else 25.0, width, height, bool(container.streams.audio))


def check_picture(path: str, width: int, height: int, what: str = "the picture") -> None:
    """WECLError unless a picture's size is within the side and aspect limits. `what` names the
    picture (the header's, or a decoded frame)."""
    limits = settings()
    if max(width, height) > limits.max_side_px:
        raise WECLError(f"{path}: {what} is {width}x{height} pixels, more than the maximum side of {limits.max_side_px} px")
    if max(width, height) > limits.max_aspect * min(width, height):
        raise WECLError(f"{path}: {what} is {width}x{height} pixels, too elongated (more than {limits.max_aspect:g}:1)")


def probe(path: str, max_duration: float | None = None) -> VideoInfo:
    """The video's `VideoInfo` (duration, frame rate, size, whether it has sound), or WECLError;
    `max_duration` defaults to the settings' limit."""
    with _open(str(path)) as container:
        return _probe(container, str(path), settings().max_duration_s if max_duration is None else max_duration)


def clip_times(span: tuple[float, float], k: int, fps: float, rng: np.random.Generator | None = None) -> list[float]:
    """The k sample times of one segment: k successive frames centred in the span (inference) or
    at a random position in it (training, with `rng`); a span with fewer than k frames loops its
    frames (as the official code does)."""
    start, end = span
    step = 1.0 / fps
    available = int((end - start) * fps + 1e-6)
    if available >= k:
        slack = (end - start) - k * step
        first = start + (rng.uniform(0, slack) if rng is not None else slack / 2)
        return [first + (j + 0.5) * step for j in range(k)]
    if available == 0:
        return [(start + end) / 2] * k
    return [start + ((j % available) + 0.5) * step for j in range(k)]


def spread_times(span: tuple[float, float], k: int, rng: np.random.Generator | None = None) -> list[float]:
    """The k sample times of one segment for whole-picture sampling (the face backbone): spread
    over the span, one in the middle of each k-th of it (at a random place in it with `rng`)."""
    start, end = span
    offsets = rng.uniform(0, 1, k) if rng is not None else np.full(k, 0.5)
    return [start + (end - start) * (j + float(u)) / k for j, u in enumerate(offsets)]


def _to_rgb(frame, size: int, rotation: int, whole: bool = False) -> np.ndarray:
    """Resize the short side to `size` (the long side, with `whole`) with swscale's area filter,
    then apply the display rotation. Every frame is sized by its own width and height, never by
    the stream's header."""
    w, h = frame.width, frame.height
    scale = size / (max(w, h) if whole else min(w, h))
    low = 1 if whole else size
    rgb = frame.to_ndarray(width=max(low, round(w * scale)), height=max(low, round(h * scale)),
                           format="rgb24", interpolation="AREA")
    # Display matrices rotate counter-clockwise by `rotation` degrees.
    return np.ascontiguousarray(np.rot90(rgb, k=(rotation // 90) % 4))


def _letterbox(rgb: np.ndarray, size: int) -> np.ndarray:
    """The picture centred on a black size x size square (its long side is `size`)."""
    h, w = rgb.shape[:2]
    out = np.zeros((size, size, 3), np.uint8)
    top, left = (size - h) // 2, (size - w) // 2
    out[top:top + h, left:left + w] = rgb[:size, :size]
    return out


def _thumbnail(rgb: np.ndarray) -> np.ndarray:
    """The frame scaled down (every n-th pixel) until its long side fits THUMBNAIL_BOX."""
    step = -(-max(rgb.shape[:2]) // THUMBNAIL_BOX)
    return np.ascontiguousarray(rgb[::step, ::step]) if step > 1 else rgb


class PacketCount:
    """The packets one open file has yielded, every stream's, counted as they are demuxed: a file
    that declares no counts (Matroska, WebM) is bounded by the packet limit as it is read, as one that
    declares them is at `probe`. (3,000,000 tiny packets in a 114 MB MKV took 55 s to read.)"""

    def __init__(self, path: str):
        self.path, self.seen = path, 0

    def frames(self, container, stream):
        """The decoded frames of `stream`, from its current position."""
        for packet in container.demux():
            self.seen += 1
            if self.seen > settings().max_packets:
                raise WECLError(f"{self.path}: the file holds more than {settings().max_packets:,} packets, the most a video "
                                "may have here (WECL_MAX_PACKETS)")
            if packet.stream.index == stream.index:
                yield from packet.decode()


def _damaged(path: str, error: av.FFmpegError) -> WECLError:
    """A decoder's failure as the user reads it (`max_pixels` refusals arrive as EINVAL)."""
    return WECLError(f"{path}: the video data is damaged, or holds a picture of more than {settings().pixels:,} pixels "
                     f"({error.strerror or error})")


class _FrameCursor:
    """Answers "which frame is shown at time t" for ascending t, decoding as little as it can."""

    def __init__(self, container, stream, info: VideoInfo, deadline: Deadline):
        self.container, self.stream, self.info, self.deadline = container, stream, info, deadline
        stream.thread_type = "AUTO"
        stream.codec_context.options = {"max_pixels": str(settings().pixels)}  # a bigger picture: refused before allocation
        self.time_base = float(stream.time_base)
        self.size = (stream.codec_context.width, stream.codec_context.height)
        self.decoder = None
        self.packets = PacketCount(info.path)
        self.sparse = False  # keyframes too far apart for forward seeks to pay (see _seek)
        self.shown = None  # (time, frame) of the frame on screen at the last asked time
        self.ahead = None  # (time, frame) of the next decoded frame, or None at the end

    def _next(self, target: float | None = None):
        # Far before the target, frames no other frame refers to are not decoded at all; the
        # decoder is back to every frame a margin before the target (frame threads lag a few).
        # The margin must also cover the packets already queued under the last setting: one per frame
        # thread (their number follows the CPUs this process may use) plus the reorder delay.
        cc = self.stream.codec_context
        margin = max(SKIP_MARGIN_S, (cc.thread_count + cc.reorder_depth + 1) / self.info.fps)
        far = target is not None and self.ahead is not None and self.ahead[0] < target - margin
        cc.skip_frame = "NONREF" if far else "DEFAULT"
        for frame in self.decoder:
            self.deadline.check(self.info.path)  # a seek far back into a long GOP decodes on and on
            if (frame.width, frame.height) != self.size:  # the header's size is only a claim
                check_picture(self.info.path, frame.width, frame.height,
                              f"a frame (the header says {self.size[0]}x{self.size[1]})")
            if frame.pts is not None:
                return frame.pts * self.time_base, frame
        return None

    def _seek(self, t: float) -> None:
        before = self.shown[0] if self.shown else None
        self.container.seek(max(0, int(t / self.time_base)), stream=self.stream, backward=True, any_frame=False)
        self.decoder = self.packets.frames(self.container, self.stream)
        self.shown, self.ahead = None, self._next()
        # A forward seek that lands at or before where decoding already was found no keyframe in
        # between: keyframes are sparse here (one at the start of a 300 s file, say), and every
        # later forward seek would decode the same stretch again. From now on, decode on instead.
        if before is not None and t > before and self.ahead is not None and self.ahead[0] <= before:
            self.sparse = True

    def frame_at(self, t: float):
        backward = self.shown is not None and t < self.shown[0]
        jump = self.shown is not None and t - self.shown[0] > SEEK_GAP_S
        if self.decoder is None or backward or (jump and not self.sparse):
            self._seek(t)
        while self.ahead is not None and (self.shown is None or self.ahead[0] <= t):
            self.shown, self.ahead = self.ahead, self._next(t)
            if self.ahead is not None and self.ahead[0] > t:
                break
        if self.shown is None:
            raise WECLError(f"{self.info.path}: no video frame could be decoded; the file is damaged")
        if self.ahead is None and t - self.shown[0] > max(2.0, 10.0 / self.info.fps):
            raise WECLError(
                f"{self.info.path}: the video data ends at {self.shown[0]:.1f} s of {self.info.duration:.1f} s; "
                "the file is truncated or damaged"
            )
        return self.shown

    def step(self):
        """(time, frame) of the frame after the shown one, which it becomes; None at the end."""
        if self.ahead is None:
            return None
        self.shown, self.ahead = self.ahead, self._next()
        return self.shown


# How the 3D ResNet's clips are sampled, in the feature-cache key: until 2026-12 the k frames were the
# ones on screen at k times 1/fps apart, which repeated a frame where a time fell on a frame's edge
# and gave k copies of one frame where the header's rate was below the stream's.
CLIP_SAMPLING = "k successive frames by timestamp"


def _successive(cursor: _FrameCursor, span: tuple[float, float], k: int, fps: float, rng):
    """Up to k successive frames of a span as they are on screen, yielded one by one (the caller
    converts each before the next is decoded: a clip of 8192-px frames is never held whole): the
    first at `clip_times`' first time, the others the frames that follow it by their own
    timestamps, so that a variable frame rate (a header saying 1 fps over a 60 fps stretch) gives
    real frames. `_looped` makes k of them."""
    shown = cursor.frame_at(clip_times(span, k, fps, rng)[0])
    for _ in range(k):
        yield shown
        shown = cursor.step()
        if shown is None or shown[0] >= span[1]:
            return


def _looped(clip: list, span: tuple[float, float], k: int, fps: float) -> list:
    """k pictures from the (time, picture) pairs of a span: a span with fewer repeats them; where
    the timestamps keep to the header's rate, the loop is `clip_times`' (its first `int(span * fps)`
    frames, or the one on screen), so that a constant-rate file's clips are what they always were."""
    if len(clip) < k:
        available = int((span[1] - span[0]) * fps + 1e-6)
        steady = all(abs(b[0] - a[0] - 1 / fps) < 0.1 / fps for a, b in zip(clip, clip[1:]))
        clip = clip[:max(1, available)] if steady else clip
    return [clip[j % len(clip)] for j in range(k)]


def read_clips(
    path: str, segments: int, k: int, size: int = 112, max_duration: float | None = None,
    rng: np.random.Generator | None = None, deadline: Deadline | None = None,
    on_segment: Callable[[int, np.ndarray], None] | None = None, threads: int = 1, info: VideoInfo | None = None,
    whole: bool = False,
) -> Clips:
    """Decode the T x k frames the network needs, each segment's k frames centred in it.

    With `rng` (training augmentation, paper 4.2) the clips sit at random positions in their
    segments and the 112x112 crop is random instead of centred. `on_segment(i, frames)` is called
    (from a decoding thread) as soon as segment i's (k, size, size, 3) frames are complete, so a
    consumer can start on them while the rest decodes. `whole` (the face backbone): the k frames
    are spread over the segment (`spread_times`) and each is the whole picture, its long side
    `size`, centred on a black square. `threads` > 1 decodes contiguous ranges of
    segments in parallel, each with its own demuxer and decoder; the frames are the same (H.264
    and the like decode bit-exactly from any keyframe). With `rng` it is always one thread, so
    that the random draws come in one order. `info`: the file's `probe`, when the caller has it."""
    path, deadline = str(path), deadline or Deadline(None)
    if info is None:
        with _open(path) as container:
            info = _probe(container, path, settings().max_duration_s if max_duration is None else max_duration)
    else:
        info = replace(info)  # adjusted below for a rotated picture: the caller's stays as it was
    spans = segment_spans(info.duration, segments)
    frames = np.zeros((segments, k, size, size, 3), np.uint8)
    times = np.zeros((segments, k))
    thumbnails: list[np.ndarray | None] = [None] * segments
    threads = 1 if rng is not None else max(1, min(threads, segments))
    bounds = [round(segments * i / threads) for i in range(threads + 1)]
    ranges = [range(a, b) for a, b in zip(bounds[:-1], bounds[1:])]
    work = lambda part: _decode_segments(path, info, spans, part, frames, times, thumbnails, k, size, rng,  # noqa: E731
                                         deadline, on_segment, whole)
    if threads == 1:
        work(ranges[0])
    else:
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="wecl-clips") as pool:
            futures = [pool.submit(deadline.run, work, part) for part in ranges]
        gather(futures)  # the first failure, in segment order
    h, w = thumbnails[0].shape[:2]
    if (w > h) != (info.width > info.height):  # rotated by 90 degrees: report the displayed size
        info.width, info.height = info.height, info.width
    return Clips(info, spans, frames, thumbnails, times)


def _decode_segments(path: str, info: VideoInfo, spans, indices: range, frames: np.ndarray, times: np.ndarray,
                     thumbnails: list, k: int, size: int, rng, deadline, on_segment, whole: bool = False) -> None:
    """Fill frames[i], times[i] and thumbnails[i] for the segments `indices`, with a container of its own."""
    with _open(path) as container:
        cursor = _FrameCursor(container, container.streams.video[0], info, deadline)
        converted: dict[float, np.ndarray] = {}  # frame time -> RGB, so a looped frame converts once
        try:
            for i in indices:
                span = spans[i]
                crop = None
                found = (cursor.frame_at(t) for t in spread_times(span, k, rng)) if whole \
                    else _successive(cursor, span, k, info.fps, rng)
                pictures = []  # (time, RGB): each frame converted as soon as it is decoded
                for shown_time, frame in found:
                    if shown_time not in converted:
                        converted[shown_time] = _to_rgb(frame, size, int(frame.rotation or 0), whole)
                    pictures.append((shown_time, converted[shown_time]))
                if not whole:
                    pictures = _looped(pictures, span, k, info.fps)
                for j, (shown_time, rgb) in enumerate(pictures):
                    times[i, j] = shown_time
                    if j == k // 2:
                        thumbnails[i] = _thumbnail(rgb)
                    if whole:
                        frames[i, j] = _letterbox(rgb, size)
                        continue
                    if crop is None:  # one crop per clip, so the k frames stay aligned
                        h, w = rgb.shape[:2]
                        crop = ((h - size) // 2, (w - size) // 2) if rng is None else \
                            (int(rng.integers(0, h - size + 1)), int(rng.integers(0, w - size + 1)))
                    frames[i, j] = rgb[crop[0]:crop[0] + size, crop[1]:crop[1] + size]
                converted = {t: v for t, v in converted.items() if t >= span[0]}
                if on_segment is not None:
                    on_segment(i, frames[i])
        except av.FFmpegError as error:
            raise _damaged(path, error) from None


class PictureReader:
    """The pictures of one video as a player shows them, at ascending times, each `width` px wide
    (for the annotated MP4). Every decoded frame passes the same checks as the analysis's (the
    decoder's pixel limit, the side and aspect of each frame, the deadline), so a file that hides a
    huge frame between the analysis's samples is refused here too."""

    def __init__(self, path: str, width: int, deadline: Deadline | None = None):
        path = str(path)
        self.container = _open(path)
        try:
            self.info = _probe(self.container, path, settings().max_duration_s)
            self.cursor = _FrameCursor(self.container, self.container.streams.video[0], self.info,
                                       deadline or Deadline(None))
        except BaseException:
            self.container.close()
            raise
        self.width = width
        self.height: int | None = None  # set by the first picture: every picture gets that size

    def picture(self, t: float) -> np.ndarray:
        """(height, width, 3) uint8 RGB of the frame shown at time t."""
        try:
            _, frame = self.cursor.frame_at(t)
            turned = (int(frame.rotation or 0) // 90) % 2 == 1
            shown_w, shown_h = (frame.height, frame.width) if turned else (frame.width, frame.height)
            if self.height is None:
                self.height = max(2, int(round(shown_h * self.width / shown_w / 2)) * 2)
            w, h = (self.height, self.width) if turned else (self.width, self.height)
            rgb = frame.to_ndarray(width=w, height=h, format="rgb24", interpolation="AREA")
        except av.FFmpegError as error:
            raise _damaged(self.info.path, error) from None
        return np.ascontiguousarray(np.rot90(rgb, k=(int(frame.rotation or 0) // 90) % 4))

    def close(self) -> None:
        self.container.close()
