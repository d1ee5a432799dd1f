"""Options that several commands share, defined once."""
from __future__ import annotations

from wecl.config import KEYFRAME_RULES

KEYFRAMES_HELP = ("which segments are keyframes (detections are their runs): eq9 (the paper's, A*v and A*a >= theta), "
                  "eq9-fallback, min-joint, sum-joint, per-modality (docs/detection.md), or fused (mean A* >= theta, "
                  "counts every erasing round)")


def add_keyframes(p, default_text: str = "the checkpoint's") -> None:
    p.add_argument("--keyframes", default=None, choices=KEYFRAME_RULES, help=f"{KEYFRAMES_HELP}; default: {default_text}")
