"""The real app on a free localhost port, driven through gradio_client's `/predict` endpoint."""
from __future__ import annotations

import math
import shutil
import subprocess
import time
import types
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg to make test videos")



def make_video(path: Path, seconds: float = 3.0, audio: bool = True) -> Path:
    """A small real H.264 file (test pattern, optionally a tone) written by ffmpeg."""
    cmd = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc=size=160x120:rate=15:duration={seconds}"]
    if audio:
        cmd += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}", "-c:a", "aac", "-shortest"]
    cmd += ["-c:v", "libx264", "-pix_fmt", "yuv420p", str(path)]
    subprocess.run(cmd, check=True)
    return path


def check_result(result: dict, duration: float | None = None) -> None:
    """The result JSON of docs/formats.md#result-json."""
    video = result["video"]
    assert set(video) >= {"path", "duration", "fps", "width", "height", "has_audio"}
    assert isinstance(video["has_audio"], bool) and video["duration"] > 0 and video["fps"] > 0
    if duration is not None:
        assert video["duration"] == pytest.approx(duration, abs=0.15)
    assert set(result["checkpoint"]) >= {"id", "revision"}
    classes, probs = result["classes"], result["probabilities"]
    assert len(classes) == len(probs) >= 2 and math.isclose(sum(probs), 1.0, abs_tol=1e-4)
    assert result["prediction"] == classes[max(range(len(probs)), key=probs.__getitem__)]
    assert 0 <= result["theta"] <= 1 and result["rounds"] >= 1
    segments = result["segments"]
    assert [s["index"] for s in segments] == list(range(len(segments)))
    assert segments[0]["start"] == 0 and segments[-1]["end"] == pytest.approx(video["duration"])
    for a, b in zip(segments, segments[1:]):
        assert a["end"] == pytest.approx(b["start"])
    for s in segments:
        assert set(s) >= {"visual_attention", "audio_attention", "visual_attention_norm", "audio_attention_norm",
                          "erased_round"}
        assert s["erased_round"] is None or 0 <= s["erased_round"] < result["rounds"]
        for key in ("visual_attention_norm", "audio_attention_norm"):
            assert s[key] is None or 0 <= s[key] <= 1
    for d in result["detections"]:
        assert 0 <= d["start"] < d["end"] <= video["duration"] + 1e-6 and d["label"] in classes
    assert isinstance(result["timings"], dict)


@pytest.fixture(scope="module")
def client(app_url):
    from gradio_client import Client

    # download_files=False: gradio_client 2.x would take the result's {"video": {"path": ...}} for a
    # file to download and replace it with a local path (README, "API").
    return Client(app_url, verbose=False, download_files=False)


def test_predict_endpoint_returns_the_result_json(client, tmp_path):
    from gradio_client import handle_file

    video = make_video(tmp_path / "tone.mp4", 3.0)
    result = client.predict(handle_file(str(video)), "", 0.5, 2, api_name="/predict")
    check_result(result, 3.0)
    assert result["video"]["has_audio"] is True
    assert result["theta"] == 0.5 and result["rounds"] == 2 and result["keyframe_rule"] == "eq9"
    assert result["notices"], "the default checkpoint is untrained or synthetic: a notice is expected"
    fused = client.predict(handle_file(str(video)), "", 0.5, 2, "fused", api_name="/predict")
    assert fused["keyframe_rule"] == "fused" and fused["segments"] == result["segments"]
    inside = lambda d, ds: any(d["start"] >= e["start"] and d["end"] <= e["end"] for e in ds)  # noqa: E731
    assert all(inside(d, fused["detections"]) for d in result["detections"])


