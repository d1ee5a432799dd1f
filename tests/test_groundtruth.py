"""Ground truth against a prediction: reading, matching, table rows, tIoU and erased-time P/R."""
from __future__ import annotations

import json
import math

import pytest

from explorer import groundtruth
from wecl.annotations import Segment, read_annotations
from wecl.errors import WECLError


def result_with(erased, detections, seconds=1.0) -> dict:
    return {
        "video": {"duration": seconds * len(erased)},
        "segments": [{"index": i, "start": i * seconds, "end": (i + 1) * seconds, "erased_round": r}
                     for i, r in enumerate(erased)],
        "detections": [{"start": s, "end": e, "score": 0.5, "label": "joy"} for s, e in detections],
    }


def test_best_tiou_per_ground_truth_segment():
    result = result_with([None, 0, 0, None, None, 1, None, None], [(1, 3), (5, 6)])
    truth = [Segment(1, 3, "joy"), Segment(4.5, 6.5), Segment(7, 8)]
    c = groundtruth.compare(truth, result)
    assert c.best_tiou == pytest.approx([1.0, 0.5, 0.0])
    assert c.best_detection == [0, 1, None]
    rows = groundtruth.comparison_rows(truth, result, c)
    assert rows[0] == ["1.00–3.00 s", "joy", "1.00–3.00 s", 1.0] and rows[2][2] == "none"


def test_erased_time_precision_and_recall():
    # erased [1, 3] and [5, 6] (3 s); ground truth [2, 4] and [5.5, 8] (4.5 s); overlap 1 + 0.5 s
    result = result_with([None, 0, 0, None, None, 1, None, None], [(1, 3), (5, 6)])
    c = groundtruth.compare([Segment(2, 4), Segment(5.5, 8)], result)
    assert c.erased_seconds == pytest.approx(3.0) and c.truth_seconds == pytest.approx(4.5)
    assert c.overlap_seconds == pytest.approx(1.5)
    assert c.precision == pytest.approx(0.5) and c.recall == pytest.approx(1.5 / 4.5)
    assert "50.0%" in groundtruth.comparison_markdown(c)


def test_overlapping_ground_truth_is_counted_once():
    result = result_with([0, 0, None, None], [(0, 2)])
    c = groundtruth.compare([Segment(0, 1.5), Segment(1, 2)], result)
    assert c.truth_seconds == pytest.approx(2.0) and c.recall == pytest.approx(1.0) and c.precision == 1.0


def test_nothing_erased_or_no_truth_is_not_a_number_not_an_error():
    c = groundtruth.compare([Segment(0, 1)], result_with([None, None], []))
    assert math.isnan(c.precision) and c.recall == 0.0 and c.best_tiou == [0.0]
    c = groundtruth.compare([], result_with([0, None], [(0, 1)]))
    assert math.isnan(c.recall) and c.precision == 0.0
    assert "No ground truth" in groundtruth.comparison_markdown(c)


def test_rows_to_segments_skip_blanks_and_reject_bad_rows():
    rows = [[1, 2.5, "joy"], ["", "", ""], [None, None, None], ["3", "4", None], [float("nan"), float("nan"), ""]]
    segs = groundtruth.segments_from_rows(rows, duration=10)
    assert [(s.start, s.end, s.label) for s in segs] == [(1.0, 2.5, "joy"), (3.0, 4.0, None)]
    with pytest.raises(WECLError, match="row 1: start is not a number"):
        groundtruth.segments_from_rows([["a", 2, ""]])
    with pytest.raises(WECLError, match="row 1: .*not a segment"):
        groundtruth.segments_from_rows([[3, 2, ""]])
    with pytest.raises(WECLError, match="give both"):
        groundtruth.segments_from_rows([[3, None, ""]])
    with pytest.raises(WECLError, match="after the video's end"):
        groundtruth.segments_from_rows([[12, 13, ""]], duration=10)


def test_a_video_holds_at_most_max_rows_segments():
    """A table (from the browser, any size) or a file's video past MAX_ROWS is a message, not a
    figure with a shape per row; MAX_ROWS itself is fine."""
    from wecl.annotations import VideoAnnotation

    rows = [[i, i + 0.5, "joy"] for i in range(groundtruth.MAX_ROWS)]
    assert len(groundtruth.segments_from_rows(rows)) == groundtruth.MAX_ROWS
    with pytest.raises(WECLError, match="1,001 segments; a video's ground truth holds at most 1,000"):
        groundtruth.segments_from_rows(rows + [["", "", ""]])
    video = VideoAnnotation("v", segments=[Segment(i, i + 0.5) for i in range(groundtruth.MAX_ROWS + 1)])
    with pytest.raises(WECLError, match='video "v": 1,001 segments'):
        groundtruth.table_rows(video)


