"""The explorer's figures and tables from hand-made result dicts (no model, no browser)."""
from __future__ import annotations

import numpy as np
import pytest

from explorer import plots, render
from wecl.annotations import Segment


def make_result(erased=(None, 0, 0, None, 1), has_audio=True, theta=0.6) -> dict:
    n = len(erased)
    segments = [{
        "index": i, "start": 2.0 * i, "end": 2.0 * (i + 1),
        "visual_attention": 1.0 + i, "audio_attention": 0.5 + i,
        "visual_attention_norm": i / (n - 1), "audio_attention_norm": 1 - i / (n - 1),
        "erased_round": r,
    } for i, r in enumerate(erased)]
    return {
        "video": {"path": "v.mp4", "duration": 2.0 * n, "fps": 25.0, "width": 64, "height": 48, "has_audio": has_audio},
        "checkpoint": {"id": "x", "revision": None},
        "classes": ["joy", "sadness", "fear"], "probabilities": [0.2, 0.7, 0.1], "prediction": "sadness",
        "confidence": 0.7, "theta": theta, "rounds": 2, "segments": segments,
        "detections": [{"start": 2.0, "end": 6.0, "score": 0.5, "label": "sadness"}],
        "notices": ["This checkpoint is untrained."], "timings": {},
    }


def traces(fig) -> dict:
    return {t.name: t for t in fig.data}


def test_timeline_has_one_bar_per_segment_and_modality_with_raw_values_in_hover():
    result = make_result()
    t = traces(plots.timeline_figure(result))
    assert len(t["visual attention"].x) == len(t["audio attention"].x) == 5
    assert list(t["visual attention"].y) == pytest.approx([0, 0.25, 0.5, 0.75, 1.0])
    assert [c[3] for c in t["visual attention"].customdata] == [1.0, 2.0, 3.0, 4.0, 5.0]  # raw A
    assert "raw A" in t["visual attention"].hovertemplate
    # bars sit inside their segment's seconds
    for x, w, off, seg in zip(t["visual attention"].x, t["visual attention"].width, t["visual attention"].offset,
                              result["segments"]):
        assert seg["start"] <= x + off and x + off + w <= seg["end"]


def test_timeline_shades_erased_segments_by_round_and_draws_theta():
    fig = plots.timeline_figure(make_result(theta=0.35))
    t = traces(fig)
    assert list(t["erased in round 0"].x) == [3.0, 5.0] and list(t["erased in round 1"].x) == [9.0]
    assert t["erased in round 0"].marker.color != t["erased in round 1"].marker.color
    theta = t["θ = 0.35"]
    assert list(theta.y) == [0.35, 0.35] and list(theta.x) == [0.0, 10.0]
    assert fig.layout.xaxis.range == (0, 10.0)


def test_timeline_puts_detections_and_ground_truth_on_their_own_tracks():
    truth = [Segment(1.0, 3.0, "sadness"), Segment(7.5, 9.0)]
    t = traces(plots.timeline_figure(make_result(), truth))
    gt, det = t["ground truth"], t["detections"]
    assert gt.yaxis == det.yaxis == "y2" and gt.orientation == "h"
    assert list(gt.base) == [1.0, 7.5] and list(gt.x) == [2.0, 1.5]
    assert list(det.base) == [2.0] and list(det.x) == [4.0]
    assert set(gt.y) == {"ground truth"} and set(det.y) == {"detections"}


def test_timeline_without_audio_says_so_and_draws_no_audio_bars():
    fig = plots.timeline_figure(make_result(has_audio=False))
    assert "audio attention" not in traces(fig)
    assert any("no audio" in a.text for a in fig.layout.annotations)


def test_nothing_erased_gives_no_shading():
    t = traces(plots.timeline_figure(make_result(erased=(None,) * 4)))
    assert not [name for name in t if name.startswith("erased")]


def test_probabilities_highlight_the_prediction():
    bar = plots.probabilities_figure(make_result()).data[0]
    assert list(bar.y) == ["joy", "sadness", "fear"] and list(bar.x) == [0.2, 0.7, 0.1]
    colors = list(bar.marker.color)
    assert colors[1] != colors[0] == colors[2]
    assert list(bar.text) == ["20.0%", "70.0%", "10.0%"]


def test_thumbnail_strip_frames_erased_segments_in_their_round_colour():
    result = make_result()
    thumbs = np.full((5, 30, 120, 3), 128, np.uint8)  # wider than their captions
    strip = plots.thumbnail_strip(thumbs, result, height=30)
    assert strip.dtype == np.uint8 and strip.ndim == 3 and strip.shape[2] == 3
    tile_w = 120 + 2 * 4 + 4
    for i, seg in enumerate(result["segments"]):
        corner = tuple(strip[30 + 4 + 2, i * tile_w + 1])  # bottom-left of the frame, below the badge
        expected = plots._hex_rgb(plots.round_color(seg["erased_round"])) if seg["erased_round"] is not None \
            else plots._hex_rgb("#e5e7eb")
        assert corner == expected
    two_rows = plots.thumbnail_strip(thumbs, result, height=30, columns=3)
    assert two_rows.shape[0] > strip.shape[0] and two_rows.shape[1] < strip.shape[1]


def test_segment_table_and_csv():
    result = make_result()
    table = plots.segments_table(result)
    assert list(table.columns) == plots.SEGMENT_COLUMNS and len(table) == 5
    assert list(table["erased in round"]) == ["", "0", "0", "", "1"]
    lines = plots.segments_csv(result).splitlines()
    assert lines[0].startswith("index,start,end") and len(lines) == 6
    assert lines[2].endswith(",0") and lines[1].endswith(",")