def test_bad_upload_is_an_error_message_and_the_app_keeps_serving(client, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    bad = tmp_path / "not_a_video.mp4"
    bad.write_bytes(b"this is no video at all\n" * 10)
    with pytest.raises(AppError) as caught:
        client.predict(handle_file(str(bad)), "", 0.7, 1, api_name="/predict")
    message = str(caught.value)
    assert "not_a_video.mp4" in message and "Traceback" not in message

    with pytest.raises(AppError) as caught:
        client.predict(handle_file(str(make_video(tmp_path / "ok.mp4", 2.0))), "no/such-checkpoint@main", 0.7, 1,
                       api_name="/predict")
    assert "no/such-checkpoint" in str(caught.value)

    silent = make_video(tmp_path / "silent.mp4", 2.5, audio=False)
    result = client.predict(handle_file(str(silent)), "", 0.7, 1, api_name="/predict")
    check_result(result, 2.5)
    assert result["video"]["has_audio"] is False
    assert any("no audio" in n for n in result["notices"])


def test_registry_default_is_read_at_run_time():
    from explorer.policy import checkpoint_choices
    from ui.video_tab import checkpoint_info
    from wecl import checkpoints

    choices, default = checkpoint_choices()
    assert default == checkpoints.registry()["default"]
    assert default in [value for _, value in choices]
    assert "loaded when you press Run" in checkpoint_info("someone/some-model@v1")


def test_backups_and_the_results_database_are_never_served(app_url):
    """Only the bundled files that existed at start-up are served: not a Save's `.bak`, not the
    dataset tab's `.wecl/results.sqlite` that appear next to them later."""
    import shutil
    import urllib.error
    import urllib.request

    samples = ROOT / "assets" / "samples"
    video = sorted(samples.glob("*.mp4"))[0]
    made = [samples / "annotations.json.bak.test", samples / ".wecl" / "results-test.sqlite"]
    new_folder = not made[1].parent.exists()
    made[1].parent.mkdir(exist_ok=True)
    try:
        for path in made:
            path.write_bytes(b"private")

        def status(path) -> int:
            try:
                with urllib.request.urlopen(f"{app_url}gradio_api/file={path}") as response:
                    return response.status
            except urllib.error.HTTPError as error:
                return error.code

        assert status(video) == 200
        assert [status(p) for p in made] == [403, 403]
    finally:
        for path in made:
            path.unlink(missing_ok=True)
        if new_folder:
            shutil.rmtree(made[1].parent, ignore_errors=True)


def test_requests_never_change_the_process_thread_count(client, tmp_path):
    """A prediction and a θ update (in Gradio's worker threads) leave torch's and MKL's thread
    counts as the app set them once at start-up: a running backbone is never dropped to one thread."""
    import re
    import threading

    import torch
    from gradio_client import handle_file

    from ui import common, video_tab

    video = make_video(tmp_path / "threads.mp4", 2.0)
    client.predict(handle_file(str(video)), "", 0.5, 1, "eq9", api_name="/predict")
    from wecl import inference

    model = inference.load_model(None)
    session = {"video": str(video), "checkpoint": None, "features": inference.features_for(str(video), model)}
    worker = threading.Thread(target=video_tab.compute_views, args=(session, 0.3, 2, "eq9", []))
    worker.start()
    worker.join()
    info = torch.__config__.parallel_info()
    counts = {name: int(n) for name, n in re.findall(r"(at::get_num_threads|mkl_get_max_threads)\(\) : (\d+)", info)}
    assert counts and set(counts.values()) == {common.set_threads()}, info  # what the app set at start-up


def test_a_space_loads_only_its_own_and_allowed_checkpoints(wecl_env, monkeypatch, tmp_path):
    import gradio as gr

    from explorer.policy import allowed_checkpoint
    from ui.video_tab import run_prediction
    from wecl.errors import WECLError

    assert allowed_checkpoint(str(tmp_path)) == str(tmp_path)  # locally: anything
    monkeypatch.setenv("SPACE_ID", "someone/wecl-explorer")
    wecl_env(WECL_CHECKPOINTS_ALLOW="lab/, other/wecl-ve8")
    assert allowed_checkpoint("") is None and allowed_checkpoint("wecl-synth-paper") == "wecl-synth-paper"
    assert allowed_checkpoint("lab/anything@v2") == "lab/anything@v2"
    assert allowed_checkpoint("other/wecl-ve8") == "other/wecl-ve8"
    for refused in (str(tmp_path), "other/wecl-ekman6", "stranger/huge-model", "x" * 5000):
        with pytest.raises(WECLError, match="this server loads only its own checkpoints"):
            allowed_checkpoint(refused)
    with pytest.raises(gr.Error, match="only its own checkpoints"):
        run_prediction(str(make_video(tmp_path / "v.mp4", 1.0)), str(tmp_path), 0.5, 1)


def test_a_lab_server_on_every_address_keeps_the_same_policy_as_a_space(monkeypatch, tmp_path, limits):
    """Issue 25, row 8: on 0.0.0.0 without SPACE_ID any checkpoint path was tried, and the answers
    ("model.safetensors is missing" for /etc, "no such folder" for /nonexistent) told which paths
    exist; any Hub id was downloaded. Reachable from elsewhere, one policy and one message."""
    from explorer.policy import allowed_checkpoint, reachable_from_elsewhere
    from wecl.errors import WECLError

    monkeypatch.delenv("SPACE_ID", raising=False)
    limits(checkpoints_allow=())
    monkeypatch.setenv("GRADIO_SERVER_NAME", "127.0.0.1")
    assert not reachable_from_elsewhere() and allowed_checkpoint("/etc") == "/etc"
    for setting in ({"GRADIO_SERVER_NAME": "0.0.0.0"}, {"GRADIO_SHARE": "true"}):
        with monkeypatch.context() as env:
            for name, value in setting.items():
                env.setenv(name, value)
            assert reachable_from_elsewhere()
            messages = set()
            for probe in ("/etc", "/nonexistent", str(tmp_path), "stranger/model"):
                with pytest.raises(WECLError, match="this server loads only its own checkpoints") as caught:
                    allowed_checkpoint(probe)
                messages.add(str(caught.value).replace(repr(probe[:80]), "X"))
            assert len(messages) == 1, messages  # the same sentence, whatever exists
            assert allowed_checkpoint("wecl-synth-demo") == "wecl-synth-demo"


def test_session_files_go_when_the_session_ends_and_by_age(monkeypatch, tmp_path):
    import os
    import types

    from ui import common

    monkeypatch.setattr(common, "OUTPUT_ROOT", tmp_path / "outputs")
    request = types.SimpleNamespace(session_hash="abc123")
    folder = common.session_dir(request)
    (folder / "clip.wecl.json").write_text("{}")
    common.end_session(request)
    assert not folder.exists()
    old = common.session_dir(types.SimpleNamespace(session_hash="old1"))
    os.utime(old, (1, 1))  # untouched since 1970
    monkeypatch.setattr(common, "_last_clean", [0.0])
    new = common.session_dir(types.SimpleNamespace(session_hash="new1"))  # a request sweeps old folders
    assert not old.exists() and new.is_dir() and new.parent == tmp_path / "outputs"
    # ids that differ only in punctuation, or have none, get folders of their own under the root
    names = {common._session_folder(types.SimpleNamespace(session_hash=h)) for h in ("-", "a-b", "ab", "a.b", "..")}
    assert len(names) == 5 and all(n.parent == tmp_path / "outputs" and n.name for n in names)


def test_a_session_named_dash_deletes_only_its_own_folder(app_url):
    """A client picks its session id: a heartbeat as session `-` that then disconnects runs the
    unload handler for `-`, which once removed the output root, every visitor's files with it."""

    from ui import common

    neighbour = common.session_dir(types.SimpleNamespace(session_hash="someone-else"))
    (neighbour / "result.json").write_text("{}")
    own = common.session_dir(types.SimpleNamespace(session_hash="-"))
    (own / "mine.json").write_text("{}")
    with urllib.request.urlopen(f"{app_url}gradio_api/heartbeat/-", timeout=10) as stream:
        stream.readline()  # connected; closing it is the disconnect
    deadline = time.monotonic() + 40  # the server notices a closed heartbeat within its rate (15 s)
    while own.exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not own.exists(), "the unload handler did not run"
    assert (neighbour / "result.json").is_file()


def test_a_file_whose_frames_outgrow_its_header_is_a_message(client, tmp_path):
    """Issue 25, row 1, over HTTP: a 27 KB PNG-in-MOV that says 64x64 and then holds 3000x1
    frames added 6.6 GB to the server and came back "ok"; now a sentence, and the next request
    is served."""
    import numpy as np
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError
    from test_hostile import liar_file

    strip = np.zeros((1, 3000, 3), np.uint8)
    path = liar_file(tmp_path / "liar", strip)
    with pytest.raises(AppError, match="the header says 64x64"):
        client.predict(handle_file(path), "wecl-synth-demo", 0.5, 1, "eq9", api_name="/predict")
    video = make_video(tmp_path / "after.mp4", 2.0)
    check_result(client.predict(handle_file(str(video)), "wecl-synth-demo", 0.5, 1, "eq9", api_name="/predict"), 2.0)


def test_hostile_uploads_get_messages_and_the_server_keeps_serving(client, tmp_path):
    """The hostile files of the hosting issue, through the real server: a picture 8192x2, a second
    of video over an hour of sound, a huge checkpoint name; each a message or a bounded answer, and
    an ordinary request afterwards is served as usual."""
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    from helpers import ffmpeg

    strip = tmp_path / "strip.mp4"
    ffmpeg("-f", "lavfi", "-i", "color=c=red:size=8192x2:rate=10:duration=2", "-c:v", "libx264", "-preset",
           "ultrafast", strip)
    with pytest.raises(AppError, match="too elongated"):
        client.predict(handle_file(str(strip)), "", 0.5, 1, "eq9", api_name="/predict")
    long_sound = tmp_path / "long_sound.mov"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x48:rate=10:duration=1", "-f", "lavfi", "-i",
           "sine=f=440:sample_rate=4000:duration=3600", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt",
           "yuv420p", "-c:a", "aac", "-b:a", "8k", long_sound)
    result = client.predict(handle_file(str(long_sound)), "", 0.5, 1, "eq9", api_name="/predict")
    assert result["video"]["duration"] == pytest.approx(1.0, abs=0.2) and result["video"]["has_audio"]
    with pytest.raises(AppError, match="characters is no checkpoint"):
        client.predict(handle_file(str(long_sound)), "x" * 5000, 0.5, 1, "eq9", api_name="/predict")
    video = make_video(tmp_path / "after.mp4", 2.0)
    check_result(client.predict(handle_file(str(video)), "", 0.5, 1, "eq9", api_name="/predict"), 2.0)


