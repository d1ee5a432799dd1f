"""Hostile media a public Space must survive with bounded memory and time: a picture thousands of
pixels long and two high, a second of video over an hour of sound. Each gives a message or a
bounded result, and the next request is served as usual."""
from __future__ import annotations

import subprocess
import sys

import pytest

from helpers import REPO, ffmpeg
from wecl.audio import read_audio
from wecl.errors import WECLError
from wecl.inference import predict
from wecl.model import WECL
from wecl.video import THUMBNAIL_BOX, read_clips

# The peak resident memory of a child process's own image, in kB (VmHWM is reset by exec; the
# ru_maxrss of getrusage is not, so a child of a big pytest process would report the parent's).
PEAK_KB = "next(int(line.split()[1]) for line in open('/proc/self/status') if line.startswith('VmHWM'))"


def test_an_elongated_picture_is_refused(tmp_path):
    path = tmp_path / "strip.mp4"
    ffmpeg("-f", "lavfi", "-i", "color=c=red:size=8192x2:rate=10:duration=2", "-c:v", "libx264", "-preset",
           "ultrafast", path)
    assert path.stat().st_size < 50_000
    with pytest.raises(WECLError, match="too elongated"):
        read_clips(str(path), 10, 4)


def liar_file(folder, big_frame) -> str:
    """A PNG-in-MOV whose header (and first second of frames) says 64x64 while its later frames
    are `big_frame` (H x W x 3): the frames' packets are copied, never re-encoded."""
    import cv2
    import numpy as np

    folder.mkdir()
    for i in range(10):
        cv2.imwrite(str(folder / f"f{i:03d}.png"), np.full((64, 64, 3), 100, np.uint8))
    for i in range(10, 13):
        cv2.imwrite(str(folder / f"f{i:03d}.png"), big_frame)
    ffmpeg("-framerate", "10", "-i", folder / "f%03d.png", "-c:v", "copy", folder / "liar.mov")
    return str(folder / "liar.mov")


DECODE_PEAK = ("import sys\nfrom wecl.video import read_clips\nfrom wecl.errors import WECLError\n"
               "try:\n    read_clips(sys.argv[1], 10, 16)\n    print('decoded')\n"
               "except WECLError as error:\n    print(error)\n" f"print({PEAK_KB})")


@pytest.mark.parametrize("big,message", [((1, 3000), "is 3000x1 pixels, too elongated"),
                                         ((12000, 12000), "a picture of more than")])
def test_frames_bigger_than_the_header_says_are_refused_as_they_decode(tmp_path, big, message):
    """The header is a claim: a 3000x1 frame after 64x64 ones took 1.3 GB here (the 112 px short
    side makes it 336,000 px wide), a 12000x12000 one several; each decoded frame is checked, and
    the decoder refuses a picture over MAX_PIXELS before it allocates it."""
    import numpy as np

    frame = np.zeros((*big, 3), np.uint8)
    frame[::7] = 255
    path = liar_file(tmp_path / "liar", frame)
    assert (tmp_path / "liar" / "liar.mov").stat().st_size < 10_000_000
    done = subprocess.run([sys.executable, "-c", DECODE_PEAK, path], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    said, peak_kb = done.stdout.strip().splitlines()
    assert message in said, said
    assert int(peak_kb) < 400_000, f"peak {int(peak_kb) // 1024} MB"


@pytest.mark.slow
def test_thumbnails_fit_a_fixed_box(tmp_path, tiny_model):
    path = tmp_path / "wide.mp4"  # 7:1, just under the limit
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=1400x200:rate=10:duration=2", "-c:v", "libx264", "-preset",
           "ultrafast", "-pix_fmt", "yuv420p", path)
    result = predict(path, tiny_model)
    thumbs = result.features.thumbnails
    assert max(thumbs.shape[1:3]) <= THUMBNAIL_BOX and thumbs.shape[2] > thumbs.shape[1]
    assert thumbs.nbytes < 10 * THUMBNAIL_BOX * THUMBNAIL_BOX * 3


