"""Temporal erasing (paper 3.3): eq. 8 (min-max), eq. 9 (mask) and the other keyframe rules, and
how the keyframes / left segments become a new video of T segments. Eq. 7's attention is in
`wecl.attention`.

Attention tensors are (B, T); features (B, T, C).
"""
from __future__ import annotations

import torch

from wecl.config import MASK_RULES


def minmax_normalise(attention: torch.Tensor) -> torch.Tensor:
    """Eq. 8 per video: (A - min A) / (max A - min A); all zeros (not NaN) when max == min."""
    low = attention.amin(dim=-1, keepdim=True)
    span = attention.amax(dim=-1, keepdim=True) - low
    safe = torch.where(span > 0, span, torch.ones_like(span))
    return torch.where(span > 0, (attention - low) / safe, torch.zeros_like(attention))


# Keyframe (mask) rules: which segments are keyframes (x_k of eq. 12, erased in round 0, detected).
# Each is used identically by the loss and by detection. "eq9" is the paper's; the others decide
# what the paper leaves open (docs/design.md, "keyframes when eq. 9 is empty"):
#   eq9           E_t = 1 iff A*_v,t >= theta and A*_a,t >= theta (eq. 9).
#   eq9-fallback  eq. 9; when that is empty, the one segment that maximises min(A*_v, A*_a).
#   min-joint     m = min(A*_v, A*_a) min-max normalised, E = m >= theta; a flat m takes the
#                 argmax of A*_v + A*_a. Equals eq. 9 when the two peaks coincide, never empty.
#   sum-joint     one joint map, as the official code thresholds it: A*_v + A*_a min-max
#                 normalised, E = that >= theta (0.7 max + 0.3 min of the sum at theta 0.7).
#   per-modality  a mask per modality (Figure 2: "erases the most dominant visual and audio
#                 information"): the loss cuts each modality's features with its own mask;
#                 detection and exploration take their union.


def _argmax_mask(score: torch.Tensor) -> torch.Tensor:
    return torch.zeros_like(score, dtype=torch.bool).scatter_(-1, score.argmax(dim=-1, keepdim=True), True)


def keyframe_masks(
    visual: torch.Tensor | None,
    audio: torch.Tensor | None,
    theta: float,
    audio_present: torch.Tensor | None = None,
    rule: str = "eq9",
) -> tuple[torch.Tensor, torch.Tensor]:
    """(visual mask, audio mask), each (B, T) bool, under `rule` (normalised attention A* in).

    For every rule but "per-modality" the two are one mask. A missing modality (a single-modality
    model, or a video without sound where `audio_present` is False) does not count: the masks then
    follow the modality that is there, whatever the rule.
    """
    if visual is None and audio is None:
        raise ValueError("keyframe_masks needs at least one modality")
    if rule not in MASK_RULES:
        raise ValueError(f"mask rule must be one of {MASK_RULES}, not {rule!r}")
    if visual is None or audio is None:
        mask = (visual if audio is None else audio) >= theta
        return mask, mask
    silent = None if audio_present is None else ~audio_present.bool().view(-1, 1)
    if silent is not None:  # without sound the audio "map" is the visual one: every rule reduces to A*_v >= theta
        audio = torch.where(silent, visual, audio)
    if rule == "per-modality":
        return visual >= theta, audio >= theta
    if rule == "sum-joint":
        mask = minmax_normalise(visual + audio) >= theta
        return mask, mask
    low = torch.minimum(visual, audio)
    if rule == "min-joint":
        joint = minmax_normalise(low)
        flat = joint.amax(dim=-1, keepdim=True) <= joint.amin(dim=-1, keepdim=True)
        mask = torch.where(flat, _argmax_mask(visual + audio), joint >= theta)
        return mask, mask
    mask = (visual >= theta) & (audio >= theta)
    if rule == "eq9-fallback":
        empty = ~mask.any(dim=-1, keepdim=True)
        mask = torch.where(empty, _argmax_mask(low + 1e-6 * (visual + audio)), mask)
    return mask, mask