def raw_predict(app_url: str, video: Path, arguments: str) -> str:
    """POST /predict as any HTTP client may, `arguments` being the JSON text after the video (so
    that it can hold NaN, which gradio_client's encoder refuses); the event stream's text back."""
    import json
    import uuid

    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{video.name}\"\r\n"
            "Content-Type: video/mp4\r\n\r\n").encode() + video.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    upload = urllib.request.Request(f"{app_url}gradio_api/upload", data=body, method="POST",
                                    headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    with urllib.request.urlopen(upload, timeout=30) as response:
        path = json.loads(response.read())[0]
    video_json = json.dumps({"path": path, "meta": {"_type": "gradio.FileData"}, "orig_name": video.name})
    call = urllib.request.Request(f"{app_url}gradio_api/call/predict", method="POST",
                                  data=f'{{"data": [{video_json}, {arguments}]}}'.encode(),
                                  headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(call, timeout=30) as response:
        event = json.loads(response.read())["event_id"]
    with urllib.request.urlopen(f"{app_url}gradio_api/call/predict/{event}", timeout=120) as response:
        return response.read().decode()


def test_odd_numbers_and_types_are_sentences(app_url, tmp_path):
    """Issue 25, row 11, over HTTP: NaN rounds, a checkpoint that is a number or a list, a
    5,000-digit integer were "Unexpected error (ValueError/AttributeError)", and rounds 3.9
    silently became 3."""
    video = make_video(tmp_path / "v.mp4", 1.0)
    huge = "9" * 4000  # parses as an int (5,000 digits are refused by the server's JSON parser, with a 400)
    cases = [
        ('"", 0.5, NaN, "eq9"', "rounds must be a finite number"),
        ('"", 0.5, 3.9, "eq9"', "rounds must be a whole number in 1..4, not 3.9"),
        (f'"", 0.5, {huge}, "eq9"', "is greater than maximum value 4"),  # Gradio's slider says it first
        ('"", NaN, 1, "eq9"', "theta must be a finite number"),
        (f'"", {huge}, 1, "eq9"', "is greater than maximum value 1"),
        ('5, 0.5, 1, "eq9"', "checkpoint must be text"),
        ('["wecl-synth-demo"], 0.5, 1, "eq9"', "checkpoint must be text"),
    ]
    for arguments, message in cases:
        events = raw_predict(app_url, video, arguments)
        assert "event: error" in events and message in events and "Unexpected error" not in events, (arguments,
                                                                                                      events[:300])
    assert "event: complete" in raw_predict(app_url, video, '"wecl-synth-demo", 0.5, 2.0, "eq9"')


def test_checked_settings_refuse_what_a_float_cannot_hold():
    """What Gradio's slider lets through to the handlers: the sentences for them."""
    from ui.video_tab import checked_settings
    from wecl.errors import WECLError

    assert checked_settings(None, None) == (None, 1) and checked_settings(0.25, 2.0) == (0.25, 2)
    for theta, rounds, message in ((0.5, 10**5000, "rounds is a number too large"), (10**5000, 1, "theta is a number"),
                                   (0.5, True, "rounds must be a number, not bool"), ("0.5", 1, "theta must be a number"),
                                   (float("nan"), 1, "theta must be a finite number"), (0.5, 0, "not 0")):
        with pytest.raises(WECLError, match=message):
            checked_settings(theta, rounds)


def test_big_request_bodies_are_refused_before_they_are_read(app_url):
    """Issue 25, row 3: a 50 MB string sent to the cheapest event, or a 100 MB ground-truth
    table, was read whole and pinned in the session's last inputs. A body over the limit is a 413
    with a sentence, whether it declares its length or not, before the rest is sent."""
    import socket
    import urllib.parse

    url = urllib.parse.urlparse(app_url)
    for chunked in (False, True):
        with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
            length = "Transfer-Encoding: chunked" if chunked else "Content-Length: 50000000"
            sock.sendall(f"POST /gradio_api/queue/join HTTP/1.1\r\nHost: {url.hostname}\r\n"
                         f"Content-Type: application/json\r\n{length}\r\n\r\n".encode())
            piece = b'{"data": ["' + b"x" * (1 << 20)
            try:  # at most 4 MiB of the 50 MB; the server answers once it has seen enough
                for _ in range(4):
                    sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
                    piece = b"x" * (1 << 20)
            except (BrokenPipeError, ConnectionResetError):
                pass
            answer = b""
            while b"may send at most" not in answer:
                data = sock.recv(65536)
                if not data:
                    break
                answer += data
        assert answer.startswith(b"HTTP/1.1 413") and b"may send at most 2.0 MiB" in answer, (chunked, answer[:300])
    with urllib.request.urlopen(app_url, timeout=30) as response:  # and the app serves on
        assert response.status == 200


def test_body_limit_counts_what_arrives():
    """The middleware on its own: a declared length, an undeclared one counted as it arrives,
    uploads under their own limit, other methods untouched."""
    import asyncio

    from ui.limits import BodyLimit, parse_size

    assert parse_size("200mb") == 200 * 2**20  # as Gradio reads its own max_file_size

    async def app(scope, receive, send):
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    def call(path, chunks, declared=None, method="POST"):
        sent = []
        headers = [] if declared is None else [(b"content-length", str(declared).encode())]
        queue = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]

        async def receive():
            return queue.pop(0)

        async def send(message):
            sent.append(message)

        limit = BodyLimit(app, limit=100, upload_limit=1000, upload_dir="/")
        asyncio.run(limit({"type": "http", "method": method, "path": path, "headers": headers}, receive, send))
        return sent[0]["status"]

    assert call("/gradio_api/queue/join", [b"x" * 50]) == 200
    assert call("/gradio_api/queue/join", [b"x" * 50], declared=500) == 413
    assert call("/gradio_api/queue/join", [b"x" * 60, b"x" * 60]) == 413  # no length declared
    assert call("/gradio_api/upload", [b"x" * 600]) == 200
    assert call("/gradio_api/upload", [b"x" * 600, b"x" * 600]) == 413
    assert call("/gradio_api/queue/join", [b"x" * 500], method="GET") == 200


def test_an_upload_cut_off_by_the_cap_leaves_no_file(tmp_path):
    """The cap stops an upload mid-stream by raising from `receive`: Gradio's multipart parser
    deletes the files it has written only for its own error type, which the cap's error is (a
    plain exception once left up to 200 MB behind per request)."""
    import asyncio

    from gradio.route_utils import GradioMultiPartParser
    from starlette.datastructures import Headers
    from starlette.formparsers import MultiPartException

    from ui.limits import _TooLarge

    boundary = "xyz"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"big.mp4\"\r\n"
            "Content-Type: video/mp4\r\n\r\n").encode()

    async def stream():
        yield head + b"x" * 200_000
        yield b"x" * 200_000
        raise _TooLarge("an upload may send at most 0.3 MiB")

    parser = GradioMultiPartParser(Headers({"content-type": f"multipart/form-data; boundary={boundary}"}), stream(),
                                   upload_dir=str(tmp_path), max_file_size=10**9)
    with pytest.raises(MultiPartException, match="at most 0.3 MiB"):
        asyncio.run(parser.parse())
    assert list(tmp_path.iterdir()) == []