@pytest.fixture(scope="module")
def long_sound(tmp_path_factory):
    """1 s of video over 1 h of 4 kHz sound, in a .mov."""
    path = tmp_path_factory.mktemp("hostile") / "long_sound.mov"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x48:rate=10:duration=1", "-f", "lavfi", "-i",
           "sine=f=440:sample_rate=4000:duration=3600", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt",
           "yuv420p", "-c:a", "aac", "-b:a", "8k", path)
    return path


@pytest.mark.slow
def test_sound_is_read_only_as_long_as_the_picture(long_sound):
    waveform = read_audio(str(long_sound), 16000, max_seconds=1.0)
    assert waveform.size == 16000


@pytest.mark.slow
def test_a_long_sound_under_a_short_picture_stays_small(long_sound, tiny_checkpoint, tmp_path):
    """The whole prediction in a fresh process: its peak memory stays near an ordinary one's."""
    code = ("import sys; from wecl.inference import predict; "
            "r = predict(sys.argv[1], sys.argv[2]); "
            f"print(r.json['video']['duration'], {PEAK_KB})")
    done = subprocess.run([sys.executable, "-c", code, str(long_sound), str(tiny_checkpoint)], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    duration, peak_kb = done.stdout.split()
    assert float(duration) == pytest.approx(1.0, abs=0.2)
    assert int(peak_kb) < 1_200_000, f"peak RSS {int(peak_kb) / 1024:.0f} MB"  # was 5 GB


def test_the_next_request_is_served(media, tiny_model, tmp_path):
    path = tmp_path / "strip.mp4"
    ffmpeg("-f", "lavfi", "-i", "color=c=red:size=4096x4:rate=10:duration=1", "-c:v", "libx264", "-preset",
           "ultrafast", path)
    with pytest.raises(WECLError):
        predict(path, tiny_model)
    assert predict(media("av"), tiny_model).json["video"]["has_audio"] is True


def _junk_checkpoint(folder, **config):
    """A checkpoint folder whose config.json (written as is, unchecked) sits over junk weights."""
    import json

    import torch
    from safetensors.torch import save_file

    from helpers import tiny_config

    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({**tiny_config().to_dict(), **config}))
    save_file({"junk": torch.zeros(4)}, str(folder / "model.safetensors"))
    return folder


def test_a_config_beyond_the_limits_is_refused(tmp_path):
    folder = _junk_checkpoint(tmp_path / "wide", visual_width=8.0, visual_depth=101)
    with pytest.raises(WECLError, match=r"visual_width must lie in \[0.0625, 2.0\]"):
        WECL.from_pretrained(folder)


