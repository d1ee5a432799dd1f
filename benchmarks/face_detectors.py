"""Face detector candidates for the face backbone: speed, misses and false positives on a 384-px frame.

    python benchmarks/face_detectors.py --images DIR [--runs 30]

DIR holds public-domain / CC0 images that ship inside two wheels (copy them out of an installed package):
  scikit-image: skimage/data/{astronaut,camera,coffee,chelsea,motorcycle_left,brick,grass}.png,
                skimage/data/{rocket,hubble_deep_field}.jpg
  matplotlib:   matplotlib/mpl-data/sample_data/grace_hopper.jpg

Candidates: OpenCV Haar cascades (cv2.data.haarcascades), MediaPipe's legacy face detection (the models inside the
mediapipe<=0.10.21 wheel), dlib's HOG detector (dlib-bin). One that is not importable is reported and skipped.
A detection hits when its centre lies in the face box and the face box's centre lies in it; any other box on a face
image is an extra. Every frame gets the gray border 128 where a transform leaves no pixels.
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import cv2
import numpy as np

LONG = 384
FACES = {  # face box (x, y, w, h) in the original image, drawn by hand
    "astronaut.png": (177, 66, 95, 95),
    "grace_hopper.jpg": (155, 110, 215, 215),
    "camera.png": (178, 100, 78, 95),  # partly turned: the only non-frontal face we have
}
NON_FACES = ["coffee.png", "chelsea.png", "rocket.jpg", "motorcycle_left.png", "hubble_deep_field.jpg",
             "brick.png", "grass.png"]
SIZES = [24, 32, 48, 96]
ANGLES = [-30, -15, 0, 15, 30]


def to_384(bgr: np.ndarray) -> np.ndarray:
    s = LONG / max(bgr.shape[:2])
    return cv2.resize(bgr, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)


def warp(img: np.ndarray, m: np.ndarray, box, size=(LONG, LONG)):
    """Apply the 2x3 affine m to img and box; the box becomes the bounding box of its transformed corners."""
    out = cv2.warpAffine(img, m, size, flags=cv2.INTER_LINEAR, borderValue=(128, 128, 128))
    x, y, w, h = box
    pts = np.array([[x, y, 1], [x + w, y, 1], [x, y + h, 1], [x + w, y + h, 1]], float) @ m.T
    (x0, y0), (x1, y1) = pts.min(0), pts.max(0)
    return out, (x0, y0, x1 - x0, y1 - y0)


def variants(img: np.ndarray, box):
    """(kind, mirrored, frame, face box): the face scaled to SIZES px wide; the 384 frame rotated about the face."""
    for mirror in (False, True):
        im, (x, y, w, h) = img, box
        if mirror:
            im, x = cv2.flip(img, 1), img.shape[1] - x - w
        for size in SIZES:
            s = size / w
            small = cv2.resize(im, None, fx=s, fy=s, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
            t = LONG / 2 - s * (x + w / 2), LONG / 2 - s * (y + h / 2)
            yield (f"{size}px", mirror, *warp(small, np.float32([[1, 0, round(t[0])], [0, 1, round(t[1])]]),
                                              (s * x, s * y, s * w, s * h)))
        s = LONG / max(im.shape[:2])
        base, fb = to_384(im), (s * x, s * y, s * w, s * h)
        for angle in ANGLES:
            m = cv2.getRotationMatrix2D((fb[0] + fb[2] / 2, fb[1] + fb[3] / 2), angle, 1.0)
            yield (f"{abs(angle)}deg", mirror, *warp(base, m, fb, (base.shape[1], base.shape[0])))


def inside(p, b) -> bool:
    return b[0] <= p[0] <= b[0] + b[2] and b[1] <= p[1] <= b[1] + b[3]


def centre(b):
    return b[0] + b[2] / 2, b[1] + b[3] / 2


# ---- candidates: each maps a BGR frame (long side 384) to a list of (x, y, w, h)

def haar(*names: str):
    frontal, *profile = [cv2.CascadeClassifier(cv2.data.haarcascades + n) for n in names]

    def run(c, gray):
        return [tuple(b) for b in c.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(24, 24))]

    def detect(bgr):
        gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        boxes = run(frontal, gray)
        if boxes or not profile:
            return boxes
        boxes = run(profile[0], gray)  # the profile cascade finds one side; its mirror finds the other
        for x, y, w, h in run(profile[0], cv2.flip(gray, 1)):
            b = (gray.shape[1] - x - w, y, w, h)
            if not any(inside(centre(b), o) for o in boxes):
                boxes.append(b)
        return boxes

    return detect


def mediapipe_detector(model_selection: int):
    import mediapipe as mp

    if not hasattr(mp, "solutions"):
        raise ImportError(f"mediapipe {mp.__version__} has no mp.solutions and ships no face model")
    fd = mp.solutions.face_detection.FaceDetection(model_selection=model_selection, min_detection_confidence=0.5)

    def detect(bgr):
        h, w = bgr.shape[:2]
        found = fd.process(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)).detections or []
        rel = [d.location_data.relative_bounding_box for d in found]
        return [(r.xmin * w, r.ymin * h, r.width * w, r.height * h) for r in rel]

    return detect


def dlib_detector(upsample: int):
    import dlib

    hog = dlib.get_frontal_face_detector()

    def detect(bgr):
        rects = hog(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), upsample)
        return [(r.left(), r.top(), r.width(), r.height()) for r in rects]

    return detect


MP_INSTALL = "pip install mediapipe==0.10.21 (the last wheel with mp.solutions and the face models inside)"
CANDIDATES = [  # name, factory, how to install, whether cv2's thread count matters
    ("haar default", lambda: haar("haarcascade_frontalface_default.xml"), "pip install 'opencv-python-headless<5'", 1),
    ("haar alt2", lambda: haar("haarcascade_frontalface_alt2.xml"), "pip install 'opencv-python-headless<5'", 1),
    ("haar default+profile", lambda: haar("haarcascade_frontalface_default.xml", "haarcascade_profileface.xml"),
     "pip install 'opencv-python-headless<5'", 1),
    ("mediapipe short", lambda: mediapipe_detector(0), MP_INSTALL, 0),
    ("mediapipe full", lambda: mediapipe_detector(1), MP_INSTALL, 0),
    ("dlib hog up0", lambda: dlib_detector(0), "pip install dlib-bin", 0),
    ("dlib hog up1", lambda: dlib_detector(1), "pip install dlib-bin", 0),
]


def ms(fn, frame, runs: int) -> float:
    """Median ms of `runs` calls, best of 3 such blocks (the shared 2-core host sometimes takes a core for seconds)."""
    fn(frame)
    blocks = []
    for _ in range(3):
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            fn(frame)
            times.append(time.perf_counter() - start)
        blocks.append(statistics.median(times))
    return 1000 * min(blocks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", required=True, type=Path, help="folder with the images named in the docstring")
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    load = {n: cv2.imread(str(args.images / n), cv2.IMREAD_COLOR) for n in [*FACES, *NON_FACES]}
    if missing := [n for n, im in load.items() if im is None]:
        parser.error(f"missing in {args.images}: {', '.join(missing)}")

    face384, noface384 = to_384(load["astronaut.png"]), to_384(load["coffee.png"])
    hd = cv2.resize(load["coffee.png"], (1280, 720), interpolation=cv2.INTER_AREA)
    hd[:, 280:1000] = cv2.resize(load["astronaut.png"], (720, 720), interpolation=cv2.INTER_AREA)
    hd384 = to_384(hd)
    frames = {n: [v for v in variants(load[n], b)] for n, b in FACES.items()}
    negatives = [to_384(load[n]) for n in NON_FACES]
    negatives += [cv2.rotate(f, cv2.ROTATE_90_CLOCKWISE) for f in negatives]
    threads = cv2.getNumThreads()
    print(f"cv2 {cv2.__version__}, cv2 threads {threads}, median of {args.runs} runs\n")

    speed, hits = [], []
    for name, factory, install, cv2_threads in CANDIDATES:
        try:
            detect = factory()
        except ImportError as exc:
            print(f"{name}: not installed: {install} ({exc})")
            continue
        for n in sorted({threads, 1}, reverse=True) if cv2_threads else [threads]:
            cv2.setNumThreads(n)
            label = name if n == threads else f"{name} @1 thread"
            speed.append((label, ms(detect, face384, args.runs), ms(detect, noface384, args.runs),
                          ms(to_384, hd, args.runs), ms(detect, hd384, args.runs), len(detect(hd384))))
        cv2.setNumThreads(threads)
        row, extra = {}, 0
        for img, vs in frames.items():
            for kind, mirror, frame, box in vs:
                boxes = detect(frame)
                hit = any(inside(centre(b), box) and inside(centre(box), b) for b in boxes)
                extra += sum(not (inside(centre(b), box) and inside(centre(box), b)) for b in boxes)
                group = "camera" if img == "camera.png" else "frontal"
                for key in (kind, "mirrored" if mirror else "as is"):
                    row.setdefault((group, key), []).append(hit)
        fp = [len(detect(f)) for f in negatives]
        hits.append((name, row, extra, sum(fp[:7]), sum(fp[7:])))

    print(f"{'ms per frame':<30}{'384 face':>10}{'384 no face':>12}{'720p->384':>11}{'720p det':>10}{'boxes':>7}")
    for label, a, b, c, d, n in speed:
        print(f"{label:<30}{a:>10.1f}{b:>12.1f}{c:>11.1f}{d:>10.1f}{n:>7}")
    keys = [f"{s}px" for s in SIZES] + ["0deg", "15deg", "30deg", "as is", "mirrored"]
    for group, note in [("frontal", "astronaut + grace_hopper, each also mirrored"),
                        ("camera", "camera.png: partly turned face, also mirrored")]:
        print(f"\nhits, {note} (+-15 and +-30 deg pooled)")
        print(f"{'':<24}" + "".join(f"{k:>9}" for k in keys))
        for name, row, *_ in hits:
            cells = [f"{sum(row[(group, k)])}/{len(row[(group, k)])}" for k in keys]
            print(f"{name:<24}" + "".join(f"{c:>9}" for c in cells))
    n_face = sum(len(v) for v in frames.values())
    print("\nfalse positives: boxes on the 7 non-face images (as is, rotated 90 deg); extra boxes on the face frames")
    print(f"{'':<24}{'as is':>9}{'rot90':>9}{f'{n_face} faces':>10}")
    for name, _, extra, fp, fp90 in hits:
        print(f"{name:<24}{fp:>9}{fp90:>9}{extra:>10}")


if __name__ == "__main__":
    main()