def test_a_visitor_receives_no_server_path(client, tmp_path):
    """The result JSON named the upload by Gradio's cache path and a checkpoint by the checkout's
    folder; error messages named server files too. A visitor now gets file and folder names."""
    import tempfile

    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    from explorer.policy import public_message

    video = make_video(tmp_path / "my clip.mp4", 1.0)
    result = client.predict(handle_file(str(video)), "wecl-synth-demo", 0.5, 1, "eq9", api_name="/predict")
    assert result["video"]["path"] == "my clip.mp4" and result["checkpoint"]["id"] == "wecl-synth-demo"
    bad = tmp_path / "not a video.mp4"
    bad.write_bytes(b"no video here" * 100)
    with pytest.raises(AppError) as caught:
        client.predict(handle_file(str(bad)), "", 0.5, 1, "eq9", api_name="/predict")
    assert str(caught.value).startswith("not a video.mp4: ") and tempfile.gettempdir() not in str(caught.value)
    root = tempfile.gettempdir()
    # the downloads the Video tab serves (result JSON, segments CSV) and the views it sends
    from ui.video_tab import run_prediction, update_views

    request = types.SimpleNamespace(session_hash="no-paths-test")
    prediction = run_prediction(str(video), "wecl-synth-demo", 0.5, 2, "eq9", request=request)
    views = update_views(prediction.session, 0.5, 2, "eq9", [], str(video), "wecl-synth-demo", request=request)
    sent = [Path(views.json_file).read_text(), Path(views.csv_file).read_text(), str(views.result_json),
            views.summary, views.notices, str(prediction.result_json)]
    for text in sent:
        assert root not in text and str(ROOT) not in text, text[:300]
    assert public_message(f"{root}/gradio/3f2a/my clip.mp4: damaged (see {ROOT}/checkpoints/x)") == \
        "my clip.mp4: damaged (see x)"
    assert public_message("owner/name@main: no such Hub repo") == "owner/name@main: no such Hub repo"


