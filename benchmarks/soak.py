"""Soak test of the explorer as a public Space sees it: simulated users at once, for minutes.

    python -m benchmarks.soak [--users 8] [--attackers 2] [--seconds 300] [--cache-max-mb 8]

Starts the real app (app.create(), `python app.py`'s launch options) on a free localhost port with
a fresh feature cache limited to --cache-max-mb, then runs --users threads, each with its own
gradio_client, until --seconds have passed. Each user repeatedly picks one of:

- upload:  /predict on a video file (uploaded each time; the first time a video is seen its
           features are computed: decode, MFCC, backbones);
- theta:   /predict on a video already seen, at another theta, rounds and keyframe rule (cached
           features: the heads only, the work of a theta update);
- bad:     /predict on a file that is no video (an error message is the expected answer);
- poll:    one tick of the Dataset tab's timer on a running or finished dataset run (the poll is
           not an API endpoint, so it is called in-process, as Gradio's worker thread would).

Beside them, --attackers threads each repeat, in turn, the attacks of the hosting issue:

- liar:    /predict on a MOV whose header and first frames are 64x64 and whose later frames are
           3000x1 (the answer must be a message);
- body:    a 3 MB JSON body to the queue (must be refused with 413);
- flood:   40 predictions joined from fresh sessions in a burst, with no event stream (one is admitted
           at a time per visitor: another only once it has ended);
- abandon: an upload that declares 100 MB, sends 20 MB and hangs up (no file may stay behind once
           the server has read what was sent; 30 s allowed).

With attackers the app runs as a Space sees it (SPACE_ID set): every user and attacker has an
address of its own in X-Forwarded-For, as the Space's proxy would write it.

Prints requests served and errors per kind (an error on a good request is unexpected), p50/p95
latency per kind, the attacks and how each was answered, the process's RSS over the run, the
feature-cache size and the upload folder's size. Everything stays on 127.0.0.1 and the loop ends
by itself.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def make_media(folder: Path, count: int) -> tuple[list[Path], list[Path]]:
    """`count` distinct short videos with sound, and two files that are no video."""
    folder.mkdir(parents=True, exist_ok=True)
    videos = []
    for i in range(count):
        out = folder / f"clip{i:02d}.mp4"
        subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                        f"testsrc2=size=160x120:rate=25:duration={2 + i % 4}", "-f", "lavfi", "-i",
                        f"sine=f={220 + 40 * i}:duration={2 + i % 4}", "-c:v", "libx264", "-preset", "ultrafast",
                        "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(out)], check=True)
        videos.append(out)
    bad = [folder / "text.mp4", folder / "empty.mov"]
    bad[0].write_text("not a video\n" * 50)
    bad[1].write_bytes(b"")
    return videos, bad


def make_liar(folder: Path) -> Path:
    """A PNG-in-MOV whose header (and first second) says 64x64 while its later frames are 3000x1:
    the frames' packets are copied, never re-encoded."""
    import cv2
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(13):
        picture = np.full((64, 64, 3), 100, np.uint8) if i < 10 else np.tile(np.uint8([0, 255, 0]), (1, 3000, 1))
        cv2.imwrite(str(folder / f"f{i:03d}.png"), picture)
    out = folder / "liar.mov"
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-framerate", "10", "-i",
                    str(folder / "f%03d.png"), "-c:v", "copy", str(out)], check=True)
    return out


def raw_post(url: str, path: str, body: bytes, headers: dict, send_only: int | None = None, answer: bool = False):
    """POST over a plain socket, as an attacker sends it; the status (0: no answer), or with
    `answer` (status, body text). With `send_only`, only that many bytes of the body are sent
    before hanging up."""
    import socket

    host, port = url.split("//")[1].strip("/").split(":")
    head = "".join(f"{k}: {v}\r\n" for k, v in {"Host": host, "Content-Length": len(body), "Connection": "close",
                                                  **headers}.items())
    with socket.create_connection((host, int(port)), timeout=60) as sock:
        try:
            sock.sendall(f"POST {path} HTTP/1.1\r\n{head}\r\n".encode() + body[:send_only])
            if send_only is not None:
                return (0, "") if answer else 0
        except OSError:
            pass  # refused before it was all sent: the answer is waiting
        reply = b""
        try:
            while chunk := sock.recv(65536):
                reply += chunk
        except OSError:
            pass
    try:
        status = int(reply.split(b" ", 2)[1])
    except (IndexError, ValueError):
        status = 0
    return (status, reply.partition(b"\r\n\r\n")[2].decode(errors="replace")) if answer else status


