"""Benchmark what the hosting limits bound: memory and time of a long upload and of large annotation files.

    python benchmarks/limits.py [--skip-hour]

Each case runs in a fresh process (so its peak RSS is its own) and prints seconds and peak RSS:
- `prepare_inputs` on a 1 h video (128x72 testsrc at 5 fps with a 440 Hz tone, made with ffmpeg):
  the sound is decoded into one buffer and its MFCC computed in blocks;
- the worst annotation files: ActivityNet JSON and CSV of tiny segments at 64 MB (with the size
  bound raised to let them in, as before it was lowered) and a JSON at the 16 MB default. Each is
  read with `read_annotations`; the item bound refuses them, after the parse for JSON, at the
  200,001st row for CSV.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import json, resource, sys, time
start = time.perf_counter()
kind, path = sys.argv[1], sys.argv[2]
outcome = "read"
if kind == "video":
    from wecl import WECLConfig, features
    features.prepare_inputs(path, WECLConfig(classes=["a", "b"]))
else:
    from wecl.annotations import read_annotations
    from wecl.errors import WECLError
    try:
        read_annotations(path)
    except WECLError as error:
        outcome = "refused: " + str(error).split(": ", 1)[-1][:70]
print(json.dumps({"seconds": time.perf_counter() - start, "outcome": outcome,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def measure(kind: str, path: Path, env: dict | None = None) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE, kind, str(path)], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, **(env or {})}, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def json_of_tiny_segments(path: Path, size: int) -> None:
    with open(path, "w") as handle:
        handle.write('{"database": {"v": {"annotations": [{"segment":[0,1]}')
        while handle.tell() < size - 100:
            handle.write(',{"segment":[0,1]}')
        handle.write("]}}}")


def csv_of_tiny_segments(path: Path, size: int) -> None:
    with open(path, "w") as handle:
        handle.write("video,start,end,label\n")
        i = 0
        while handle.tell() < size - 100:
            handle.write(f"v{i % 1000},{i % 50},{i % 50 + 1},a\n")
            i += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-hour", action="store_true", help="leave out the 1 h video (made in about 25 s)")
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    print("\n| case | outcome | seconds | peak RSS |\n|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cases = []
        if not args.skip_hour:
            hour = tmp / "hour.mp4"
            subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                            "testsrc=size=128x72:rate=5:duration=3600", "-f", "lavfi", "-i",
                            "sine=frequency=440:sample_rate=44100:duration=3600", "-c:v", "libx264", "-preset",
                            "ultrafast", "-c:a", "aac", "-shortest", str(hour)], check=True)
            cases.append(("1 h video, prepare_inputs", "video", hour, None))
        for name, make, size, env in (
                ("64 MB JSON of tiny segments (bound raised to 64 MB)", json_of_tiny_segments, 64 << 20,
                 {"WECL_MAX_ANNOTATION_MB": "64"}),
                ("64 MB CSV of tiny segments (bound raised to 64 MB)", csv_of_tiny_segments, 64 << 20,
                 {"WECL_MAX_ANNOTATION_MB": "64"}),
                ("16 MB JSON of tiny segments (the default bound)", json_of_tiny_segments, 16 << 20, None)):
            path = tmp / f"{name.split()[2].lower()}-{size >> 20}.{'json' if 'JSON' in name else 'csv'}"
            make(path, size)
            cases.append((name, "annotation", path, env))
        for name, kind, path, env in cases:
            got = measure(kind, path, env)
            print(f"| {name} | {got['outcome']} | {got['seconds']:.2f} | {got['peak_mb']:.0f} MB |")


if __name__ == "__main__":
    main()
