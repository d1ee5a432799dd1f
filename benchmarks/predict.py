"""Benchmark `wecl.predict` on a 60 s 720p H.264 file with the paper's backbones (R3D-101 + R2D-50).

    python benchmarks/predict.py [--video FILE] [--device auto|cpu|cuda]

Prints decode, audio, backbone and head times, the end-to-end time of a first prediction (no
cache), the time of a theta change (cached features), and the peak RSS of the process. The
backbones are randomly initialised: weights do not change the cost. Targets (2-core CPU):
end to end <= 8 s, theta change <= 50 ms, peak RSS <= 3 GB.
"""
from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def make_video(path: Path) -> None:
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-t", "60",
         "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(path)],
        check=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", default=None, help="a 60 s 720p file (made with ffmpeg if omitted)")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()

    import torch

    from wecl import WECL, WECLConfig
    from wecl import inference

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["WECL_CACHE"] = tmp  # a cold disk cache: the first run computes everything
        video = Path(args.video) if args.video else Path(tmp) / "bench720p.mp4"
        if not args.video:
            make_video(video)
        device = inference.resolve_device(args.device)
        torch.manual_seed(0)
        model = WECL(WECLConfig(classes=["anger", "disgust", "fear", "joy", "sadness", "surprise"])).eval().to(device)
        print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
              f"threads {torch.get_num_threads()}, device {device}"
              + (f" ({torch.cuda.get_device_name()})" if device.type == "cuda" else ""))
        print("backbones: 3D ResNet-101 (visual), 2D ResNet-50 (audio); heads d_k = 2048")

        # Warm-up on a 2 s clip: first-call costs (thread pools, cuDNN autotuning) are not per-video costs.
        warm = Path(tmp) / "warm.mp4"
        subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(video), "-t", "2", "-c", "copy", str(warm)], check=True)
        inference.predict(warm, model)

        start = time.perf_counter()
        result = inference.predict(video, model)
        total = time.perf_counter() - start
        for stage, seconds in result.json["timings"].items():
            print(f"  {stage:16s} {seconds * 1000:8.0f} ms")
        print(f"end to end (file hash, decode, MFCC, backbones, heads): {total:.2f} s   target <= 8 s")

        times = []
        for theta in (0.1, 0.3, 0.5, 0.6, 0.8, 0.9, 0.7):
            start = time.perf_counter()
            inference.predict(video, model, theta=theta, rounds=3)
            times.append(time.perf_counter() - start)
        print(f"theta change (cached features, 3 erasing rounds): median {sorted(times)[len(times) // 2] * 1000:.1f} ms, "
              f"max {max(times) * 1000:.1f} ms   target <= 50 ms")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS: {peak:.0f} MB   target <= 3072 MB")
        if device.type == "cuda":
            print(f"peak CUDA memory: {torch.cuda.max_memory_allocated() / 2**20:.0f} MB")


if __name__ == "__main__":
    main()
