"""A tiny extract -> train -> evaluate run on synthetic videos (tiny backbones, a few epochs)."""
import csv
import json

import numpy as np
import pytest

from wecl import checkpoints
from wecl.cli import main
from wecl.config import WECLConfig
from wecl.datasets import VideoItem, open_dataset
from wecl.errors import WECLError
from wecl.extract import extract, load_table
from wecl.inference import compute_features
from wecl.model import WECL
from wecl.synth import generate
from wecl.train import push_to_hub

CLASSES = ["anger", "joy", "sadness", "surprise"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    generate(root / "data", 16, seed=11, duration_range=(3.0, 3.5), size=(64, 48))
    config = WECLConfig(CLASSES, visual_depth=10, visual_width=0.125, audio_depth=10, audio_width=0.125,
                        segments=10, frames_per_segment=4, relation_dim=16, training="untrained")
    checkpoints.save(WECL(config), root / "source")
    return root


@pytest.fixture(autouse=True)
def feature_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("WECL_CACHE", str(tmp_path / "cache"))


@pytest.mark.slow
def test_extract_train_evaluate(setup, tmp_path):
    data, source, store, run = setup / "data", setup / "source", tmp_path / "store", tmp_path / "run"
    assert main(["extract", str(data), "--out", str(store), "--checkpoint", str(source), "--views", "2"]) == 0
    manifest = json.loads((store / "manifest.json").read_text())
    assert manifest["views"] == 2 and manifest["dataset"]["synthetic"] and manifest["dataset"]["classes"] == CLASSES
    files = sorted((store / "features").glob("*.npz"))
    assert len(files) == 16
    table = load_table(store)
    assert table.visual.shape[:3] == (16, 2, 10) and table.audio.shape[:2] == (16, 10)
    assert table.segments[0] and table.labels[0] in CLASSES
    # view 0 is exactly what inference computes for the video
    model = checkpoints.load(source)
    first = compute_features(str(data / f"{table.ids[0]}.mp4"), model)
    np.testing.assert_allclose(table.visual[0, 0], first.visual, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(table.audio[0], first.audio, rtol=1e-4, atol=1e-5)

    # resume: everything is skipped; a deleted file is redone; a bad video is logged and skipped
    dataset = open_dataset(data)
    assert extract(dataset, model, store, views=2).skipped == 16
    files[3].unlink()
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"not a video at all")
    stats = extract(dataset, model, store, views=2, items=dataset.items + [VideoItem("broken", bad, "joy", "training")])
    assert (stats.done, stats.skipped, stats.failed) == (1, 15, 1)
    assert "broken" in (store / "errors.log").read_text()

    epochs = 12
    assert main(["train", str(store), "--out", str(run), "--epochs", str(epochs), "--optimizer", "adam", "--lr", "3e-3",
                 "--batch-size", "8", "--quiet"]) == 0
    for name in ("config.json", "model.safetensors", "README.md", "train_log.csv", "summary.json"):
        assert (run / name).is_file(), name
    rows = list(csv.DictReader(open(run / "train_log.csv")))
    assert len(rows) == epochs and rows[0]["epoch"] == "1"
    assert {"train_loss", "loss_original", "loss_keyframes", "loss_left", "val_accuracy", "val_mAP@0.5"} <= set(rows[0])
    losses = [float(r["train_loss"]) for r in rows]
    assert np.mean(losses[-3:]) < np.mean(losses[:3])
    trained = checkpoints.load(run)
    assert trained.config.classes == CLASSES and trained.config.training == "synthetic"
    for name in ("visual_backbone", "audio_backbone"):  # the saved model is complete: source backbones
        for key, value in getattr(model, name).state_dict().items():
            assert np.array_equal(getattr(trained, name).state_dict()[key].numpy(), value.numpy())
    card = (run / "README.md").read_text()
    assert "synthetic" in card and "Optimiser adam" in card
    assert "SGD, batch 32, lr 2e-4" in card

    out, pred = tmp_path / "eval.json", tmp_path / "pred.json"
    assert main(["evaluate", "--checkpoint", str(run), "--dataset", str(data), "--json", str(out),
                 "--predictions-out", str(pred), "--theta-sweep"]) == 0
    result = json.loads(out.read_text())
    assert {"accuracy", "mAP", "mAP_per_class", "per_class_accuracy", "confusion", "frame_transformer", "theta_sweep"} <= set(result)
    assert set(result["mAP"]) == {"0.1", "0.2", "0.3", "0.4", "0.5"} and set(result["mAP_per_class"]) == set(result["mAP"])
    assert 0.0 <= result["accuracy"] <= 1.0 and result["videos"] == 16
    assert len(result["theta_sweep"]) == 11
    # scoring the written files gives the same figures
    again = tmp_path / "again.json"
    assert main(["evaluate", "--ground-truth", str(data / "annotations.json"), "--predictions", str(pred), "--json", str(again)]) == 0
    scored = json.loads(again.read_text())
    assert scored["accuracy"] == result["accuracy"] and scored["mAP"] == result["mAP"]


def test_train_needs_a_store(tmp_path, capsys):
    assert main(["train", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "run `python -m wecl extract` first" in capsys.readouterr().err


def test_evaluate_needs_both_files(tmp_path, capsys):
    assert main(["evaluate", "--predictions", str(tmp_path / "p.json")]) == 2
    assert "--ground-truth" in capsys.readouterr().err


def test_push_to_hub_offline_and_without_token(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(WECLError, match="HF_HUB_OFFLINE"):
        push_to_hub(tmp_path, "someone/wecl-test")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_TOKEN_PATH", str(tmp_path / "hf" / "token"))
    with pytest.raises(WECLError, match="no Hugging Face token"):
        push_to_hub(tmp_path, "someone/wecl-test")
