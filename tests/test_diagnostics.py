"""The attention diagnostics of docs/ablation.md (`wecl.training.diagnostics`) on hand-built attention, and the
feature standardisation that made the audio attention hear (`model.FeatureNorm`)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers import tiny_config
from wecl import checkpoints
from wecl.model import WECL
from wecl.training.diagnostics import audio_content, inside, keyframe_figures, peak_agreement


def test_peak_agreement_against_chance_and_shuffled_pairs():
    visual = np.eye(4)[[0, 1, 2, 3]]  # peaks at 0, 1, 2, 3
    audio = np.eye(4)[[0, 1, 0, 0]]  # peaks at 0, 1, 0, 0: videos 0 and 1 agree
    got = peak_agreement(visual, audio)
    assert got["agree"] == 0.5 and got["chance"] == 0.25
    # other videos' audio peaks: video 0's visual (0) meets 2 of the 3 others (0, 0); video 1's (1) none;
    # video 2's (2) none; video 3's (3) none: 2 of 12 pairs
    assert got["shuffled"] == pytest.approx(2 / 12)


def test_inside_needs_half_a_segment():
    spans = [(0.0, 1.0), (1.0, 2.0), (2.0, 3.0)]
    assert inside(spans, [(0.4, 1.6)]).tolist() == [True, True, False]
    assert inside(spans, [(0.6, 1.4)]).tolist() == [False, False, False]


def test_audio_content_tells_a_positional_pattern_from_hearing():
    spans = [[(float(i), i + 1.0) for i in range(4)]] * 2
    cues = {0: [(0.0, 1.0)], 1: [(2.0, 3.0)]}
    positional = np.array([[1.0, 0.5, 0.0, 0.2]] * 2)  # the same for both videos, whatever they sound like
    heard = np.array([[1.0, 0.0, 0.1, 0.0], [0.0, 0.1, 1.0, 0.0]])  # follows each video's cue
    silent = np.array([[1.0, 0.5, 0.0, 0.2]] * 2)
    deaf, hearing = audio_content(positional, silent, spans, cues), audio_content(heard, silent, spans, cues)
    assert deaf["across"] == 0.0 and deaf["silence"] == 0.0 and hearing["across"] > 0.1
    # inside minus outside: video 0: 1 - 0.7/3, video 1: 1 - 0.1/3 for the hearing one
    assert hearing["cue_gap"] == pytest.approx(((1 - 0.1 / 3) + (1 - 0.1 / 3)) / 2)
    assert deaf["cue_gap"] == pytest.approx(((1 - 0.7 / 3) + (0 - 1.7 / 3)) / 2)


def test_keyframe_figures_count_empty_sets_under_each_rule():
    v = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.2]])
    a = np.array([[0.0, 1.0, 0.5], [0.0, 1.0, 0.3]])
    present = np.array([True, True])
    assert keyframe_figures(v, a, present, 0.7, "eq9") == {"empty": 0.5, "keyframe_share": pytest.approx(1 / 6)}
    assert keyframe_figures(v, a, present, 0.7, "min-joint")["empty"] == 0.0


def test_feature_norm_standardises_with_training_statistics_and_is_saved(tmp_path):
    torch.manual_seed(0)
    model = WECL(tiny_config(feature_norm=True))
    train = torch.randn(20, 10, 64) * 0.02 + 5.0  # tiny variations on a large common vector
    model.heads.norm["audio"].set_statistics(train)
    out = model.heads.norm["audio"](train)
    assert out.mean().abs() < 1e-4 and (out.reshape(-1, 64).std(0) - 1).abs().max() < 1e-3
    checkpoints.save(model, tmp_path / "ckpt")
    again = WECL.from_pretrained(tmp_path / "ckpt")
    assert torch.equal(again.heads.norm["audio"].mean, model.heads.norm["audio"].mean)
    # a config without it (every checkpoint written before it existed) has no such weights
    assert len(WECL(tiny_config()).heads.norm) == 0
