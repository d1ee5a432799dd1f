"""The dataset tab's work, through the app's own handlers, against `python -m wecl evaluate` on the
same 20 synthetic videos: the table and every figure agree, a restart recomputes nothing, and a
corrected ground truth is saved back with a backup, keeping what the file held besides."""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

import gradio as gr
import numpy as np
import pytest

from explorer import dataset_run
from helpers import run_wecl
from ui import dataset_tab
from wecl.annotations import read_annotations
from wecl.evaluation import theta_sweep
from wecl.metrics import tiou_matrix
from wecl.training.synth import generate

pytestmark = pytest.mark.slow
VIDEOS = 20
DEMO = "wecl-synth-demo"  # synthetic videos: the checkpoint trained on them (the default reads faces)


def finish(token, timeout: float = 300) -> tuple:
    """Poll like the app's timer until the run reports that it is done; the last poll's outputs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = dataset_tab.poll_dataset(token)
        if out[0].active is False:
            return out
        time.sleep(0.3)
    raise AssertionError("the dataset run did not finish")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dataset") / "videos"
    generate(folder, VIDEOS, seed=21, duration_range=(3.0, 5.0))
    (folder / "broken.mp4").write_bytes(b"\x00" * 4096)  # listed nowhere, unreadable: skipped, reported
    return folder


@pytest.fixture(scope="module")
def evaluated(dataset, tmp_path_factory):
    """What the command line prints and writes for the synthetic demo checkpoint on these files."""
    out = tmp_path_factory.mktemp("evaluate")
    done = run_wecl("evaluate", "--dataset", str(dataset), "--checkpoint", DEMO, "--json", str(out / "ev.json"),
                    "--predictions-out", str(out / "pred.json"), "--theta-sweep", "--faithfulness")
    assert done.returncode == 0, done.stderr
    return done.stdout, json.loads((out / "ev.json").read_text()), read_annotations(out / "pred.json")


@pytest.fixture(scope="module")
def first_run(dataset):
    token, timer, source = dataset_tab.start_dataset(str(dataset), None, DEMO, "")
    assert timer.active is True and f"{VIDEOS + 1} videos" in source and "annotations.json" in source
    return token, finish(token)


def test_table_and_figures_equal_the_evaluate_command(dataset, evaluated, first_run):
    stdout, ev, predictions = evaluated
    token, (_, status, table, summary, ap_figure, confusion, per_class, distribution, sweep, faith, faith_md,
            _shown) = first_run
    assert f"{VIDEOS + 1} videos: {VIDEOS} computed, 0 reused, 1 failed" in status
    assert len(table) == VIDEOS
    assert "1 video could not be read: " in summary and "broken.mp4" in summary

    # accuracy and mAP: the table's "correct" column, the summary and the printed report
    assert table["correct"].mean() == pytest.approx(ev["accuracy"])
    printed_accuracy = re.search(r"accuracy:\s+([\d.]+) %", stdout).group(1)
    printed_map = re.search(r"mAP class-agnostic \(paper\):\s+(.+)", stdout).group(1).split()
    row = next(line for line in summary.splitlines() if line.startswith("| wecl-synth-demo"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[2] == printed_accuracy
    assert cells[3:8] == printed_map

    # the AP curve: class-agnostic and per class, at every tIoU
    traces = {t.name: t for t in ap_figure.data}
    agnostic = traces["wecl-synth-demo: class-agnostic"]
    assert list(agnostic.x) == [0.1, 0.2, 0.3, 0.4, 0.5]
    assert list(agnostic.y) == pytest.approx([ev["mAP"][a] for a in ("0.1", "0.2", "0.3", "0.4", "0.5")])
    for cls, aps in ev["AP_per_class"].items():
        trace = traces[f"wecl-synth-demo: {cls}"]
        assert list(trace.y) == pytest.approx([aps[a] for a in sorted(aps, key=float)])
    # the faithfulness figures (issue 22) are the command's
    deletion = next(t for t in faith.data if t.xaxis == "x")
    assert list(deletion.y) == pytest.approx([ev["faithfulness"]["orders"][o]["deletion_auc"] for o in deletion.x])
    assert f"of {VIDEOS} videos" in faith_md and "beats random" in faith_md and "per class" in faith_md
    taus = next(t for t in faith.data if t.type == "histogram")
    assert list(taus.x) == pytest.approx(ev["faithfulness"]["kendall_taus"])
    # the confusion matrix and the theta sweep
    assert [list(r) for r in confusion.data[0].z] == ev["confusion"]["matrix"]
    sweep_map = {t.name: t for t in sweep.data}["wecl-synth-demo: mAP@0.5"]
    assert list(sweep_map.y) == pytest.approx([r["mAP"]["0.5"] for r in ev["theta_sweep"]])

    # per video: prediction, detections and best tIoU against the command's predictions file
    truth = read_annotations(dataset / "annotations.json")
    for r in table.to_dict("records"):
        pred, gt = predictions[r["video"]], truth[r["video"]]
        assert r["predicted"] == pred.label and r["ground truth"] == gt.label
        assert r["correct"] == (pred.label == gt.label)
        assert r["detected segments"] == len(pred.segments) and r["GT segments"] == len(gt.segments)
        if pred.segments:
            ious = tiou_matrix([(g.start, g.end) for g in gt.segments], [(p.start, p.end) for p in pred.segments])
            assert r["best tIoU"] == pytest.approx(round(float(ious.max()), 4))
        assert 0.0 <= r["attention in GT"] <= 1.0


def test_a_poll_resends_the_table_only_when_it_changed(first_run, tmp_path):
    """The timer's poll sends the table with its digest; while the results stay as they are, a poll
    given that digest sends nothing for the table; given another digest (the table changed since
    it was sent), the table goes again."""
    token, _ = first_run
    polled = dataset_tab.poll_dataset(token)
    assert len(polled.table) == VIDEOS and isinstance(polled.shown, str)
    again = dataset_tab.poll_dataset(token, polled.shown)
    assert again.table == gr.skip() and again.shown == gr.skip()
    assert "videos" in again.status  # the rest of the tick still comes
    assert dataset_tab.poll_dataset(token, "another digest").table.equals(polled.table)


def test_a_restart_and_the_cli_recompute_nothing(dataset, first_run):
    token, _ = first_run
    again, _, _ = dataset_tab.start_dataset(str(dataset), None, DEMO, "")
    assert again != token  # a fresh run of the same folder ...
    out = finish(again)
    run = dataset_run.get_run(again)
    assert (run.progress[0].stats.computed, run.progress[0].stats.reused) == (0, VIDEOS)  # counted, not assumed
    assert f"{VIDEOS + 1} videos: 0 computed, {VIDEOS} reused, 1 failed" in out[1]  # the broken file is retried
    # ... and the command line reads the same database
    done = run_wecl("batch", str(dataset), "--checkpoint", DEMO)
    assert done.returncode == 0, done.stderr
    assert f"{VIDEOS + 1} videos: 0 computed, {VIDEOS} reused" in done.stdout


def test_corrected_ground_truth_is_saved_with_a_backup(dataset, first_run, tmp_path):
    token, _ = first_run
    path = dataset / "annotations.json"
    before = path.read_text()
    original = json.loads(before)
    vid = "synth_21_0003"
    views = dataset_tab._dataset_video_views(dataset_run.get_run(token), vid)
    assert views.vid == vid and views.gt_rows  # rows of its ground truth
    # the row opens a playable video (issue 20): a copy Gradio serves, of the file itself
    assert Path(views.player).read_bytes() == (dataset / f"{vid}.mp4").read_bytes()
    assert str(dataset) not in views.heading and f"{vid}.mp4" in views.heading  # no server path
    outputs = dataset_tab.save_dataset_ground_truth(token, vid,
                                                    [[0.5, 1.5, "joy"], [2.0, 2.75, "joy"], [None, None, None]])
    table = outputs[0]

    saved = json.loads(path.read_text())
    assert (dataset / "annotations.json.bak").read_text() == before
    entry = saved["database"][vid]
    assert [a["segment"] for a in entry["annotations"]] == [[0.5, 1.5], [2.0, 2.75]]
    assert saved["labels"] == original["labels"]  # top-level keys survive
    other = "synth_21_0004"
    assert saved["database"][other] == original["database"][other]  # other videos untouched
    assert table.set_index("video").loc[vid, "GT segments"] == 2  # the table follows at once
    assert read_annotations(path)[vid].segments[1].end == 2.75
    # the theta sweep (its predictions kept from the run) is scored against the new ground truth
    run = dataset_run.get_run(token)
    features = run.features(0)
    truth = {v: a for v, a in read_annotations(path).items() if v in features}
    expected = theta_sweep(run.models[0], features, truth)
    sweep = {t.name: t for t in outputs[6].data}["wecl-synth-demo: mAP@0.1"]
    assert list(sweep.y) == pytest.approx([r["mAP"]["0.1"] for r in expected])

    # a broken row is a message, and the file is left as it was
    with pytest.raises(gr.Error, match="row 1"):
        dataset_tab.save_dataset_ground_truth(token, vid, [[3.0, 1.0, "joy"]])
    assert json.loads(path.read_text()) == saved

    # export in every format
    files = dataset_tab.export_dataset_ground_truth(token)["value"]
    names = sorted(Path(f).name for f in files)
    assert names == sorted(["annotations.activitynet.json", "annotations.csv", "annotations.position.txt",
                            "annotations.position_videos.txt", "annotations.elan.txt",
                            "annotations.label-studio.json"])
    assert read_annotations(next(f for f in files if f.endswith(".csv")))[vid].segments[0].start == 0.5


def test_bad_folder_and_checkpoint_are_messages(tmp_path, limits):
    with pytest.raises(gr.Error, match="no such folder"):
        dataset_tab.start_dataset(str(tmp_path / "nowhere"), None, "", "")
    (tmp_path / "empty").mkdir()
    with pytest.raises(gr.Error, match="no video files"):
        dataset_tab.start_dataset(str(tmp_path / "empty"), None, "", "")
    with pytest.raises(gr.Error, match="no folder"):
        dataset_tab.start_dataset("  ", None, "", "")
    folder = tmp_path / "one"
    generate(folder, 1, seed=3, duration_range=(3.0, 3.0))
    with pytest.raises(gr.Error):
        dataset_tab.start_dataset(str(folder), None, str(tmp_path / "no-such-checkpoint"), "")
    limits(dataset_roots=(str(tmp_path / "elsewhere"),))  # a Space opens only the folders it allows
    with pytest.raises(gr.Error, match="only under"):
        dataset_tab.start_dataset(str(folder), None, "", "")
    limits(dataset_roots=())
    for env in ({"GRADIO_SERVER_NAME": "0.0.0.0"}, {"SPACE_ID": "someone/space"}, {"GRADIO_SHARE": "true"}):
        with pytest.MonkeyPatch.context() as mp:  # reachable from elsewhere: fail closed, assets/ only
            for name, value in env.items():
                mp.setenv(name, value)
            with pytest.raises(gr.Error, match="only under .*assets"):
                dataset_tab.start_dataset(str(folder), None, "", "")
    bad = tmp_path / "broken.json"
    bad.write_text("{not json")
    with pytest.raises(gr.Error, match="JSON"):
        dataset_tab.start_dataset(str(folder), [str(bad)], "", "")


def test_two_checkpoints_side_by_side(dataset, tiny_checkpoint):
    token, _, _ = dataset_tab.start_dataset(str(dataset), None, DEMO, str(tiny_checkpoint))
    _, status, table, summary, ap_figure, *_ = finish(token)
    name = tiny_checkpoint.name
    assert f"**{name}**" in status and "**wecl-synth-demo**" in status
    assert f"predicted ({name})" in table.columns and len(table) == VIDEOS
    assert any(line.startswith(f"| {name}") for line in summary.splitlines())
    assert {"wecl-synth-demo: class-agnostic", f"{name}: class-agnostic"} <= {t.name for t in ap_figure.data}
    views = dataset_tab._dataset_video_views(dataset_run.get_run(token), "synth_21_0000")
    figure_a, figure_b = views.timeline_a, views.timeline_b["value"]
    assert "wecl-synth-demo" in figure_a.layout.title.text and name in figure_b.layout.title.text
    assert views.timeline_b["visible"] is True
    assert np.isfinite(table["confidence"]).all()
    # issue 20: every aggregate figure shows both checkpoints, each named
    _, status, _, _, _, confusion, _, distribution, *_ = finish(token)
    assert [t.name for t in confusion.data] == ["wecl-synth-demo", name]
    assert {a.text.split(" (")[0] for a in confusion.layout.annotations} >= {"wecl-synth-demo", name}
    assert {a.text for a in distribution.layout.annotations} >= {"wecl-synth-demo", name}
    assert all(max(t.x, default=0) < 1.0 and t.xbins.end == 1.0 for t in distribution.data)  # no bin past 1


def test_a_run_on_cached_features_says_so():
    """Issue 20: a second checkpoint on the same backbones read "0.0 s, 291.69 videos/s"."""
    from wecl.batch import BatchStats

    stats = BatchStats(total=20, computed=20, cached_features=20, seconds=0.0686)
    line = dataset_run.RunProgress("b", 20, 20, "done", stats=stats).line()
    assert "20 computed" in line and "0.07 s" in line and "20 on cached features, the heads alone ran" in line


def test_stop_keeps_what_is_done_and_start_continues(tmp_path):
    folder = tmp_path / "videos"
    generate(folder, 12, seed=22, duration_range=(4.0, 6.0))
    token, _, _ = dataset_tab.start_dataset(str(folder), None, "", "")
    dataset_tab.stop_dataset(token)
    _, status, table, *_ = finish(token)
    run = dataset_run.get_run(token)
    first = run.progress[0].stats
    assert run.progress[0].state == "stopped" and first.stopped, status
    assert "stopped" in status and first.computed < 12 and len(table) == first.computed
    again, _, _ = dataset_tab.start_dataset(str(folder), None, "", "")
    _, status, table, *_ = finish(again)
    second = dataset_run.get_run(again).progress[0].stats
    assert (second.reused, second.computed) == (first.computed, 12 - first.computed), status
    assert len(table) == 12
    with pytest.raises(gr.Error, match="no dataset loaded"):
        dataset_tab.stop_dataset(None)


def test_many_starts_keep_a_few_runs_and_their_connections(tmp_path):
    """Finished runs beyond KEEP_RUNS are dropped with their SQLite connections."""
    import os

    from explorer import dataset_run

    def sqlite_handles() -> int:
        names = []
        for fd in os.listdir("/proc/self/fd"):
            try:
                names.append(os.readlink(f"/proc/self/fd/{fd}"))
            except OSError:
                pass
        return sum(1 for n in names if ".sqlite" in n and str(tmp_path) in n)

    for i in range(dataset_run.KEEP_RUNS + 6):
        folder = tmp_path / f"set{i}"
        generate(folder, 1, seed=40 + i, duration_range=(3.0, 3.0), size=(64, 48))
        run = dataset_run.start_run(folder, [None])
        deadline = time.time() + 120
        while not run.finished and time.time() < deadline:
            time.sleep(0.05)
        assert run.finished
    assert sqlite_handles() <= 3 * (dataset_run.KEEP_RUNS + 1)  # a connection holds the db, -wal and -shm
    assert len([k for k in dataset_run._runs if k[0].startswith(str(tmp_path))]) <= dataset_run.KEEP_RUNS + 1


def _wait(run):
    deadline = time.time() + 120
    while not run.finished and time.time() < deadline:
        time.sleep(0.05)
    assert run.finished


def test_an_uploaded_annotation_file_is_copied_at_start(tmp_path):
    """Edits go to the run's own copy; the upload (which Gradio may delete) is never written, and a
    copy that disappears is an error, not a file silently recreated with one video."""
    import shutil
    import types

    folder = tmp_path / "videos"
    generate(folder, 2, seed=60, duration_range=(3.0, 3.0), size=(64, 48))
    upload = tmp_path / "upload" / "annotations.json"
    upload.parent.mkdir()
    shutil.move(folder / "annotations.json", upload)
    before = upload.read_text()
    token, _, source = dataset_tab.start_dataset(str(folder), [str(upload)], "", "", "eq9",
                                                 types.SimpleNamespace(session_hash="u1"))
    assert "a copy of your own" in source
    run = dataset_run.get_run(token)
    _wait(run)
    vid = sorted(run.ground_truth)[0]
    dataset_tab.save_dataset_ground_truth(token, vid, [[0.5, 1.5, "joy"]])
    assert upload.read_text() == before
    assert read_annotations(run.annotation_path)[vid].segments[0].end == 1.5
    Path(run.annotation_path).unlink()
    with pytest.raises(gr.Error, match="has disappeared since Start"):
        dataset_tab.save_dataset_ground_truth(token, vid, [[0.5, 2.0, "joy"]])
    assert not Path(run.annotation_path).exists()


@pytest.mark.parametrize("reachable", [{"SPACE_ID": "someone/wecl-explorer"}, {"GRADIO_SERVER_NAME": "0.0.0.0"}])
def test_reachable_from_elsewhere_each_visitor_edits_a_copy_of_their_own(wecl_env, tmp_path, monkeypatch, reachable):
    """On a Space, and (issue 25, row 8) on a lab server on every address, where an anonymous Save
    rewrote the bundled annotations."""
    import types

    folder = tmp_path / "videos"
    generate(folder, 2, seed=61, duration_range=(3.0, 3.0), size=(64, 48))
    bundled = (folder / "annotations.json").read_text()
    for name, value in reachable.items():
        monkeypatch.setenv(name, value)
    wecl_env(WECL_DATASET_ROOTS=str(tmp_path))
    first, _, _ = dataset_tab.start_dataset(str(folder), None, DEMO, "", "eq9",
                                            types.SimpleNamespace(session_hash="alice"))
    run = dataset_run.get_run(first)
    _wait(run)
    vid = sorted(run.ground_truth)[0]
    dataset_tab.save_dataset_ground_truth(first, vid, [[0.25, 0.75, "joy"]])
    assert (folder / "annotations.json").read_text() == bundled  # the bundled file never changes
    second, _, _ = dataset_tab.start_dataset(str(folder), None, DEMO, "", "eq9",
                                             types.SimpleNamespace(session_hash="bob"))
    assert second != first
    other = dataset_run.get_run(second)
    assert other.ground_truth[vid].segments == read_annotations(folder / "annotations.json")[vid].segments
    assert run.ground_truth[vid].segments[0].end == 0.75


def test_a_moved_folder_keeps_its_results_and_duplicates_each_get_a_row(tmp_path):
    import shutil

    from explorer import dataset_run

    folder = tmp_path / "before"
    generate(folder, 3, seed=62, duration_range=(3.0, 3.0), size=(64, 48))
    first = sorted(folder.glob("*.mp4"))[0]
    shutil.copy(first, folder / "copy_of_first.mp4")  # the same bytes under another name
    run = dataset_run.start_run(folder, [None])
    _wait(run)
    assert set(run.results()) == {p.stem for p in folder.glob("*.mp4")}  # 4 rows for 3 distinct videos
    assert run.results()["copy_of_first"]["video"]["path"] == str(folder / "copy_of_first.mp4")
    moved = tmp_path / "after"
    folder.rename(moved)
    again = dataset_run.start_run(moved, [None])
    _wait(again)
    assert again.progress[0].stats.computed == 0 and again.progress[0].stats.reused == 4
    assert set(again.results()) == {p.stem for p in moved.glob("*.mp4")}
    assert all(r["video"]["path"].startswith(str(moved)) for r in again.results().values())


def test_a_slow_start_does_not_hold_up_other_users(tmp_path, monkeypatch):
    """Building a run (scanning, parsing, loading models) happens outside the registry's lock:
    another user's poll answers at once while a Start is still being built."""
    import threading

    from explorer import dataset_run

    folder = tmp_path / "other"
    generate(folder, 1, seed=63, duration_range=(3.0, 3.0), size=(64, 48))
    other = dataset_run.start_run(folder, [None])
    slow_folder = tmp_path / "slow"
    generate(slow_folder, 1, seed=64, duration_range=(3.0, 3.0), size=(64, 48))
    real_init = dataset_run.DatasetRun.__init__

    def slow_init(self, *args, **kwargs):
        time.sleep(2.0)  # a big folder, a long annotation file, a model download
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(dataset_run.DatasetRun, "__init__", slow_init)
    started = []
    starting = threading.Thread(target=lambda: started.append(dataset_run.start_run(slow_folder, [None])))
    starting.start()
    time.sleep(0.2)
    began = time.perf_counter()
    assert dataset_run.get_run(other.token) is other
    assert time.perf_counter() - began < 0.5
    starting.join()
    for run in (other, *started):  # no worker thread may outlive the test process
        _wait(run)


