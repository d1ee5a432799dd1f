"""The annotated MP4: the video scaled down, with the attention timeline under it (visual and audio
A* per segment, theta, erased segments shaded by round, detections and ground truth) and a
playhead that moves with the video. The strip is drawn once with numpy/PIL; each frame only copies
it and paints the playhead column.
"""
from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from explorer.plots import AUDIO_COLOR, DETECTION_COLOR, GROUND_TRUTH_COLOR, VISUAL_COLOR, _font, _hex_rgb, round_color
from wecl.annotations import Segment
from wecl.errors import WECLError
from wecl.progress import Progress, silent
from wecl.schema import Result
from wecl.settings import settings
from wecl.threads import Deadline
from wecl.video import PictureReader

LEGEND_W = 34  # left margin of the strip, for the row names
# The annotated MP4 is a preview: at most MAX_FPS frames a second, of videos up to
# WECL_MAX_RENDER seconds (the render queue runs one at a time, and a 1 h video at 240 fps would hold
# it for hours); the work a render may ask for, in source pixels decoded (width x height x source
# frames), is WECL_MAX_RENDER_WORK, by default 10 min of 720p at 30 fps (an 8192x1024 video of 600 s
# at 240 fps asks for 73 times as much); a render that takes longer than WECL_RENDER_BUDGET seconds
# is given up with a message (`wecl.settings`).
MAX_FPS = 30


def _even(n: float) -> int:
    return max(2, int(round(n / 2)) * 2)  # libx264 with yuv420p needs even sizes


def timeline_strip(result: Result, truth: Sequence[Segment], width: int, height: int = 96) -> np.ndarray:
    """The timeline as an image (height, width, 3) uint8; time runs from x=LEGEND_W to the right edge."""
    duration = float(result["video"]["duration"])
    image = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(image, "RGBA")
    plot_w = width - LEGEND_W
    att_top, att_bottom = 4, height - 30  # attention area; then detections and ground-truth rows

    def x_of(t: float) -> float:
        return LEGEND_W + plot_w * min(max(t / duration, 0.0), 1.0)

    for seg in result["segments"]:
        x0, x1 = x_of(seg["start"]), x_of(seg["end"])
        if seg["erased_round"] is not None:
            draw.rectangle([x0, att_top, x1, att_bottom], fill=_hex_rgb(round_color(seg["erased_round"])) + (60,))
        w = x1 - x0
        for key, color, offset in (("visual", VISUAL_COLOR, 0.08), ("audio", AUDIO_COLOR, 0.52)):
            value = seg[f"{key}_attention_norm"]
            if value is None or (key == "audio" and not result["video"]["has_audio"]):
                continue
            top = att_bottom - (att_bottom - att_top) * float(value)
            draw.rectangle([x0 + w * offset, top, x0 + w * (offset + 0.4), att_bottom], fill=_hex_rgb(color))
    y_theta = att_bottom - (att_bottom - att_top) * float(result["theta"])
    for x in range(LEGEND_W, width, 8):  # dashed theta line
        draw.line([x, y_theta, min(x + 4, width), y_theta], fill=(17, 24, 39), width=1)
    rows = (("det", [(d["start"], d["end"]) for d in result["detections"]], DETECTION_COLOR, att_bottom + 4),
            ("GT", [(g.start, g.end) for g in truth], GROUND_TRUTH_COLOR, att_bottom + 17))
    font = _font(10)
    for name, spans, color, y in rows:
        draw.rectangle([LEGEND_W, y, width, y + 10], fill=(243, 244, 246))
        for s, e in spans:
            draw.rectangle([x_of(s), y, x_of(e), y + 10], fill=_hex_rgb(color))
        draw.text((2, y - 1), name, fill=(55, 65, 81), font=font)
    draw.text((2, att_top), "A*", fill=(55, 65, 81), font=font)
    draw.text((2, y_theta - 6), "th", fill=(17, 24, 39), font=font)  # ASCII: any font has it
    return np.asarray(image).copy()


