"""Shared fixtures: test media made with the ffmpeg CLI, a tiny WECL checkpoint, and an isolated
cache. Nothing here (or in any test) reaches the network or writes to ~/.cache."""
from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

FFMPEG = shutil.which("ffmpeg") or "/usr/bin/ffmpeg"
REPO = Path(__file__).resolve().parent.parent
CLASSES = ["anger", "joy", "sadness"]

# The Hub must never be contacted: offline mode, a dead endpoint as a second guard, and a private
# HF_HOME. Set at import time because huggingface_hub reads these when it is first imported.
_HF_HOME = tempfile.mkdtemp(prefix="wecl-test-hf-")
atexit.register(shutil.rmtree, _HF_HOME, True)
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_ENDPOINT"] = "http://127.0.0.1:9"
os.environ["HF_HOME"] = _HF_HOME
os.environ["HF_HUB_CACHE"] = os.path.join(_HF_HOME, "hub")
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"


@pytest.fixture(scope="session", autouse=True)
def wecl_cache(tmp_path_factory) -> Path:
    """WECL_CACHE points at a session tmp folder (features are written there, never ~/.cache)."""
    folder = tmp_path_factory.mktemp("wecl-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WECL_CACHE", str(folder))
        yield folder


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


def _make(kind: str, out: Path, work: Path) -> None:
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


EXTENSIONS = {"webm": ".webm", "mkv": ".mkv", "avi": ".avi", "mov": ".mov", "audio_only": ".m4a"}
# Every kind a video test can run on, and the subset that are not valid videos.
GOOD_KINDS = ["av", "silent", "short", "rotated", "webm", "surround", "stereo48k", "mkv", "avi", "mov", "vfr", "few_frames"]
BAD_KINDS = ["empty", "text", "truncated", "audio_only"]


@pytest.fixture(scope="session")
def media(tmp_path_factory):
    """`media(kind) -> Path`: a test file made once per session (see `_make` for the kinds)."""
    folder = tmp_path_factory.mktemp("media")
    work = tmp_path_factory.mktemp("media-src")
    made: dict[str, Path] = {}

    def get(kind: str) -> Path:
        if kind not in made:
            out = folder / f"{kind}{EXTENSIONS.get(kind, '.mp4')}"
            _make(kind, out, work)
            made[kind] = out
        return made[kind]

    return get


def tiny_config(**overrides):
    from wecl.config import WECLConfig

    settings = dict(classes=CLASSES, visual_depth=10, visual_width=0.125, audio_depth=10, audio_width=0.125)
    settings.update(overrides)
    return WECLConfig(**settings)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A folder holding a tiny random WECL (3D/2D ResNet-10 at 1/8 width) in the project format."""
    import torch

    from wecl.model import WECL

    torch.manual_seed(0)
    model = WECL(tiny_config())
    # Non-zero residual weights, so that the relation heads do something in every test.
    with torch.no_grad():
        for name, p in model.heads.named_parameters():
            if name.endswith(("w_z.weight", "w_v.weight", "w_a.weight")):
                p.normal_(0, 0.02)
    folder = tmp_path_factory.mktemp("tiny-checkpoint")
    model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_model(tiny_checkpoint):
    """The tiny checkpoint loaded with `WECL.from_pretrained` (shared: do not modify it)."""
    from wecl.model import WECL

    return WECL.from_pretrained(tiny_checkpoint)


def run_wecl(*args: str, env: dict | None = None, timeout: float = 240) -> subprocess.CompletedProcess:
    """`python -m wecl ARGS` in a subprocess from the repository root."""
    return subprocess.run(
        [sys.executable, "-m", "wecl", *map(str, args)],
        cwd=REPO, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=timeout,
    )


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url():
    """The real explorer (app.create(), the launch options of `python app.py`) on a free localhost
    port; its feature cache is the session's tmp WECL_CACHE and the Hub is offline (above)."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    import app

    demo = app.create()
    port = free_port()
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True,
                **app.launch_options())
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()