def test_prediction_and_notices_text():
    result = make_result()
    assert "sadness" in plots.prediction_markdown(result) and "70.0%" in plots.prediction_markdown(result)
    assert "3 of 5 segments erased" in plots.prediction_markdown(result)
    assert "untrained" in plots.notices_markdown(result)


def test_render_strip_marks_erased_time_and_playhead_moves():
    result = make_result()
    strip = render.timeline_strip(result, [Segment(0.0, 2.0)], width=234, height=96)
    assert strip.shape == (96, 234, 3)
    # just inside each segment, left of its attention bars
    x_erased = render.LEGEND_W + int(200 * 2.1 / 10)  # segment 1 (erased in round 0)
    x_kept = render.LEGEND_W + int(200 * 0.1 / 10)  # segment 0: never erased
    assert tuple(strip[6, x_erased]) != (255, 255, 255) and tuple(strip[6, x_kept]) == (255, 255, 255)
    assert render.playhead_x(0.0, 10.0, 234) == render.LEGEND_W
    assert render.playhead_x(10.0, 10.0, 234) == 233
    assert render.playhead_x(5.0, 10.0, 234) < render.playhead_x(6.0, 10.0, 234)


def test_wecl_package_never_imports_gradio():
    import subprocess
    import sys

    code = ("import sys, explorer.plots, explorer.groundtruth, explorer.render, wecl.inference; "
            "sys.exit(1 if 'gradio' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_later_rounds_are_drawn_and_detections_say_why():
    """Issue 20: each round's attention (`rounds_attention`) was computed and never drawn, and a
    fused-rule detection had no visible bar to explain it."""
    result = make_result()
    result["keyframe_rule"] = "fused"
    result["rounds_attention"] = [
        {"round": 0, "visual": [0.0, 0.25, 0.5, 0.75, 1.0], "audio": [1.0, 0.75, 0.5, 0.25, 0.0]},
        {"round": 1, "visual": [0.2, None, None, 0.9, 0.1], "audio": [0.4, None, None, 0.6, 0.3]},
    ]
    t = traces(plots.timeline_figure(result))
    assert list(t["round 1: visual A*"].y) == [0.2, None, None, 0.9, 0.1]
    assert list(t["round 1: audio A*"].y) == [0.4, None, None, 0.6, 0.3]
    assert "round 0: visual A*" not in t  # round 0 is the bars
    assert "reached θ in some erasing round" in t["detections"].hovertemplate
    result["keyframe_rule"] = "eq9"
    assert "erased in round 0" in traces(plots.timeline_figure(result))["detections"].hovertemplate


def test_no_sound_means_no_audio_numbers():
    """Issue 20: a video without sound showed audio A* (the model's attention on silence)."""
    result = make_result(has_audio=False)
    for s in result["segments"]:
        s["audio_attention"] = s["audio_attention_norm"] = None
    table = plots.segments_table(result)
    assert set(table["audio A*"]) == {"—"} and set(table["audio A (raw)"]) == {"—"}
    t = traces(plots.timeline_figure(result))
    assert "audio attention" not in t
    assert "no audio track" in plots.timeline_figure(result).layout.annotations[0].text


def test_a_synthetic_checkpoint_warns_above_its_answer_as_large_as_it():
    result = make_result()
    result["training"] = "synthetic"
    lines = plots.prediction_markdown(result).split("\n\n")
    assert lines[0] == "`v.mp4` · checkpoint `x`"  # where the views come from
    assert lines[1].startswith("## ⚠️ Synthetic-only checkpoint") and lines[2] == "## demonstration: sadness · 70.0%"
    result["training"], result["checkpoint"]["revision"] = "rule", "0123456789abcdef"
    lines = plots.prediction_markdown(result).split("\n\n")
    assert lines[0] == "`v.mp4` · checkpoint `x` @ `0123456789ab`" and lines[1] == "## sadness · 70.0%"


def test_portrait_thumbnails_leave_room_for_their_captions():
    """Issue 20: a portrait video's thumbnails were narrower than their captions, which ran together."""
    from PIL import ImageDraw

    result = make_result()
    for s in result["segments"]:
        s["start"], s["end"] = s["start"] + 100.0, s["end"] + 100.0  # long captions: "4: 108.0-110.0 s"
    portrait = np.full((5, 64, 20, 3), 90, np.uint8)
    strip = plots.thumbnail_strip(portrait, result, height=40)
    caption = ImageDraw.Draw(plots.Image.new("RGB", (1, 1))).textbbox((0, 0), "4: 108.0-110.0 s", font=plots._font(13))[2]
    assert strip.shape[1] >= 5 * caption  # each tile at least as wide as its caption


def test_leave_one_out_is_a_third_track_on_an_axis_of_its_own():
    """Issue 22: each segment's signed leave-one-out Δp beside its attention."""
    importance = [0.0, 0.12, -0.05, 0.3, 0.01]
    fig = plots.timeline_figure(make_result(), importance=importance)
    track = traces(fig)["leave-one-out Δp"]
    assert list(track.y) == importance and track.yaxis == "y3"
    low, high = fig.layout.yaxis3.range
    assert low == -high and high >= 0.3  # centred on zero, holding every value
    assert "leave-one-out Δp" not in traces(plots.timeline_figure(make_result()))
