"""Faithfulness figures where the answer is known by construction (issue 22): hand-made features,
hand-built scorers, and the heads of a real checkpoint on a real video's cached features."""
from __future__ import annotations

import numpy as np
import pytest

from wecl import faithfulness as f
from wecl.errors import WECLError

T = 5
SPANS = [(2.0 * i, 2.0 * (i + 1)) for i in range(T)]


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + np.exp(-x))


def one_segment_features() -> np.ndarray:
    """(T, 1): zero everywhere but segment 3."""
    x = np.zeros((T, 1))
    x[3] = 4.0
    return x


def position_scorer(visual, audio):
    """Class 1's logit is segment 3's feature: the class depends on that position alone."""
    logits = np.stack([np.zeros(len(visual)), visual[:, 3, 0]], axis=1)
    return np.exp(logits) / np.exp(logits).sum(1, keepdims=True)


def content_scorer(visual, audio):
    """Class 1's logit is the largest feature anywhere: content, wherever it sits."""
    logits = np.stack([np.zeros(len(visual)), visual[:, :, 0].max(1)], axis=1)
    return np.exp(logits) / np.exp(logits).sum(1, keepdims=True)


def test_every_perturbation_on_hand_made_features():
    x = np.arange(T, dtype=np.float64)[:, None] * np.array([[1.0, 10.0]])  # (5, 2)
    removed = np.array([False, True, False, True, False])
    # remove: the kept 0, 2, 4 resampled to T by nearest index, as erasing does
    assert np.array_equal(f.perturb(x, removed, "remove"), x[[0, 0, 2, 2, 4]])
    mean = f.perturb(x, removed, "mean")
    assert np.array_equal(mean[[0, 2, 4]], x[[0, 2, 4]]) and np.allclose(mean[[1, 3]], x.mean(0))
    zeros = f.perturb(x, removed, "zeros")
    assert np.array_equal(zeros[[0, 2, 4]], x[[0, 2, 4]]) and not zeros[[1, 3]].any()
    for how in f.PERTURBATIONS:
        assert np.array_equal(f.perturb(x, np.zeros(T, bool), how), x)  # nothing removed: the video itself
    assert not f.perturb(x, np.ones(T, bool), "remove").any()  # nothing left to resample: an empty video
    assert f.perturb(None, removed) is None
    with pytest.raises(WECLError, match="perturbation must be one of"):
        f.perturb(x, removed, "blur")


def test_a_class_that_depends_on_one_segment_alone():
    x = one_segment_features()
    attention = {"fused": [0.1, 0.2, 0.3, 0.9, 0.0]}  # segment 3 first, then 2, 1, 0, 4
    out = f.video_faithfulness(position_scorer, x, None, attention, SPANS, truth=[(6.5, 7.5)], how="zeros",
                               n_random=20, seed=3)
    high = sigmoid(4.0)
    assert out["target"] == 1 and out["p_full"] == pytest.approx(high)
    assert out["leave_one_out"] == pytest.approx([0, 0, 0, high - 0.5, 0])
    assert out["orders"]["leave-one-out"]["order"][0] == 3
    main = out["orders"]["attention: fused"]
    assert main["deletion"] == pytest.approx([high] + [0.5] * T)
    assert main["deletion_auc"] == pytest.approx((high + 0.5 * T - (high + 0.5) / 2) / T)
    assert main["insertion"] == pytest.approx([0.5] + [high] * T)
    assert main["insertion_auc"] == pytest.approx((0.5 + high * T - (0.5 + high) / 2) / T)
    # chronological reaches segment 3 fourth: three steps later than the attention
    assert out["orders"]["chronological"]["deletion"] == pytest.approx([high] * 4 + [0.5] * 2)
    assert out["deletion_gap_to_random"] > 0 and out["insertion_gap_to_random"] > 0
    assert out["hit"] is True  # the most attended segment (3: 6-8 s) lies in ground-truth time


