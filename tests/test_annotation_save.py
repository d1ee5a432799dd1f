"""Saving edited annotations: backup, atomic replace, concurrent saves, a kill in the middle."""
import json
import os
import signal
import subprocess
import sys
import threading
import time

from wecl.annotations import (
    Segment, VideoAnnotation, backup_path, read_annotations, save_annotations, write_annotations,
)


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
