import json

import pytest

from wecl.errors import WECLError
from wecl.training.datasets import open_dataset, read_caer, read_csv_list, read_split


def _touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x00")
    return path


def test_split_file(tmp_path):
    split = {"labels": ["anger", "joy"], "database": {
        "a1": {"subset": "training", "annotations": {"label": "anger"}},
        "j1": {"subset": "validation", "annotations": {"label": "joy"}},
        "gone": {"subset": "training", "annotations": {"label": "joy"}}}}
    (tmp_path / "split.json").write_text(json.dumps(split))
    _touch(tmp_path / "anger" / "a1.mp4")
    _touch(tmp_path / "joy" / "j1.avi")
    ds = open_dataset(tmp_path / "split.json")
    assert ds.layout == "split" and ds.classes == ["anger", "joy"]
    # the official code's files have training + "validation", and it reports on "validation": the test half
    assert [(i.video_id, i.label, i.subset) for i in ds.items] == [("a1", "anger", "training"), ("j1", "joy", "testing")]
    assert ds.missing == ["gone"]
    assert [i.video_id for i in ds.test_items()] == ["j1"]


def test_split_unknown_label_and_bad_json(tmp_path):
    (tmp_path / "s.json").write_text(json.dumps({"labels": ["anger", "joy"], "database": {
        "x": {"subset": "training", "annotations": {"label": "fear"}}}}))
    with pytest.raises(WECLError, match="fear"):
        read_split(tmp_path / "s.json")
    (tmp_path / "bad.json").write_text('{"labels": ["a"],\n "database": {,}}')
    with pytest.raises(WECLError, match=r"bad.json, line 2"):
        read_split(tmp_path / "bad.json")


def test_caer(tmp_path):
    for subset in ("train", "validation", "test"):
        for cls in ("Anger", "Happy"):
            _touch(tmp_path / subset / cls / "0001.avi")
    ds = open_dataset(tmp_path)
    assert ds.layout == "caer" and ds.classes == ["Anger", "Happy"]
    assert len(ds.items) == 6 and len({i.video_id for i in ds.items}) == 6
    assert {i.subset for i in ds.items} == {"training", "validation", "testing"}
    assert all(i.subset == "testing" for i in ds.test_items())
    with pytest.raises(WECLError, match="not a CAER folder"):
        read_caer(tmp_path / "train" / "Anger")


def test_csv(tmp_path):
    _touch(tmp_path / "v" / "a.mp4")
    _touch(tmp_path / "v" / "b.mp4")
    (tmp_path / "list.csv").write_text("path,label,split\nv/a.mp4,joy,train\nv/b.mp4,anger,test\nv/c.mp4,joy,train\n")
    ds = open_dataset(tmp_path / "list.csv")
    assert ds.layout == "csv" and ds.classes == ["anger", "joy"]
    assert [(i.video_id, i.subset) for i in ds.items] == [("a", "training"), ("b", "testing")]
    assert ds.missing == ["c"]
    (tmp_path / "two.csv").write_text("path,label\nv/a.mp4,joy\n")
    assert read_csv_list(tmp_path / "two.csv").items[0].subset is None


@pytest.mark.parametrize("text, problem", [
    ("file,label\nv/a.mp4,joy\n", "line 1: the header"),
    ("path,label\nv/a.mp4\n", "line 2: expected 2 columns"),
    ("path,label\nv/a.mp4,joy\nv/b.mp4,\n", "line 3: empty label"),
    ("path,label,split\nv/a.mp4,joy,holiday\n", "line 2: unknown subset"),
    ("path,label\nv/a.mp4,joy\nv/a.mp4,joy\n", "line 3: video id 'a' already listed on line 2"),
])
def test_csv_malformed(tmp_path, text, problem):
    _touch(tmp_path / "v" / "a.mp4")
    _touch(tmp_path / "v" / "b.mp4")
    (tmp_path / "list.csv").write_text(text)
    with pytest.raises(WECLError) as error:
        read_csv_list(tmp_path / "list.csv")
    assert "list.csv" in str(error.value) and problem in str(error.value)


def test_activitynet_folder(tmp_path):
    doc = {"version": "wecl-synth-1", "labels": ["anger", "joy"], "database": {
        "v1": {"duration": 8.0, "subset": "training", "label": "anger",
               "annotations": [{"segment": [1.0, 3.0], "label": "anger"}]},
        "v2": {"duration": 6.0, "subset": "validation", "label": "joy",
               "annotations": [{"segment": [0.5, 2.0], "label": "joy"}]}}}
    (tmp_path / "annotations.json").write_text(json.dumps(doc))
    _touch(tmp_path / "v1.mp4")
    _touch(tmp_path / "v2.mp4")
    ds = open_dataset(tmp_path)
    assert ds.layout == "activitynet" and ds.synthetic and ds.classes == ["anger", "joy"]
    assert ds.annotations["v1"].segments[0].end == 3.0
    assert [i.video_id for i in ds.train_items()] == ["v1"] and [i.video_id for i in ds.test_items()] == ["v2"]
    doc["database"]["v1"]["annotations"][0]["segment"] = [3.0, 1.0]
    (tmp_path / "annotations.json").write_text(json.dumps(doc, indent=1))
    with pytest.raises(WECLError, match=r"annotations.json, line \d+: .*ends before it starts"):
        open_dataset(tmp_path)


def test_no_layout(tmp_path):
    with pytest.raises(WECLError, match="neither"):
        open_dataset(tmp_path)
    with pytest.raises(WECLError, match="no such file"):
        open_dataset(tmp_path / "nothing.json")
