"""The keyframe rules (docs/detection.md): what each keeps on hand-built attention, and that the loss of
eq. 12 and detection use one and the same mask under every rule."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from test_detection import THETA, attention_model, hand_features, spans_of
from test_model import _hand_resample

from helpers import tiny_config
from wecl.config import MASK_RULES, WECLConfig
from wecl.erasing import erase_mask, keyframe_masks
from wecl.errors import WECLError
from wecl.inference import explain
from wecl.model import WECL


def masks(v, a, theta, rule, present=None):
    mv, ma = keyframe_masks(torch.tensor([v]), torch.tensor([a]), theta, present, rule)
    return [i for i, on in enumerate(mv[0]) if on], [i for i, on in enumerate(ma[0]) if on]


def union(v, a, theta, rule, present=None):
    return [i for i, on in enumerate(erase_mask(torch.tensor([v]), torch.tensor([a]), theta, present, rule)[0]) if on]


# peaks in one segment (2); and peaks apart (visual 0, audio 4), where eq. 9 keeps nothing at 0.7
COINCIDE = ([0.0, 0.2, 1.0, 0.8, 0.1], [0.1, 0.0, 1.0, 0.9, 0.3])
APART = ([1.0, 0.6, 0.0, 0.1, 0.2], [0.0, 0.2, 0.5, 0.1, 1.0])


@pytest.mark.parametrize("rule", ["eq9", "eq9-fallback", "min-joint"])
def test_rules_that_equal_eq9_when_the_peaks_coincide(rule):
    assert union(*COINCIDE, 0.7, rule) == [2, 3]
    assert union(*COINCIDE, 1.0, rule) == [2]
    assert union(*COINCIDE, 0.0, rule) == [0, 1, 2, 3, 4]


def test_each_rule_when_the_peaks_are_apart():
    assert union(*APART, 0.7, "eq9") == []
    # the peak of min(A*v, A*a) = [0, .2, 0, .1, .2]; the tie between 1 and 4 goes to the larger sum
    assert union(*APART, 0.7, "eq9-fallback") == [4]
    # min renormalised: [0, 1, 0, .5, 1]
    assert union(*APART, 0.7, "min-joint") == [1, 4]
    assert union(*APART, 1.0, "min-joint") == [1, 4]
    assert union(*APART, 0.0, "min-joint") == [0, 1, 2, 3, 4]
    # A*v + A*a = [1, .8, .5, .2, 1.2] renormalised: [.8, .6, .3, 0, 1]
    assert union(*APART, 0.7, "sum-joint") == [0, 4]
    # one mask per modality: the loss cuts each modality with its own; detection takes the union
    assert masks(*APART, 0.7, "per-modality") == ([0], [4])
    assert union(*APART, 0.7, "per-modality") == [0, 4]
    for rule in MASK_RULES:
        if rule != "per-modality":
            mv, ma = masks(*APART, 0.7, rule)
            assert mv == ma, rule


def test_flat_attention():
    flat = [0.0] * 5
    assert union(flat, flat, 0.7, "eq9") == []
    assert union(flat, flat, 0.7, "min-joint") == [0]  # nothing to choose between: the argmax of the sum
    assert union(flat, flat, 0.7, "eq9-fallback") == [0]
    # only the audio flat: min is flat, the visual peak decides
    assert union([0.0, 0.3, 1.0, 0.2, 0.0], flat, 0.7, "min-joint") == [2]


@pytest.mark.parametrize("rule", MASK_RULES)
def test_without_sound_every_rule_is_the_visual_map(rule):
    v, a = [0.9, 0.2, 0.75, 0.0, 1.0], [0.0, 1.0, 0.0, 0.0, 0.3]
    present = torch.tensor([False])
    assert union(v, a, 0.7, rule, present) == [0, 2, 4]
    assert keyframe_masks(torch.tensor([v]), None, 0.7, rule=rule)[0][0].tolist() == [True, False, True, False, True]


def test_on_random_maps():
    torch.manual_seed(0)
    v, a = torch.rand(500, 10), torch.rand(500, 10)
    v, a = ((x - x.amin(1, keepdim=True)) / (x.amax(1, keepdim=True) - x.amin(1, keepdim=True)) for x in (v, a))
    eq9 = erase_mask(v, a, 0.7, rule="eq9")
    assert (~eq9.any(1)).sum() > 100, "the test needs empty eq. 9 sets"
    for rule in ("eq9-fallback", "min-joint", "sum-joint", "per-modality"):
        assert erase_mask(v, a, 0.7, rule=rule).any(1).all(), f"{rule} left a video without keyframes"
    fallback = erase_mask(v, a, 0.7, rule="eq9-fallback")
    assert torch.equal(fallback[eq9.any(1)], eq9[eq9.any(1)])
    assert (fallback[~eq9.any(1)].sum(1) == 1).all()
    # where both peaks fall in one segment, min-joint is eq. 9
    same = v.argmax(1) == a.argmax(1)
    assert same.sum() > 20
    assert torch.equal(erase_mask(v[same], a[same], 0.7, rule="min-joint"), eq9[same])


def test_an_unknown_rule_is_refused():
    with pytest.raises(ValueError, match="mask rule"):
        keyframe_masks(torch.rand(1, 3), torch.rand(1, 3), 0.5, rule="union")
    with pytest.raises(WECLError, match="keyframe_rule"):
        WECLConfig(classes=["a", "b"], keyframe_rule="union")


# ---- detection under each rule, on the heads of test_detection (A* = the features' channel 0) --------

@pytest.mark.parametrize("rule, spans", [
    ("eq9", [(1.0, 3.0), (5.0, 6.0), (7.0, 9.0)]),
    ("eq9-fallback", [(1.0, 3.0), (5.0, 6.0), (7.0, 9.0)]),  # eq. 9 is not empty here
    ("min-joint", [(1.0, 3.0), (5.0, 6.0), (7.0, 9.0)]),  # min / 0.9 >= 0.7: the same segments
    ("sum-joint", [(1.0, 3.0), (5.0, 6.0), (7.0, 10.0)]),  # the sum renormalised adds segment 9 (0.79)
    ("per-modality", [(1.0, 6.0), (7.0, 10.0)]),  # visual 1 2 4 5 7 8 or audio 1 2 3 5 7 8 9
])
def test_detections_under_each_rule(rule, spans):
    model = attention_model()
    result = explain(hand_features(model), model, keyframe_rule=rule).json
    assert result["keyframe_rule"] == rule
    assert spans_of(result) == spans
    assert THETA == 0.7


# ---- the loss and detection use one mask --------------------------------------------------------------

@pytest.mark.parametrize("rule", MASK_RULES)
def test_the_loss_and_detection_use_the_same_rule(rule):
    torch.manual_seed(5)
    model = WECL(tiny_config(keyframe_rule=rule, theta=0.6, intra=False, inter=False, dropout=0.0)).eval()
    b, t, c = 6, 10, 64
    visual, audio, labels = torch.randn(b, t, c), torch.randn(b, t, c), torch.tensor([0, 1, 2, 0, 1, 2])
    out = model(visual, audio)
    mask_v, mask_a = keyframe_masks(*out.normalised(), 0.6, rule=rule)
    loss, parts = model.loss(visual, audio, labels)
    ce_k = F.cross_entropy(model(_hand_resample(visual, mask_v), _hand_resample(audio, mask_a)).logits, labels)
    ce_l = F.cross_entropy(model(_hand_resample(visual, ~mask_v), _hand_resample(audio, ~mask_a)).logits, labels)
    assert torch.allclose(parts["keyframes"], ce_k, atol=1e-6) and torch.allclose(parts["left"], ce_l, atol=1e-6)
    assert parts["empty_keyframes"] == int((~(mask_v | mask_a).any(1)).sum())
    # detection on each video: its keyframes (erased in round 0) are the loss's x_k, under the same rule
    for i in range(b):
        features = hand_features(model)
        features.visual, features.audio = visual[i].numpy(), audio[i].numpy()
        features.first_round.clear()
        result = explain(features, model).json
        assert result["keyframe_rule"] == rule
        erased = [s["erased_round"] == 0 for s in result["segments"]]
        assert erased == (mask_v | mask_a)[i].tolist(), f"video {i}"


def test_empty_videos_drop_their_erasing_terms_and_mean_averages():
    torch.manual_seed(1)
    model = WECL(tiny_config(theta=1.0, intra=False, inter=False, dropout=0.0)).eval()  # eq. 9 at 1: mostly empty
    visual, audio, labels = torch.randn(8, 10, 64), torch.randn(8, 10, 64), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    _, parts = model.loss(visual, audio, labels)
    empty = ~model.erase_mask(model(visual, audio)).any(1)
    assert 0 < empty.sum() < 8, "the test needs empty and non-empty videos"
    total, dropped = model.loss(visual, audio, labels, empty="drop")
    kept = ~empty
    ce_k = F.cross_entropy(model(_hand_resample(visual, model.erase_mask(model(visual, audio))),
                                 _hand_resample(audio, model.erase_mask(model(visual, audio)))).logits, labels,
                           reduction="none")
    assert torch.allclose(dropped["keyframes"], (ce_k * kept).sum() / 8, atol=1e-6)
    assert dropped["keyframes"] < parts["keyframes"]
    mean, _ = model.loss(visual, audio, labels, reduction="mean")
    summed, _ = model.loss(visual, audio, labels)
    assert torch.allclose(mean * 3, summed)
