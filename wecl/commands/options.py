"""Options that several commands share, defined once."""
from __future__ import annotations

from wecl.config import KEYFRAME_RULES

KEYFRAMES_HELP = ("which segments are keyframes (detections are their runs): eq9 (the paper's, A*v and A*a >= theta), "
                  "eq9-fallback, min-joint, sum-joint, per-modality (docs/detection.md), or fused (mean A* >= theta, "
                  "counts every erasing round)")


def add_keyframes(p, default_text: str = "the checkpoint's") -> None:
    p.add_argument("--keyframes", default=None, choices=KEYFRAME_RULES, help=f"{KEYFRAMES_HELP}; default: {default_text}")


PRECISION_HELP = ("backbone precision (default: $WECL_PRECISION, else auto: bf16 on CUDA and on CPUs with AMX or "
                  "AVX-512 BF16, else fp32)")


def add_device(p, precision: bool = True, precision_default: str | None = None, precision_help: str = PRECISION_HELP
               ) -> None:
    """--device, and --precision of the backbones (the default and its help where a command differs)."""
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    if precision:
        p.add_argument("--precision", default=precision_default, choices=["auto", "fp32", "bf16"], help=precision_help)


def add_ray(p, work: str) -> None:
    """--ray [ADDRESS]: run on Ray Data, `work` saying what runs where."""
    p.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                   help=f"run on Ray Data: {work}; ADDRESS of a Ray cluster, or none to start a local Ray "
                        "(needs requirements-ray.txt)")