def test_remove_resamples_so_content_not_position_counts():
    """Under `remove` the left segments move: a class read from segment 3's position would change
    whatever is removed, so the by-construction case for it is a class read from content."""
    x = one_segment_features()
    out = f.video_faithfulness(content_scorer, x, None, {"fused": [0, 0, 0, 1, 0]}, SPANS, how="remove", n_random=0)
    assert out["leave_one_out"] == pytest.approx([0, 0, 0, sigmoid(4.0) - 0.5, 0])
    assert "random" not in out["orders"]


def test_comprehensiveness_and_sufficiency_of_the_keyframes():
    x = one_segment_features()
    keyframes = [False, False, False, True, False]
    out = f.video_faithfulness(position_scorer, x, None, {"fused": [0, 0, 0, 1, 0]}, SPANS, keyframes=keyframes,
                               how="zeros", n_random=0)
    high = sigmoid(4.0)
    assert out["comprehensiveness"] == pytest.approx((high - 0.5) / high)  # removing the keyframe loses this share
    assert out["sufficiency"] == pytest.approx(1.0)  # the keyframe alone keeps all of it


def test_random_orders_come_from_the_seed_alone():
    a, b, c = f.random_orders(10, 50, seed=7), f.random_orders(10, 50, seed=7), f.random_orders(10, 50, seed=8)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert all(sorted(o) == list(range(10)) for o in a)
    assert len({tuple(o) for o in a}) > 40  # not one order repeated


