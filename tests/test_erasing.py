"""Eq. 7-9 and the "left segments form a new UGV" resampling, worked by hand."""
import math

import pytest
import torch

from wecl.attention import TemporalAttention
from wecl.erasing import (
    erase_mask,
    erasing_rounds,
    map_back,
    minmax_normalise,
    resample_indices,
    select_segments,
)
from wecl.model import HeadOutput

# ---- eq. 8 -------------------------------------------------------------------------------------

def test_minmax_by_hand():
    out = minmax_normalise(torch.tensor([[1.0, 2.0, 3.0]]))
    assert torch.allclose(out, torch.tensor([[0.0, 0.5, 1.0]]))


def test_minmax_is_per_video():
    a = torch.tensor([[1.0, 2.0, 3.0], [10.0, 0.0, 5.0]])
    out = minmax_normalise(a)
    assert torch.allclose(out, torch.tensor([[0.0, 0.5, 1.0], [1.0, 0.0, 0.5]]))


@pytest.mark.parametrize("value", [0.0, 0.3, 7.0])
def test_minmax_constant_attention_is_zero_not_nan(value):
    out = minmax_normalise(torch.full((2, 10), value))
    assert not torch.isnan(out).any()
    assert torch.equal(out, torch.zeros(2, 10))


def test_minmax_constant_row_next_to_normal_row():
    out = minmax_normalise(torch.tensor([[0.0, 0.0, 0.0], [0.0, 4.0, 2.0]]))
    assert torch.equal(out[0], torch.zeros(3))
    assert torch.allclose(out[1], torch.tensor([0.0, 1.0, 0.5]))


# ---- eq. 9 -------------------------------------------------------------------------------------

def test_erase_mask_needs_both_modalities():
    v = torch.tensor([[0.9, 0.9, 0.1, 0.1, 0.7]])
    a = torch.tensor([[0.9, 0.1, 0.9, 0.1, 0.7]])
    assert erase_mask(v, a, 0.7).tolist() == [[True, False, False, False, True]]


def test_erase_mask_threshold_is_inclusive():
    v = torch.tensor([[0.5, 0.5 - 1e-6, 1.0]])
    a = torch.tensor([[0.5, 1.0, 0.5]])
    assert erase_mask(v, a, 0.5).tolist() == [[True, False, True]]


def test_erase_mask_theta_zero_and_one():
    v = torch.tensor([[0.0, 0.3, 1.0]])
    a = torch.tensor([[0.0, 1.0, 1.0]])
    assert erase_mask(v, a, 0.0).all()
    assert erase_mask(v, a, 1.0).tolist() == [[False, False, True]]


def test_erase_mask_single_modality_follows_it():
    x = torch.tensor([[0.8, 0.2, 0.7]])
    assert erase_mask(x, None, 0.7).tolist() == [[True, False, True]]
    assert erase_mask(None, x, 0.7).tolist() == [[True, False, True]]
    with pytest.raises(ValueError):
        erase_mask(None, None, 0.7)


def test_erase_mask_absent_audio_does_not_veto():
    v = torch.tensor([[0.9, 0.2, 0.8], [0.9, 0.2, 0.8]])
    a = torch.tensor([[0.0, 0.0, 0.9], [0.0, 0.0, 0.9]])
    present = torch.tensor([True, False])
    mask = erase_mask(v, a, 0.7, audio_present=present)
    assert mask[0].tolist() == [False, False, True]  # audio there: both must reach theta
    assert mask[1].tolist() == [True, False, True]  # no audio: visual alone decides


# ---- resampling the left segments into a new video ----------------------------------------------

def test_resample_indices_by_hand():
    keep = torch.zeros(10, dtype=torch.bool)
    keep[[1, 4, 7]] = True
    expected = [[1, 4, 7][math.floor(j * 3 / 10)] for j in range(10)]
    assert expected == [1, 1, 1, 1, 4, 4, 4, 7, 7, 7]
    assert resample_indices(keep).tolist() == expected


def test_resample_indices_keeps_time_order_and_covers_every_kept_segment():
    keep = torch.tensor([True, False, True, True, False, False, True, False, True, True])
    index = resample_indices(keep).tolist()
    assert index == sorted(index)
    assert set(index) == {0, 2, 3, 6, 8, 9}


@pytest.mark.parametrize("value", [False, True])
def test_resample_nothing_or_everything_kept_is_original_order(value):
    keep = torch.full((10,), value)
    assert resample_indices(keep).tolist() == list(range(10))


