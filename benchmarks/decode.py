"""Frame reading on a 60 s 720p file: PyAV (wecl.video.read_clips) against moviepy's get_frame.

    python benchmarks/decode.py [--video FILE]

Both read the same T x k = 160 frames (10 segments x 16 centred frames) and resize them to
112 px on the short side. The faster one is what `wecl.video` uses.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from predict import make_video


def moviepy_read(path: str, times: list[float]) -> float:
    from moviepy import VideoFileClip

    start = time.perf_counter()
    with VideoFileClip(path, audio=False, target_resolution=(112, None)) as clip:
        for t in times:
            clip.get_frame(min(t, clip.duration - 1e-3))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--video", default=None)
    args = parser.parse_args()
    from wecl.video import clip_times, read_clips, segment_spans

    with tempfile.TemporaryDirectory() as tmp:
        video = args.video or str(Path(tmp) / "bench720p.mp4")
        if not args.video:
            make_video(Path(video))
        read_clips(video, 1, 1)  # warm the file cache
        runs = []
        for _ in range(3):
            start = time.perf_counter()
            clips = read_clips(video, 10, 16)
            runs.append(time.perf_counter() - start)
        times = [t for span in segment_spans(clips.info.duration, 10) for t in clip_times(span, 16, clips.info.fps)]
        mp = [moviepy_read(video, times) for _ in range(2)]
        print(f"PyAV (wecl.video, seek + decode only what is needed): best {min(runs):.2f} s")
        print(f"moviepy get_frame at the same {len(times)} times:          best {min(mp):.2f} s")


if __name__ == "__main__":
    main()