def top_level(folder: Path) -> set[str]:
    """The files at the top of Gradio's upload folder: uploads in progress (finished ones have a folder each)."""
    return {p.name for p in folder.iterdir() if p.is_file()} if folder.is_dir() else set()


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--attackers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--videos", type=int, default=24)
    parser.add_argument("--cache-max-mb", type=float, default=8)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="wecl-soak-"))
    os.environ["WECL_CACHE"] = str(work / "cache")
    os.environ["WECL_CACHE_MAX"] = str(args.cache_max_mb)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.attackers:  # as a Space: the fairness rules hold per client address
        os.environ["SPACE_ID"] = "soak/wecl-explorer"
        os.environ["WECL_DATASET_ROOTS"] = str(work)
    import httpx
    import psutil
    import torch
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    import app
    from explorer import dataset_run
    from ui import dataset_tab
    from wecl import features
    from wecl.training.synth import generate

    videos, bad = make_media(work / "media", args.videos)
    liar = make_liar(work / "liar")
    dataset = work / "dataset"
    generate(dataset, 8, seed=5, duration_range=(3.0, 5.0), size=(160, 120))
    demo = app.create()
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True, **app.launch_options())
    url = f"http://127.0.0.1:{port}/"
    token = dataset_tab.start_dataset(str(dataset), None, "", "")[0]

    process = psutil.Process()
    cache = features.cache_dir()
    from ui.limits import upload_folder

    uploads = Path(upload_folder())
    start_rss, start_cache, start_uploads = process.memory_info().rss, folder_bytes(cache), folder_bytes(uploads)
    peak = [start_rss]
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, list[str]] = defaultdict(list)
    seen: set[Path] = set()
    lock = threading.Lock()
    stop_at = time.monotonic() + args.seconds

    def user(index: int) -> None:
        rng = random.Random(index)
        client = Client(url, verbose=False, download_files=False, headers={"X-Forwarded-For": f"10.0.1.{index}"})
        while time.monotonic() < stop_at:
            kind = rng.choices(["upload", "theta", "bad", "poll"], weights=[25, 45, 10, 20])[0]
            with lock:
                known = sorted(seen)
            if kind == "theta" and not known:
                kind = "upload"
            began = time.perf_counter()
            try:
                if kind == "upload":
                    video = rng.choice(videos)
                    client.predict(handle_file(str(video)), "", 0.5, 1, "eq9", api_name="/predict")
                    with lock:
                        seen.add(video)
                elif kind == "theta":
                    client.predict(handle_file(str(rng.choice(known))), "", round(rng.random(), 2), rng.randint(1, 4),
                                   rng.choice(["eq9", "fused"]), api_name="/predict")
                elif kind == "bad":
                    try:
                        client.predict(handle_file(str(rng.choice(bad))), "", 0.5, 1, "eq9", api_name="/predict")
                        raise RuntimeError("a file that is no video was accepted")
                    except AppError as error:
                        if "Unexpected error" in str(error):
                            raise
                else:
                    dataset_tab.poll_dataset(token)
            except Exception as error:  # noqa: BLE001 - counted and reported, never fatal
                with lock:
                    errors[kind].append(f"{type(error).__name__}: {str(error)[:120]}")
            with lock:
                latencies[kind].append(time.perf_counter() - began)

    attacks: dict[str, list[str]] = defaultdict(list)  # kind -> how each was answered ("ok ..." or "UNEXPECTED ...")
    flood_admitted: list[int] = []  # per flood of 40 joins, how many were admitted

    def attacker(index: int) -> None:
        address = {"X-Forwarded-For": f"10.0.2.{index}"}
        client = Client(url, verbose=False, download_files=False, headers=address)
        predict = next(d["id"] for d in client.config["dependencies"] if d.get("api_name") == "predict")
        kinds = ["liar", "body", "flood", "abandon"]
        turn = index
        while time.monotonic() < stop_at:
            kind = kinds[turn % len(kinds)]
            turn += 1
            try:
                outcome = attack(kind, client, predict, address)
            except Exception as error:  # noqa: BLE001 - counted and reported, never fatal
                outcome = f"UNEXPECTED: {type(error).__name__}: {str(error)[:80]}"
            with lock:
                attacks[kind].append(outcome)
            time.sleep(1)

    def attack(kind: str, client, predict: int, address: dict) -> str:
        """One attack; how the server answered ("ok: …" when as it should)."""
        if kind == "liar":
            for _ in range(60):  # refused at the door while the flood's admitted prediction still waits: again
                try:
                    client.predict(handle_file(str(liar)), "", 0.5, 1, "eq9", api_name="/predict")
                    return "UNEXPECTED: accepted"
                except AppError as error:
                    return "ok: a message" if "too elongated" in str(error) else f"UNEXPECTED: {str(error)[:80]}"
                except httpx.HTTPStatusError as error:
                    if "one at a time per visitor" not in error.response.text:
                        return f"UNEXPECTED: {error.response.text[:80]}"
                    time.sleep(1)
            return "UNEXPECTED: refused for 60 s"
        if kind == "body":
            status = raw_post(url, "/gradio_api/queue/join", b'{"data": ["' + b"x" * 3_000_000 + b'"]}',
                              {"Content-Type": "application/json", **address})
            return "ok: 413" if status == 413 else f"UNEXPECTED: {status}"
        if kind == "flood":  # a join is admitted only once the attacker's previous prediction has ended
            answers = []
            for _ in range(40):
                body = json.dumps({"data": [None, "", 0.5, 1, "eq9"], "fn_index": predict, "trigger_id": None,
                                   "session_hash": uuid.uuid4().hex, "event_data": None}).encode()
                answers.append(raw_post(url, "/gradio_api/queue/join", body, {"Content-Type": "application/json",
                                                                               **address}, answer=True))
            admitted = sum(status == 200 for status, _ in answers)
            wrong = [text for status, text in answers if status != 200 and "one at a time per visitor" not in text]
            with lock:
                flood_admitted.append(admitted)
            return f"ok: {admitted} of 40 admitted, one at a time" if not wrong else f"UNEXPECTED: {wrong[0][:80]}"
        before = top_level(uploads)
        boundary = uuid.uuid4().hex
        head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"big.mp4\"\r\n"
                "Content-Type: video/mp4\r\n\r\n").encode()
        raw_post(url, "/gradio_api/upload", head + b"\0" * (100 * 2**20),
                 {"Content-Type": f"multipart/form-data; boundary={boundary}", **address}, send_only=20 * 2**20)
        waited = time.monotonic()  # the server reads what was sent before it sees the hang-up
        while (left := top_level(uploads) - before) and time.monotonic() - waited < 30:
            time.sleep(0.5)
        return "ok: no file left" if not left else f"UNEXPECTED: {len(left)} file(s) left after 30 s"

    timeline: list[tuple[float, int, int]] = []  # (seconds, RSS, upload folder bytes) every tenth of the run

    def sample() -> None:
        began, step = time.monotonic(), args.seconds / 10
        while time.monotonic() < stop_at + 5:
            rss = process.memory_info().rss
            peak[0] = max(peak[0], rss)
            if time.monotonic() - began >= step * len(timeline):
                timeline.append((time.monotonic() - began, rss, folder_bytes(uploads)))
            time.sleep(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    threads = [threading.Thread(target=user, args=(i,)) for i in range(args.users)]
    threads += [threading.Thread(target=attacker, args=(i,)) for i in range(args.attackers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    end_rss, end_cache, end_uploads = process.memory_info().rss, folder_bytes(cache), folder_bytes(uploads)
    demo.close()
    run = dataset_run.get_run(token)
    while run is not None and not run.finished:
        time.sleep(0.1)

    print(f"{args.users} users and {args.attackers} attackers for {args.seconds:.0f} s on {url} "
          f"({os.cpu_count()} CPUs, torch threads "
          f"{torch.get_num_threads()}); feature cache limit {args.cache_max_mb:g} MB")
    print(f"{'request':8} {'served':>7} {'errors':>7} {'p50 ms':>8} {'p95 ms':>8}")
    total = 0
    for kind in ("upload", "theta", "bad", "poll"):
        values = sorted(latencies[kind])
        total += len(values)
        if not values:
            continue
        p95 = values[min(len(values) - 1, int(0.95 * len(values)))]
        print(f"{kind:8} {len(values):7d} {len(errors[kind]):7d} {1000 * statistics.median(values):8.0f} {1000 * p95:8.0f}")
    unexpected = sum(len(v) for v in errors.values())
    print(f"requests served: {total}; unexpected errors: {unexpected}")
    for kind, messages in errors.items():
        for message in messages[:3]:
            print(f"  {kind}: {message}")
    for kind, outcomes in attacks.items():
        bad_answers = [o for o in outcomes if o.startswith("UNEXPECTED")]
        unexpected += len(bad_answers)
        answers = Counter(o.split(",")[0] if o.startswith("ok") else o for o in outcomes)
        print(f"attack {kind:8} {len(outcomes):4d} made, {len(bad_answers)} unexpected answers: "
              + "; ".join(f"{n} x {answer}" for answer, n in answers.most_common(3)))
    if flood_admitted:
        print(f"floods of 40 joins: {min(flood_admitted)}-{max(flood_admitted)} admitted "
              f"(mean {statistics.mean(flood_admitted):.1f}), each only after the attacker's previous prediction ended")
    mb = 2 ** 20
    print(f"RSS: start {start_rss / mb:.0f} MB, end {end_rss / mb:.0f} MB, peak {peak[0] / mb:.0f} MB")
    print("RSS over the run: " + ", ".join(f"{t:.0f} s {rss / mb:.0f} MB" for t, rss, _ in timeline))
    print("upload folder over the run: " + ", ".join(f"{t:.0f} s {disk / mb:.1f} MB" for t, _, disk in timeline)
          + f"; start {start_uploads / mb:.1f} MB, end {end_uploads / mb:.1f} MB")
    print(f"feature cache: start {start_cache / mb:.1f} MB, end {end_cache / mb:.1f} MB "
          f"(limit {args.cache_max_mb:g} MB)")
    shutil.rmtree(work, ignore_errors=True)
    return 1 if unexpected else 0


if __name__ == "__main__":
    raise SystemExit(main())
