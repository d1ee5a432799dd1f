"""Round trips, malformed files and atomic writes for wecl/annotations/."""
import csv
import json
import os

import pytest

import wecl.atomic
from wecl.annotations import (
    Segment,
    VideoAnnotation,
    detect_format,
    read_annotations,
    read_class_names,
    read_prediction_file,
    video_id,
    write_annotations,
    write_prediction_file,
)
from wecl.atomic import atomic_write_text
from wecl.errors import WECLError


def ground_truth():
    return {
        "v1": VideoAnnotation("v1", 30.5, "joy", "validation",
                              [Segment(0.0, 2.25, "joy"), Segment(10.1, 12.0, "joy"), Segment(20, 21, "fear")]),
        # the video label differs from the majority of its segments: must survive explicitly
        "v2": VideoAnnotation("v2", 12.0, "sadness", "training", [Segment(1.5, 3.0, "fear")]),
        "v3": VideoAnnotation("v3", 8.0, "anger", "training", []),
    }


def predictions():
    return {
        "v1": VideoAnnotation("v1", None, "joy", None,
                              [Segment(0.0, 2.0, "joy", 0.9), Segment(5.0, 6.5, "joy", 0.25)]),
        "v2": VideoAnnotation("v2", None, None, None, [Segment(3.0, 4.0, None, 0.5)]),
    }


# --- round trips ------------------------------------------------------------------------------


def test_activitynet_round_trip(tmp_path):
    path = tmp_path / "gt.json"
    write_annotations(ground_truth(), path, "activitynet")
    assert read_annotations(path) == ground_truth()
    assert read_annotations(path, "activitynet") == ground_truth()


def test_activitynet_label_defaults_to_majority_of_segments(tmp_path):
    path = tmp_path / "gt.json"
    entry = {"annotations": [{"segment": [0, 1], "label": "fear"}, {"segment": [2, 3], "label": "joy"},
                             {"segment": [4, 5], "label": "joy"}]}
    path.write_text(json.dumps({"database": {"v": entry}}))
    assert read_annotations(path)["v"].label == "joy"


def test_predictions_round_trip(tmp_path):
    path = tmp_path / "pred.json"
    write_prediction_file(predictions(), path)
    assert read_prediction_file(path) == predictions()
    assert read_annotations(path) == predictions()  # auto-detected from "results"
    assert "results" in json.loads(path.read_text())


def test_split_round_trip_keeps_class_order(tmp_path):
    split = {
        "a": VideoAnnotation("a", None, "surprise", "training", []),
        "b": VideoAnnotation("b", None, "anger", "validation", []),
    }
    path = tmp_path / "split.json"
    write_annotations(split, path, "split", classes=["surprise", "anger", "joy"])
    data = json.loads(path.read_text())
    assert data["database"]["a"] == {"subset": "training", "annotations": {"label": "surprise"}}
    assert read_annotations(path) == split
    assert read_annotations(path, "split") == split
    assert read_class_names(path) == ["surprise", "anger", "joy"]


def test_ekman_position_round_trip(tmp_path):
    anns = {
        "anger_01": VideoAnnotation("anger_01", 30.0, None, None, [Segment(0.0, 4.5), Segment(10.0, 12.0)]),
        "joy_07": VideoAnnotation("joy_07", 12.5, None, None, [Segment(1.0, 2.0), Segment(3, 4), Segment(5, 6)]),
        "fear_02": VideoAnnotation("fear_02", None, None, None, []),
    }
    path = tmp_path / "position.txt"
    write_annotations(anns, path, "ekman-position")
    assert path.read_text().splitlines()[0] == "0.0 4.5 10.0 12.0 0.0 0.0 30.0"
    assert (tmp_path / "position_videos.txt").read_text() == "anger_01\njoy_07\nfear_02\n"
    assert read_annotations(path) == anns  # finds the list beside the file
    assert read_annotations(path, "ekman-position", video_list=["anger_01.mp4", "x/joy_07.avi", "fear_02"]) == anns


