"""End to end: a video file through the tiny model to the result JSON of docs/formats.md#result-json,
with the feature caches (memory, disk) and clean failure on bad files."""
import json
import math
import shutil

import numpy as np
import pytest

import wecl.features
from helpers import BAD_KINDS, CLASSES, GOOD_KINDS
from wecl.errors import WECLError
from wecl.inference import predict

NUMBER = (int, float)


def check_result_json(data: dict, model, has_audio: bool) -> None:
    """Every key of docs/formats.md#result-json with its type, and the invariants between them."""
    v = data["video"]
    assert isinstance(v["path"], str)
    assert isinstance(v["duration"], float) and v["duration"] > 0
    assert isinstance(v["fps"], float) and v["fps"] > 0
    assert type(v["width"]) is int and type(v["height"]) is int
    assert v["has_audio"] is has_audio
    ck = data["checkpoint"]
    assert isinstance(ck["id"], str) and (ck["revision"] is None or isinstance(ck["revision"], str))
    assert data["classes"] == CLASSES
    probs = data["probabilities"]
    assert len(probs) == len(CLASSES) and all(isinstance(p, float) and 0 <= p <= 1 for p in probs)
    assert math.isclose(sum(probs), 1.0, abs_tol=1e-5)
    assert data["prediction"] == CLASSES[int(np.argmax(probs))]
    assert isinstance(data["theta"], float) and 0 <= data["theta"] <= 1
    assert type(data["rounds"]) is int and data["rounds"] >= 1
    assert isinstance(data["timings"], dict) and data["timings"]
    assert all(isinstance(k, str) and isinstance(s, float) and s >= 0 for k, s in data["timings"].items())

    segs = data["segments"]
    assert [s["index"] for s in segs] == list(range(model.config.segments))
    assert segs[0]["start"] == 0.0 and segs[-1]["end"] == v["duration"]
    for a, b in zip(segs, segs[1:]):
        assert a["end"] == b["start"]
    theta = data["theta"]
    for s in segs:
        assert isinstance(s["start"], float) and isinstance(s["end"], float) and s["end"] > s["start"]
        # without sound no audio number at all (issue 20: the attention on silence was shown)
        for key in ("visual_attention", "audio_attention") if has_audio else ("visual_attention",):
            assert isinstance(s[key], float) and s[key] >= 0  # eq. 7 ends in a ReLU
        for key in ("visual_attention_norm", "audio_attention_norm") if has_audio else ("visual_attention_norm",):
            assert isinstance(s[key], float) and 0.0 <= s[key] <= 1.0
        if not has_audio:
            assert s["audio_attention"] is None and s["audio_attention_norm"] is None
        assert s["erased_round"] is None or type(s["erased_round"]) is int
        # eq. 9 on round 0: both modalities reach theta, or the visual one alone without audio
        keyframe = s["visual_attention_norm"] >= theta and (not has_audio or s["audio_attention_norm"] >= theta)
        assert (s["erased_round"] == 0) == keyframe, s
    assert all((r["audio"] is None) != has_audio for r in data["rounds_attention"])
    # eq. 8 by hand on the raw attention
    for modality in ("visual", "audio") if has_audio else ("visual",):
        raw = np.array([s[f"{modality}_attention"] for s in segs])
        norm = np.array([s[f"{modality}_attention_norm"] for s in segs])
        span = raw.max() - raw.min()
        expected = (raw - raw.min()) / span if span > 0 else np.zeros_like(raw)
        assert np.allclose(norm, expected, atol=1e-5)
    # detections (default rule: eq. 9) are the runs of round 0's keyframes, on the segments' time axis
    assert data["keyframe_rule"] == "eq9"
    starts = {s["start"] for s in segs}
    ends = {s["end"] for s in segs}
    key = [s["erased_round"] == 0 for s in segs]
    runs = sum(1 for i, k in enumerate(key) if k and (i == 0 or not key[i - 1]))
    assert len(data["detections"]) == runs
    for d in data["detections"]:
        assert d["start"] in starts and d["end"] in ends and d["end"] > d["start"]
        assert isinstance(d["score"], float) and d["label"] == data["prediction"]
    json.dumps(data, allow_nan=False)  # strict JSON: no NaN anywhere


@pytest.mark.slow
@pytest.mark.parametrize("kind", GOOD_KINDS)
def test_predict_each_media_kind(media, tiny_model, kind):
    result = predict(media(kind), tiny_model)
    has_audio = kind not in ("silent", "vfr", "few_frames")
    check_result_json(result.json, tiny_model, has_audio)
    assert result.json["video"]["path"] == str(media(kind))
    assert result.json["theta"] == tiny_model.config.theta
    assert result.json["checkpoint"]["id"] == tiny_model.checkpoint.id
    notices = " ".join(result.json["notices"])
    assert ("no audio track" in notices) == (not has_audio)
    assert "untrained" in notices


def test_rotated_video_reports_portrait(media, tiny_model):
    v = predict(media("rotated"), tiny_model).json["video"]
    assert (v["width"], v["height"]) == (120, 160)