def test_select_segments_gathers_per_video():
    t, c = 10, 4
    features = torch.arange(2 * t * c, dtype=torch.float32).view(2, t, c)
    keep = torch.zeros(2, t, dtype=torch.bool)
    keep[0, [1, 4, 7]] = True
    keep[1, 9] = True
    out = select_segments(features, keep)
    assert out.shape == (2, t, c)
    for j, i in enumerate([1, 1, 1, 1, 4, 4, 4, 7, 7, 7]):
        assert torch.equal(out[0, j], features[0, i])
    for j in range(t):
        assert torch.equal(out[1, j], features[1, 9])


def test_select_segments_nothing_or_all_kept_is_identity():
    features = torch.randn(2, 10, 3)
    keep = torch.tensor([[False] * 10, [True] * 10])
    assert torch.equal(select_segments(features, keep), features)


def test_map_back_inverts_select_segments():
    keep = torch.zeros(10, dtype=torch.bool)
    keep[[1, 4, 7]] = True
    features = torch.randn(1, 10, 1)
    resampled = select_segments(features, keep[None])[0, :, 0]  # each position holds its source's value
    back = map_back(resampled, keep)
    assert torch.allclose(back[keep], features[0, keep, 0])
    assert torch.isnan(back[~keep]).all()


def test_map_back_averages_positions_by_hand():
    keep = torch.zeros(10, dtype=torch.bool)
    keep[[1, 4, 7]] = True
    values = torch.arange(10, dtype=torch.float32)  # positions 0-3 -> 1, 4-6 -> 4, 7-9 -> 7
    back = map_back(values, keep)
    assert back[1].item() == pytest.approx(1.5)
    assert back[4].item() == pytest.approx(5.0)
    assert back[7].item() == pytest.approx(8.0)


def test_map_back_everything_kept_is_identity():
    values = torch.randn(10)
    assert torch.allclose(map_back(values, torch.ones(10, dtype=torch.bool)), values)


# ---- eq. 7 -------------------------------------------------------------------------------------

def test_temporal_attention_by_hand():
    att = TemporalAttention(channels=2, segments=3)
    w1 = torch.tensor([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.0, 0.0, -1.0]])
    with torch.no_grad():
        att.w2.weight.copy_(torch.tensor([[1.0, -2.0]]))
        att.w2.bias.fill_(0.5)
        att.w1.weight.copy_(w1)
        att.w1.bias.copy_(torch.tensor([0.0, 1.0, 0.0]))
    x = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [2.0, 1.0]]])  # (B=1, T=3, C=2)
    s = torch.tensor([1.0 * 1 + 0.5, -2.0 + 0.5, 2.0 - 2.0 + 0.5])  # W_2 per segment: 1.5, -1.5, 0.5
    expected = torch.relu(w1 @ s + torch.tensor([0.0, 1.0, 0.0]))  # [1.5, 1.0, -0.5 -> 0]
    assert torch.allclose(expected, torch.tensor([1.5, 1.0, 0.0]))
    assert torch.allclose(att(x), expected[None])


def test_temporal_attention_relu_clips_negatives():
    att = TemporalAttention(channels=3, segments=4)
    with torch.no_grad():
        att.w2.weight.fill_(-1.0)
        att.w2.bias.zero_()
    out = att(torch.ones(2, 4, 3))
    assert out.shape == (2, 4)
    assert torch.equal(out, torch.zeros(2, 4))


def test_temporal_attention_starts_as_identity_over_segments():
    att = TemporalAttention(channels=5, segments=6)
    x = torch.randn(2, 6, 5)
    assert torch.allclose(att(x), torch.relu(att.w2(x).squeeze(-1)))


# ---- erasing rounds -----------------------------------------------------------------------------

class FixedAttention:
    """Stand-in heads whose attention for a segment is its feature value (features (1, T, 1)), so
    what each round sees is known by hand; it records the features it was called with."""

    def __init__(self):
        self.calls = []

    def __call__(self, visual, audio):
        self.calls.append((visual, audio))
        v = None if visual is None else visual[..., 0]
        a = None if audio is None else audio[..., 0]
        return HeadOutput(torch.zeros(1, 2), v, a)


def _feats(values):
    return torch.tensor(values, dtype=torch.float32).view(1, -1, 1)


def test_erasing_round_zero_is_eq_9_on_full_video():
    heads = FixedAttention()
    v = _feats([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])  # normalised: i / 9
    a = _feats([9, 9, 9, 0, 0, 0, 9, 9, 9, 9])
    out = erasing_rounds(heads, v, a, theta=0.7, rounds=1)
    # visual >= 0.7 at i >= 7 (7/9 = 0.78); audio high everywhere but 3-5
    assert out["erased_round"].tolist() == [-1] * 7 + [0, 0, 0]
    assert torch.equal(heads.calls[0][0], v)  # round 0 sees the full video
    norm_v, norm_a = out["attention"][0]
    assert torch.allclose(norm_v, torch.arange(10) / 9.0)
    assert out["output"].visual_attention is not None