def test_ekman_position_explicit_list_file(tmp_path):
    path, ids = tmp_path / "position.txt", tmp_path / "test_list.txt"
    anns = {"v": VideoAnnotation("v", 5.0, None, None, [Segment(1.0, 2.0)])}
    write_annotations(anns, path, "ekman-position", video_list=ids)
    assert ids.read_text() == "v\n"
    assert read_annotations(path, video_list=ids) == anns


def test_ekman_position_refuses_four_segments(tmp_path):
    anns = {"v": VideoAnnotation("v", 9.0, None, None, [Segment(i, i + 0.5) for i in range(4)])}
    with pytest.raises(WECLError, match="4 segments"):
        write_annotations(anns, tmp_path / "p.txt", "ekman-position")
    assert list(tmp_path.iterdir()) == []


def test_csv_round_trip(tmp_path):
    anns = {vid: VideoAnnotation(vid, None, a.label, None, a.segments) for vid, a in ground_truth().items()}
    anns["v4"] = VideoAnnotation("v4", None, None, None, [Segment(0, 1, None)])
    path = tmp_path / "hand.csv"
    write_annotations(anns, path, "csv")
    lines = path.read_text().splitlines()
    assert lines[0] == "video,start,end,label"
    assert "v3,,,anger" in lines and "v2,,,sadness" in lines and "v4,0.0,1.0," in lines
    assert read_annotations(path) == anns


def test_csv_read_by_hand(tmp_path):
    path = tmp_path / "hand.csv"
    path.write_text("Video, Start, End, Label\nclip,1,2,joy\n\nclip,3,4.5,\nother,,,fear\n")
    anns = read_annotations(path)
    assert anns["clip"] == VideoAnnotation("clip", None, "joy", None, [Segment(1, 2, "joy"), Segment(3, 4.5)])
    assert anns["other"] == VideoAnnotation("other", None, "fear", None, [])


def test_detect_format(tmp_path):
    cases = {"a.json": '{"database": {}}', "b.csv": "video,start,end,label\n", "c.txt": "0 1 0 0 0 0 5\n",
             "d.dat": "video,start,end,label\n"}
    found = {}
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        found[name] = detect_format(tmp_path / name)
    assert found == {"a.json": "activitynet", "b.csv": "csv", "c.txt": "ekman-position", "d.dat": "csv"}


@pytest.mark.parametrize("name, expected", [
    ("anger/0001.mp4", "0001"), ("C:\\data\\clip.avi", "clip"), ("clip.001", "clip.001"), ("v_x", "v_x"),
])
def test_video_id(name, expected):
    assert video_id(name) == expected


# --- export-only formats --------------------------------------------------------------------


def test_elan_export(tmp_path):
    anns = {"clip": VideoAnnotation("clip", None, "joy", None, [Segment(12.0, 15.5), Segment(1.23456, 2, "fear")])}
    path = tmp_path / "clip.txt"
    write_annotations(anns, path, "elan")
    assert path.read_text() == "clip\t1.235\t2.000\tfear\nclip\t12.000\t15.500\tjoy\n"
    with pytest.raises(WECLError, match="elan"):
        read_annotations(path, "elan")


def test_label_studio_export(tmp_path):
    segments = [Segment(0.0, 1.0, None, 0.8), Segment(1.16, 2.24, "fear")]
    anns = {"clip": VideoAnnotation("clip", None, "joy", None, segments)}
    path = tmp_path / "tasks.json"
    write_annotations(anns, path, "label-studio", fps=25, video_url="/data/{video_id}.mp4", from_name="emo")
    (task,) = json.loads(path.read_text())
    assert task["data"] == {"video": "/data/clip.mp4"}
    (prediction,) = task["predictions"]
    first, second = prediction["result"]
    assert first["type"] == "timelinelabels" and first["from_name"] == "emo" and first["to_name"] == "video"
    assert first["value"] == {"ranges": [{"start": 1, "end": 25}], "timelinelabels": ["joy"]}
    assert first["score"] == 0.8
    # In floats 1.16 * 25 = 28.999999999999996 and 2.24 * 25 = 56.00000000000001, yet 1.16 s is
    # where frame 30 begins and 2.24 s where frame 56 ends.
    assert second["value"] == {"ranges": [{"start": 30, "end": 56}], "timelinelabels": ["fear"]}
    assert "score" not in second


