"""Other models' scores (docs/formats.md#other-models-scores): both import formats, each bad case a
message, the score rules, and `evaluate --predictions` scoring either format the same way."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from wecl.annotations import Segment
from wecl.annotations.scores import Rule, as_detections, parse_rule, read_scores
from wecl.errors import WECLError
from wecl.settings import Settings

KNOWN = {"a": 10.0, "b": 8.0}
GT = {"database": {"a": {"duration": 10.0, "annotations": [{"segment": [1.0, 3.0], "label": "joy"},
                                                             {"segment": [6.0, 8.0], "label": "joy"}]},
                   "b": {"duration": 8.0, "annotations": [{"segment": [2.0, 5.0], "label": "sadness"}]}}}


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def results_json(results):
    return json.dumps({"results": results})


def test_a_csv_with_models_and_labels_is_a_track_per_model(tmp_path):
    path = write(tmp_path, "scores.csv", "video,start,end,score,label,model\n"
                                         "a,0,1,0.2,joy,vaanet\na,1,2,0.9,joy,vaanet\nb,0,4,0.5,sadness,cten\n"
                                         "a,1,3,0.7,,cten\n")
    tracks = read_scores(path, KNOWN)
    assert list(tracks) == ["vaanet", "cten"]
    assert tracks["vaanet"]["a"].segments == [Segment(0, 1, "joy", 0.2), Segment(1, 2, "joy", 0.9)]
    assert tracks["cten"]["b"].segments == [Segment(0, 4, "sadness", 0.5)]
    assert tracks["cten"]["a"].segments == [Segment(1, 3, None, 0.7)]
    assert tracks["vaanet"]["a"].label == "joy"


def test_a_file_without_a_model_column_is_named_after_the_file(tmp_path):
    csv_path = write(tmp_path, "my_model.csv", "video,start,end,score\na,0,1,0.5\n")
    json_path = write(tmp_path, "other.json", results_json({"a": [{"segment": [0, 1], "score": 0.5, "label": "joy"}]}))
    assert list(read_scores(csv_path)) == ["my_model"]
    tracks = read_scores(json_path, KNOWN)
    assert list(tracks) == ["other"]
    assert tracks["other"]["a"].segments == [Segment(0.0, 1.0, "joy", 0.5)]
    assert list(read_scores(json_path, name="named")) == ["named"]


BAD_CSV = [
    ("a,1,2,0.5\na,1.5,3,0.4\n", r"scores.csv, line 3: .*lines 2 and 3 overlap \(\[1, 2\] and \[1.5, 3\] s\)"),
    ("a,9,10.5,0.5\n", r"line 2: .*\[9, 10.5\] s ends after the video's end \(10 s\)"),
    ("a,1,2,nan\n", r"line 2: score is not a finite number"),
    ("a,NaN,2,0.3\n", r"line 2: start is not a finite number"),
    ("a,1,2,inf\n", r"line 2: score is not a finite number"),
    ("zzz,1,2,0.5\n", r'line 2: video "zzz" is not one of the videos here \(a, b\)'),
    ("a,3,2,0.5\n", r"line 2: interval ends before it starts"),
    ("a,1,2,high\n", r"line 2: score is not a number: 'high'"),
    ("a,1,2\n", r"line 2: expected 4 columns, found 3"),
]


@pytest.mark.parametrize("rows,message", BAD_CSV)
def test_each_bad_csv_is_a_message_with_its_line(tmp_path, rows, message):
    path = write(tmp_path, "scores.csv", "video,start,end,score\n" + rows)
    with pytest.raises(WECLError, match=message):
        read_scores(path, KNOWN)


BAD_JSON = [
    ({"a": [{"segment": [1, 2], "score": 0.5}, {"segment": [0, 1.5], "score": 0.4}]},
     r'model "scores", video "a": results 2 and 1 overlap'),
    ({"a": [{"segment": [9, 11], "score": 0.5}]}, r"ends after the video's end \(10 s\)"),
    ({"zzz": [{"segment": [1, 2], "score": 0.5}]}, r'video "zzz" is not one of the videos here'),
    ({"a": [{"segment": [1, 2]}]}, r'has no "score"'),
]


@pytest.mark.parametrize("results,message", BAD_JSON)
def test_each_bad_results_json_is_a_message(tmp_path, results, message):
    path = write(tmp_path, "scores.json", results_json(results))
    with pytest.raises(WECLError, match=message):
        read_scores(path, KNOWN)


def test_nan_in_results_json_is_a_message(tmp_path):
    path = write(tmp_path, "scores.json", '{"results": {"a": [{"segment": [1, 2], "score": NaN}]}}')
    with pytest.raises(WECLError, match="score is not a finite number: nan"):
        read_scores(path, KNOWN)


def test_times_and_videos_are_only_checked_against_known_videos(tmp_path):
    path = write(tmp_path, "scores.csv", "video,start,end,score\nzzz,1,200,0.5\n")
    assert read_scores(path)["scores"]["zzz"].segments == [Segment(1, 200, None, 0.5)]
    # a tenth of a second past the end is rounding, not a bad file
    path = write(tmp_path, "close.csv", "video,start,end,score\na,9,10.05,0.5\n")
    assert read_scores(path, KNOWN)


def test_200001_rows_are_refused_before_they_are_built(tmp_path):
    MAX_ANNOTATION_ITEMS = Settings().max_annotation_items  # the default bound: 200,000
    assert MAX_ANNOTATION_ITEMS == 200_000
    rows = "".join(f"a,{i},{i + 1},0.5\n" for i in range(MAX_ANNOTATION_ITEMS + 1))
    path = write(tmp_path, "big.csv", "video,start,end,score\n" + rows)
    with pytest.raises(WECLError, match=f"more than {MAX_ANNOTATION_ITEMS:,} rows"):
        read_scores(path)
    results = {"a": [{"segment": [i, i + 1], "score": 0.5} for i in range(MAX_ANNOTATION_ITEMS + 1)]}
    path = write(tmp_path, "big.json", results_json(results))
    with pytest.raises(WECLError, match=f"more than {MAX_ANNOTATION_ITEMS:,} segments"):
        read_scores(path)


def test_other_bad_files_are_messages(tmp_path):
    for text, message in [("video,start,end\na,1,2\n", "missing score"), ("video,start,end,score\n", "no scored interval"),
                          ("video,start,end,score,model\na,1,2,0.5,\n", "empty model name"),
                          ("video,start,end,score,model\n" + "".join(f"a,{i},{i + 1},0.5,m{i}\n" for i in range(9)),
                           "more than 8 models"),
                          ('{"results": [1, 2]}', '"results" must be an object'), ("{not json", "not valid JSON")]:
        path = write(tmp_path, "bad.json" if text.startswith("{") else "bad.csv", text)
        with pytest.raises(WECLError, match=message):
            read_scores(path)


def test_score_rules():
    track = {"a": _annotation([(0, 1, 0.2), (1, 2, 0.8), (2, 4, 0.6), (5, 6, 0.9), (6, 7, 0.1)])}
    assert as_detections(track, Rule())["a"].segments == track["a"].segments
    runs = as_detections(track, parse_rule("threshold:0.5"))["a"].segments
    assert [(s.start, s.end) for s in runs] == [(1, 4), (5, 6)]
    assert runs[0].score == pytest.approx((0.8 * 1 + 0.6 * 2) / 3)
    top = as_detections(track, parse_rule("top-k:2"))["a"].segments
    assert [(s.start, s.end, s.score) for s in top] == [(1, 2, 0.8), (5, 6, 0.9)]
    assert str(parse_rule("top-k:2")) == "top-k:2" and str(parse_rule(None)) == "as-is"
    for bad in ("top-k:0", "top-k:1.5", "threshold:x", "median", "threshold:nan"):
        with pytest.raises(WECLError, match="score rule"):
            parse_rule(bad)


def _annotation(items):
    from wecl.annotations import VideoAnnotation

    return VideoAnnotation("a", None, None, None, [Segment(s, e, "joy", p) for s, e, p in items])


def _evaluate(*args):
    out = subprocess.run([sys.executable, "-m", "wecl", "evaluate", *map(str, args)], capture_output=True, text=True)
    return out


def test_evaluate_scores_csv_and_json_of_one_model_alike(tmp_path):
    gt = write(tmp_path, "gt.json", json.dumps(GT))
    items = {"a": [(1.0, 2.9, 0.9, "joy"), (4.0, 5.0, 0.3, "joy"), (6.5, 8.0, 0.6, "joy")], "b": [(1.0, 4.0, 0.8, "sadness")]}
    csv_text = "video,start,end,score,label\n" + "".join(f"{v},{s},{e},{p},{lbl}\n" for v, rows in items.items()
                                                         for s, e, p, lbl in rows)
    csv_path = write(tmp_path, "vaanet.csv", csv_text)
    json_path = write(tmp_path, "vaanet.json", results_json(
        {v: [{"segment": [s, e], "score": p, "label": lbl} for s, e, p, lbl in rows] for v, rows in items.items()}))
    figures = []
    for path in (csv_path, json_path):
        out = _evaluate("--ground-truth", gt, "--predictions", path, "--json", tmp_path / f"{path.suffix[1:]}.out")
        assert out.returncode == 0, out.stderr
        assert "model: vaanet (intervals as-is)" in out.stdout
        figures.append(json.loads((tmp_path / f"{path.suffix[1:]}.out").read_text()))
    assert figures[0] == figures[1]
    assert figures[0]["model"] == "vaanet" and figures[0]["accuracy"] == 1.0
    assert figures[0]["mAP"]["0.5"] == pytest.approx(1.0)  # 3 of 3 ground-truth segments found, ranked first
    out = _evaluate("--ground-truth", gt, "--predictions", csv_path, "--score-rule", "top-k:1", "--json", tmp_path / "k.json")
    assert out.returncode == 0, out.stderr
    assert json.loads((tmp_path / "k.json").read_text())["mAP"]["0.5"] == pytest.approx(2 / 3)


def test_evaluate_names_a_model_or_says_which_there_are(tmp_path):
    gt = write(tmp_path, "gt.json", json.dumps(GT))
    path = write(tmp_path, "two.csv", "video,start,end,score,model\na,1,3,0.9,x\na,1,3,0.5,y\n")
    out = _evaluate("--ground-truth", gt, "--predictions", path)
    assert out.returncode != 0 and "the file holds the models x, y: name one with --model" in out.stderr
    out = _evaluate("--ground-truth", gt, "--predictions", path, "--model", "y")
    assert out.returncode == 0 and "model: y" in out.stdout
    bad = write(tmp_path, "bad.csv", "video,start,end,score\nzzz,1,3,0.9\n")
    out = _evaluate("--ground-truth", gt, "--predictions", bad)
    assert out.returncode != 0 and 'video "zzz" is not one of the videos here' in out.stderr
    assert "Traceback" not in out.stderr