@pytest.mark.slow
def test_junk_weights_are_refused_before_the_model_is_built(tmp_path):
    """A config at the width limit over junk weights: refused from the file's header, in a fresh
    process whose peak memory shows nothing was allocated (the model would be 1.4 GB)."""
    folder = _junk_checkpoint(tmp_path / "big", visual_width=2.0, visual_depth=101, audio_width=2.0, audio_depth=50)
    code = ("import sys\nfrom wecl.model import WECL\nfrom wecl.errors import WECLError\n"
            "try:\n    WECL.from_pretrained(sys.argv[1])\nexcept WECLError as e:\n    print(e)\n"
            f"print({PEAK_KB})")
    done = subprocess.run([sys.executable, "-c", code, str(folder)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    message, peak_kb = done.stdout.strip().splitlines()
    assert "does not match its weights" in message and "missing keys" in message
    assert int(peak_kb) < 700_000, f"peak RSS {int(peak_kb) / 1024:.0f} MB"


def test_an_overlong_checkpoint_name_is_a_message():
    from wecl import checkpoints

    for name in ("x" * 5000, "a" * 300, "./" + "b" * 300 + "/c"):
        with pytest.raises(WECLError, match="checkpoint"):
            checkpoints.resolve(name)


def test_a_dataset_folder_too_big_to_walk_is_a_message(limits, tmp_path, monkeypatch):
    from wecl import batch

    for i in range(30):
        (tmp_path / f"d{i}").mkdir()
        (tmp_path / f"d{i}" / "clip.mp4").write_bytes(b"")
    (tmp_path / ".wecl").mkdir()
    (tmp_path / ".wecl" / "hidden.mp4").write_bytes(b"")
    assert len(batch.list_videos(tmp_path)) == 30  # hidden folders are left out
    limits(max_scanned=40)
    with pytest.raises(WECLError, match="more than 40 files and folders"):
        batch.list_videos(tmp_path)
    with pytest.raises(WECLError, match="no such folder|cannot open"):
        batch.list_videos(tmp_path / ("y" * 300))


def test_a_decode_past_the_time_budget_ends_with_a_message(limits, tmp_path, tiny_model, monkeypatch):

    path = tmp_path / "budget.mp4"  # content of its own (no other test makes it): no cached features skip the decode
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=66x46:rate=10:duration=2", "-c:v", "libx264", "-preset",
           "ultrafast", "-pix_fmt", "yuv420p", path)
    limits(time_budget_s=0.0)
    with pytest.raises(WECLError, match="longer than the 0 s this video may take"):
        predict(path, tiny_model)
    monkeypatch.undo()
    assert predict(path, tiny_model).json["video"]["duration"] == pytest.approx(2.0, abs=0.2)


def test_the_time_budget_covers_the_backbones_too(limits, tmp_path, tiny_checkpoint, monkeypatch):
    """Issue 25, row 5: only decoding had a budget, so a prediction whose backbones ran long (a
    slow machine, a face-dense video) held the prediction queue for as long as they took."""
    import time

    from wecl.features import compute_features

    class SlowBackbones(WECL):
        def encode_visual(self, *args, **kwargs):
            time.sleep(0.6)
            return super().encode_visual(*args, **kwargs)

    path = tmp_path / "slow.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x48:rate=10:duration=2", "-f", "lavfi", "-i", "sine=d=2",
           "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", path)
    model = SlowBackbones.from_pretrained(tiny_checkpoint)
    limits(time_budget_s=0.4)
    began = time.monotonic()
    with pytest.raises(WECLError, match="analysing it took longer than the 0.4 s this video may take"):
        compute_features(str(path), model)
    assert time.monotonic() - began < 2.5  # at most one backbone step past the budget


def test_the_disk_feature_cache_keeps_to_its_size(wecl_env, limits, tmp_path, tiny_model, monkeypatch):
    """Features of many videos: the cache folder never holds more than WECL_CACHE_MAX; the file
    used last stays, the oldest goes."""
    from wecl import features

    wecl_env(WECL_CACHE=str(tmp_path / "cache"))
    videos = []
    for i in range(4):
        videos.append(tmp_path / f"v{i}.mp4")
        ffmpeg("-f", "lavfi", "-i", f"testsrc2=size=64x48:rate=10:duration={1 + i}", "-c:v", "libx264", "-preset",
               "ultrafast", "-pix_fmt", "yuv420p", videos[-1])
    features.features_for(str(videos[0]), tiny_model)
    one = sum(p.stat().st_size for p in features.cache_dir().glob("*.npz"))
    limits(cache_max_mb=2.5 * one / 2**20)
    for video in videos[1:]:
        features.features_for(str(video), tiny_model)
        assert sum(p.stat().st_size for p in features.cache_dir().glob("*.npz")) <= features.cache.max_disk_bytes
    assert len(list(features.cache_dir().glob("*.npz"))) == 2