def test_label_studio_needs_fps(tmp_path):
    with pytest.raises(WECLError, match="fps"):
        write_annotations(ground_truth(), tmp_path / "t.json", "label-studio")


# --- malformed files ------------------------------------------------------------------------


MALFORMED = [
    # (file name, content, line, problem)
    ("bad.json", '{"database": {\n  "v1": {,}\n}}', 2, "not valid JSON"),
    ("nodb.json", '{"videos": {}}', 1, '"database"'),
    ("order.json", '{"database": {\n  "v0": {"annotations": []},\n  "v1": {"annotations": [{"segment": [5, 2]}]}}}',
     3, "ends before it starts"),
    ("neg.json", '{"database": {\n  "v1": {"annotations": [{"segment": [-1, 2]}]}}}', 2, "negative"),
    ("nan.json", '{"database": {\n\n  "v1": {"annotations": [{"segment": ["a", 2]}]}}}', 3, "not a number"),
    ("pair.json", '{"database": {\n  "v1": {"annotations": [{"segment": [1]}]}}}', 2, "[start, end]"),
    ("dur.json", '{"database": {\n  "v1": {"duration": "long", "annotations": []}}}', 2, "duration"),
    ("score.json", '{"results": {\n  "v1": [{"segment": [1, 2], "label": "joy"}]}}', 2, "score"),
    ("rows.csv", "video,start,end,label\nv,1,2,joy\nv,x,3,joy\n", 3, "not a number"),
    ("order.csv", "video,start,end,label\nv,4,2,joy\n", 2, "ends before it starts"),
    ("neg.csv", "video,start,end,label\nv,1,2,joy\n\nv,-1,2,joy\n", 4, "negative"),
    ("half.csv", "video,start,end,label\nv,1,,joy\n", 2, "both"),
    ("head.csv", "name,from,to\nv,1,2\n", 1, "header"),
    ("short.csv", "video,start,end,label\nv,1\n", 2, "columns"),
    ("labels.csv", "video,start,end,label\nv,,,joy\nv,,,fear\n", 3, "two labels"),
]


@pytest.mark.parametrize("name, content, line, problem", MALFORMED)
def test_malformed_file_names_file_line_and_problem(tmp_path, name, content, line, problem):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(WECLError) as info:
        read_annotations(path)
    message = str(info.value)
    assert name in message
    assert f"line {line}:" in message
    assert problem in message


POSITION_MALFORMED = [
    ("0 1 0 0 0 0 5\n1 2 3\n", 2, "expected 7 numbers"),
    ("0 x 0 0 0 0 5\n0 1 0 0 0 0 5\n", 1, "not a number"),
    ("0 1 0 0 0 0 5\n4 3 0 0 0 0 5\n", 2, "ends before it starts"),
    ("0 1 0 0 0 0 -5\n0 1 0 0 0 0 5\n", 1, "negative duration"),
    ("0 1 0 0 0 0 5\n0 1 0 0 0 0 5\n0 1 0 0 0 0 5\n", 3, "no video id"),  # list has 2 ids
]


@pytest.mark.parametrize("content, line, problem", POSITION_MALFORMED)
def test_malformed_position_file(tmp_path, content, line, problem):
    path = tmp_path / "position.txt"
    path.write_text(content)
    (tmp_path / "list.txt").write_text("a.mp4\nb.mp4\n")
    with pytest.raises(WECLError) as info:
        read_annotations(path, video_list=tmp_path / "list.txt")
    message = str(info.value)
    assert "position.txt" in message and f"line {line}:" in message and problem in message


def test_list_longer_than_positions_names_list_file(tmp_path):
    path = tmp_path / "position.txt"
    path.write_text("0 1 0 0 0 0 5\n")
    (tmp_path / "list.txt").write_text("a\nb\n")
    with pytest.raises(WECLError, match=r"list\.txt, line 2: video \"b\" has no line"):
        read_annotations(path, video_list=tmp_path / "list.txt")


def test_position_without_list_is_explained(tmp_path):
    path = tmp_path / "position.txt"
    path.write_text("0 1 0 0 0 0 5\n")
    with pytest.raises(WECLError, match="video_list"):
        read_annotations(path)