def test_rows_from_a_dataframe():
    import pandas as pd

    frame = pd.DataFrame([[0.5, 1.0, "fear"]], columns=groundtruth.TABLE_COLUMNS)
    assert groundtruth.segments_from_rows(frame)[0] == Segment(0.5, 1.0, "fear")


def activitynet(tmp_path, ids=("clip_a", "clip_b")):
    path = tmp_path / "gt.json"
    path.write_text(json.dumps({"database": {
        vid: {"duration": 10, "annotations": [{"segment": [1 + i, 2 + i], "label": "joy"}]} for i, vid in enumerate(ids)
    }}))
    return path


def test_match_video_by_file_name_or_only_entry(tmp_path):
    annotations = groundtruth.read_ground_truth(str(activitynet(tmp_path)))
    assert groundtruth.match_video(annotations, "/tmp/gradio/abc/clip_b.mp4") == "clip_b"
    assert groundtruth.match_video(annotations, "/x/CLIP_A.MP4") == "clip_a"
    assert groundtruth.match_video(annotations, "/x/other.mp4") is None
    one = groundtruth.read_ground_truth(str(activitynet(tmp_path, ids=("only",))))
    assert groundtruth.match_video(one, "/x/unrelated.mp4") == "only"
    assert groundtruth.table_rows(annotations["clip_b"]) == [[2.0, 3.0, "joy"]]


def test_every_readable_format(tmp_path):
    csv = tmp_path / "gt.csv"
    csv.write_text("video,start,end,label\nclip,1,2,joy\nclip,4,5,joy\n")
    assert len(groundtruth.read_ground_truth([str(csv)])["clip"].segments) == 2
    positions, names = tmp_path / "position.txt", tmp_path / "list.txt"
    positions.write_text("1 2 3 4 0 0 10\n")
    names.write_text("clip.mp4\n")
    # the two files of the Ekman-6 format, in either order
    for files in ([str(positions), str(names)], [str(names), str(positions)]):
        assert [(s.start, s.end) for s in groundtruth.read_ground_truth(files)["clip"].segments] == [(1, 2), (3, 4)]
    with pytest.raises(WECLError, match="give one annotation file"):
        groundtruth.read_ground_truth([str(csv), str(names)])
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(WECLError, match="bad.json"):
        groundtruth.read_ground_truth(str(bad))


def test_parsed_files_are_held_once_by_content_and_bounded(tmp_path, monkeypatch):
    """Sessions keep paths; the parsed set is held once per content (two uploads of one file share
    it), a changed file is parsed again, at most PARSED_FILES sets are kept, and a vanished upload
    is a message."""
    first, second = tmp_path / "a" / "gt.csv", tmp_path / "b" / "gt.csv"
    for path in (first, second):
        path.parent.mkdir()
        path.write_text("video,start,end,label\nclip,1,2,joy\n")
    one = groundtruth.read_ground_truth(str(first))
    assert groundtruth.read_ground_truth(str(second)) is one
    first.write_text("video,start,end,label\nclip,1,2,joy\nclip,3,4,joy\n")  # saved since: read again
    assert len(groundtruth.read_ground_truth(str(first))["clip"].segments) == 2
    assert len(groundtruth.read_ground_truth(str(second))["clip"].segments) == 1

    monkeypatch.setattr(groundtruth, "PARSED_FILES", 2)
    others = []
    for i in range(3):
        path = tmp_path / f"other{i}.csv"
        path.write_text(f"video,start,end,label\nclip{i},1,2,joy\n")
        others.append(groundtruth.read_ground_truth(str(path)))
    assert groundtruth.read_ground_truth(str(tmp_path / "other2.csv")) is others[2]
    assert groundtruth.read_ground_truth(str(tmp_path / "other0.csv")) is not others[0]  # let go, parsed again
    with pytest.raises(WECLError, match="gone.csv: the file is gone; upload it again"):
        groundtruth.read_ground_truth(str(tmp_path / "gone.csv"))


def test_export_round_trips_through_both_formats(tmp_path):
    truth = [Segment(1.0, 2.0, "joy"), Segment(3.5, 4.25, "joy")]
    json_path, csv_path = groundtruth.export("my clip", truth, tmp_path, duration=8.0)
    for path in (json_path, csv_path):
        back = read_annotations(path)["my clip"]
        assert [(s.start, s.end, s.label) for s in back.segments] == [(1.0, 2.0, "joy"), (3.5, 4.25, "joy")]
    assert read_annotations(json_path)["my clip"].duration == 8.0
