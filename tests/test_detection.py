"""Detections (paper 4.5, docs/design.md#5-detection): by default the maximal runs of eq. 9 keyframes of one pass
over the full video; the fused rule is an option that contains them; erasing rounds > 1 never
change eq. 9 detections."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers import tiny_config
from wecl.detection import keyframe_runs, keyframes
from wecl.inference import Features, explain, predict
from wecl.model import WECL
from wecl.video import VideoInfo

# Hand-built A* on 10 one-second segments, theta 0.7:
#   eq. 9 (both >= 0.7): 1, 2, 5, 7, 8          -> runs [1, 2], [5], [7, 8]
#   fused (mean >= 0.7): the same, plus 9 (0.75) -> runs [1, 2], [5], [7, 9]
#   visual alone (no sound): 1, 2, 4, 5, 7, 8    -> runs [1, 2], [4, 5], [7, 8]
VISUAL = [0.0, 0.9, 0.8, 0.1, 0.75, 0.95, 0.2, 0.9, 1.0, 0.5]
AUDIO = [0.5, 0.8, 0.9, 0.9, 0.2, 0.8, 0.0, 0.95, 0.72, 1.0]
THETA = 0.7


def attention_model(modalities: str = "both") -> WECL:
    """Heads whose normalised attention is channel 0 of the features: eq. 7 with W_2 = e_0 (no
    bias) and W_1 = I gives A = ReLU(2 F[:, 0]) (F' + F'' = 2F with both relations off), and eq. 8
    then gives back the channel itself when it spans [0, 1]."""
    torch.manual_seed(0)
    model = WECL(tiny_config(modalities=modalities, intra=False, inter=False, theta=THETA))
    with torch.no_grad():
        for attention in model.heads.attention.values():
            attention.w2.weight.zero_()
            attention.w2.weight[0, 0] = 1.0
            attention.w2.bias.zero_()
            attention.w1.weight.copy_(torch.eye(10))
            attention.w1.bias.zero_()
    return model.eval()


def hand_features(model: WECL, has_audio: bool = True) -> Features:
    def channel_zero(profile, dim):
        x = np.full((10, dim), 0.01, np.float32)
        x[:, 0] = profile
        return x

    heads = model.heads
    visual = channel_zero(VISUAL, heads.attention["visual"].w2.in_features) if "visual" in heads.attention else None
    audio = channel_zero(AUDIO, heads.attention["audio"].w2.in_features) if "audio" in heads.attention else None
    info = VideoInfo("hand.mp4", 10.0, 25.0, 160, 120, has_audio)
    spans = [(float(i), float(i + 1)) for i in range(10)]
    return Features(info, spans, visual, audio, np.zeros((10, 1, 1, 3), np.uint8))


def spans_of(result: dict) -> list[tuple[float, float]]:
    return [(d["start"], d["end"]) for d in result["detections"]]


def test_eq9_detections_on_hand_built_attention():
    model = attention_model()
    features = hand_features(model)
    for rounds in (1, 2, 3, 4):
        result = explain(features, model, rounds=rounds).json
        assert result["keyframe_rule"] == "eq9"
        assert [s["visual_attention_norm"] for s in result["segments"]] == pytest.approx(VISUAL)
        assert [s["audio_attention_norm"] for s in result["segments"]] == pytest.approx(AUDIO)
        assert spans_of(result) == [(1.0, 3.0), (5.0, 6.0), (7.0, 9.0)], f"rounds={rounds}"
    # score: mean fused A* over the run x the predicted class probability
    first = explain(features, model).json["detections"][0]
    assert first["score"] == pytest.approx(np.mean([(0.9 + 0.8) / 2, (0.8 + 0.9) / 2])
                                           * explain(features, model).json["confidence"])
    fused = explain(features, model, keyframe_rule="fused").json
    assert fused["keyframe_rule"] == "fused"
    assert spans_of(fused) == [(1.0, 3.0), (5.0, 6.0), (7.0, 10.0)]


def test_one_modality_decides_without_sound_or_in_a_single_modality_model():
    model = attention_model()
    silent = explain(hand_features(model, has_audio=False), model).json
    assert spans_of(silent) == [(1.0, 3.0), (4.0, 6.0), (7.0, 9.0)]  # visual A* >= 0.7 alone
    visual_only = attention_model("visual")
    assert spans_of(explain(hand_features(visual_only), visual_only).json) == [(1.0, 3.0), (4.0, 6.0), (7.0, 9.0)]
    audio_only = attention_model("audio")
    # audio A* >= 0.7: 1, 2, 3, 5, 7, 8, 9
    assert spans_of(explain(hand_features(audio_only), audio_only).json) == [(1.0, 4.0), (5.0, 6.0), (7.0, 10.0)]


def test_keyframes_rule_function():
    v, a = np.array(VISUAL), np.array(AUDIO)
    erased = np.where((v >= THETA) & (a >= THETA), 0, -1)
    mask, _ = keyframes("eq9", [(v, a)], erased, THETA)
    assert keyframe_runs(mask) == [(1, 2), (5, 5), (7, 8)]
    mask, scored = keyframes("fused", [(v, a)], erased, THETA)
    assert keyframe_runs(mask) == [(1, 2), (5, 5), (7, 9)]
    assert scored == pytest.approx((v + a) / 2)
    with pytest.raises(Exception, match="keyframe rule"):
        keyframes("mean", [(v, a)], erased, THETA)


def eq9_runs(result: dict, theta: float) -> list[tuple[float, float]]:
    """Eq. 9 by hand on the normalised attention a result reports, as runs in seconds."""
    segs = result["segments"]
    audio = result["video"]["has_audio"]
    mask = [s["visual_attention_norm"] >= theta and (not audio or s["audio_attention_norm"] >= theta) for s in segs]
    return [(segs[a]["start"], segs[b]["end"]) for a, b in keyframe_runs(mask)]


def covered(inner: list[tuple[float, float]], outer: list[tuple[float, float]]) -> bool:
    return all(any(s >= os_ and e <= oe for os_, oe in outer) for s, e in inner)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["av", "silent"])
def test_real_predictions_follow_eq9_at_several_thetas(media, tiny_model, kind):
    features = predict(media(kind), tiny_model).features
    seen = set()
    for theta in (0.0, 0.3, 0.5, 0.7, 0.9, 1.0):
        result = explain(features, tiny_model, theta).json
        expected = eq9_runs(result, theta)
        assert spans_of(result) == expected, f"theta={theta}"
        seen.add(tuple(expected))
        for rounds in (2, 3, 4):  # exploration rounds never change eq. 9 detections
            assert spans_of(explain(features, tiny_model, theta, rounds).json) == expected
        for rounds in (1, 2, 4):  # the fused rule contains every eq. 9 detection
            fused = explain(features, tiny_model, theta, rounds, keyframe_rule="fused").json
            assert covered(expected, spans_of(fused)), f"theta={theta}, rounds={rounds}"
    assert len(seen) > 1  # the thetas gave different detections: the check was not vacuous


def test_unknown_rule_is_a_user_error(tiny_model):
    from wecl.errors import WECLError

    model = attention_model()
    with pytest.raises(WECLError, match="keyframe rule"):
        explain(hand_features(model), model, keyframe_rule="mean")
    with pytest.raises(WECLError, match="keyframe_rule"):
        tiny_config(keyframe_rule="any")
