"""Backbone precision: bf16 (autocast, channels-last inputs) against fp32 on real decoded videos,
what "auto" picks, and that cached features, stored results and feature stores never mix the two."""
import json

import numpy as np
import pytest
import torch

from helpers import tiny_config
from wecl import checkpoints, device, inference
from wecl.errors import WECLError
from wecl.model import WECL

FEATURE_REL_L2 = 0.01  # bf16 features within 1 % (relative L2) of fp32
PROBABILITY = 0.02  # and class probabilities within 0.02


def rel_l2(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(a))


@pytest.fixture(scope="module")
def resnet18(tmp_path_factory):
    """R3D-18 + R2D-18 at half width: deep enough for bf16 rounding to accumulate as it does in big nets."""
    torch.manual_seed(0)
    model = WECL(tiny_config(visual_depth=18, audio_depth=18, visual_width=0.5, audio_width=0.5, relation_dim=64))
    folder = tmp_path_factory.mktemp("r18")
    checkpoints.save(model, folder)
    return folder


def test_bf16_features_and_probabilities_stay_close_to_fp32(resnet18, media):
    exact = inference.load_model(str(resnet18), device="cpu", precision="fp32")
    fast = inference.load_model(str(resnet18), device="cpu", precision="bf16")
    assert exact is not fast and exact.visual_backbone is fast.visual_backbone  # one backbone, two ways to run it
    for kind in ("av", "short"):
        a, b = inference.predict(media(kind), exact), inference.predict(media(kind), fast)
        assert a.json["checkpoint"]["precision"] == "fp32" and b.json["checkpoint"]["precision"] == "bf16"
        assert a.features.source == b.features.source == "computed"  # cached apart
        for name in ("visual", "audio"):
            x, y = getattr(a.features, name), getattr(b.features, name)
            assert 0 < rel_l2(x, y) <= FEATURE_REL_L2, (kind, name, rel_l2(x, y))
        assert np.abs(np.subtract(a.json["probabilities"], b.json["probabilities"])).max() <= PROBABILITY
        again = inference.predict(media(kind), fast)
        assert again.features.source == "memory" and again.json["probabilities"] == b.json["probabilities"]


def test_auto_and_bad_values():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert device.resolve_precision("auto", cuda) == "bf16"
    assert device.resolve_precision("auto", cpu) == ("bf16" if device.cpu_has_bf16() else "fp32")
    assert device.resolve_precision("fp32", cuda) == "fp32"
    with pytest.raises(WECLError, match="precision must be one of"):
        device.resolve_precision("int8", cpu)
    assert WECL.precision == "fp32"  # a model built or loaded directly computes exactly


def test_results_database_keys_the_precision(tmp_path, media, tiny_checkpoint):
    from wecl.batch import run_batch
    from wecl.results_db import ResultsDB

    video = tmp_path / "clip.mp4"
    video.write_bytes(media("av").read_bytes())
    db = ResultsDB(tmp_path / "results.sqlite")
    try:
        for precision in ("fp32", "bf16"):
            model = inference.load_model(str(tiny_checkpoint), device="cpu", precision=precision)
            assert run_batch([video], model, db, 0.5, 1).computed == 1  # not the other precision's row
            assert run_batch([video], model, db, 0.5, 1).reused == 1
            [result] = db.results(inference.source_of(model), 0.5, 1, "eq9").values()
            assert result["checkpoint"]["precision"] == precision
    finally:
        db.close()


def test_a_feature_store_holds_one_precision(tmp_path, tiny_checkpoint):
    from wecl.cli import main
    from wecl.training.synth import generate

    generate(tmp_path / "data", 4, seed=3, duration_range=(3.0, 3.5), size=(64, 48))
    store = tmp_path / "store"
    args = ["extract", str(tmp_path / "data"), "--out", str(store), "--checkpoint", str(tiny_checkpoint), "--views", "1"]
    assert main(args) == 0
    manifest = json.loads((store / "manifest.json").read_text())
    assert manifest["precision"] == "fp32"  # the default: a store's features do not depend on the CPU
    assert main(args + ["--precision", "bf16"]) == 2  # refused, nothing overwritten
    assert json.loads((store / "manifest.json").read_text()) == manifest
