"""What a trained model's attention does on a feature store (docs/ablation.md): how often the keyframe
set is empty, whether the visual and audio peaks meet more often than chance, and whether the audio
attention follows the sound at all.

All figures come from one pass of the heads over view 0 of every video (no erasing rounds).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from wecl.config import mask_rule
from wecl.erasing import erase_mask
from wecl.model import WECL


def normalised_attention(model: WECL, table, indices: Sequence[int] | None = None, audio=None
                         ) -> tuple[np.ndarray | None, np.ndarray | None]:
    """A* of eq. 8 (N, T) per modality for the store's videos (view 0); `audio` replaces the stored
    audio features (N, T, C_a), e.g. with those of silence."""
    idx = list(range(len(table.ids))) if indices is None else list(indices)
    v = None if table.visual is None or not model.config.uses_visual else torch.from_numpy(table.visual[idx, 0])
    if model.config.uses_audio:
        a = torch.from_numpy(np.asarray(table.audio[idx] if audio is None else audio, np.float32))
    else:
        a = None
    model.eval()
    with torch.no_grad():
        nv, na = model(v, a).normalised()
    return (None if nv is None else nv.numpy()), (None if na is None else na.numpy())


def keyframe_figures(visual: np.ndarray | None, audio: np.ndarray | None, has_audio: np.ndarray, theta: float,
                     rule: str) -> dict:
    """The share of videos whose keyframe set is empty and the keyframes per video as a share of T."""
    t = lambda x: None if x is None else torch.from_numpy(x)  # noqa: E731
    mask = erase_mask(t(visual), t(audio), theta, torch.from_numpy(has_audio), mask_rule(rule)).numpy()
    return {"empty": float((~mask.any(1)).mean()), "keyframe_share": float(mask.mean())}


def peak_agreement(visual: np.ndarray, audio: np.ndarray) -> dict:
    """How often video i's visual and audio attention peak in one segment, against chance (1/T) and
    against a shuffled baseline: video i's visual peak against every other video j's audio peak."""
    pv, pa = visual.argmax(1), audio.argmax(1)
    n, t = visual.shape
    same = pv[:, None] == pa[None, :]
    shuffled = (same.sum() - np.trace(same)) / max(n * (n - 1), 1)
    return {"agree": float((pv == pa).mean()), "chance": 1.0 / t, "shuffled": float(shuffled)}


def inside(spans: Sequence[tuple[float, float]], cues: Sequence[tuple[float, float]]) -> np.ndarray:
    """Per segment, whether at least half of it lies inside one of the cue spans."""
    out = []
    for start, end in spans:
        covered = sum(max(0.0, min(end, b) - max(start, a)) for a, b in cues)
        out.append(covered >= 0.5 * (end - start))
    return np.array(out, bool)


def audio_content(audio: np.ndarray, silent: np.ndarray, spans: Sequence, cues: Mapping[int, list]) -> dict:
    """Whether the audio attention follows the sound.

    - across / within: the variance of A*_a across videos (per segment, averaged) against within
      videos (per video, averaged). A positional pattern that ignores the sound has across << within.
    - silence: the mean |A*_a(video) - A*_a(silence)| (0: the sound changes nothing).
    - cue gap: per video with audio-cue segments and others, mean A*_a inside minus outside them,
      averaged; `cues` maps a video's row to its audio-cue spans in seconds.
    """
    gaps = []
    for i, spans_i in enumerate(spans):
        mask = inside(spans_i, cues.get(i, []))
        if mask.any() and (~mask).any():
            gaps.append(audio[i][mask].mean() - audio[i][~mask].mean())
    return {"across": float(audio.var(0).mean()), "within": float(audio.var(1).mean()),
            "silence": float(np.abs(audio - silent).mean()),
            "cue_gap": float(np.mean(gaps)) if gaps else float("nan"), "cue_videos": len(gaps)}


def audio_cue_spans(annotations: Mapping, ids: Sequence[str]) -> dict[int, list[tuple[float, float]]]:
    """The synthetic benchmark's spans that carry the sound cue ("audio" or "both"), by store row,
    from its annotations.json (`wecl.training.synth`)."""
    database = annotations.get("database", {})
    return {i: [tuple(s["segment"]) for s in database.get(vid, {}).get("annotations", [])
                if s.get("modality", "both") in ("audio", "both")] for i, vid in enumerate(ids)}
