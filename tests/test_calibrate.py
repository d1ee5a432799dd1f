"""BatchNorm calibration of random backbones: the statistics are those of the data, only the named
backbone changes, features follow, and the command writes a checkpoint that loads."""
from __future__ import annotations

import copy

import pytest
import torch

from helpers import run_wecl
from wecl.errors import WECLError
from wecl.features import prepare_inputs, run_backbones
from wecl.model import WECL
from wecl.training.calibrate import calibrate
from wecl.training.synth import generate


def test_audio_statistics_are_the_data_average_and_the_visual_backbone_is_untouched(tiny_checkpoint, media):
    model = WECL.from_pretrained(tiny_checkpoint)
    before = copy.deepcopy(model)
    key_before = model.backbone_key
    videos = [str(media("av")), str(media("stereo48k"))]
    report = calibrate(model, videos, modalities=["audio"])
    assert report == {"videos": 2, "skipped": {}}

    # the first BatchNorm's running mean: the average over the videos of each batch's channel mean
    # of conv1's output (momentum None is a plain average; each video is one batch of T patches)
    with torch.no_grad():
        means = [before.audio_backbone.conv1(prepare_inputs(v, model.config).patches).mean(dim=(0, 2, 3))
                 for v in videos]
    assert torch.allclose(model.audio_backbone.bn1.running_mean, torch.stack(means).mean(0), atol=1e-5)
    assert model.audio_backbone.bn1.momentum == before.audio_backbone.bn1.momentum  # restored
    for (name, a), (_, b) in zip(model.visual_backbone.state_dict().items(), before.visual_backbone.state_dict().items()):
        assert torch.equal(a, b), name
    for (name, a), (_, b) in zip(model.heads.state_dict().items(), before.heads.state_dict().items()):
        assert torch.equal(a, b), name
    assert not model.training and not model.audio_backbone.training

    # the features change with the statistics, and so does the key the feature cache uses
    assert model.backbone_key != key_before
    inputs = prepare_inputs(videos[0], model.config)
    assert not torch.allclose(torch.from_numpy(run_backbones(inputs, model).audio),
                              torch.from_numpy(run_backbones(inputs, before).audio))


def test_unreadable_videos_are_skipped_and_none_readable_is_an_error(tiny_checkpoint, media, tmp_path):
    model = WECL.from_pretrained(tiny_checkpoint)
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    report = calibrate(model, [str(bad), str(media("av"))])
    assert report["videos"] == 1 and str(bad) in report["skipped"]
    with pytest.raises(WECLError, match="none of the 1 videos"):
        calibrate(WECL.from_pretrained(tiny_checkpoint), [str(bad)])
    with pytest.raises(WECLError, match="visual and/or audio"):
        calibrate(model, [str(media("av"))], modalities=["sound"])


@pytest.mark.slow
def test_calibrate_command_writes_a_loadable_checkpoint(tiny_checkpoint, tmp_path):
    generate(tmp_path / "data", 3, seed=4, duration_range=(3.0, 3.0))
    out = tmp_path / "calibrated"
    done = run_wecl("calibrate", tmp_path / "data", "--checkpoint", tiny_checkpoint, "--out", out, "--only", "audio")
    assert done.returncode == 0, done.stderr
    assert "calibrated on 3 videos" in done.stdout
    model = WECL.from_pretrained(out)
    assert "audio backbone's BatchNorm statistics calibrated on 3 training videos" in model.config.description
    source = WECL.from_pretrained(tiny_checkpoint)
    assert not torch.equal(model.audio_backbone.bn1.running_var, source.audio_backbone.bn1.running_var)
    assert torch.equal(model.visual_backbone.bn1.running_var, source.visual_backbone.bn1.running_var)
    bad = run_wecl("calibrate", tmp_path / "data", "--checkpoint", tiny_checkpoint, "--out", out, "--videos", "0")
    assert bad.returncode == 2 and "at least 1" in bad.stderr and "Traceback" not in bad.stderr
