"""Saving edited annotations: backup, atomic replace, concurrent saves, a kill in the middle."""
import json
import signal
import subprocess
import sys
import threading
import time

import pytest

from wecl.annotations import (
    Segment,
    VideoAnnotation,
    backup_path,
    read_annotations,
    save_annotations,
    save_video_segments,
    write_annotations,
)
from wecl.errors import WECLError


def annotation_set(n_videos: int, tag: str) -> dict:
    return {
        f"v{i:05d}": VideoAnnotation(f"v{i:05d}", 30.0, tag, "validation",
                                     [Segment(1.0 + j, 2.0 + j, tag) for j in range(5)])
        for i in range(n_videos)
    }


def test_save_keeps_a_backup_and_writes_the_new_version(tmp_path):
    path = tmp_path / "annotations.json"
    write_annotations(annotation_set(3, "old"), path, "activitynet")
    save_annotations(annotation_set(3, "new"), path)
    assert {a.label for a in read_annotations(path).values()} == {"new"}
    assert {a.label for a in read_annotations(backup_path(path), "activitynet").values()} == {"old"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["annotations.json", "annotations.json.bak"]


def test_two_saves_at_once_leave_one_whole_version(tmp_path):
    path = tmp_path / "annotations.csv"
    write_annotations(annotation_set(10, "start"), path, "csv")
    versions = {tag: annotation_set(2000, tag) for tag in ("a", "b")}
    threads = [threading.Thread(target=save_annotations, args=(versions[t], path)) for t in versions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    labels = {a.label for a in read_annotations(path).values()}
    assert labels in ({"a"}, {"b"})
    assert len(read_annotations(path)) == 2000
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


SAVER = """
import sys
from wecl.annotations import Segment, VideoAnnotation, save_annotations
path = sys.argv[1]
n = 0
while True:
    tag = "even" if n % 2 == 0 else "odd"
    data = {f"v{i:05d}": VideoAnnotation(f"v{i:05d}", 30.0, tag, None, [Segment(1.0 + j, 2.0 + j, tag) for j in range(5)])
            for i in range(3000)}
    save_annotations(data, path)
    n += 1
    print(n, flush=True)
"""


def test_a_process_killed_while_saving_leaves_a_whole_old_or_new_file(tmp_path):
    path = tmp_path / "annotations.json"
    write_annotations(annotation_set(3000, "even"), path, "activitynet")
    for delay in (0.35, 0.6, 0.9, 1.3):
        proc = subprocess.Popen([sys.executable, "-c", SAVER, str(path)], stdout=subprocess.PIPE, text=True)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        data = json.loads(path.read_text())  # parseable: never half-written
        annotations = read_annotations(path)
        assert len(annotations) == 3000 and len(data["database"]) == 3000
        assert len({a.label for a in annotations.values()}) == 1
        if backup_path(path).exists():
            assert len(read_annotations(backup_path(path), "activitynet")) == 3000
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    # a kill between creating and renaming the temp file may leave one hidden temp file; never a broken target
    assert all(name.startswith(".") for name in leftovers)


def test_saving_one_video_keeps_everything_else_in_the_json(tmp_path):
    path = tmp_path / "annotations.json"
    path.write_text(json.dumps({
        "labels": ["joy", "anger"], "version": "synthetic 1",
        "database": {
            "a": {"duration": 8.0, "subset": "testing", "label": "joy", "source": "cam 2",
                  "annotations": [{"segment": [1.0, 2.0], "label": "joy", "modality": "audio", "strength": 0.5},
                                  {"segment": [4.0, 5.0], "label": "joy", "modality": "both", "strength": 1.0}]},
            "b": {"duration": 6.0, "label": "anger", "annotations": [{"segment": [0.5, 1.5], "label": "anger"}]},
        }}))
    save_video_segments(path, "a", [Segment(1.0, 2.5, "joy"), Segment(6.0, 7.0, "joy")])
    data = json.loads(path.read_text())
    assert data["labels"] == ["joy", "anger"] and data["version"] == "synthetic 1"
    a = data["database"]["a"]
    assert (a["duration"], a["subset"], a["label"], a["source"]) == (8.0, "testing", "joy", "cam 2")
    # a segment that kept its start keeps its own extra keys; a new one has none
    assert a["annotations"] == [{"modality": "audio", "strength": 0.5, "segment": [1.0, 2.5], "label": "joy"},
                                {"segment": [6.0, 7.0], "label": "joy"}]
    assert data["database"]["b"]["annotations"] == [{"segment": [0.5, 1.5], "label": "anger"}]
    assert json.loads(backup_path(path).read_text())["database"]["a"]["annotations"][1]["segment"] == [4.0, 5.0]
    # a video the file did not hold yet is added
    save_video_segments(path, "c", [Segment(0.0, 1.0, "anger")], label="anger", duration=3.0)
    c = read_annotations(path)["c"]
    assert (c.label, c.duration, [(s.start, s.end) for s in c.segments]) == ("anger", 3.0, [(0.0, 1.0)])


def test_two_people_saving_different_videos_keep_both_edits(tmp_path):
    for name, fmt in (("annotations.json", "activitynet"), ("annotations.csv", "csv")):
        path = tmp_path / name
        write_annotations(annotation_set(300, "start"), path, fmt)
        edits = {f"v{i:05d}": [Segment(10.0 + i, 11.0 + i, "edited")] for i in range(0, 300, 15)}
        threads = [threading.Thread(target=save_video_segments, args=(path, vid, segs)) for vid, segs in edits.items()]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        saved = read_annotations(path)
        assert len(saved) == 300
        for vid, segs in edits.items():  # read-change-write under one lock: no edit lost
            assert [(s.start, s.end, s.label) for s in saved[vid].segments] == [(segs[0].start, segs[0].end, "edited")]
        assert saved["v00001"].segments[0].label == "start"


def test_a_split_file_has_no_segments_to_edit(tmp_path):
    path = tmp_path / "split.json"
    path.write_text(json.dumps({"labels": ["joy"], "database": {"a": {"subset": "training", "annotations": {"label": "joy"}}}}))
    before = path.read_text()
    try:
        save_video_segments(path, "a", [Segment(0.0, 1.0)])
    except WECLError as error:
        assert "split-file label" in str(error)
    else:
        raise AssertionError("saving segments into a split file should fail")
    assert path.read_text() == before


VIDEO_SAVER = """
import sys
from wecl.annotations import Segment, save_video_segments
path, n = sys.argv[1], 0
while True:
    save_video_segments(path, "v00007", [Segment(1.0 + n % 2, 2.0 + n % 2, "edited")])
    n += 1
"""


def test_a_process_killed_while_saving_one_video_leaves_a_whole_file(tmp_path):
    path = tmp_path / "annotations.json"
    write_annotations(annotation_set(3000, "even"), path, "activitynet")
    for delay in (0.4, 0.7, 1.1):
        proc = subprocess.Popen([sys.executable, "-c", VIDEO_SAVER, str(path)])
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        annotations = read_annotations(path)  # parseable: the old or the new version, never a mix
        assert len(annotations) == 3000
        assert [(s.start, s.end) for s in annotations["v00007"].segments] in ([(1.0, 2.0)], [(2.0, 3.0)],
                                                                              [(1.0 + j, 2.0 + j) for j in range(5)])
        assert len(annotations["v00008"].segments) == 5


def test_csv_save_keeps_every_column_and_the_older_versions(tmp_path):
    """A CSV with columns of its own (annotator, confidence): saving one video changes that video's
    rows only; other videos keep every cell, an unchanged segment keeps its extra cells, and
    several saves keep several backups."""
    path = tmp_path / "gt.csv"
    path.write_text("video,start,end,label,annotator,confidence\n"
                    "a,1.0,2.0,joy,ann,0.9\n"
                    "b,0.5,1.5,anger,bob,0.7\n"
                    "a,3.0,4.0,joy,ann,0.8\n"
                    "c,,,sadness,cat,\n")
    original = path.read_text()
    save_video_segments(path, "a", [Segment(1.0, 2.0, "joy"), Segment(5.0, 6.0, "joy")])
    lines = path.read_text().splitlines()
    assert lines[0] == "video,start,end,label,annotator,confidence"
    assert "b,0.5,1.5,anger,bob,0.7" in lines and "c,,,sadness,cat," in lines
    assert "a,1.0,2.0,joy,ann,0.9" in lines  # unchanged start: its annotator and confidence stay
    assert "a,5.0,6.0,joy,," in lines and not any(line.startswith("a,3.0") for line in lines)
    assert backup_path(path).read_text() == original
    first = path.read_text()
    save_video_segments(path, "b", [Segment(0.5, 2.0, "anger")])
    assert "b,0.5,2.0,anger,bob,0.7" in path.read_text().splitlines()
    assert backup_path(path).read_text() == first and backup_path(path, 1).read_text() == original
    assert read_annotations(path)["a"].segments == [Segment(1.0, 2.0, "joy"), Segment(5.0, 6.0, "joy")]


def test_a_positions_file_and_its_list_are_replaced_together(tmp_path, monkeypatch):
    """A crash between the two renames leaves a journal; the next read completes the new pair, so
    nobody ever reads new ids against old positions (or the reverse)."""
    import os

    import wecl.atomic as atomic

    path = tmp_path / "position.txt"
    old = {"a": VideoAnnotation("a", 10.0, None, None, [Segment(1.0, 2.0)]),
           "b": VideoAnnotation("b", 8.0, None, None, [Segment(3.0, 4.0)])}
    write_annotations(old, path, "ekman-position")
    new = {"b": VideoAnnotation("b", 8.0, None, None, [Segment(5.0, 6.0)]),
           "a": VideoAnnotation("a", 10.0, None, None, [Segment(1.5, 2.5)])}  # reordered: pairing matters
    real = os.replace

    def crash_on_the_second_rename(src, dst):
        # the positions are renamed first; the process dies before the video list follows
        if str(dst).endswith("_videos.txt") and ".staged" in str(src):
            raise KeyboardInterrupt
        return real(src, dst)

    monkeypatch.setattr(atomic.os, "replace", crash_on_the_second_rename)
    with pytest.raises(KeyboardInterrupt):
        write_annotations(new, path, "ekman-position")
    monkeypatch.setattr(atomic.os, "replace", real)
    got = read_annotations(path, "ekman-position")
    assert {vid: ann.segments for vid, ann in got.items()} == {vid: ann.segments for vid, ann in new.items()}
    assert not list(tmp_path.glob(".*journal")) and not list(tmp_path.glob(".*staged"))
