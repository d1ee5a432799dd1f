"""Weakly supervised detection (paper 4.5): keyframe runs -> segments in seconds with a score."""
from __future__ import annotations

import numpy as np


def keyframe_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Maximal runs of consecutive True as (first, last) segment indices, inclusive."""
    runs, start = [], None
    for i, on in enumerate(list(mask) + [False]):
        if on and start is None:
            start = i
        elif not on and start is not None:
            runs.append((start, i - 1))
            start = None
    return runs


def detect(
    spans: list[tuple[float, float]], mask: np.ndarray, attention: np.ndarray, probability: float, label: str
) -> list[dict]:
    """One detection per maximal run of keyframes, spanning its segments' seconds.

    Score = mean fused normalised attention over the run x the predicted class probability: the
    first ranks runs within a video, the second ranks videos against each other in a dataset-wide
    AP (a confident prediction's keyframes before an unsure one's).
    """
    return [
        {
            "start": float(spans[a][0]),
            "end": float(spans[b][1]),
            "score": float(np.mean(attention[a : b + 1]) * probability),
            "label": label,
        }
        for a, b in keyframe_runs(np.asarray(mask, bool))
    ]