@pytest.mark.slow
def test_a_single_keyframe_is_decoded_through_once(tmp_path):
    """300 s with one keyframe: forward seeks would each go back to it and decode from the start
    again (about 5x the whole file for 10 segments); decoding on costs about one pass."""
    import time

    import av

    path = tmp_path / "one_keyframe.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25:duration=300", "-c:v", "libx264", "-preset",
           "ultrafast", "-x264-params", "keyint=100000:min-keyint=100000:scenecut=0", "-pix_fmt", "yuv420p", path)
    start = time.perf_counter()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        frames = sum(1 for _ in container.decode(stream))
    one_pass = time.perf_counter() - start
    assert frames == 7500
    start = time.perf_counter()
    read_clips(str(path), 10, 16)
    took = time.perf_counter() - start
    assert took < 2.0 * one_pass + 0.5, f"{took:.2f} s against {one_pass:.2f} s for one pass"


def test_a_file_declaring_too_many_packets_is_refused_at_the_first_open(tmp_path, tiny_checkpoint):
    """Every decoding thread opens the file, and a demuxer indexes every packet in memory: a file
    declaring more packets than allowed is refused once, before any thread starts."""
    from helpers import run_wecl

    path = tmp_path / "packets.mp4"  # a file of its own, so no cached features skip the decode
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25:duration=3", "-c:v", "libx264", "-preset",
           "ultrafast", "-pix_fmt", "yuv420p", path)
    cache = {"WECL_CACHE": str(tmp_path / "cache")}
    done = run_wecl("predict", path, "--checkpoint", tiny_checkpoint, env={**cache, "WECL_MAX_PACKETS": "50"})
    assert done.returncode == 2 and "declares 75 packets, more than the 50" in done.stderr, done.stderr
    assert run_wecl("predict", path, "--checkpoint", tiny_checkpoint, env=cache).returncode == 0


def test_a_file_declaring_no_packet_count_is_counted_as_it_is_read(tmp_path, tiny_checkpoint):
    """Issue 25, row 9: Matroska declares no packet counts, so the bound above never applied: an MKV
    of 3,000,000 tiny sound packets was accepted (+434 MB, 55 s here). Every stream's packets are
    now counted as they are demuxed, in the picture's pass and the sound's."""
    from helpers import run_wecl

    path = tmp_path / "tiny_packets.mkv"  # 16 samples a packet: 3,000 packets a second
    ffmpeg("-f", "lavfi", "-i", "color=size=32x32:rate=5:duration=20", "-f", "lavfi", "-i",
           "anullsrc=r=48000:cl=mono:nb_samples=16", "-t", "20", "-c:v", "libx264", "-preset", "ultrafast",
           "-c:a", "pcm_s16le", path)
    cache = {"WECL_CACHE": str(tmp_path / "cache")}
    done = run_wecl("predict", path, "--checkpoint", tiny_checkpoint, env={**cache, "WECL_MAX_PACKETS": "20000"})
    assert done.returncode == 2 and "holds more than 20,000 packets" in done.stderr, done.stderr
    assert run_wecl("predict", path, "--checkpoint", tiny_checkpoint, env=cache).returncode == 0


def test_views_and_decode_workers_are_bounded(tmp_path, tiny_model):
    """`extract --views` and `--workers` each hold decoded videos in memory at once: a huge value is
    a message before any video is decoded."""
    from wecl.features import MAX_WORKERS, prefetch
    from wecl.training.datasets import open_dataset
    from wecl.training.extract import MAX_VIEWS, extract
    from wecl.training.synth import generate

    generate(tmp_path / "data", 2, seed=5, duration_range=(3.0, 3.2), size=(64, 48))
    dataset = open_dataset(str(tmp_path / "data"))
    with pytest.raises(WECLError, match=rf"views must lie in \[1, {MAX_VIEWS}\]"):
        extract(dataset, tiny_model, tmp_path / "store", views=MAX_VIEWS + 1)
    assert not (tmp_path / "store" / "features").exists()
    decoded = []
    with pytest.raises(WECLError, match=f"workers must be at most {MAX_WORKERS}"):
        list(prefetch(range(3), decoded.append, workers=MAX_WORKERS + 1))
    assert decoded == []
    with pytest.raises(WECLError, match=f"workers must be at most {MAX_WORKERS}"):
        extract(dataset, tiny_model, tmp_path / "store", workers=MAX_WORKERS + 1)
    assert not (tmp_path / "store").exists()  # refused before its manifest is written


