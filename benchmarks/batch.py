"""Benchmark dataset predictions: videos/s of `batch` in one process and on Ray, against decoding alone.

    python benchmarks/batch.py [--videos DIR] [--count 20] [--device auto|cpu|cuda] [--no-ray]

The videos are realistic in size and codec: 1280x720 H.264 (x264 veryfast, 25 fps, a keyframe
every 10 s) with AAC sound, 30 to 60 s long, moving pictures. They are written with the ffmpeg CLI
(testsrc2), or with PyAV where there is no CLI, once, into --videos when given (reused by later
runs). Each run starts cold (empty feature cache, new results database), with the paper's
backbones (random weights) in the default precision. Decode-only is `features.prepare_inputs`
on every video with the same number of worker threads: the rate the machine can feed the network
at. Targets: Ray's overhead <= 20 % against one process; on a GPU, batch >= 80 % of decode-only.
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def make_video(path: Path, seconds: int, seed: int) -> None:
    if shutil.which("ffmpeg"):
        subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi",
                        "-i", f"testsrc2=size=1280x720:rate=25:duration={seconds}",
                        "-f", "lavfi", "-i", f"sine=frequency={220 + 40 * seed}:sample_rate=44100:duration={seconds}",
                        "-c:v", "libx264", "-preset", "veryfast", "-g", "250", "-pix_fmt", "yuv420p", "-c:a", "aac",
                        "-shortest", str(path)], check=True)
        return
    import av

    rng = np.random.default_rng(seed)
    with av.open(str(path), mode="w") as container:
        video = container.add_stream("libx264", rate=25, options={"preset": "veryfast", "g": "250"})
        video.width, video.height, video.pix_fmt = 1280, 720, "yuv420p"
        sound = container.add_stream("aac", rate=44100, layout="mono")
        base = rng.integers(0, 255, (720, 1280, 3), np.uint8)
        for i in range(seconds * 25):
            frame = np.roll(base, 8 * i, axis=1)
            frame[(i * 7) % 600:(i * 7) % 600 + 120, :, 0] = 255
            container.mux(video.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        t = np.arange(seconds * 44100) / 44100
        wave = (0.3 * np.sin(2 * np.pi * (220 + 40 * seed) * t)).astype(np.float32)
        for start in range(0, len(wave), 1024):
            frame = av.AudioFrame.from_ndarray(wave[None, start:start + 1024], format="fltp", layout="mono")
            frame.sample_rate = 44100
            container.mux(sound.encode(frame))
        container.mux(video.encode(None))
        container.mux(sound.encode(None))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", default=None, help="folder for the test videos (made once, then reused)")
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--workers", type=int, default=2, help="decode threads of the one-process run")
    parser.add_argument("--no-ray", action="store_true")
    args = parser.parse_args()

    import torch

    from wecl import WECL, WECLConfig, features, inference
    from wecl import device as devices
    from wecl import video as video_io
    from wecl.batch import run_batch
    from wecl.results_db import ResultsDB

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.videos or Path(tmp) / "videos")
        folder.mkdir(parents=True, exist_ok=True)
        videos = []
        for i in range(args.count):
            path = folder / f"clip{i:02d}.mp4"
            if not path.exists():
                make_video(path, 30 + (i * 7) % 31, i)
            videos.append(path)
        minutes = sum(video_io.probe(str(p)).duration for p in videos) / 60
        device = devices.resolve_device(args.device)
        precision = devices.resolve_precision("auto", device)
        print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
              f"device {device}" + (f" ({torch.cuda.get_device_name()})" if device.type == "cuda" else "")
              + f", backbones in {precision}")
        print(f"{len(videos)} videos, 1280x720 H.264 + AAC, {minutes:.1f} minutes in all")

        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.workers) as pool:
            list(pool.map(lambda p: features.prepare_inputs(str(p), WECLConfig(classes=["a", "b"])), videos))
        decode_rate = len(videos) / (time.perf_counter() - start)

        torch.manual_seed(0)
        model = WECL(WECLConfig(classes=["anger", "disgust", "fear", "joy", "sadness", "surprise"])).eval().to(device)
        model.precision = precision
        ckpt = Path(tmp) / "ckpt"
        model.save_pretrained(ckpt)  # Ray's actors load it from here
        model = inference.load_model(str(ckpt), device=str(device), precision=precision)
        rows = [(f"decode only (prepare_inputs, {args.workers} threads)", decode_rate, 0.0)]
        runs = [("one process (batch)", lambda db, tick: run_batch(videos, model, db, workers=args.workers,
                                                                      progress=tick))]
        if not args.no_ray:
            from wecl.distributed import connect, run_batch_ray

            connect()  # a local Ray; its start is not counted, its actors' start is
            runs.append(("Ray Data, local (batch --ray)", lambda db, tick: run_batch_ray(videos, model, db,
                                                                                            progress=tick)))
        steady = [decode_rate]
        for name, run in runs:
            from wecl.settings import configure
            configure(cache=str(Path(tmp) / f"cache-{len(rows)}"))
            features.cache.clear()
            db = ResultsDB(Path(tmp) / f"results-{len(rows)}.sqlite")
            times: list[float] = []
            began = time.perf_counter()
            stats = run(db, lambda done, total, what: times.append(time.perf_counter()) if done else None)
            db.close()
            assert stats.computed == len(videos), stats
            rows.append((name, stats.computed / stats.seconds, times[0] - began))
            steady.append((len(times) - 1) / (times[-1] - times[0]))
        print("\n| run | videos/s | vs decode only | first result after | videos/s after the first |\n|---|---|---|---|---|")
        print(f"| {rows[0][0]} | {decode_rate:.3f} | 100% | | |")
        for (name, rate, first), after in zip(rows[1:], steady[1:]):
            print(f"| {name} | {rate:.3f} | {rate / decode_rate:.0%} | {first:.1f} s | {after:.3f} |")
        if len(rows) == 3:
            print(f"\nRay overhead against one process: {rows[1][1] / rows[2][1] - 1:+.0%} in all, "
                  f"{steady[1] / steady[2] - 1:+.0%} after the first result (target <= +20 %)")


if __name__ == "__main__":
    main()
