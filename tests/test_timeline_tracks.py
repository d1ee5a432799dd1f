"""Issue 23 without a browser: other models' rows and the sound row of the attention timeline, the
picture of the sound (bounded, from the one decode), and one video's tracks of an imported file."""
from __future__ import annotations

import numpy as np
import pytest
from test_plots import make_result, traces

from explorer import imported, plots
from explorer.imported import COLORS, Track
from wecl import features as features_module
from wecl.annotations import Segment
from wecl.audio import SOUND_BANDS, SOUND_COLUMNS, sound_picture
from wecl.errors import WECLError
from wecl.features import FeatureCache, compute_features


def track(name: str, n: int, length: float = 10.0, color: str = COLORS[0]) -> Track:
    step = length / n
    return Track(name, [Segment(i * step, (i + 1) * step, "joy", float(i)) for i in range(n)], [], color)


def test_each_imported_model_is_a_row_of_its_own_with_its_intervals_as_given():
    fig = plots.timeline_figure(make_result(), imported=[track("vaanet", 7), track("cten", 3, color=COLORS[1])])
    t = traces(fig)
    assert list(fig.layout.yaxis2.categoryarray) == ["detections", "ground truth", "vaanet", "cten"]
    assert t["vaanet"].type == "bar" and list(t["vaanet"].y) == ["vaanet"] * 7
    assert list(t["vaanet"].base) == pytest.approx([i * 10 / 7 for i in range(7)])  # not resampled to the T = 5 grid
    assert t["vaanet"].marker.color == COLORS[0] and t["cten"].marker.color == COLORS[1]
    assert t["vaanet"].marker.opacity[0] < t["vaanet"].marker.opacity[-1] == 1.0  # shaded by score
    assert "score" in t["vaanet"].hovertemplate and t["vaanet"].showlegend is not False
    assert len(fig.layout.shapes) == 0


def test_a_dense_model_is_drawn_with_webgl_and_the_attention_keeps_its_height():
    plain = plots.timeline_figure(make_result())
    fig = plots.timeline_figure(make_result(), imported=[track("dense", plots.WEBGL_FROM + 1)])
    assert traces(fig)["dense"].type == "scattergl"
    assert len(fig.layout.shapes) == 0
    height = lambda f: (f.layout.yaxis.domain[1] - f.layout.yaxis.domain[0]) * (  # noqa: E731
        f.layout.height - plots.MARGIN_TOP - plots.MARGIN_BOTTOM)
    assert height(fig) == pytest.approx(height(plain), abs=1) == pytest.approx(plots.ATTENTION_PX, abs=1)


def test_the_sound_row_is_a_picture_or_says_why_there_is_none():
    rng = np.random.default_rng(0)
    picture = sound_picture((rng.standard_normal(16000 * 10) * 0.1).astype(np.float32), 16000, 10.0)
    fig = plots.timeline_figure(make_result(), sound=picture)
    heat = traces(fig)["sound"]
    assert heat.type == "heatmap" and heat.yaxis == "y4" and len(heat.x) == picture.mel_db.shape[1]
    assert heat.x[-1] < 10.0 and "dB" in heat.hovertemplate
    silent = plots.timeline_figure(make_result(has_audio=False), sound="no sound: the video has no audio track")
    assert "sound" not in traces(silent)
    assert any(a.text.startswith("no sound") for a in silent.layout.annotations)
    assert "yaxis4" not in plots.timeline_figure(make_result()).layout.to_plotly_json()


def test_the_figure_carries_the_segments_and_detections_the_player_steps_through():
    meta = plots.timeline_figure(make_result()).layout.meta["wecl"]
    assert meta["segments"] == [[2.0 * i, 2.0 * (i + 1)] for i in range(5)]
    assert meta["detections"] == [[2.0, 6.0]] and meta["duration"] == 10.0