def test_the_erase_endpoint_answers_what_the_heads_say(client, tmp_path):
    """Issue 22: erase it yourself through the API: the probabilities with segments taken away are
    the heads' on the resampled features; bad segments are sentences."""
    import numpy as np
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    from wecl import faithfulness
    from wecl.inference import load_model, predict

    video = make_video(tmp_path / "erase_api.mp4", 3.0)
    answer = client.predict(handle_file(str(video)), "wecl-synth-demo", "2, 5", "remove", api_name="/erase")
    assert answer["removed"] == [2, 5] and answer["perturbation"] == "remove"
    model = load_model("wecl-synth-demo", device="cpu")
    features = predict(video, model).features
    masks = np.zeros((2, 10), bool)
    masks[1, [2, 5]] = True
    whole, erased = faithfulness.probabilities(faithfulness.heads_scorer(model), features.visual, features.audio, masks)
    assert np.allclose(answer["whole"], whole, atol=1e-6) and np.allclose(answer["erased"], erased, atol=1e-6)
    assert not np.allclose(answer["whole"], answer["erased"])
    with pytest.raises(AppError, match="segments must lie in 0..9"):
        client.predict(handle_file(str(video)), "wecl-synth-demo", "2, 12", "remove", api_name="/erase")
    with pytest.raises(AppError, match="whole numbers"):
        client.predict(handle_file(str(video)), "wecl-synth-demo", "two", "mean", api_name="/erase")