def test_missing_file_and_unknown_format(tmp_path):
    with pytest.raises(WECLError, match="nothere.json: file not found"):
        read_annotations(tmp_path / "nothere.json")
    with pytest.raises(WECLError, match="unknown annotation format"):
        write_annotations({}, tmp_path / "x", "yaml")


# --- atomic writes --------------------------------------------------------------------------


def test_atomic_write_replaces_content_and_keeps_umask_mode(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old")
    atomic_write_text(path, "new\n")
    assert path.read_text() == "new\n"
    assert os.listdir(tmp_path) == ["out.txt"]
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_atomic_write_failure_midway_keeps_old_file(tmp_path, monkeypatch):
    path = tmp_path / "gt.json"
    path.write_text("old content")

    def broken_fsync(fd):
        raise OSError(28, "No space left on device")

    # The temp file has been written when fsync fails: the worst moment to fail.
    monkeypatch.setattr(wecl.atomic.os, "fsync", broken_fsync)
    with pytest.raises(WECLError, match="gt.json: cannot write"):
        write_annotations(ground_truth(), path, "activitynet")
    assert path.read_text() == "old content"
    assert os.listdir(tmp_path) == ["gt.json"]


def test_atomic_write_encoding_error_keeps_old_file(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old")
    with pytest.raises(WECLError, match="out.txt"):
        atomic_write_text(path, "x" * 100_000 + "\ud800")  # a lone surrogate cannot be UTF-8
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["out.txt"]


def test_invalid_segment_is_refused_before_writing(tmp_path):
    path = tmp_path / "gt.csv"
    path.write_text("old")
    bad = {"v": VideoAnnotation("v", None, None, None, [Segment(0.0, float("nan"))])}
    with pytest.raises(WECLError, match='video "v"'):
        write_annotations(bad, path, "csv")
    bad = {"v": VideoAnnotation("v", None, None, None, [Segment(3.0, 1.0)])}
    with pytest.raises(WECLError, match="ends before it starts"):
        write_annotations(bad, path, "activitynet")
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["gt.csv"]


def test_write_into_missing_folder_is_a_wecl_error(tmp_path):
    with pytest.raises(WECLError, match="cannot write"):
        atomic_write_text(tmp_path / "no" / "such" / "dir.txt", "x")


def test_reading_is_linear_in_the_file_size(tmp_path):
    """Line numbers are searched for only when an error is reported: 8,000 videos read in well under
    the minute that a per-video search of the whole text took (the bound leaves room for a slow CI)."""
    import time

    db = {f"video_{i:05d}": {"duration": 10.0, "subset": "training",
                             "annotations": [{"segment": [1.0, 2.0], "label": "joy"}]} for i in range(8000)}
    path = tmp_path / "big.json"
    path.write_text(json.dumps({"database": db}, indent=2))
    start = time.perf_counter()
    assert len(read_annotations(path)) == 8000
    assert time.perf_counter() - start < 10
    db["video_07000"]["annotations"][0]["segment"] = [3, 1]
    path.write_text(json.dumps({"database": db}, indent=2))
    with pytest.raises(WECLError, match=r"line \d+: video \"video_07000\" annotation 1 ends before it starts"):
        read_annotations(path)


def test_an_annotation_file_over_the_size_limit_is_a_message(limits, tmp_path, monkeypatch):

    path = tmp_path / "huge.json"
    path.write_text(json.dumps({"database": {}}) + " " * 4096)
    limits(max_annotation_mb=1024 / 2**20)
    with pytest.raises(WECLError, match="more than an annotation file may hold"):
        read_annotations(path)


@pytest.mark.parametrize("fmt", ["activitynet", "results", "csv", "ekman-position"])
def test_an_annotation_file_with_too_many_items_is_a_message(limits, tmp_path, monkeypatch, fmt):
    """Bytes alone do not bound parsing: 16 MB of CSV is two million segments. Every reader counts
    videos and segments and refuses a file past WECL_MAX_ANNOTATION_ITEMS; at the bound it reads."""

    limits(max_annotation_items=6)

    def write(videos: int, segments: int):
        path = tmp_path / f"{fmt}-{videos}-{segments}"
        ids = [f"v{i}" for i in range(videos)]
        per = [[[j, j + 0.5] for j in range(segments // videos)] for _ in ids]
        if fmt == "activitynet":
            path.write_text(json.dumps({"database": {v: {"annotations": [{"segment": s} for s in segs]}
                                                     for v, segs in zip(ids, per)}}))
        elif fmt == "results":
            path.write_text(json.dumps({"results": {v: [{"segment": s, "score": 1.0} for s in segs]
                                                    for v, segs in zip(ids, per)}}))
        elif fmt == "csv":
            path.write_text("video,start,end,label\n" + "".join(f"{v},{a},{b},joy\n" for v, segs in zip(ids, per)
                                                                   for a, b in segs))
        else:
            path.write_text("".join("0.5 1 0 0 0 0 10\n" for _ in ids))
            path.with_name(path.stem + "_videos.txt").write_text("".join(f"{v}.mp4\n" for v in ids))
        return path

    many_segments = fmt != "ekman-position"  # a position line holds at most three segments
    assert len(read_annotations(write(2, 6) if many_segments else write(6, 6))) in (2, 6)
    too_many = [write(1, 7)] if many_segments else []
    too_many += [write(7, 7)]
    for path in too_many:
        with pytest.raises(WECLError, match=r"more than 6 (videos|segments|rows), more than an annotation file"):
            read_annotations(path)


def test_a_positions_file_counts_its_segments_too(limits, tmp_path, monkeypatch):
    """Three segments a line: six videos within the bound can still hold too many segments."""

    limits(max_annotation_items=6)
    path = tmp_path / "position.txt"
    path.write_text("0.5 1 2 3 4 5 10\n" * 3)
    (tmp_path / "position_videos.txt").write_text("a.mp4\nb.mp4\nc.mp4\n")
    with pytest.raises(WECLError, match=r"line 3: more than 6 segments"):
        read_annotations(path)


def test_deeply_nested_json_is_a_message(tmp_path):
    """Python's JSON parser recurses: a few thousand "[" raise RecursionError, not a JSON error."""
    from wecl.annotations import is_split_file

    path = tmp_path / "nested.json"
    path.write_text("[" * 200_000)
    with pytest.raises(WECLError, match="nested too deeply"):
        read_annotations(path)
    assert is_split_file(path) is True  # no RecursionError: the reader it picks says what is wrong


def test_formula_cells_are_written_as_text_and_read_back(tmp_path):
    """Issue 25, row 10: labels such as `=HYPERLINK(...)` went verbatim into the CSV and ELAN
    exports, where a spreadsheet runs them. They are written with a leading apostrophe (text to a
    spreadsheet) and read back as they were; numbers are untouched."""
    from wecl.annotations import read_annotations
    from wecl.annotations.elan import elan_text
    from wecl.annotations.formats import write_annotations
    from wecl.annotations.model import Segment, VideoAnnotation

    hostile = ['=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "@SUM(1+1)", "-2+3", "\tx"]
    annotations = {f"v{i}": VideoAnnotation(f"v{i}", 10.0, None, None, [Segment(1.0, 2.0, label)])
                   for i, label in enumerate(hostile)}
    annotations["=evil"] = VideoAnnotation("=evil", 10.0, None, None, [Segment(0.0, 1.5, "joy")])
    path = tmp_path / "out.csv"
    write_annotations(annotations, path, "csv")
    cells = [cell for line in path.read_text().splitlines()[1:] for cell in next(csv.reader([line]))]
    assert not any(cell.startswith(("=", "+", "@", "\t")) for cell in cells), cells
    assert any(cell.startswith("'=HYPERLINK") for cell in cells) and "'=evil" in cells
    back = read_annotations(path)
    assert {v: a.segments[0].label for v, a in back.items()} == {
        **{f"v{i}": label for i, label in enumerate(hostile)}, "=evil": "joy"}
    assert back["=evil"].segments[0].end == 1.5
    for line in elan_text(annotations).splitlines():
        assert not any(cell.startswith(("=", "+", "@", "-")) for cell in (line.split("\t")[0], line.split("\t")[3]))