def test_auc_and_masks():
    assert f.auc([0.3] * 11) == pytest.approx(0.3)  # a constant curve's area is the constant
    assert f.auc([1.0, 0.0]) == pytest.approx(0.5)
    masks = f.curve_masks([2, 0, 1], 3, "deletion")
    assert masks.tolist() == [[False] * 3, [False, False, True], [True, False, True], [True] * 3]
    assert (f.curve_masks([2, 0, 1], 3, "insertion") == ~masks).all()
    with pytest.raises(WECLError, match="each of the 3 segments once"):
        f.curve_masks([0, 0, 1], 3, "deletion")
    assert f.kendall_tau([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0) and f.kendall_tau([1, 1, 1], [1, 2, 3]) is None


def test_the_heads_of_a_real_checkpoint(media, tiny_model):
    """On a real video's cached features the unperturbed probability is the prediction's own, and
    every curve starts (deletion) or ends (insertion) there."""
    from wecl.inference import predict

    result = predict(media("av"), tiny_model)
    features = result.features
    segments = result.json["segments"]
    attention = {"visual": [s["visual_attention_norm"] for s in segments],
                 "audio": [s["audio_attention_norm"] for s in segments]}
    out = f.video_faithfulness(f.heads_scorer(tiny_model), features.visual, features.audio, attention,
                               features.spans, keyframes=[s["erased_round"] == 0 for s in segments], n_random=10)
    assert out["p_full"] == pytest.approx(result.json["confidence"], abs=1e-5)
    assert result.json["classes"][out["target"]] == result.json["prediction"]
    for name, order in out["orders"].items():
        assert order["deletion"][0] == pytest.approx(out["p_full"], abs=1e-5), name
        assert order["insertion"][-1] == pytest.approx(out["p_full"], abs=1e-5), name
        assert 0.0 <= order["deletion_auc"] <= 1.0 and 0.0 <= order["insertion_auc"] <= 1.0
    assert out["kendall_tau"] is None or -1.0 <= out["kendall_tau"] <= 1.0


def test_dataset_figures_aggregate_the_videos():
    x = one_segment_features()
    good = f.video_faithfulness(position_scorer, x, None, {"fused": [0, 0, 0, 1, 0]}, SPANS, truth=[(6.0, 8.0)],
                                how="zeros", n_random=20)
    bad = f.video_faithfulness(position_scorer, x, None, {"fused": [0, 0, 0, 0, 1]}, SPANS, truth=[(0.0, 1.0)],
                               how="zeros", n_random=20)
    agg = f.dataset_faithfulness({"a": good, "b": bad}, labels={"a": "joy", "b": "anger"})
    assert agg["videos"] == 2 and agg["perturbation"] == "zeros"
    assert set(agg["orders"]) >= {"attention", "loo", "random", "chronological"}
    assert agg["orders"]["attention"]["deletion_auc"] == pytest.approx(
        (good["orders"]["attention: fused"]["deletion_auc"] + bad["orders"]["attention: fused"]["deletion_auc"]) / 2)
    assert agg["attention_beats_random"] == pytest.approx(0.5)  # the first attends segment 3, the second does not
    assert agg["hit_rate"] == pytest.approx(0.5)
    assert set(agg["per_class"]) == {"joy", "anger"} and agg["per_class"]["joy"]["videos"] == 1


def test_evaluate_faithfulness_on_the_command_line(tmp_path):
    """`python -m wecl evaluate --faithfulness --json OUT` writes the keys docs/formats.md names."""
    import json

    from helpers import run_wecl
    from wecl.training.synth import generate

    generate(tmp_path / "data", 4, seed=41, duration_range=(3.0, 4.0))
    out = tmp_path / "ev.json"
    done = run_wecl("evaluate", "--dataset", tmp_path / "data", "--checkpoint", "wecl-synth-demo", "--faithfulness",
                    "--json", out)
    assert done.returncode == 0, done.stderr
    assert "attention beats random" in done.stdout
    faith = json.loads(out.read_text())["faithfulness"]
    assert faith["perturbation"] == "remove" and faith["videos"] == 4
    for order in ("attention", "loo", "random", "chronological"):
        assert 0.0 <= faith["orders"][order]["deletion_auc"] <= 1.0 and 0.0 <= faith["orders"][order]["insertion_auc"] <= 1.0
    assert 0.0 <= faith["attention_beats_random"] <= 1.0 and 0.0 <= faith["hit_rate"] <= 1.0
    assert faith["kendall_tau"] is None or -1.0 <= faith["kendall_tau"] <= 1.0


def test_big_videos_are_scored_in_bounded_batches(monkeypatch):
    """A checkpoint at the config's limits stacks (B, T, C) features for one video's curves: they
    go to the scorer in batches of at most MAX_BATCH_BYTES, with the same answer."""
    x = one_segment_features()
    whole = f.video_faithfulness(position_scorer, x, None, {"fused": [0, 0, 0, 1, 0]}, SPANS, how="zeros", n_random=5)
    sizes = []

    def recording(visual, audio):
        sizes.append(visual.nbytes)
        return position_scorer(visual, audio)

    monkeypatch.setattr(f, "MAX_BATCH_BYTES", 3 * x.size * 4)
    batched = f.video_faithfulness(recording, x, None, {"fused": [0, 0, 0, 1, 0]}, SPANS, how="zeros", n_random=5)
    assert len(sizes) > 10 and max(sizes) <= 3 * x.size * 8  # float64 here: twice the float32 the bound counts
    assert batched["orders"] == whole["orders"] and batched["leave_one_out"] == whole["leave_one_out"]


def test_remove_resamples_exactly_as_erasing_does():
    """`perturb(..., "remove")` keeps its own numpy copy of the resampling formula (it runs ~1,200 times a
    measurement): it must pick the same segments as `erasing.resample_indices` for every mask."""
    import torch

    from wecl.erasing import resample_indices

    rng = np.random.default_rng(3)
    for t in (1, 2, 5, 10, 17, 64):
        x = np.arange(t, dtype=np.float64)[:, None]
        for _ in range(40):
            removed = rng.random(t) < rng.random()
            if removed.all():
                continue
            index = resample_indices(torch.from_numpy(~removed)).numpy()
            assert np.array_equal(f.perturb(x, removed, "remove")[:, 0], index), (t, removed)
