"""The annotated MP4: a real video through a real prediction and moviepy, checked by decoding what
was written; videos past the render bound are a message."""
import pytest

from helpers import ffmpeg
from wecl.annotations import Segment
from wecl.errors import WECLError
from wecl.explorer import render
from wecl.inference import predict
from wecl.video import probe


def test_the_annotated_video_is_the_video_over_its_timeline_at_most_30_fps(tmp_path, tiny_model):
    video = tmp_path / "fast.mp4"  # 60 fps with sound: rendered at 30
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=60:duration=2", "-f", "lavfi", "-i",
           "sine=frequency=440:sample_rate=44100:duration=2", "-c:v", "libx264", "-preset", "ultrafast",
           "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", video)
    result = predict(video, tiny_model).json
    out = render.render_annotated(str(video), result, tmp_path / "out" / "fast.annotated.mp4", [Segment(0.5, 1.0)])
    info = probe(str(out))
    assert info.fps == pytest.approx(30, abs=0.5) and info.duration == pytest.approx(2.0, abs=0.15)
    assert info.width == 480 and info.height == 360 + 96  # the picture, then the strip under it
    assert info.has_audio
    assert sorted(p.name for p in out.parent.iterdir()) == ["fast.annotated.mp4"]  # no temporary left


def test_a_video_past_the_render_bound_is_a_message(tmp_path, tiny_model, monkeypatch):
    video = tmp_path / "long.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x48:rate=10:duration=2", "-c:v", "libx264", "-preset",
           "ultrafast", "-pix_fmt", "yuv420p", video)
    result = predict(video, tiny_model).json
    monkeypatch.setattr(render, "MAX_SECONDS", 1.0)
    with pytest.raises(WECLError, match=r"up to 1 s, and this one is 2 s \(WECL_MAX_RENDER\)"):
        render.render_annotated(str(video), result, tmp_path / "long.annotated.mp4")
    assert not (tmp_path / "long.annotated.mp4").exists()