def test_faithfulness_is_stored_and_a_rerun_recomputes_nothing(tmp_path, monkeypatch):
    """Issue 22: each video's curves are kept in the results database (keyed by the perturbation
    too), so a second run, with its own process-level state gone, reads them back."""
    from wecl import faithfulness

    folder = tmp_path / "videos"
    generate(folder, 3, seed=23, duration_range=(3.0, 4.0))
    token, _, _ = dataset_tab.start_dataset(str(folder), None, DEMO, "")
    finish(token)
    first = dataset_run.get_run(token).faithfulness(0)
    assert first["videos"] == 3
    calls = []
    monkeypatch.setattr(faithfulness, "video_faithfulness", lambda *a, **k: calls.append(a))
    again, _, _ = dataset_tab.start_dataset(str(folder), None, DEMO, "")
    finish(again)
    second = dataset_run.get_run(again).faithfulness(0)
    assert calls == [] and second["orders"] == first["orders"]  # all read back from the database


def test_start_clears_the_previous_runs_video_and_aggregates(tmp_path):
    """A new run used to leave the video opened from the previous run (now with its player) and the
    previous run's aggregates on screen until it finished; Start clears them first."""
    cleared = dataset_tab.cleared_run()
    assert cleared.vid is None and cleared.player is None and cleared.timeline_a is None and cleared.strip is None
    assert cleared.gt_rows == [] and cleared.confusion is None and cleared.faithfulness is None
    assert cleared.timeline_b["visible"] is False and "Click a row" in cleared.heading


