"""Video input: T x k frames from any file ffmpeg reads, segments that tile the duration, rotation
applied as players do, and a clear WECLError for every kind of bad file."""
import subprocess

import numpy as np
import pytest

import wecl.video
from helpers import FFMPEG, GOOD_KINDS
from wecl.errors import WECLError
from wecl.video import clip_times, read_clips, segment_spans

T, K = 10, 16
# (displayed width, height, duration) of each kind the `media` fixture makes
EXPECTED = {
    "av": (160, 120, 3.0), "silent": (160, 120, 3.0), "short": (160, 120, 1.0), "rotated": (120, 160, 3.0),
    "webm": (160, 120, 2.0), "surround": (160, 120, 2.0), "stereo48k": (160, 120, 2.0), "mkv": (160, 120, 2.0),
    "avi": (160, 120, 2.0), "mov": (160, 120, 2.0), "vfr": (160, 120, 4.0), "few_frames": (160, 120, 0.3),
    "keyframes": (160, 120, 4.0), "keyframes_vp9": (160, 120, 4.0),
}
HAS_AUDIO = {"silent": False, "vfr": False, "few_frames": False}


def assert_tiles(spans, duration, segments=T):
    assert len(spans) == segments
    assert spans[0][0] == 0.0
    for (_, end), (start, _) in zip(spans, spans[1:]):
        assert end == start
    assert spans[-1][1] == duration
    lengths = [e - s for s, e in spans]
    assert max(lengths) - min(lengths) < 1e-9  # equal lengths (paper 3.1)


@pytest.mark.parametrize("duration", [3.0, 2.008, 0.3, 7.123456789, 1 / 3])
@pytest.mark.parametrize("segments", [1, 7, 10])
def test_segment_spans_tile_exactly(duration, segments):
    assert_tiles(segment_spans(duration, segments), duration, segments)


def test_clip_times_centred_and_looping():
    times = clip_times((0.0, 2.0), 16, 25.0)  # 50 frames in the span: 16 successive, centred
    assert len(times) == 16
    assert np.allclose(np.diff(times), 1 / 25)
    assert times[0] - 0.0 == pytest.approx(2.0 - times[-1], abs=1e-9)
    short = clip_times((1.0, 1.2), 16, 25.0)  # 5 frames: they loop
    assert len(short) == 16
    frames = [int((t - 1.0) * 25) for t in short]
    assert frames == [j % 5 for j in range(16)]
    assert all(1.0 <= t < 1.2 for t in short)