def test_sniffing_an_annotation_file_reads_only_its_head(tmp_path):
    """Telling a positions file from others looks at its first 64 KiB only: an upload of blank
    lines (or one endless line) is never read whole to find its first line."""
    from wecl.annotations.positions import HEAD_BYTES, is_positions_file

    line = "0 1 0 0 0 0 0\n"
    near, far = tmp_path / "near.txt", tmp_path / "far.txt"
    near.write_text("\n" * 10 + line)
    far.write_text("\n" * (HEAD_BYTES + 1) + line)
    assert is_positions_file(str(near)) and not is_positions_file(str(far))


def test_a_planted_journal_moves_no_file(tmp_path):
    """An upload can put a `.<name>.journal` beside another upload (Gradio keeps each upload in a
    folder named by its content). Reading the annotation file must not replay a journal that
    names files outside that folder or files no save writes: it is refused, and nothing moves."""
    import json as jsonlib

    from wecl.annotations import read_annotations

    uploads, victim = tmp_path / "uploads", tmp_path / "app.py"
    uploads.mkdir()
    victim.write_text("the app\n")
    payload = uploads / "evil.py"
    payload.write_text("print('owned')\n")
    annotation = uploads / "a.json"
    annotation.write_text(jsonlib.dumps({"database": {"v": {"annotations": []}}}))
    neighbour, its_stage = uploads / "b.json", uploads / ".b.json.0123abcd.staged"  # another upload
    neighbour.write_text("theirs\n")
    its_stage.write_text("planted\n")
    for staged in ({str(payload): str(victim)}, {str(uploads / ".a.json.0123abcd.staged"): str(victim)},
                   {"evil.py": "a.json"}, ["not", "a", "mapping"], {its_stage.name: neighbour.name},
                   {"padding": " " * (70 << 10)}):
        (uploads / ".a.json.journal").write_text(jsonlib.dumps(staged))
        with pytest.raises(WECLError, match="cannot finish an interrupted save"):
            read_annotations(annotation)
        assert victim.read_text() == "the app\n" and payload.exists() and neighbour.read_text() == "theirs\n"


def test_an_allowed_owner_does_not_open_local_paths(wecl_env, monkeypatch, tmp_path):
    """On a Space, `WECL_CHECKPOINTS_ALLOW=lab/` allows Hub ids under lab/, not a path such as
    `lab/../x` that a local folder named `lab` would resolve; and a huge id with an `@` is a
    message, not an OSError from the file system."""
    from explorer.policy import allowed_checkpoint
    from wecl import checkpoints

    monkeypatch.setenv("SPACE_ID", "someone/wecl-explorer")
    wecl_env(WECL_CHECKPOINTS_ALLOW="lab/")
    assert allowed_checkpoint("lab/model@v1") == "lab/model@v1"
    for refused in ("lab/../x", "lab/a/../../etc", "lab/" + "x" * 5000 + "@main"):
        with pytest.raises(WECLError, match="this server loads only its own checkpoints"):
            allowed_checkpoint(refused)
    with pytest.raises(WECLError, match="characters is no checkpoint"):
        checkpoints.resolve("a/" + "b" * 5000 + "@main")
    assert checkpoints.parse_spec("a/" + "b" * 5000 + "@main")[1] == "main"