def test_the_sound_picture_is_bounded_whatever_the_length():
    rng = np.random.default_rng(1)
    hour = (rng.standard_normal(8000 * 3600) * 0.1).astype(np.float32)
    picture = sound_picture(hour, 8000, 3600.0)
    assert picture.mel_db.shape == (SOUND_BANDS, SOUND_COLUMNS) and picture.mel_db.dtype == np.float16
    assert picture.nbytes <= 32 * 1024
    assert float(picture.mel_db.max()) == 0.0 and float(picture.mel_db.min()) >= -80.0
    assert sound_picture(hour[:8000 * 2], 8000, 2.0).mel_db.shape == (SOUND_BANDS, 20)  # no finer than 0.1 s
    assert sound_picture(None, 8000, 2.0) is None and sound_picture(np.zeros(0, np.float32), 8000, 2.0) is None


def test_a_tone_lights_its_band():
    sr = 16000
    t = np.arange(sr * 4) / sr
    tone = np.where(t < 2, np.sin(2 * np.pi * 1000 * t), 0).astype(np.float32)  # 1 kHz, then silence
    picture = sound_picture(tone, sr, 4.0)
    band = int(np.argmin(np.abs(np.array(picture.band_hz) - 1000)))
    first, second = picture.mel_db[:, :18].astype(float), picture.mel_db[:, 22:].astype(float)
    assert int(np.argmax(first.mean(axis=1))) in (band - 1, band, band + 1)
    assert first[band].mean() > second[band].mean() + 40  # the band goes dark when the tone stops


@pytest.mark.parametrize("kind", ["av", "silent"])
def test_the_sound_is_decoded_once_and_cached_with_the_features(media, tiny_model, tmp_path, monkeypatch, kind):
    calls = []
    real = features_module.read_audio
    monkeypatch.setattr(features_module, "read_audio", lambda *a, **k: calls.append(a) or real(*a, **k))
    features = compute_features(str(media(kind)), tiny_model)
    assert len(calls) == (1 if kind == "av" else 0)  # the MFCC's samples make the picture too
    assert (features.sound is not None) == (kind == "av")
    cache = FeatureCache(tmp_path)
    cache.put(str(media(kind)), tiny_model, features)
    cache.clear()  # memory only: the next get reads the file
    back = cache.get(str(media(kind)), tiny_model)
    if kind == "av":
        assert np.array_equal(back.sound.mel_db, features.sound.mel_db) and back.sound.band_hz == features.sound.band_hz
    else:
        assert back.sound is None


def test_a_checkpoint_that_does_not_listen_decodes_the_sound_once_for_the_picture(media, monkeypatch):
    from helpers import tiny_config
    from wecl.model import WECL

    model = WECL(tiny_config(modalities="visual", inter=False)).eval()
    calls = []
    real = features_module.read_audio
    monkeypatch.setattr(features_module, "read_audio", lambda *a, **k: calls.append(a) or real(*a, **k))
    features = compute_features(str(media("av")), model)
    assert len(calls) == 1 and calls[0][1] == features_module.PICTURE_RATE
    assert features.sound is not None and features.audio is None


def test_one_videos_tracks_of_a_file_for_many_videos(tmp_path):
    path = tmp_path / "others.csv"
    path.write_text("video,start,end,score,model\nclip,0,1,0.5,a\nclip,1,3,0.7,a\nother,0,1,0.5,a\nother,0,2,0.1,b\n")
    got = imported.video_tracks(str(path), "/uploads/clip.mp4", 4.0, imported.rule_from("threshold", 0.6))
    assert [t.name for t in got] == ["a"]  # b has nothing for this video
    assert [(s.start, s.end) for s in got[0].segments] == [(0, 1), (1, 3)]
    assert [(s.start, s.end) for s in got[0].detections] == [(1, 3)]
    with pytest.raises(WECLError, match=r"\[1, 3\] s ends after the video's end \(2 s\)"):
        imported.video_tracks(str(path), "clip.mp4", 2.0)
    assert imported.video_tracks(str(path), "unrelated.mp4", 4.0) == []  # a file for other videos
    summary = imported.summary_markdown(imported.read_imports(str(path)), "unrelated.mp4")
    assert summary.count("**none for this video**") == 2
    assert "this video: **2** intervals" in imported.summary_markdown(imported.read_imports(str(path)), "clip.mp4")
    assert imported.video_tracks(None, "clip.mp4", 4.0) == []


