"""Benchmark `wecl.predict` on a 60 s 720p H.264 file with the paper's backbones (R3D-101 + R2D-50).

    python benchmarks/predict.py [--video FILE] [--device auto|cpu|cuda] [--no-official]

In one run: the backbones in fp32 and in bf16 side by side (stage times, the time the overlap of
decoding and backbones saved, end to end from the file, a theta change), the official-style
pipeline of `benchmarks/official_style.py` on the same model (fp32, as that code runs), and the
peak RSS. Each first prediction starts cold: no cached features, no remembered file hash. The
backbones are randomly initialised: weights do not change the cost. Targets (2-core CPU): end to
end <= 2.5 s, >= 4x the official-style pipeline, theta change <= 20 ms, peak RSS <= 2 GB.
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np


def make_video(path: Path) -> None:
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-t", "60",
         "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(path)],
        check=True,
    )


def peak_rss_mb() -> float:
    with open("/proc/self/status") as handle:
        return next(int(line.split()[1]) for line in handle if line.startswith("VmHWM")) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", default=None, help="a 60 s 720p file (made with ffmpeg if omitted)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--no-official", action="store_true", help="skip the official-style pipeline")
    args = parser.parse_args()

    import torch

    from wecl import WECL, WECLConfig, features, inference
    from wecl import device as devices

    with tempfile.TemporaryDirectory() as tmp:
        from wecl.settings import configure
        configure(cache=tmp)  # a cold disk cache: the first run computes everything
        video = Path(args.video) if args.video else Path(tmp) / "bench720p.mp4"
        if not args.video:
            make_video(video)
        device = devices.resolve_device(args.device)
        torch.manual_seed(0)
        model = WECL(WECLConfig(classes=["anger", "disgust", "fear", "joy", "sadness", "surprise"])).eval().to(device)
        print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
              f"threads {torch.get_num_threads()}, device {device}"
              + (f" ({torch.cuda.get_device_name()})" if device.type == "cuda" else "")
              + f", native bf16: {device.type == 'cuda' or devices.cpu_has_bf16()}")
        print("backbones: 3D ResNet-101 (visual), 2D ResNet-50 (audio); heads d_k = 2048; 2 erasing rounds")

        runs = {}
        for precision in ("fp32", "bf16"):
            model.precision = precision
            # Warm-up: first-call costs (thread pools, cuDNN autotuning) are not per-video costs.
            inference.predict(video, model)
            shutil.rmtree(features.cache_dir(), ignore_errors=True)
            features.cache.clear()
            features.video_hash.clear()  # the file hash is part of a first prediction
            start = time.perf_counter()
            result = inference.predict(video, model, rounds=2)
            total = time.perf_counter() - start
            thetas = []
            for theta in (0.1, 0.3, 0.5, 0.6, 0.8, 0.9, 0.7):
                start = time.perf_counter()
                inference.predict(video, model, theta=theta, rounds=3)
                thetas.append(time.perf_counter() - start)
            runs[precision] = (result, total, sorted(thetas)[len(thetas) // 2])
        fp32, bf16 = runs["fp32"], runs["bf16"]
        stages = list(dict.fromkeys([*fp32[0].json["timings"], *bf16[0].json["timings"]]))
        print("\n| stage | fp32 | bf16 |\n|---|---|---|")
        for stage in stages:
            cells = [f"{r[0].json['timings'][stage] * 1000:.0f} ms" if stage in r[0].json["timings"] else ""
                     for r in (fp32, bf16)]
            print(f"| {stage} | {cells[0]} | {cells[1]} |")
        print(f"| **end to end** (hash, decode, MFCC, backbones, heads) | {fp32[1]:.2f} s | {bf16[1]:.2f} s |")
        print(f"| theta change (cached features, 3 rounds), median | {fp32[2] * 1000:.1f} ms | {bf16[2] * 1000:.1f} ms |")
        a, b = (np.asarray(r[0].json["probabilities"]) for r in (fp32, bf16))
        print(f"bf16 vs fp32 probabilities: max |diff| {np.abs(a - b).max():.4f}")
        if not args.no_official:
            import official_style

            model.precision = "fp32"
            first, change = official_style.timed_run(video, model.cpu() if device.type == "cpu" else model, 0.7)
            best = min(fp32[1], bf16[1])
            print(f"\nofficial-style pipeline (ffmpeg -> JPEG, PIL, librosa, backbones re-run per round, fp32): "
                  f"first prediction {first:.2f} s, theta change {change:.2f} s")
            print(f"speed-up: first prediction {first / best:.1f}x (target >= 4x), theta change {change / bf16[2]:.0f}x")
        print(f"\npeak RSS: {peak_rss_mb():.0f} MB   target <= 2048 MB")
        if device.type == "cuda":
            print(f"peak CUDA memory: {torch.cuda.max_memory_allocated() / 2**20:.0f} MB")


if __name__ == "__main__":
    main()
