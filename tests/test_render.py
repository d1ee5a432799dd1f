"""The annotated MP4: a real video through a real prediction and moviepy, checked by decoding what
was written; videos past the render bound are a message."""
import pytest

from explorer import render
from helpers import ffmpeg
from wecl.annotations import Segment
from wecl.errors import WECLError
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


def test_a_video_past_the_render_bound_is_a_message(limits, tmp_path, tiny_model, monkeypatch):
    video = tmp_path / "long.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x48:rate=10:duration=2", "-c:v", "libx264", "-preset",
           "ultrafast", "-pix_fmt", "yuv420p", video)
    result = predict(video, tiny_model).json
    limits(max_render_s=1.0)
    with pytest.raises(WECLError, match=r"up to 1 s, and this one is 2 s \(WECL_MAX_RENDER\)"):
        render.render_annotated(str(video), result, tmp_path / "long.annotated.mp4")
    assert not (tmp_path / "long.annotated.mp4").exists()


def test_a_render_is_bounded_in_work_and_in_time(limits, tmp_path, tiny_model, monkeypatch):
    """Issue 25, row 6: a legal 600 s, 8192x1024, 240 fps file would have held the one-at-a-time
    render queue for about 55 min. The work (source pixels decoded) is checked before a frame is
    read, and a render past its time budget stops with a message and leaves no file."""
    video = tmp_path / "clip.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30:duration=3", "-c:v", "libx264", "-preset",
           "ultrafast", "-pix_fmt", "yuv420p", video)
    result = predict(video, tiny_model).json
    limits(max_render_work=320 * 240 * 30 * 3 - 1)  # one pixel short of this clip
    with pytest.raises(WECLError, match=r"320x240 video of 3 s at 30 fps would decode .* \(WECL_MAX_RENDER_WORK\)"):
        render.render_annotated(str(video), result, tmp_path / "a" / "clip.annotated.mp4")
    limits(max_render_work=1e15)
    limits(render_budget_s=0.0)
    with pytest.raises(WECLError, match=r"longer than the 0 s a render may take \(WECL_RENDER_BUDGET\)"):
        render.render_annotated(str(video), result, tmp_path / "b" / "clip.annotated.mp4")
    assert not list((tmp_path / "b").glob("*"))  # no output, no temporary
    limits(render_budget_s=300.0)
    out = render.render_annotated(str(video), result, tmp_path / "c" / "clip.annotated.mp4")
    assert probe(str(out)).width == 480  # frames arrive from ffmpeg at the output width


def test_the_render_reads_pictures_with_the_analysis_limits(tmp_path, tiny_model, media):
    """The render decodes every frame, not only the analysis's samples: its pictures come through
    `wecl.video` with the same per-frame limits, so a frame the header lies about is refused
    there too (moviepy's ffmpeg would have decoded it whole). Rotated videos come out upright."""
    import numpy as np
    from test_hostile import liar_file

    rotated = media("rotated")  # landscape pixels shown portrait: 120x160 as displayed
    result = predict(rotated, tiny_model).json
    out = render.render_annotated(str(rotated), result, tmp_path / "r" / "rotated.annotated.mp4")
    info = probe(str(out))
    assert (info.width, info.height) == (480, 480 + 96)  # portrait: as tall as wide, between bars (issue 20)

    liar = liar_file(tmp_path / "liar", np.zeros((1, 3000, 3), np.uint8))
    faked = {**result, "video": {**result["video"], "path": liar, "duration": 1.3, "fps": 10.0, "width": 64,
                                 "height": 64, "has_audio": False}}
    with pytest.raises(WECLError, match=r"the header says 64x64\) is 3000x1 pixels"):
        render.render_annotated(liar, faked, tmp_path / "l" / "liar.annotated.mp4")
    assert not list((tmp_path / "l").glob("*"))