def test_erasing_rounds_numbers_and_only_erase_what_is_left():
    heads = FixedAttention()
    v = _feats([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    out = erasing_rounds(heads, v, None, theta=0.7, rounds=3)
    erased = out["erased_round"].tolist()
    # round 0: 7, 8, 9 (>= 7/9). round 1 sees 0..6 resampled: normalised i/6, erases 5, 6 (>= 0.7
    # means i >= 4.2). round 2 sees 0..4: normalised i/4, erases 3, 4 (i >= 2.8).
    assert erased == [-1, -1, -1, 2, 2, 1, 1, 0, 0, 0]
    assert len(out["attention"]) == 3
    # round 1's features are those of segments 0..6 only, resampled to T
    seen = heads.calls[1][0][0, :, 0]
    assert set(seen.tolist()) == {0, 1, 2, 3, 4, 5, 6}
    # attention mapped back: segments already gone are NaN
    norm_v1, _ = out["attention"][1]
    assert torch.isnan(norm_v1[7:]).all()
    assert torch.allclose(norm_v1[:7], torch.arange(7) / 6.0)
    # the output is round 0's
    assert torch.equal(out["output"].visual_attention, v[..., 0])


def test_erasing_rounds_stop_when_nothing_is_erased():
    heads = FixedAttention()
    v = _feats([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    a = _feats([5] * 10)  # constant audio: normalised all zero, vetoes everything
    out = erasing_rounds(heads, v, a, theta=0.7, rounds=5)
    assert out["erased_round"].tolist() == [-1] * 10
    assert len(heads.calls) == 1 and len(out["attention"]) == 1


def test_erasing_rounds_without_audio_follow_visual():
    heads = FixedAttention()
    v = _feats([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    a = _feats([5] * 10)
    out = erasing_rounds(heads, v, a, theta=0.7, rounds=1, audio_present=False)
    assert out["erased_round"].tolist() == [-1] * 7 + [0, 0, 0]


def test_erasing_rounds_stop_when_nothing_is_left():
    heads = FixedAttention()
    out = erasing_rounds(heads, _feats([0, 1, 2, 3]), None, theta=0.0, rounds=4)
    assert out["erased_round"].tolist() == [0, 0, 0, 0]
    assert len(heads.calls) == 1


def test_erasing_rounds_gather_eq1_embeddings_exactly():
    """Rounds >= 1 gather the full video's Q, K, V (row-wise maps of the segment features) instead
    of recomputing them: the outputs of running the heads on the erased video from scratch, to
    float32 rounding (the matrix products see other rows beside each row)."""
    import dataclasses

    from wecl.config import WECLConfig
    from wecl.erasing import erasing_rounds, select_segments
    from wecl.model import WECLHeads

    torch.manual_seed(3)
    heads = WECLHeads(WECLConfig(classes=["a", "b", "c"], relation_dim=32), 48, 40).eval()
    for p in heads.parameters():  # residual weights start at zero: give every branch some effect
        torch.nn.init.normal_(p, std=0.2)
    visual, audio = torch.randn(1, 10, 48), torch.randn(1, 10, 40)
    fresh = lambda v, a: dataclasses.replace(heads(v, a), embedded=None)  # noqa: E731 - recomputes eq. 1
    with torch.inference_mode():
        full = heads(visual, audio).embedded
        generator = torch.Generator().manual_seed(0)
        for _ in range(20):  # any erased video: gathered embeddings give the heads' own outputs
            keep = torch.rand(1, 10, generator=generator) < 0.6
            inputs = [select_segments(f, keep) for f in (visual, audio)]
            gathered = heads(*inputs, embedded={m: type(e)(*(select_segments(t, keep) for t in e)) for m, e in full.items()})
            computed = heads(*inputs)
            for name in ("logits", "visual_attention", "audio_attention"):
                torch.testing.assert_close(getattr(gathered, name), getattr(computed, name), rtol=1e-5, atol=1e-5)
        rounds_run = 0
        for theta in (0.1, 0.3, 0.5, 0.7):
            got, ref = erasing_rounds(heads, visual, audio, theta, 4), erasing_rounds(fresh, visual, audio, theta, 4)
            assert torch.equal(got["erased_round"], ref["erased_round"]), theta
            rounds_run += len(got["attention"]) - 1
            for pair, ref_pair in zip(got["attention"], ref["attention"]):
                for x, y in zip(pair, ref_pair):
                    torch.testing.assert_close(x, y, rtol=1e-5, atol=1e-5, equal_nan=True)
        assert rounds_run > 0  # some round ran on an erased video