def test_the_player_keeps_one_copy_per_session(tmp_path):
    import types

    folder = tmp_path / "videos"
    generate(folder, 2, seed=24, duration_range=(3.0, 3.5))
    request = types.SimpleNamespace(session_hash="player-test")
    first, second = sorted(folder.glob("*.mp4"))
    a = Path(dataset_tab._playable(str(first), request))
    b = Path(dataset_tab._playable(str(second), request))
    assert b.read_bytes() == second.read_bytes() and not a.exists()  # the earlier copy is gone
    assert [p.name for p in b.parent.iterdir()] == [second.name]


def test_picking_a_checkpoint_selects_its_keyframe_rule():
    assert dataset_tab.checkpoint_rule(DEMO) == "min-joint"  # trained with it (docs/ablation.md)
    assert dataset_tab.checkpoint_rule("wecl-face-ekman6") == "eq9"
    assert not isinstance(dataset_tab.checkpoint_rule("someone/else"), str)  # not on disk: left as it is


def finished_run(dataset) -> str:
    """A run of the dataset of its own (other tests restart the module's run, and start enough runs
    to let it go), finished: every video is in the results database, so nothing is computed."""
    token = dataset_tab.start_dataset(str(dataset), None, DEMO, "")[0]
    finish(token)
    return token