def test_a_dataset_run_that_cannot_start_keeps_no_copy(limits, wecl_env, tmp_path, monkeypatch, media):
    """A private dataset run copies its annotation file first; when the run is refused (a broken
    file, a missing checkpoint, a file over the annotation limit) the copy goes with it."""
    import shutil

    from explorer.dataset_run import DatasetRun, runs_root

    wecl_env(WECL_CACHE=str(tmp_path / "cache"))
    folder = tmp_path / "videos"
    folder.mkdir()
    shutil.copy(media("short"), folder / "v.mp4")
    broken, good = tmp_path / "broken.json", tmp_path / "good.json"
    broken.write_text("{ not json")
    good.write_text('{"database": {"v": {"annotations": [{"segment": [0.1, 0.5], "label": "joy"}]}}}')
    for annotation, checkpoint in ((broken, None), (good, str(tmp_path / "no-such-checkpoint"))):
        with pytest.raises(WECLError):
            DatasetRun(folder, [checkpoint], str(annotation), private=True)
    with pytest.raises(WECLError, match="give one annotation file"):  # refused before any copy
        DatasetRun(folder, [None], [str(good)] * 3, private=True)
    limits(max_annotation_mb=16 / 2**20)
    with pytest.raises(WECLError, match="more than an annotation file may hold"):
        DatasetRun(folder, [None], str(good), private=True)
    assert not runs_root().exists() or not any(runs_root().iterdir())


def test_a_prediction_file_with_non_text_labels_is_a_message(tmp_path):
    import json as jsonlib

    from wecl.annotations import read_prediction_file

    path = tmp_path / "predictions.json"
    path.write_text(jsonlib.dumps({"results": {"v": []}, "video_labels": {"v": ["joy"]}}))
    with pytest.raises(WECLError, match='"video_labels" of \'v\' must be a string'):
        read_prediction_file(path)


def test_a_failed_request_keeps_nothing_of_what_it_held():
    """Issue 25, row 2: the gr.Error's __context__ held the WECLError's traceback, which held the
    decoders and frames; a list of failures in a frame of that traceback made a cycle that only a
    garbage collection freed. Now the big array goes as soon as the request fails, with the
    collector off."""
    import gc
    import weakref

    import gradio as gr
    import numpy as np

    from ui.common import user_errors

    held = []

    def decode():
        frames = np.ones(50_000_000, np.uint8)  # a decoded picture's worth
        held.append(weakref.ref(frames))
        failures = []
        try:
            raise WECLError("decoding took longer than the budget")
        except WECLError as error:
            failures.append(error)  # a cycle: the error's traceback holds this frame, which holds it
            raise failures[0] from None

    gc.disable()
    try:
        with pytest.raises(gr.Error, match="longer than the budget") as caught:
            user_errors(decode)()
        assert caught.value.__context__ is None and caught.value.__cause__ is None
        assert held[0]() is None, "the failed request's frames are still alive"
    finally:
        gc.enable()


@pytest.mark.slow
def test_rss_comes_back_after_failed_big_decodes(limits, tmp_path, monkeypatch):
    """Twice in one process: a prediction of an 8192x8192 file that runs out of its decoding
    budget is a message, and the server's memory is back within 100 MB of where it was."""
    import cv2
    import gradio as gr
    import numpy as np
    import psutil

    from ui.video_tab import run_prediction

    folder = tmp_path / "big"
    folder.mkdir()
    picture = np.zeros((8192, 8192, 3), np.uint8)
    picture[::64] = 255
    for i in range(6):
        cv2.imwrite(str(folder / f"f{i:03d}.png"), picture)
    del picture
    ffmpeg("-framerate", "2", "-i", folder / "f%03d.png", "-c:v", "copy", folder / "big.mov")
    limits(time_budget_s=0.05)
    process = psutil.Process()
    for attempt in range(2):
        before = process.memory_info().rss
        with pytest.raises(gr.Error, match="longer than the"):
            run_prediction(str(folder / "big.mov"), "wecl-synth-demo", 0.5, 1, "eq9", progress=lambda *a, **k: None)
        grown = (process.memory_info().rss - before) / 2**20
        assert grown < 100, f"attempt {attempt}: RSS +{grown:.0f} MB after the failed request"
