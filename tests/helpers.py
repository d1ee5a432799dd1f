"""What tests share besides fixtures: the repository, test media made with the ffmpeg CLI, a tiny
config, the CLI in a subprocess, a free port, and the check of a one-line user error."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

FFMPEG = shutil.which("ffmpeg") or "/usr/bin/ffmpeg"
REPO = Path(__file__).resolve().parent.parent
CLASSES = ["anger", "joy", "sadness"]


def ffmpeg(*args: str) -> None:
    """Run the ffmpeg CLI quietly; fail the test with its stderr if it fails."""
    cmd = [FFMPEG, "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *map(str, args)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"ffmpeg failed: {' '.join(cmd)}\n{done.stderr}")


H264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]


def _video(seconds: float, rate: int = 25, size: str = "160x120") -> list[str]:
    return ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}:duration={seconds}"]


def _sine(seconds: float, rate: int = 44100, freq: int = 440) -> list[str]:
    return ["-f", "lavfi", "-i", f"sine=f={freq}:sample_rate={rate}:duration={seconds}"]


def make_media(kind: str, out: Path, work: Path) -> None:
    """Write a test file of `kind` (see GOOD_KINDS and BAD_KINDS) to `out`; `work` is for intermediates."""
    if kind == "av":  # 3 s, H.264 + AAC: the ordinary case
        ffmpeg(*_video(3), *_sine(3), *H264, "-c:a", "aac", "-shortest", out)
    elif kind == "silent":  # no audio stream at all
        ffmpeg(*_video(3), *H264, out)
    elif kind == "short":  # 1 s
        ffmpeg(*_video(1), *_sine(1), *H264, "-c:a", "aac", "-shortest", out)
    elif kind == "rotated":  # landscape pixels, displayed portrait (rotation metadata)
        src = work / "rotated-src.mp4"
        ffmpeg(*_video(3), *_sine(3), *H264, "-c:a", "aac", "-shortest", src)
        ffmpeg("-i", src, "-c", "copy", "-metadata:s:v:0", "rotate=90", out)
    elif kind == "webm":  # VP9 + Opus
        ffmpeg(*_video(2), *_sine(2, 48000), "-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8",
               "-b:v", "200k", "-c:a", "libopus", "-shortest", out)
    elif kind == "surround":  # 5.1 AAC at 48 kHz
        ffmpeg(*_video(2), *_sine(2, 48000), "-ac", "6", *H264, "-c:a", "aac", "-shortest", out)
    elif kind == "stereo48k":  # stereo AAC at 48 kHz
        ffmpeg(*_video(2), *_sine(2, 48000), "-ac", "2", *H264, "-c:a", "aac", "-shortest", out)
    elif kind == "mkv":
        ffmpeg(*_video(2), *_sine(2, 48000), *H264, "-c:a", "libopus", "-shortest", out)
    elif kind == "avi":
        ffmpeg(*_video(2), *_sine(2), "-c:v", "mpeg4", "-c:a", "libmp3lame", "-shortest", out)
    elif kind == "mov":
        ffmpeg(*_video(2), *_sine(2), *H264, "-c:a", "aac", "-shortest", out)
    elif kind == "vfr":  # 30 frames at 15 fps (0-2 s), then 60 frames at 30 fps (2-4 s)
        ffmpeg(*_video(3, rate=30), "-vf", "setpts='if(lt(N,30),N*2,N+30)/30/TB'", "-fps_mode", "vfr", *H264, out)
    elif kind == "vfr_burst":  # MKV, header 1 fps: 10 s at 1 fps, 4 s at 60 fps, 10 s at 1 fps
        parts = []
        for name, rate, seconds in (("a", 1, 10), ("b", 60, 4), ("c", 1, 10)):
            parts.append(work / f"burst-{name}.mp4")
            ffmpeg(*_video(seconds, rate=rate), *H264, "-video_track_timescale", "1000", parts[-1])
        (work / "burst.txt").write_text("".join(f"file '{p}'\n" for p in parts))
        ffmpeg("-f", "concat", "-safe", "0", "-i", work / "burst.txt", "-c", "copy", out)
    elif kind == "keyframes":  # 4 s, a keyframe every 10 frames and B-frames: parallel ranges seek mid-file
        ffmpeg(*_video(4), *_sine(4), *H264, "-g", "10", "-bf", "2", "-c:a", "aac", "-shortest", out)
    elif kind == "keyframes_vp9":  # the same with VP9 (and its hidden alt-ref frames) in WebM
        ffmpeg(*_video(4), *_sine(4, 48000), "-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8",
               "-g", "10", "-b:v", "200k", "-c:a", "libopus", "-shortest", out)
    elif kind == "few_frames":  # 0.3 s at 10 fps: 3 frames for 10 segments
        ffmpeg(*_video(0.3, rate=10), *H264, out)
    elif kind == "audio_only":
        ffmpeg(*_sine(2), "-c:a", "aac", out)
    elif kind == "empty":
        out.write_bytes(b"")
    elif kind == "text":
        out.write_text("this is not a video\n" * 20)
    elif kind == "truncated":  # moov first (+faststart), media data cut off after 40 % of the bytes
        src = work / "truncated-src.mp4"
        ffmpeg(*_video(6), *_sine(6), *H264, "-c:a", "aac", "-movflags", "+faststart", "-shortest", src)
        data = src.read_bytes()
        out.write_bytes(data[: int(len(data) * 0.4)])
    else:
        raise KeyError(kind)


EXTENSIONS = {"vfr_burst": ".mkv",
              "webm": ".webm", "keyframes_vp9": ".webm", "mkv": ".mkv", "avi": ".avi", "mov": ".mov", "audio_only": ".m4a"}
# Every kind a video test can run on, and the subset that are not valid videos.
GOOD_KINDS = ["av", "silent", "short", "rotated", "webm", "surround", "stereo48k", "mkv", "avi", "mov", "vfr", "few_frames",
              "keyframes", "keyframes_vp9"]
BAD_KINDS = ["empty", "text", "truncated", "audio_only"]


def tiny_config(**overrides):
    from wecl.config import WECLConfig

    settings = dict(classes=CLASSES, visual_depth=10, visual_width=0.125, audio_depth=10, audio_width=0.125)
    settings.update(overrides)
    return WECLConfig(**settings)


def run_wecl(*args: str, env: dict | None = None, timeout: float = 240) -> subprocess.CompletedProcess:
    """`python -m wecl ARGS` in a subprocess from the repository root."""
    return subprocess.run(
        [sys.executable, "-m", "wecl", *map(str, args)],
        cwd=REPO, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=timeout,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def assert_user_error(done: subprocess.CompletedProcess, *words: str) -> None:
    """The CLI refused with exit 2 and one `error:` line naming `words`, and no traceback."""
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    for word in words:
        assert word in lines[0], lines[0]