@pytest.mark.parametrize("kind", GOOD_KINDS)
def test_read_clips_each_media_kind(media, kind):
    clips = read_clips(str(media(kind)), T, K)
    width, height, duration = EXPECTED[kind]
    info = clips.info
    assert clips.frames.shape == (T, K, 112, 112, 3) and clips.frames.dtype == np.uint8
    assert (info.width, info.height) == (width, height)
    assert info.duration == pytest.approx(duration, abs=0.05)
    assert info.fps > 0
    assert info.has_audio == HAS_AUDIO.get(kind, True)
    assert info.path == str(media(kind))
    assert_tiles(clips.spans, info.duration)
    assert len(clips.thumbnails) == T
    assert min(clips.thumbnails[0].shape[:2]) == 112
    assert clips.frames.std() > 10  # real pictures, not a blank buffer
    # each segment's middle frame is the centre crop of its thumbnail
    for i in range(T):
        thumb = clips.thumbnails[i]
        h, w = thumb.shape[:2]
        top, left = (h - 112) // 2, (w - 112) // 2
        assert np.array_equal(clips.frames[i, K // 2], thumb[top:top + 112, left:left + 112])


def _ffmpeg_frame_at(path, t: float, width: int, height: int) -> np.ndarray:
    """The frame ffmpeg shows at time t (the last one with pts <= t), autorotated as ffmpeg does,
    scaled to width x height."""
    cmd = [FFMPEG, "-hide_banner", "-loglevel", "error", "-nostdin", "-i", str(path),
           "-vf", f"select='lte(t\\,{t:.6f})',scale={width}:{height}:flags=area", "-fps_mode", "passthrough",
           "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    raw = subprocess.run(cmd, capture_output=True, check=True).stdout
    frames = np.frombuffer(raw, np.uint8).reshape(-1, height, width, 3)
    return frames[-1]


def _middle_time(clips, i):
    return clips.times[i, K // 2] + 1e-4  # ffmpeg's select compares with 6 decimals: not below the timestamp


@pytest.mark.parametrize("kind", ["rotated", "vfr", "av"])
def test_frames_match_ffmpeg_decode(media, kind):
    """The rotated file's frames are portrait and match ffmpeg's autorotated picture; the VFR file's
    frames are the ones on screen at their times."""
    path = media(kind)
    clips = read_clips(str(path), T, K)
    for i in (1, 5, 8):
        thumb = clips.thumbnails[i].astype(np.float32)
        h, w = thumb.shape[:2]
        if kind == "rotated":
            assert h > w
        ref = _ffmpeg_frame_at(path, _middle_time(clips, i), w, h).astype(np.float32)
        diff = np.abs(thumb - ref).mean()
        assert diff < 7.5, diff  # one frame to the next differs by about 10
        wrong = np.abs(thumb - np.rot90(ref, 2)).mean()  # the picture upside down is far off
        assert wrong > 3 * diff + 10, (wrong, diff)


def test_vfr_frames_follow_timestamps(media):
    """Frames 0-29 last 2/30 s each and 30-89 1/30 s: a sample in the first half must come from a
    frame ffmpeg shows then, not from frame index t * average fps."""
    path = media("vfr")
    clips = read_clips(str(path), T, K)
    i = 2  # 0.8-1.2 s: frame about 15 by timestamps, 22 by the average rate
    t = _middle_time(clips, i)
    assert np.allclose(clips.times[i] * 15, np.round(clips.times[i] * 15))  # real frames: 2/30 s apart here
    assert len(set(clips.times[i])) == 6  # the span's 6 frames, looped to K
    thumb = clips.thumbnails[i].astype(np.float32)
    h, w = thumb.shape[:2]
    right = np.abs(thumb - _ffmpeg_frame_at(path, t, w, h)).mean()
    wrong = np.abs(thumb - _ffmpeg_frame_at(path, t * 22.5 / 15 - 0.001, w, h)).mean()
    assert right < 6 and wrong > right + 1, (right, wrong)


def test_a_burst_under_a_low_header_rate_gives_real_frames(media):
    """Issue 25, row 11: a variable-rate MKV whose header says 1 fps over a 60 fps stretch gave, in
    that stretch, 16 copies of one or two frames (sample times 1 s apart). Each clip is now k
    successive frames by their own timestamps."""
    clips = read_clips(str(media("vfr_burst")), T, 16)
    assert clips.info.fps == pytest.approx(1.0)
    for i, (start, end) in enumerate(clips.spans):
        assert np.all((clips.times[i] >= start - 1.0) & (clips.times[i] < end))
        distinct = {clips.frames[i, j].tobytes() for j in range(16)}
        if start >= 10.0 and end <= 14.0:  # inside the burst: 16 frames 1/60 s apart
            assert len(distinct) == 16 and np.allclose(np.diff(clips.times[i]), 1 / 60, atol=2e-3)
        else:
            assert len(distinct) == len(set(clips.times[i])) >= 2


def test_a_clip_is_k_successive_frames_even_on_frame_edges(media):
    """Sample times 1/fps apart that fall on frames' edges (3 s at 25 fps in 3 segments: 1.2, 1.24,
    ...) picked by rounding; one in five was the previous frame again. Every clip is now k
    distinct successive frames."""
    clips = read_clips(str(media("av")), 3, 16)
    for i in range(3):
        assert np.allclose(np.diff(clips.times[i]), 1 / 25)
        assert all(not np.array_equal(clips.frames[i, j], clips.frames[i, j + 1]) for j in range(15))


def test_fewer_frames_than_segments_loop(media):
    clips = read_clips(str(media("few_frames")), T, K)
    assert clips.frames.shape == (T, K, 112, 112, 3)
    distinct = {clips.frames[i, j].tobytes() for i in range(T) for j in range(K)}
    assert 2 <= len(distinct) <= 3  # 3 frames in the file, shared by 10 segments
    for i in range(T):  # a segment shorter than one frame repeats the frame on screen
        assert all(np.array_equal(clips.frames[i, 0], clips.frames[i, j]) for j in range(K))


def test_other_segment_counts_and_sizes(media):
    clips = read_clips(str(media("av")), 4, 3, size=64)
    assert clips.frames.shape == (4, 3, 64, 64, 3)
    assert_tiles(clips.spans, clips.info.duration, 4)


# ---- bad inputs ------------------------------------------------------------------------------

@pytest.mark.parametrize("kind,problem", [
    ("empty", "empty"),
    ("text", "not a video file"),
    ("truncated", "truncated"),
    ("audio_only", "audio-only"),
])
def test_bad_files_raise_clear_error(media, kind, problem):
    path = str(media(kind))
    with pytest.raises(WECLError) as error:
        read_clips(path, T, K)
    message = str(error.value)
    assert path in message and problem in message, message


def test_missing_file(tmp_path):
    path = str(tmp_path / "nope.mp4")
    with pytest.raises(WECLError, match="no such file") as error:
        read_clips(path, T, K)
    assert path in str(error.value)


def test_resolution_over_maximum(limits, media, monkeypatch):
    limits(max_side_px=150)
    path = str(media("av"))
    with pytest.raises(WECLError) as error:
        read_clips(path, T, K)
    message = str(error.value)
    assert path in message and "160x120" in message and "150" in message


def test_duration_over_maximum(media):
    path = str(media("av"))
    with pytest.raises(WECLError) as error:
        read_clips(path, T, K, max_duration=2.0)
    message = str(error.value)
    assert path in message and "3 s" in message and "maximum of 2 s" in message
    assert read_clips(path, 2, 2, max_duration=3.5).info.duration == pytest.approx(3.0)


@pytest.mark.parametrize("kind", ["av", "rotated", "webm", "mkv", "avi", "mov", "vfr", "few_frames", "short",
                                  "keyframes", "keyframes_vp9"])
def test_parallel_decoding_gives_the_same_frames(media, kind):
    """Segments decoded in parallel ranges (each its own decoder) are the frames of one decoder; the
    "keyframes" files make every range after the first start with a seek to a keyframe mid-file."""
    one = read_clips(str(media(kind)), 10, 8, 112)
    for threads in (2, 3):
        got = read_clips(str(media(kind)), 10, 8, 112, threads=threads)
        assert np.array_equal(got.frames, one.frames), (kind, threads)
        assert all(np.array_equal(a, b) for a, b in zip(got.thumbnails, one.thumbnails))
        assert (got.info.width, got.info.height) == (one.info.width, one.info.height)


def test_parallel_decoding_reports_damage(media):
    with pytest.raises(WECLError, match="truncated or damaged|damaged"):
        read_clips(str(media("truncated")), 10, 8, 112, threads=2)


def test_a_failing_decoding_thread_stops_the_others_and_is_the_one_reported():
    """Threads sharing a Deadline: the first failure cancels the rest at their next check, and
    `gather` reports that failure, not the others' "stopped" (whatever their order)."""
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    from wecl.threads import Cancelled, Deadline, gather

    deadline, started = Deadline(None), threading.Barrier(3)

    def decode_on():
        started.wait()
        for _ in range(200_000):  # about 20 s of checks when nothing stops it
            deadline.check("v.mp4")
            time.sleep(0.0001)
        return "finished"

    def fail():
        started.wait()
        raise WECLError("v.mp4: the video data is damaged")

    began = time.perf_counter()
    with ThreadPoolExecutor(3) as pool:
        futures = [pool.submit(deadline.run, fn) for fn in (decode_on, fail, decode_on)]
    assert time.perf_counter() - began < 5
    assert isinstance(futures[0].exception(), Cancelled)
    with pytest.raises(WECLError, match="damaged") as raised:
        gather(futures)
    assert not isinstance(raised.value, Cancelled)
    with pytest.raises(WECLError, match="longer than the 0 s this video may take"):
        Deadline(0.0).check("v.mp4")


def test_read_clips_stops_its_other_ranges_when_one_fails(media, monkeypatch):
    """Through read_clips itself: the first picture conversion fails in one range; the other range
    stops at its next decoded frame instead of converting its 5 segments' frames, and the error
    reported is that failure."""
    import threading
    import time

    real, calls, lock = wecl.video._to_rgb, [], threading.Lock()

    def to_rgb(*args):
        with lock:
            calls.append(threading.current_thread().name)
            first = len(calls) == 1
        if first:
            raise WECLError("the first conversion failed")
        time.sleep(0.02)
        return real(*args)

    monkeypatch.setattr(wecl.video, "_to_rgb", to_rgb)
    with pytest.raises(WECLError, match="the first conversion failed"):
        read_clips(str(media("keyframes")), 10, 8, 112, threads=2)
    assert len(calls) <= 8, calls  # without the cancel: about 40 conversions in the other range
