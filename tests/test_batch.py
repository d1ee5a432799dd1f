"""`python -m wecl batch`: resumable dataset predictions through the results database."""
import json
import sqlite3
import subprocess
import sys

import pytest

from wecl import WECL, WECLConfig
from wecl.annotations import read_prediction_file
from wecl.training.synth import generate


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("batch")
    folder = root / "videos"
    generate(folder, 5, seed=11)
    (folder / "broken.mp4").write_bytes(b"not a video at all")
    checkpoint = root / "ckpt"
    WECL(WECLConfig(classes=["anger", "joy", "sadness", "surprise"], visual_depth=10, visual_width=0.125,
                    audio_depth=10, audio_width=0.125)).save_pretrained(checkpoint)
    return folder, checkpoint, root


def batch(folder, checkpoint, *extra, env=None):
    return subprocess.run(
        [sys.executable, "-m", "wecl", "batch", str(folder), "--checkpoint", str(checkpoint), *extra],
        capture_output=True, text=True, env=env, timeout=300,
    )


def test_batch_writes_results_resumes_and_skips_bad_videos(dataset, tmp_path, monkeypatch):
    folder, checkpoint, root = dataset
    env = {**__import__("os").environ, "WECL_CACHE": str(tmp_path / "cache")}
    out, anet = tmp_path / "results.jsonl", tmp_path / "anet.json"
    first = batch(folder, checkpoint, "--out", str(out), "--activitynet", str(anet), env=env)
    assert first.returncode == 0, first.stderr
    assert "6 videos: 5 computed, 0 reused" in first.stdout
    assert "broken.mp4" in first.stderr and "Traceback" not in first.stderr

    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["video_id"] for r in lines) == [f"synth_11_{i:04d}" for i in range(5)]
    for r in lines:
        assert abs(sum(r["probabilities"]) - 1) < 1e-5
        assert r["segments"][-1]["end"] == pytest.approx(r["video"]["duration"])
    predictions = read_prediction_file(anet)
    assert set(predictions) == {r["video_id"] for r in lines}
    for r in lines:
        assert len(predictions[r["video_id"]].segments) == len(r["detections"])

    # A restart recomputes nothing: counted from the run's own report and the database rows.
    second = batch(folder, checkpoint, "--out", str(out), env=env)
    assert second.returncode == 0, second.stderr
    assert "6 videos: 0 computed, 5 reused" in second.stdout
    with sqlite3.connect(folder / ".wecl" / "results.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM predictions").fetchone()[0] == 5
        assert db.execute("SELECT COUNT(*) FROM failures").fetchone()[0] == 1


def test_batch_on_a_missing_folder_is_a_clear_error(dataset, tmp_path):
    _, checkpoint, _ = dataset
    run = batch(tmp_path / "nowhere", checkpoint)
    assert run.returncode == 2
    assert "no such folder" in run.stderr and "Traceback" not in run.stderr


@pytest.mark.parametrize("setting,message", [(("--theta", "5"), "theta must lie in [0, 1], not 5.0"),
                                             (("--theta", "nan"), "theta must lie in [0, 1], not nan"),
                                             (("--rounds", "0"), "rounds must be at least 1, not 0")])
def test_batch_refuses_bad_settings_before_any_video(dataset, tmp_path, setting, message):
    """A setting no video can run with is one error line at the start, not a decode of every video
    of the dataset followed by as many failures: no feature is computed."""
    folder, checkpoint, _ = dataset
    env = {**__import__("os").environ, "WECL_CACHE": str(tmp_path / "cache")}
    run = batch(folder, checkpoint, "--db", str(tmp_path / "r.sqlite"), *setting, env=env)
    assert run.returncode == 2
    assert run.stderr.strip().splitlines()[-1] == f"error: {message}"
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("*.npz"))