def test_theta_and_rounds_change_erasing(media, tiny_model):
    path = media("av")
    low = predict(path, tiny_model, theta=0.0).json
    assert all(s["erased_round"] == 0 for s in low["segments"])  # everything reaches theta 0
    high = predict(path, tiny_model, theta=1.0).json
    n_high = sum(s["erased_round"] == 0 for s in high["segments"])
    assert n_high <= 1  # only a segment at the maximum of both attentions
    check_result_json(high, tiny_model, True)
    three = predict(path, tiny_model, theta=0.5, rounds=3).json
    rounds = [s["erased_round"] for s in three["segments"] if s["erased_round"] is not None]
    assert set(rounds) <= {0, 1, 2}
    assert len(three["rounds_attention"]) >= 1
    for r, entry in enumerate(three["rounds_attention"]):
        assert entry["round"] == r
        for i, value in enumerate(entry["visual"]):
            er = three["segments"][i]["erased_round"]
            gone = er is not None and er < r
            assert (value is None) == gone  # a segment erased in an earlier round is not looked at again
    with pytest.raises(WECLError, match="theta"):
        predict(path, tiny_model, theta=1.5)
    with pytest.raises(WECLError, match="rounds"):
        predict(path, tiny_model, rounds=0)


def test_features_from_memory_then_disk(wecl_env, media, tiny_model, tmp_path, monkeypatch):
    wecl_env(WECL_CACHE=str(tmp_path / "cache"))
    wecl.features.cache.clear()
    path = media("short")
    first = predict(path, tiny_model, theta=0.7)
    assert first.json["features"] == "computed"
    assert "decode" in first.json["timings"]
    stored = list((tmp_path / "cache" / "features").iterdir())
    assert len(stored) == 1 and stored[0].suffix == ".npz"

    def no_decode(*args, **kwargs):
        raise AssertionError("the video was decoded again")

    monkeypatch.setattr(wecl.features, "read_clips", no_decode)
    second = predict(path, tiny_model, theta=0.3)
    assert second.json["features"] == "memory"
    assert second.json["theta"] == 0.3
    assert "decode" not in second.json["timings"]
    same = predict(path, tiny_model, theta=0.7)
    assert same.json["probabilities"] == first.json["probabilities"]
    assert same.json["segments"] == first.json["segments"]

    wecl.features.cache.clear()
    third = predict(path, tiny_model, theta=0.7)
    assert third.json["features"] == "disk"
    assert third.json["segments"] == first.json["segments"]
    assert third.json["video"] == first.json["video"]
    np.testing.assert_array_equal(third.features.thumbnails, first.features.thumbnails)

    # a damaged cache entry is recomputed, never trusted
    monkeypatch.undo()
    wecl_env(WECL_CACHE=str(tmp_path / "cache"))
    stored[0].write_bytes(b"garbage")
    wecl.features.cache.clear()
    fourth = predict(path, tiny_model, theta=0.7)
    assert fourth.json["features"] == "computed"
    assert fourth.json["segments"] == first.json["segments"]
    wecl.features.cache.clear()


def test_same_content_other_path_reuses_features(media, tiny_model, tmp_path, monkeypatch):
    path = media("av")
    predict(path, tiny_model)
    copy = tmp_path / "copy.mp4"
    shutil.copy(path, copy)
    monkeypatch.setattr(wecl.features, "read_clips", lambda *a, **k: pytest.fail("decoded again"))
    result = predict(copy, tiny_model)
    assert result.json["features"] == "memory"
    assert result.json["video"]["path"] == str(copy)


def test_save_json(media, tiny_model, tmp_path):
    result = predict(media("av"), tiny_model)
    out = tmp_path / "result.json"
    result.save_json(out)
    assert json.loads(out.read_text()) == json.loads(json.dumps(result.json))


@pytest.mark.parametrize("kind", BAD_KINDS + ["missing"])
def test_bad_inputs_raise_and_leave_no_temp_files(wecl_env, media, tiny_model, tmp_path, monkeypatch, kind):
    cache = tmp_path / "cache"
    wecl_env(WECL_CACHE=str(cache))
    folder = tmp_path / "videos"
    folder.mkdir()
    if kind == "missing":
        path = folder / "missing.mp4"
    else:
        path = folder / media(kind).name
        shutil.copy(media(kind), path)
    before = sorted(p.name for p in folder.iterdir())
    with pytest.raises(WECLError) as error:
        predict(path, tiny_model)
    assert str(path) in str(error.value)
    assert sorted(p.name for p in folder.iterdir()) == before
    leftovers = [p for p in cache.rglob("*")] if cache.exists() else []
    assert not [p for p in leftovers if p.is_file()], leftovers


def test_failed_cache_write_leaves_no_temp_file(wecl_env, media, tiny_model, tmp_path, monkeypatch):
    """A full or read-only cache disk costs speed only: the prediction succeeds and no partial
    file is left behind."""
    cache = tmp_path / "cache"
    wecl_env(WECL_CACHE=str(cache))
    wecl.features.cache.clear()

    def half_written(file, *args, **kwargs):
        with open(file, "wb") as handle:
            handle.write(b"PK\x03\x04 partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", half_written)
    result = predict(media("short"), tiny_model)
    assert result.json["features"] == "computed"
    assert [p for p in cache.rglob("*") if p.is_file()] == []
    wecl.features.cache.clear()