def test_reserved_row_names_and_too_many_intervals(tmp_path, monkeypatch):
    path = tmp_path / "ground truth.csv"  # a model named like the timeline's own row
    path.write_text("video,start,end,score\nclip,0,1,0.5\nclip,1,2,0.5\nclip,2,3,0.5\n")
    (row,) = imported.video_tracks(str(path), "clip.mp4", 3.0)
    assert row.name == "ground truth (imported)"
    monkeypatch.setattr(imported, "MAX_DRAWN", 2)
    with pytest.raises(WECLError, match="has 3 intervals in video \"clip\"; the timeline draws at most 2"):
        imported.video_tracks(str(path), "clip.mp4", 3.0)


def test_the_rule_controls_are_checked():
    assert str(imported.rule_from("as-is", "anything")) == "as-is"
    assert str(imported.rule_from("top-k", 3.0)) == "top-k:3"
    for kind, value in [("top-k", 0), ("top-k", 2.5), ("threshold", float("nan")), ("threshold", None),
                        ("threshold", True), ("median", 1)]:
        with pytest.raises(WECLError):
            imported.rule_from(kind, value)


def test_a_cache_entry_from_before_the_sound_picture_is_computed_again(media, tiny_model, tmp_path):
    import json

    features = compute_features(str(media("av")), tiny_model)
    cache = FeatureCache(tmp_path)
    cache.put(str(media("av")), tiny_model, features)
    path = cache.path(cache.key(str(media("av")), tiny_model))
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files if not k.startswith("sound")}
    meta = json.loads(str(arrays["meta"]))
    del meta["sound"]
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(path, **arrays)
    assert path.exists()
    cache.clear()
    assert cache.get(str(media("av")), tiny_model) is None  # a miss: the caller computes it, picture and all


def test_a_model_name_is_shown_verbatim_in_markdown(tmp_path):
    path = tmp_path / "names.csv"
    path.write_text("video,start,end,score,model\nclip,0,1,0.5,[x](javascript:y)|<img>*\n")
    summary = imported.summary_markdown(imported.read_imports(str(path)), "clip.mp4")
    assert r"**\[x\](javascript:y)\|\<img\>\***" in summary
    from explorer import dataset_view

    row = dataset_view.scores_markdown({"a|b (imported)": {"videos": 1}}).splitlines()[2]
    assert row.startswith(r"| a\|b (imported) | 1 |")


def test_features_a_dataset_run_cached_without_the_sound_get_its_picture_once(media, monkeypatch, tmp_path):
    """`batch` keeps no picture of the sound for a checkpoint that does not listen (it decodes no
    sound); the app's `features_for` makes it from one decode of the sound, and keeps it."""
    from helpers import tiny_config
    from wecl.features import features_for, prepare_inputs, run_backbones
    from wecl.model import WECL

    model = WECL(tiny_config(modalities="visual", inter=False)).eval()
    video = str(media("av"))
    cached = run_backbones(prepare_inputs(video, model.config), model)  # what `batch` computes and caches
    assert cached.sound is None and cached.info.has_audio
    monkeypatch.setattr(features_module, "cache", FeatureCache(tmp_path))
    features_module.cache.put(video, model, cached)
    calls = []
    real = features_module.read_audio
    monkeypatch.setattr(features_module, "read_audio", lambda *a, **k: calls.append(a) or real(*a, **k))
    assert features_for(video, model).sound is not None and len(calls) == 1
    features_module.cache.clear()  # from disk now: the picture was kept with the features
    assert features_for(video, model).sound is not None and len(calls) == 1


def test_the_timeline_bound_counts_every_model_of_a_video(tmp_path, monkeypatch):
    path = tmp_path / "two.csv"
    path.write_text("video,start,end,score,model\nclip,0,1,0.5,a\nclip,1,2,0.5,a\nclip,0,1,0.5,b\nclip,1,2,0.5,b\n")
    monkeypatch.setattr(imported, "MAX_DRAWN", 3)
    with pytest.raises(WECLError, match='model "b" has 2 intervals in video "clip", after 2 of the models before it; '
                                        "the timeline draws at most 3 in a video, all models together"):
        imported.video_tracks(str(path), "clip.mp4", 3.0)
    monkeypatch.setattr(imported, "MAX_DRAWN", 4)
    assert [t.name for t in imported.video_tracks(str(path), "clip.mp4", 3.0)] == ["a", "b"]
