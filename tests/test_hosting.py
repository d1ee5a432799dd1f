"""Issue 25, rows 4 and 5, through the real server: what one visitor may take of the disk and of the
queue. Every request here is raw HTTP, as an attacker sends it (no browser, no SSE connection)."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from helpers import free_port

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg to make test videos")


@contextlib.contextmanager
def server():
    """A fresh app (app.create(), `python app.py`'s launch options) on a free port: the limits
    are read when the app is built, so a test that sets one gets a server of its own."""
    import app

    demo = app.create()
    port = free_port()
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True,
                **app.launch_options())
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:  # the predictions joined without an event stream still run: let them end first
        deadline = time.monotonic() + 120
        while (len(demo._queue) or any(demo._queue.active_jobs)) and time.monotonic() < deadline:
            time.sleep(0.2)
        demo.close()


def post(url: str, body: bytes, content_type: str, headers: dict | None = None) -> tuple[int, bytes]:
    """(status, body) of a POST over a plain socket, as an attacker sends it: a server that refuses
    a body closes the connection before reading it, which urllib reports as a broken pipe."""
    host, port = url.split("//")[1].split("/")[0].split(":")
    path = "/" + url.split("//")[1].split("/", 1)[1]
    head = "".join(f"{k}: {v}\r\n" for k, v in {"Host": host, "Content-Type": content_type,
                                                  "Content-Length": len(body), "Connection": "close",
                                                  **(headers or {})}.items())
    with socket.create_connection((host, int(port)), timeout=60) as sock:
        try:
            sock.sendall(f"POST {path} HTTP/1.1\r\n{head}\r\n".encode() + body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before it was all sent: the answer is waiting
        answer = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(65536):
                answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    _, _, payload = rest.partition(b"\r\n\r\n")
    return int(status_line.split()[1]), payload


def upload(url: str, files: dict[str, bytes], headers: dict | None = None) -> tuple[int, bytes]:
    boundary = uuid.uuid4().hex
    body = b"".join(f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{name}\"\r\n"
                    "Content-Type: video/mp4\r\n\r\n".encode() + data + b"\r\n" for name, data in files.items())
    return post(f"{url}gradio_api/upload", body + f"--{boundary}--\r\n".encode(),
                f"multipart/form-data; boundary={boundary}", headers)


def top_level_files(folder: str) -> set[str]:
    return {e.name for e in os.scandir(folder) if e.is_file()} if os.path.isdir(folder) else set()


def test_one_client_may_upload_only_its_hourly_allowance(limits, monkeypatch):
    """Row 4: the 200 MB limit was per file, and one POST carried 5 x 150 MB; every client could
    repeat it. Now an upload's files count together, and each client has an allowance an hour."""

    limits(upload_budget_mb=3)
    with server() as url:
        status, _ = upload(url, {"a.mp4": b"x" * 2**20, "b.mp4": b"x" * 2**20})
        assert status == 200  # two files, 2 MiB together: within the allowance
        status, answer = upload(url, {"c.mp4": b"x" * (2 * 2**20)})
        assert status == 413 and b"the rest of your hourly upload allowance" in answer, answer[:200]
        status, _ = upload(url, {"d.mp4": b"x" * (2**20 // 2)})
        assert status == 200
        status, answer = upload(url, {"e.mp4": b"x" * 2**20})
        assert status == 413, answer[:200]


def test_an_abandoned_upload_leaves_no_file_and_strays_are_never_served(monkeypatch):
    """Row 4: an upload the client cut off left its temporary file (180 MB in the attack) in the
    upload folder for good, and the file route served it. Now the half-written file goes with the
    connection, a stray one (from a crash) is refused by the file route and swept at start."""
    import ui.limits

    folder = ui.limits.upload_folder()
    os.makedirs(folder, exist_ok=True)
    stray = Path(folder) / f"tmp{uuid.uuid4().hex[:8]}"
    stray.write_bytes(b"left by a crash")
    with server() as url:
        before = top_level_files(folder)
        with urllib.request.urlopen(f"{url}config", timeout=30):
            pass
        status = 0
        try:
            urllib.request.urlopen(f"{url}gradio_api/file={stray}", timeout=30)
        except urllib.error.HTTPError as error:
            status = error.code
        assert status == 403

        port = int(url.rsplit(":", 1)[1].strip("/"))
        boundary = "b" * 16
        head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"big.mp4\"\r\n"
                "Content-Type: video/mp4\r\n\r\n").encode()
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(f"POST /gradio_api/upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {50 * 2**20}\r\n"
                         f"Content-Type: multipart/form-data; boundary={boundary}\r\n\r\n".encode() + head)
            for _ in range(40):
                sock.sendall(b"x" * 2**17)
            time.sleep(0.5)
            assert len(top_level_files(folder) - before) == 1  # the upload's temporary file, growing
        deadline = time.monotonic() + 10
        while top_level_files(folder) - before and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not top_level_files(folder) - before, "the abandoned upload's file is still there"

    os.utime(stray, (time.time() - 2 * ui.limits.STRAY_AGE_S,) * 2)
    with server():
        assert not stray.exists(), "a stray upload file survived the start"


def _join(url: str, fn_index: int, session: str, data: list, address: str | None = None) -> tuple[int, str]:
    body = json.dumps({"data": data, "fn_index": fn_index, "session_hash": session, "event_data": None,
                       "trigger_id": None}).encode()
    status, answer = post(f"{url}gradio_api/queue/join", body, "application/json",
                          {"X-Forwarded-For": f"{address}"} if address else None)
    return status, answer.decode(errors="replace")


def _fn_index(url: str, name: str) -> int:
    with urllib.request.urlopen(f"{url}config", timeout=30) as response:
        config = json.loads(response.read())
    return next(d["id"] for d in config["dependencies"] if d.get("api_name") == name)


def _prediction_data(url: str, tmp_path: Path) -> list:
    """The /predict inputs for a video of content no other test has (so that no cached features
    make its prediction instant: the first one must hold the line while the others join)."""
    import random

    from helpers import ffmpeg

    video = tmp_path / "fresh.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=6", "-vf", f"hue=h={random.randint(0, 359)}",
           "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", video)
    status, answer = upload(url, {"fresh.mp4": video.read_bytes()})
    assert status == 200, answer
    path = json.loads(answer)[0]
    return [{"path": path, "meta": {"_type": "gradio.FileData"}, "orig_name": "fresh.mp4"}, "", 0.7, 1, "eq9"]


def test_one_visitor_cannot_fill_the_queue_for_the_others(limits, monkeypatch, tmp_path):
    """Row 5: 33 predictions joined by one client in 0.4 s, with no event stream, gave every event
    of every visitor "Queue is full" (HTTP 503) for about an hour, a checkpoint's info included.
    Now: one prediction waiting or running per session, a cap on predictions alone, and other
    events are never refused for what other visitors do."""

    limits(max_waiting_predictions=3)
    with server() as url:
        predict, info = _fn_index(url, "predict"), _fn_index(url, "on_checkpoint")
        data = _prediction_data(url, tmp_path)
        first = _join(url, predict, "attacker-0", data)
        assert first[0] == 200, first
        again = _join(url, predict, "attacker-0", data)
        assert again[0] == 400 and "one at a time per visitor" in again[1], again
        answers = [_join(url, predict, f"attacker-{i}", data) for i in range(1, 40)]
        refused = [a for a in answers if a[0] != 200]
        # 3 at most at once, the first included (more may pass once the first ones are done)
        assert answers[:2] == [a for a in answers[:2] if a[0] == 200] and answers[2][0] == 400, answers[:3]
        assert all(a[0] == 400 and "the most this server queues" in a[1] for a in refused), refused[:2]
        for i in range(5):  # the cheap event of a visitor who never asked for a prediction
            status, answer = _join(url, info, f"visitor-{i}", ["wecl-synth-demo"])
            assert status == 200, answer


def test_on_a_space_one_address_is_one_visitor(monkeypatch, tmp_path):
    """Row 5 on a Space: sessions cost nothing to make, so the one-prediction rule also holds per
    client address (the one the Space's proxy appends to X-Forwarded-For, not one a client claims)."""
    monkeypatch.setenv("SPACE_ID", "someone/wecl-explorer")
    with server() as url:
        predict = _fn_index(url, "predict")
        data = _prediction_data(url, tmp_path)
        assert _join(url, predict, "one", data, address="203.0.113.7")[0] == 200
        status, answer = _join(url, predict, "two", data, address="203.0.113.7")
        assert status == 400 and "one at a time per visitor" in answer, answer
        status, answer = _join(url, predict, "three", data, address="198.51.100.1, 203.0.113.7")
        assert status == 400, "a forged left-hand X-Forwarded-For entry made a new visitor"
        assert _join(url, predict, "four", data, address="198.51.100.2")[0] == 200


def test_a_file_that_declares_no_packet_count_is_bounded_through_the_server(limits, monkeypatch, tmp_path):
    """Row 9, over HTTP: an MKV (which declares no packet counts) of tiny sound packets was accepted
    whatever its count; packets are now counted as they are demuxed."""
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    from helpers import ffmpeg

    path = tmp_path / "tiny_packets.mkv"  # 3,000 packets a second of sound
    ffmpeg("-f", "lavfi", "-i", "color=size=32x32:rate=5:duration=10", "-f", "lavfi", "-i",
           "anullsrc=r=48000:cl=mono:nb_samples=16", "-t", "10", "-c:v", "libx264", "-preset", "ultrafast",
           "-c:a", "pcm_s16le", path)
    limits(max_packets=20_000)
    with server() as url:
        client = Client(url, verbose=False, download_files=False)
        with pytest.raises(AppError, match="holds more than 20,000 packets"):
            client.predict(handle_file(str(path)), "wecl-synth-demo", 0.5, 1, "eq9", api_name="/predict")
