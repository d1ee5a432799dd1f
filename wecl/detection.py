"""Weakly supervised detection (paper 4.5): keyframes -> maximal runs -> segments in seconds with a score.

Which segments are keyframes is a named rule, part of every result, cache key and figure title:

- "eq9" (the paper's): E_t = 1 iff A*_v,t >= theta and A*_a,t >= theta (eq. 9) on one pass of the
  heads over the full video: exactly the segments erased in round 0, the set the loss of eq. 12
  trains as x_k. A modality that does not count (a video without sound, a single-modality model)
  does not veto. Further erasing rounds never change these detections.
- "eq9-fallback", "min-joint", "sum-joint", "per-modality": the mask rules of
  `wecl.erasing.keyframe_masks`, which decide what eq. 9 leaves open (an empty set); like eq. 9,
  the segments erased in round 0, the set the loss trains as x_k under the same rule.
- "fused": a segment counts when the mean of the modalities' A* reaches theta (so a cue carried
  by one modality alone can be detected), taken from the round that erased it (eq. 9's erasing),
  or from the last round for a segment never erased, and every erased segment counts. With more
  erasing rounds it grows: the rule that says rounds change detections. It always contains the
  eq. 9 keyframes.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from wecl.config import KEYFRAME_RULES
from wecl.errors import WECLError

RULE_TITLES = {
    "eq9": "keyframes: eq. 9 (A*v ≥ θ and A*a ≥ θ)",
    "eq9-fallback": "keyframes: eq. 9, else the peak of min(A*v, A*a)",
    "min-joint": "keyframes: min(A*v, A*a) renormalised ≥ θ",
    "sum-joint": "keyframes: A*v + A*a renormalised ≥ θ (one joint map)",
    "per-modality": "keyframes: A*v ≥ θ or A*a ≥ θ (a mask per modality)",
    "fused": "keyframes: fused (mean A* ≥ θ, every erasing round)",
}
Attention = tuple[np.ndarray | None, np.ndarray | None]  # (visual, audio) A* per segment; NaN: gone


def check_rule(rule: str) -> str:
    if rule not in KEYFRAME_RULES:
        raise WECLError(f"keyframe rule must be one of {', '.join(KEYFRAME_RULES)}, not {rule!r}")
    return rule


def fused_attention(attention: Attention) -> np.ndarray:
    """Per segment, the mean A* of the modalities that count (0 where none is finite)."""
    present = [np.asarray(x, np.float64) for x in attention if x is not None]
    stacked = np.stack(present)
    finite = np.isfinite(stacked)
    total = np.where(finite, stacked, 0.0).sum(0)
    count = finite.sum(0)
    return np.where(count > 0, total / np.maximum(count, 1), 0.0)


def counted(rounds: Sequence[Attention], has_audio: bool) -> list[Attention]:
    """Per round, the attention of the modalities that count for keyframes: the audio counts when
    the video has sound, and is all there is for an audio-only model (whose audio never vetoes)."""
    return [(v, a if has_audio or v is None else None) for v, a in rounds]


def keyframes(rule: str, rounds: Sequence[Attention], erased_round: np.ndarray, theta: float) -> tuple[np.ndarray, np.ndarray]:
    """(keyframe mask (T,), attention (T,) that scores them) under `rule`.

    `rounds`: per erasing round, the normalised attention mapped back to the original segments
    (`erasing.erasing_rounds`' "attention", with None for a modality that does not count);
    `erased_round`: (T,) the round that erased each segment, -1 for never."""
    erased_round = np.asarray(erased_round)
    if check_rule(rule) != "fused":  # a mask rule: the segments erased in round 0 under it
        return erased_round == 0, fused_attention(rounds[0])
    last = len(rounds) - 1
    per_round = [fused_attention(a) for a in rounds]
    fused = np.array([per_round[r if r >= 0 else last][i] for i, r in enumerate(erased_round)], np.float64)
    return (fused >= theta) | (erased_round >= 0), fused


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
