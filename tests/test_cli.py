"""`python -m wecl predict / info` as a user runs them: exit codes, output, and errors as one
line without a traceback."""
import json

import pytest

from helpers import CLASSES, assert_user_error, run_wecl
from wecl import checkpoints
from wecl.cli import main


class Done:
    """What `python -m wecl` would leave, from `wecl.cli.main` run in this process (faster)."""

    def __init__(self, capsys, *args):
        try:
            self.returncode = main([str(a) for a in args])
        except SystemExit as exit:  # argparse usage errors
            self.returncode = exit.code
        captured = capsys.readouterr()
        self.stdout, self.stderr = captured.out, captured.err


@pytest.mark.slow
def test_predict_writes_summary_and_json(media, tiny_checkpoint, tmp_path):
    video, out = media("av"), tmp_path / "result.json"
    done = run_wecl("predict", video, "--checkpoint", tiny_checkpoint, "--json", out, "--theta", "0.5")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert f"{video}: 3.0 s, 160x120 at 25.0 fps, with audio" in done.stdout
    assert "prediction: " in done.stdout and "theta 0.50" in done.stdout
    assert len([line for line in done.stdout.splitlines() if "-" in line and line.strip()[:1].isdigit()]) == 10
    assert f"wrote {out}" in done.stdout
    data = json.loads(out.read_text())
    assert data["classes"] == CLASSES and data["theta"] == 0.5 and data["keyframe_rule"] == "eq9"
    assert "keyframes eq9" in done.stdout
    fused = run_wecl("predict", video, "--checkpoint", tiny_checkpoint, "--json", "-", "--keyframes", "fused")
    assert fused.returncode == 0 and json.loads(fused.stdout)["keyframe_rule"] == "fused"
    assert data["prediction"] in done.stdout
    assert data["checkpoint"]["id"] == str(tiny_checkpoint.resolve())
    assert len(data["segments"]) == 10 and data["segments"][-1]["end"] == data["video"]["duration"]


def test_predict_json_to_stdout(media, tiny_checkpoint, capsys):
    done = Done(capsys, "predict", media("silent"), "--checkpoint", tiny_checkpoint, "--json", "-")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["video"]["has_audio"] is False


@pytest.mark.slow
def test_predict_bad_video_process(media, tiny_checkpoint):
    video = media("text")
    done = run_wecl("predict", video, "--checkpoint", tiny_checkpoint)
    assert_user_error(done, str(video), "not a video file")


@pytest.mark.parametrize("kind,words", [
    ("empty", ["empty"]),
    ("audio_only", ["audio-only"]),
    ("truncated", ["truncated"]),
])
def test_predict_bad_video(media, tiny_checkpoint, capsys, kind, words):
    video = media(kind)
    done = Done(capsys, "predict", video, "--checkpoint", tiny_checkpoint)
    assert_user_error(done, str(video), *words)


def test_predict_missing_video(tiny_checkpoint, tmp_path, capsys):
    done = Done(capsys, "predict", tmp_path / "nope.mp4", "--checkpoint", tiny_checkpoint)
    assert_user_error(done, "nope.mp4", "no such file")


@pytest.mark.slow
def test_predict_missing_checkpoint_folder(media, tmp_path):
    missing = tmp_path / "no-such-checkpoint"
    done = run_wecl("predict", media("av"), "--checkpoint", missing)
    assert_user_error(done, str(missing), "no such folder")


@pytest.mark.slow
def test_predict_unknown_hub_repo_offline(media):
    done = run_wecl("predict", media("av"), "--checkpoint", "nobody-xyz/no-such-wecl-model",
                    env={"HF_HUB_OFFLINE": "1"})
    assert_user_error(done, "nobody-xyz/no-such-wecl-model", "not in the local Hub cache")


@pytest.mark.slow
def test_info_prints_config_and_card(tiny_checkpoint):
    done = run_wecl("info", tiny_checkpoint)
    assert done.returncode == 0, done.stderr
    assert f"checkpoint: {tiny_checkpoint.resolve()}" in done.stdout
    start = done.stdout.index("{")
    config, end = json.JSONDecoder().raw_decode(done.stdout[start:])
    assert config["classes"] == CLASSES and config["visual_depth"] == 10
    card = done.stdout[start + end:]
    assert "# WECL checkpoint: anger, joy, sadness" in card
    assert "untrained" in card


def test_info_missing_folder(tmp_path, capsys):
    done = Done(capsys, "info", tmp_path / "nothing-here")
    assert_user_error(done, "nothing-here", "no such folder")


@pytest.mark.slow
def test_predict_says_what_each_checkpoint_is(media):
    default = checkpoints.default_checkpoint()
    assert default.startswith(str(checkpoints.CHECKPOINTS_DIR))
    done = run_wecl("predict", media("short"))  # the face checkpoint, on a clip without a face
    assert done.returncode == 0, done.stderr
    assert "note: Not the paper's trained WECL: its heads are set by a rule" in done.stdout
    assert "note: No face was found in this video" in done.stdout
    assert "note: This checkpoint has no audio model" in done.stdout
    assert "prediction: " in done.stdout
    done = run_wecl("predict", media("short"), "--checkpoint", "wecl-synth-demo")
    assert done.returncode == 0, done.stderr
    assert "note: Trained only on synthetic videos" in done.stdout


def test_bad_arguments_are_usage_errors(media, tiny_checkpoint, capsys):
    done = Done(capsys, "predict", media("av"), "--checkpoint", tiny_checkpoint, "--theta", "2")
    assert_user_error(done, "theta")
    done = Done(capsys, "predict")
    assert done.returncode == 2 and "Traceback" not in done.stderr and "usage:" in done.stderr
