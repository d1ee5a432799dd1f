"""Build the real-face example clips of assets/examples/ (assets/examples/SOURCES.md says where
each picture comes from and its licence).

No real footage that anyone may redistribute can be fetched here, so the clips are made from
public-domain and CC0 photographs that ship inside registry packages, filmed the way a
documentary films a still: slow zooms and pans (a "Ken Burns" move), one shot after another.

    pip download --no-deps scikit-image matplotlib -d /tmp/wheels   # the wheels hold the photos
    python scripts/make_face_examples.py --wheels /tmp/wheels --out assets/examples
    python scripts/make_face_examples.py --wheels /tmp/wheels --out /tmp/more --more   # clips not bundled

Each clip gets a row per expressive shot in OUT/annotations.csv (appended to what is there).
"""
from __future__ import annotations

import argparse
import csv
import zipfile
from pathlib import Path

import av
import cv2
import numpy as np

# picture -> (wheel name prefix, path inside the wheel)
PICTURES = {
    "astronaut": ("scikit_image", "skimage/data/astronaut.png"),  # Eileen Collins, NASA: public domain
    "camera": ("scikit_image", "skimage/data/camera.png"),  # Lav Varshney: CC0
    "rocket": ("scikit_image", "skimage/data/rocket.jpg"),  # SpaceX: public domain
    "coffee": ("scikit_image", "skimage/data/coffee.png"),  # Rachel Michetti: CC0
    "hopper": ("matplotlib", "matplotlib/mpl-data/sample_data/grace_hopper.jpg"),  # US Navy: public domain
}
# The face box of each picture with a face (x, y, w, h in its pixels), where the camera moves to.
FACES = {"astronaut": (177, 66, 95, 95), "hopper": (149, 100, 235, 235), "camera": (175, 91, 113, 113)}
SIZE, FPS = (640, 360), 25

# clip name -> shots: (picture, seconds, zoom from, zoom to, horizontal drift as a share of the
# window, ground-truth label or None). A shot of a face with a label is the clip's ground truth.
BUNDLED = {
    "hopper_then_astronaut": [("hopper", 5.0, 1.0, 1.35, 0.0, None), ("astronaut", 5.0, 1.0, 1.5, 0.15, "joy")],
    "rocket_then_astronaut": [("rocket", 3.2, 1.0, 1.2, -0.2, None), ("astronaut", 4.8, 1.2, 1.7, 0.1, "joy")],
}
MORE = {
    "astronaut_hopper_astronaut": [("astronaut", 3.0, 1.3, 1.6, 0.1, "joy"), ("hopper", 4.0, 1.0, 1.3, 0.0, None),
                                   ("astronaut", 3.0, 1.6, 1.2, -0.1, "joy")],
    "coffee_then_hopper": [("coffee", 4.0, 1.0, 1.3, 0.2, None), ("hopper", 6.0, 1.0, 1.5, -0.1, None)],
    "camera_zoom": [("camera", 8.0, 1.0, 2.0, 0.0, None)],
}


def load_pictures(wheels: Path) -> dict[str, np.ndarray]:
    """The pictures as RGB arrays, read straight from the wheels."""
    pictures = {}
    for name, (prefix, inner) in PICTURES.items():
        wheel = next(iter(sorted(wheels.glob(f"{prefix}-*.whl"))), None)
        if wheel is None:
            raise SystemExit(f"no {prefix} wheel in {wheels}: pip download --no-deps {prefix.replace('_', '-')}")
        with zipfile.ZipFile(wheel) as archive:
            data = np.frombuffer(archive.read(inner), np.uint8)
        picture = cv2.imdecode(data, cv2.IMREAD_COLOR)
        pictures[name] = cv2.cvtColor(picture, cv2.COLOR_BGR2RGB)
    return pictures


def shot_frames(picture: np.ndarray, face, seconds: float, zoom: tuple[float, float], drift: float):
    """The frames of one shot: a window of the output's aspect that zooms towards the face (or the
    centre) and drifts sideways, scaled to SIZE."""
    h, w = picture.shape[:2]
    aspect = SIZE[0] / SIZE[1]
    base_w = min(w, h * aspect)
    cx, cy = (face[0] + face[2] / 2, face[1] + face[3] / 2) if face else (w / 2, h / 2)
    count = round(seconds * FPS)
    for i in range(count):
        t = i / max(1, count - 1)
        z = zoom[0] + (zoom[1] - zoom[0]) * t
        win_w, win_h = base_w / z, base_w / z / aspect
        x = np.clip(cx + drift * win_w * (t - 0.5) - win_w / 2, 0, w - win_w)
        y = np.clip(cy - win_h / 2, 0, h - win_h)
        # sub-pixel window: an affine warp, so the move is smooth
        scale = SIZE[0] / win_w
        matrix = np.array([[scale, 0, -x * scale], [0, scale, -y * scale]], np.float32)
        yield cv2.warpAffine(picture, matrix, SIZE, flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)


def write_clip(path: Path, shots, pictures) -> list[tuple[float, float, str]]:
    """Encode the shots as H.264; returns the ground truth (start, end, label) of its labelled shots."""
    truth, start = [], 0.0
    with av.open(str(path), "w", options={"movflags": "+faststart"}) as container:  # playable while it loads
        stream = container.add_stream("libx264", rate=FPS, options={"crf": "26", "preset": "slow"})
        stream.width, stream.height, stream.pix_fmt = SIZE[0], SIZE[1], "yuv420p"
        for name, seconds, z0, z1, drift, label in shots:
            for rgb in shot_frames(pictures[name], FACES.get(name), seconds, (z0, z1), drift):
                container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
            if label:
                truth.append((round(start, 3), round(start + seconds, 3), label))
            start += seconds
        container.mux(stream.encode())
    return truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wheels", type=Path, required=True, help="folder with the scikit-image and matplotlib wheels")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--more", action="store_true", help="the clips that are not bundled (for checks)")
    args = parser.parse_args()
    pictures = load_pictures(args.wheels)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, shots in (MORE if args.more else BUNDLED).items():
        rows += [(name, *row) for row in write_clip(args.out / f"{name}.mp4", shots, pictures)]
        print(f"wrote {args.out / name}.mp4")
    table = args.out / "annotations.csv"
    new = not table.is_file()
    with open(table, "a", newline="") as handle:
        writer = csv.writer(handle)
        if new:
            writer.writerow(["video", "start", "end", "label"])
        writer.writerows(rows)


if __name__ == "__main__":
    main()
