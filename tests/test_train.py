"""A tiny extract -> train -> evaluate run on synthetic videos (tiny backbones, a few epochs)."""
import csv
import json

import numpy as np
import pytest

from wecl import checkpoints
from wecl.cli import main
from wecl.config import WECLConfig
from wecl.errors import WECLError
from wecl.features import compute_features
from wecl.model import WECL
from wecl.training.datasets import VideoItem, open_dataset
from wecl.training.extract import FeatureStore, extract
from wecl.training.synth import generate
from wecl.training.train import push_to_hub

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
def feature_cache(wecl_env, tmp_path, monkeypatch):
    wecl_env(WECL_CACHE=str(tmp_path / "cache"))


@pytest.mark.slow
def test_extract_train_evaluate(setup, tmp_path):
    data, source, store, run = setup / "data", setup / "source", tmp_path / "store", tmp_path / "run"
    assert main(["extract", str(data), "--out", str(store), "--checkpoint", str(source), "--views", "2"]) == 0
    manifest = json.loads((store / "manifest.json").read_text())
    assert manifest["views"] == 2 and manifest["dataset"]["synthetic"] and manifest["dataset"]["classes"] == CLASSES
    files = sorted((store / "features").glob("*.npz"))
    assert len(files) == 16
    table = FeatureStore(store).load()
    assert table.visual.shape[:3] == (16, 2, 10) and table.audio.shape[:2] == (16, 10)
    assert table.segments[0] and table.labels[0] in CLASSES
    # view 0 is exactly what inference computes for the video
    model = WECL.from_pretrained(source)
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
    # the keyframe sets are logged, under the rule the loss used
    assert {r["keyframe_rule"] for r in rows} == {"eq9"}
    assert all(0 <= int(float(r["empty_keyframes"])) <= 16 and 0 <= float(r["keyframe_share"]) <= 1 for r in rows)
    assert all(r["peaks_agree"] != "" for r in rows)
    trained = WECL.from_pretrained(run)
    assert trained.config.classes == CLASSES and trained.config.training == "synthetic"
    for name in ("visual_backbone", "audio_backbone"):  # the saved model is complete: source backbones
        for key, value in getattr(model, name).state_dict().items():
            assert np.array_equal(getattr(trained, name).state_dict()[key].numpy(), value.numpy())
    card = (run / "README.md").read_text()
    assert "synthetic" in card and "Optimiser adam" in card
    verdict = trained.config.extra["convergence"]["verdict"]
    assert f"over the last 10 of {epochs} epochs" in verdict and verdict.capitalize() in card
    assert "SGD, batch 32, lr 2e-4" in card

    out, pred = tmp_path / "eval.json", tmp_path / "pred.json"
    assert main(["evaluate", "--checkpoint", str(run), "--dataset", str(data), "--json", str(out),
                 "--predictions-out", str(pred), "--theta-sweep"]) == 0
    result = json.loads(out.read_text())
    assert {"accuracy", "mAP", "mAP_per_class", "per_class_accuracy", "confusion", "frame_transformer",
            "theta_sweep"} <= set(result)
    assert set(result["mAP"]) == {"0.1", "0.2", "0.3", "0.4", "0.5"} and set(result["mAP_per_class"]) == set(result["mAP"])
    assert 0.0 <= result["accuracy"] <= 1.0 and result["videos"] == 16
    assert len(result["theta_sweep"]) == 11
    assert result["convergence"]["verdict"] == verdict and result["keyframe_rule"] == "eq9"

    # another rule: the loss, the log and the checkpoint's detections all use it
    other = tmp_path / "joint"
    assert main(["train", str(store), "--out", str(other), "--epochs", "2", "--optimizer", "adam", "--batch-size", "8",
                 "--keyframes", "min-joint", "--quiet"]) == 0
    rows = list(csv.DictReader(open(other / "train_log.csv")))
    assert {r["keyframe_rule"] for r in rows} == {"min-joint"} and {r["empty_keyframes"] for r in rows} == {"0"}
    assert WECL.from_pretrained(other).config.keyframe_rule == "min-joint"
    # scoring the written files gives the same figures
    again = tmp_path / "again.json"
    assert main(["evaluate", "--ground-truth", str(data / "annotations.json"), "--predictions", str(pred),
                 "--json", str(again)]) == 0
    scored = json.loads(again.read_text())
    assert scored["accuracy"] == result["accuracy"] and scored["mAP"] == result["mAP"]


@pytest.mark.slow
def test_an_audio_only_store_resumes(setup, tmp_path):
    """Without a visual backbone a video has one (audio) view, whatever --views says: a rerun finds
    every file done instead of extracting them all again."""
    config = WECLConfig(CLASSES, modalities="audio", inter=False, audio_depth=10, audio_width=0.125, segments=10,
                        frames_per_segment=4, relation_dim=16, training="untrained")
    model, dataset = WECL(config), open_dataset(setup / "data")
    items = dataset.items[:3]
    assert extract(dataset, model, tmp_path / "store", views=3, items=items).done == 3
    again = extract(dataset, model, tmp_path / "store", views=3, items=items)
    assert (again.done, again.skipped) == (0, 3)