def erase_mask(
    visual: torch.Tensor | None,
    audio: torch.Tensor | None,
    theta: float,
    audio_present: torch.Tensor | None = None,
    rule: str = "eq9",
) -> torch.Tensor:
    """The keyframes E (B, T) under `rule`: what erasing removes and detection reports. For
    "eq9" that is eq. 9, E_t = 1 iff A*_v,t >= theta and A*_a,t >= theta; for "per-modality" the
    union of the two modalities' masks (`keyframe_masks`)."""
    mask_v, mask_a = keyframe_masks(visual, audio, theta, audio_present, rule)
    return mask_v | mask_a


def resample_indices(keep: torch.Tensor) -> torch.Tensor:
    """Indices (T,) that turn the kept segments of one video, in time order, into T segments.

    Paper 3.3: "the left segments form a new UGV" which goes through the network again. We do that
    on the cached segment features: the kept sequence of n segments is resampled back to length T
    by nearest index (position j takes kept segment floor(j n / T)). The official code does the
    equivalent on frames. If nothing or everything is kept, the original order is returned.
    """
    t = keep.shape[-1]
    kept = torch.nonzero(keep, as_tuple=False).flatten()
    n = kept.numel()
    if n == 0 or n == t:
        return torch.arange(t, device=keep.device)
    return kept[torch.arange(t, device=keep.device) * n // t]


def select_segments(features: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """The new video made of the kept segments: (B, T, C) features, (B, T) bool keep -> (B, T, C)."""
    index = torch.stack([resample_indices(k) for k in keep])  # (B, T)
    return torch.gather(features, 1, index.unsqueeze(-1).expand(-1, -1, features.shape[-1]))


def map_back(values: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Inverse of `select_segments` for one video's (T,) per-segment values: each kept segment gets
    the mean over the positions that were resampled from it; segments not kept get NaN."""
    index = resample_indices(keep)
    out = torch.zeros_like(values).index_add_(0, index, values)
    count = torch.zeros_like(values).index_add_(0, index, torch.ones_like(values))
    return torch.where(count > 0, out / count.clamp(min=1), torch.full_like(values, float("nan")))


def erasing_rounds(
    heads, visual, audio, theta: float, rounds: int, audio_present: bool = True, first=None, rule: str = "eq9"
) -> dict:
    """Run the temporal erasing module round after round on one video's features (1, T, C).

    Round 0 is the full video: its keyframes (eq. 9, or `rule`) are erased in round 0. Round r >= 1 builds
    the video of the segments not erased so far (`select_segments`), runs the heads on it, maps the
    normalised attention back to those original segments (`map_back`) and erases the ones that
    reach theta. It stops early when a round erases nothing or nothing is left.

    Returns the round-0 `HeadOutput` as "output", "erased_round" (T,) with -1 for never erased,
    and "attention": per round, the normalised (visual, audio) attention on the original segments
    (NaN where a segment was already gone). `first` is round 0's output when the caller already
    has it: round 0 does not depend on theta, so a theta change need not run the heads again.
    """
    t, device = (visual if visual is not None else audio).shape[1], (visual if visual is not None else audio).device
    present = torch.tensor([audio_present], device=device)
    erased = torch.full((t,), -1, dtype=torch.long, device=device)
    per_round = []
    output = None
    for r in range(rounds):
        keep = erased < 0
        if not keep.any():
            break
        if r == 0 and first is not None:
            out = first
        else:
            index = keep.unsqueeze(0)
            # Eq. 1's embeddings are row-wise: the erased video's are the full video's, gathered.
            embedded = None if output is None or output.embedded is None else {
                m: type(e)(*(select_segments(t, index) for t in e)) for m, e in output.embedded.items()}
            inputs = [None if f is None else select_segments(f, index) for f in (visual, audio)]
            out = heads(*inputs) if embedded is None else heads(*inputs, embedded=embedded)
        if output is None:
            output = out
        norm_v, norm_a = (None if a is None else map_back(minmax_normalise(a)[0], keep)
                          for a in (out.visual_attention, out.audio_attention))
        per_round.append((norm_v, norm_a))
        # the rule sees only the segments still there (a joint rule normalises over them alone)
        left = keep.nonzero().flatten()
        mask = torch.zeros_like(keep)
        mask[left] = erase_mask(
            None if norm_v is None else norm_v[left].unsqueeze(0),
            None if norm_a is None else norm_a[left].unsqueeze(0),
            theta,
            present,
            rule,
        )[0]
        if not mask.any():
            break
        erased[mask] = r
    return {"output": output, "erased_round": erased, "attention": per_round}