def _other_models_csv(dataset: Path, path: Path) -> Path:
    """Two other models of the dataset's videos: "shifted" (the ground truth 0.3 s late, random
    scores: detections) and "dense" (a score every 0.5 s, high inside the ground truth: a score track)."""
    gt = read_annotations(dataset / "annotations.json")
    rng = np.random.default_rng(5)
    lines = ["video,start,end,score,label,model"]
    for vid, ann in gt.items():
        for s in ann.segments:
            lines.append(f"{vid},{s.start + 0.3},{min(ann.duration, s.end + 0.3)},{rng.random():.4f},{s.label},shifted")
        steps = np.arange(0.0, ann.duration, 0.5)
        for start in steps:
            end = min(ann.duration, start + 0.5)
            inside = any(s.start < end and start < s.end for s in ann.segments)
            lines.append(f"{vid},{start},{end},{(0.9 if inside else 0.1) + 0.05 * rng.random():.4f},{ann.label},dense")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("kind,value,rule", [("as-is", None, "as-is"), ("threshold", 0.5, "threshold:0.5"),
                                             ("top-k", 2, "top-k:2")])
def test_an_imported_model_is_scored_as_the_evaluate_command_scores_it(dataset, first_run, tmp_path, kind, value, rule):
    """Issue 23: the Dataset tab's column group, AP curve and summary row of an imported model equal
    `python -m wecl evaluate --predictions FILE` on the same file, under each score rule."""
    token = finished_run(dataset)
    scores = _other_models_csv(dataset, tmp_path / "others.csv")
    out = dataset_tab.import_dataset_scores(token, str(scores), kind, value)
    assert "**shifted**" in out.scores_md and "**dense**" in out.scores_md
    for model in ("shifted", "dense"):
        done = run_wecl("evaluate", "--ground-truth", str(dataset / "annotations.json"), "--predictions", str(scores),
                        "--model", model, "--score-rule", rule, "--json", str(tmp_path / f"{model}.json"))
        assert done.returncode == 0, done.stderr
        cli = json.loads((tmp_path / f"{model}.json").read_text())
        assert cli["model"] == model and cli["score_rule"] == rule
        curve = next(t for t in out.ap_curve.data if t.name == f"{model} (imported): class-agnostic")
        alphas = sorted(cli["mAP"], key=float)
        assert list(curve.x) == [float(a) for a in alphas]
        assert list(curve.y) == [cli["mAP"][a] for a in alphas]
        row = next(line for line in out.summary.splitlines() if line.startswith(f"| {model} (imported) |"))
        assert row == (f"| {model} (imported) | {cli['videos']} | {100 * cli['accuracy']:.1f} | "
                       + " | ".join(f"{100 * cli['mAP'][a]:.1f}" for a in alphas)
                       + f" | {100 * cli['mAP_per_class']['0.5']:.1f} |")
        column = out.table[f"best tIoU ({model}, imported)"]
        assert column.notna().sum() == VIDEOS and column.between(0, 1).all()
    assert "faithfulness does not apply to them" in out.summary
    if kind == "as-is":  # 0.3 s late: still overlapping every segment
        assert out.table["best tIoU (shifted, imported)"].min() > 0.2


def test_a_bad_score_file_is_a_message_and_the_imported_scores_stay(dataset, first_run, tmp_path):
    token = finished_run(dataset)
    good = _other_models_csv(dataset, tmp_path / "others.csv")
    first = dataset_tab.import_dataset_scores(token, str(good))
    assert first.scores == str(good)
    bad = tmp_path / "unknown.csv"
    bad.write_text("video,start,end,score\nnot_a_video,0,1,0.5\n")
    with pytest.raises(gr.Error, match='video "not_a_video" is not one of the videos here'):
        dataset_tab.import_dataset_scores(token, str(bad))
    late = tmp_path / "late.csv"
    vid = sorted(read_annotations(dataset / "annotations.json"))[0]
    late.write_text(f"video,start,end,score\n{vid},1,99,0.5\n")
    with pytest.raises(gr.Error, match=r"\[1, 99\] s ends after the video"):
        dataset_tab.import_dataset_scores(token, str(late))
    polled = dataset_tab.poll_dataset(token, None, str(good))  # the good file's columns are still there
    assert "best tIoU (shifted, imported)" in polled.table.columns