def _framed(picture: np.ndarray, width: int) -> np.ndarray:
    """The picture centred between black bars `width` px wide (as it is when it is that wide)."""
    h, w = picture.shape[:2]
    if w >= width:
        return picture
    out = np.zeros((h, width, 3), np.uint8)
    out[:, (width - w) // 2:(width - w) // 2 + w] = picture
    return out


def playhead_x(t: float, duration: float, width: int) -> int:
    """The strip column of time t."""
    return int(round(LEGEND_W + (width - LEGEND_W - 1) * min(max(t / duration, 0.0), 1.0)))


class _RenderDeadline(Deadline):
    """The render's time budget, checked at every decoded frame, in the render's own words."""

    def check(self, path: str) -> None:
        if self.at is not None and time.monotonic() > self.at:
            raise WECLError(f"the annotated video took longer than the {self.seconds:g} s a render may take "
                            "(WECL_RENDER_BUDGET); the JSON and CSV downloads hold every figure")
        super().check(path)


def render_annotated(video: str, result: Result, out: str | os.PathLike, truth: Sequence[Segment] = (),
                     width: int = 480, progress: Progress | None = None) -> Path:
    """Write `out` (MP4, H.264 + AAC when the video has sound): the video `width` px wide (a
    portrait one `width` px tall, between black bars) with the timeline strip and a moving
    playhead under it. The pictures are read by `wecl.video`'s
    `PictureReader` (the analysis's limits on every frame), the sound by moviepy."""
    from moviepy import AudioFileClip, VideoClip

    out = Path(out)
    progress = progress or silent
    duration = float(result["video"]["duration"])
    limits = settings()
    if duration > limits.max_render_s:
        raise WECLError(f"the annotated video is made for videos up to {limits.max_render_s:g} s, and this one is "
                        f"{duration:.0f} s (WECL_MAX_RENDER); the JSON and CSV downloads hold every figure")
    source_w, source_h = int(result["video"]["width"]), int(result["video"]["height"])
    source_fps = float(result["video"]["fps"]) or 25.0
    fps = min(source_fps, MAX_FPS)
    # every source frame is decoded at the source size, whatever is written
    work = float(source_w) * source_h * max(1.0, duration * source_fps)
    if work > limits.max_render_work:
        raise WECLError(f"the annotated video of a {source_w}x{source_h} video of {duration:.0f} s at {source_fps:g} fps "
                        f"would decode {work / 1e9:.0f} G pixels, more than the {limits.max_render_work / 1e9:.0f} G a "
                        "render may (WECL_MAX_RENDER_WORK); the JSON and CSV downloads hold every figure")
    progress(0.0, 1.0, "opening the video")
    w = _even(width)  # small videos are scaled up too: the strip needs the room
    # A portrait picture is at most as tall as the frame is wide, centred between black bars: at
    # w wide it would be 1.8 w tall, and a player fitting it to a screen shrinks the strip away.
    picture_w = _even(w * source_w / source_h) if source_h > source_w else w
    reader = PictureReader(video, picture_w, _RenderDeadline(limits.render_budget_s))
    audio = None
    try:
        first = reader.picture(0.0)
        strip = timeline_strip(result, truth, w)
        total = max(1, int(duration * fps))
        done = [0]

        def annotated(t):
            picture = _framed(reader.picture(min(t, duration)), w)
            below = strip.copy()
            x = playhead_x(t, duration, w)
            below[:, max(0, x - 1) : x + 1] = (220, 38, 38)
            done[0] += 1
            if done[0] % 10 == 0:
                progress(min(0.99, done[0] / total), 1.0, "rendering the annotated video")
            return np.vstack([picture, below])

        clip = VideoClip(annotated, duration=duration).with_fps(fps)
        clip.size = (w, first.shape[0] + strip.shape[0])
        if result["video"]["has_audio"]:
            try:
                audio = AudioFileClip(str(video))
            except Exception as error:  # moviepy raises OSError/KeyError/... for unreadable sound
                raise WECLError(f"{video}: cannot read the sound for rendering ({error})") from None
            clip = clip.with_audio(audio.with_duration(min(audio.duration, duration)))
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.stem}.tmp{out.suffix}")
        try:
            # moviepy's temporary sound file goes next to the output (the session's folder), not
            # into the working directory, and is removed with the rest if writing fails.
            clip.write_videofile(
                str(tmp), fps=fps, codec="libx264", audio_codec="aac" if audio is not None else None,
                audio=audio is not None, preset="ultrafast", threads=2, logger=None,
                temp_audiofile_path=str(out.parent), ffmpeg_params=["-pix_fmt", "yuv420p", "-movflags", "+faststart"],
            )
            os.replace(tmp, out)
        except BaseException:
            for leftover in [tmp, *out.parent.glob(f"{tmp.stem}*TEMP_MPY*")]:
                leftover.unlink(missing_ok=True)
            raise
    finally:
        reader.close()
        if audio is not None:
            audio.close()
    progress(1.0, 1.0, "done")
    return out