def test_a_store_that_cannot_be_written_stops_the_run_with_a_message(setup, tmp_path):
    """A full disk or a read-only store is not one bad video: the run stops with the store's name
    (on Ray too, where it used to escape as an OSError), instead of failing every video in turn."""
    store = tmp_path / "store"
    store.mkdir()
    (store / "features").write_text("a file where the features folder goes\n")
    model, dataset = WECL.from_pretrained(setup / "source"), open_dataset(setup / "data")
    with pytest.raises(WECLError, match=r"features.*: cannot write the feature store"):
        extract(dataset, model, store, views=1, items=dataset.items[:2])
    assert not (store / "errors.log").exists()


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


def _relabel(store, ids: set[str], classes: list[str]) -> None:
    """Give the videos `ids` of a feature store another label (the next class), in place."""
    from wecl.atomic import atomic_write

    for path in (store / "features").glob("*.npz"):
        with np.load(path) as data:
            arrays = {k: data[k] for k in data.files}
        meta = json.loads(str(arrays["meta"]))
        if meta["video_id"] in ids:
            meta["label"] = classes[(classes.index(meta["label"]) + 1) % len(classes)]
            arrays["meta"] = np.array(json.dumps(meta))
            atomic_write(path, lambda tmp, arrays=arrays: np.savez(tmp, **arrays))


@pytest.mark.slow
def test_selection_never_sees_the_test_labels(setup, tmp_path):
    """Two stores whose only difference is the test videos' labels train to byte-identical weights,
    with the best epoch chosen on a held-out part of training; test figures come once, apart."""
    import shutil

    data, source = setup / "data", setup / "source"
    store = tmp_path / "store"
    assert main(["extract", str(data), "--out", str(store), "--checkpoint", str(source), "--views", "2"]) == 0
    table = FeatureStore(store).load()
    # an official-style split file: training and "validation", which is the test half (1:1 like Ekman-6)
    test_ids = {vid for c in CLASSES for vid in [v for v, lbl in zip(table.ids, table.labels) if lbl == c][::2]}
    split = {"labels": CLASSES, "database": {vid: {"subset": "validation" if vid in test_ids else "training",
                                                   "annotations": {"label": label}}
                                             for vid, label in zip(table.ids, table.labels)}}
    split_file = tmp_path / "split01.json"
    split_file.write_text(json.dumps(split))
    relabelled = tmp_path / "store-relabelled"
    shutil.copytree(store, relabelled)
    _relabel(relabelled, test_ids, CLASSES)
    assert [FeatureStore(relabelled).load().labels[i] != table.labels[i] for i in range(len(table.ids))] == \
        [vid in test_ids for vid in table.ids]

    args = ["--split", str(split_file), "--epochs", "6", "--optimizer", "adam", "--lr", "3e-3", "--batch-size", "4",
            "--holdout", "0.25", "--quiet"]
    runs = []
    for name, features in (("a", store), ("b", relabelled)):
        assert main(["train", str(features), "--out", str(tmp_path / name), *args, "--select", "map"]) == 0
        runs.append(tmp_path / name)
    weights = [(run / "model.safetensors").read_bytes() for run in runs]
    assert weights[0] == weights[1]
    summaries = [json.loads((run / "summary.json").read_text()) for run in runs]
    for s in summaries:
        (r,) = s["runs"]
        assert r["selection"].startswith("held-out part of training") and r["val_videos"] == 4
        assert r["train_videos"] == 4 and r["test_videos"] == 8 and "test_accuracy" in r
        assert "warning" not in s
    # the test figures do see the labels: the same weights score differently on the relabelled videos
    assert summaries[0]["runs"][0]["test_loss"] != summaries[1]["runs"][0]["test_loss"]
    rows = list(csv.DictReader(open(runs[0] / "train_log.csv")))
    assert all(r["selection"].startswith("held-out part of training") and r["empty_keyframes"] != "" for r in rows)
    card = (runs[0] / "README.md").read_text()
    assert "held-out part of training" in card and "test accuracy" in card

    # the official code's protocol only when asked for, and labelled in the log, summary and card
    on_test = tmp_path / "on-test"
    assert main(["train", str(store), "--out", str(on_test), *args, "--select-on-test"]) == 0
    assert "test subset" in json.loads((on_test / "summary.json").read_text())["warning"]
    assert all("official code's protocol" in r["selection"] for r in csv.DictReader(open(on_test / "train_log.csv")))
    assert "Selected on the test subset" in (on_test / "README.md").read_text()
    # keeping the last epoch needs no selection videos at all
    last = tmp_path / "last"
    assert main(["train", str(store), "--out", str(last), *args, "--select", "last"]) == 0
    assert json.loads((last / "summary.json").read_text())["runs"][0]["selection"] == "last epoch"


def test_convergence_tells_a_plateau_from_a_falling_loss():
    from wecl.training.train import convergence

    flat = convergence([{"train_loss": 1.0 + 0.001 * (i % 2)} for i in range(30)])
    assert flat["converged"] and flat["last_epochs"] == 10 and "converged" in flat["verdict"]
    falling = convergence([{"train_loss": 3.0 - 0.1 * i} for i in range(20)])
    assert falling["converged"] is False and falling["loss_slope"] == pytest.approx(-0.1)
    assert falling["relative_change"] == pytest.approx(-0.9 / 1.9) and "still moving" in falling["verdict"]
    # fallen from 5 to about 0.5 and jittering there by +-10 %: levelled off
    jitter = convergence([{"train_loss": x} for x in [5.0, 2.0, 1.0] + [0.5 + 0.05 * (-1) ** i for i in range(20)]])
    assert jitter["converged"]
    assert convergence([{"train_loss": 1.0}])["converged"] is None
