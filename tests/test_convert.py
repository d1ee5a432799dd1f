"""Weight converters: Hara et al. 3D ResNets, torchvision ResNets and official WECL/VAANet
checkpoints become a project checkpoint whose backbones compute what the originals computed."""
import os

import pytest
import torch
from torch import nn

from helpers import assert_user_error, run_wecl
from wecl.convert import load_pth
from wecl.errors import WECLError
from wecl.model import WECL
from wecl.resnet import ResNet


def _randomise(net: nn.Module, seed: int) -> nn.Module:
    """Random weights and BN statistics, so an unloaded or misplaced tensor changes the output."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.BatchNorm2d, nn.BatchNorm3d)):
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
                m.weight.copy_(1 + torch.randn(m.weight.shape, generator=g) * 0.1)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
    return net.eval()


def _assert_close(a: torch.Tensor, b: torch.Tensor) -> None:
    assert a.shape == b.shape
    assert torch.allclose(a, b, rtol=1e-4, atol=1e-5 * float(b.abs().max())), float((a - b).abs().max())


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """A Hara-format 3D ResNet-18 (1/4 width) and a torchvision-format 2D ResNet-50 (1/8 width)."""
    folder = tmp_path_factory.mktemp("published")
    torch.manual_seed(0)
    r3d = _randomise(ResNet(3, 18, 0.25, num_classes=400), 1)
    r2d = _randomise(ResNet(2, 50, 0.125, num_classes=1000), 2)
    hara = {"epoch": 200, "arch": "resnet-18",
            "state_dict": {f"module.{k}": v for k, v in r3d.state_dict().items() if "num_batches" not in k},
            "optimizer": {"state": {}, "param_groups": []}}
    torch.save(hara, folder / "r3d18_K_200ep.pth")
    torch.save({k: v for k, v in r2d.state_dict().items() if "num_batches" not in k}, folder / "resnet50.pth")
    return folder, r3d, r2d


@pytest.mark.slow
def test_convert_hara_and_torchvision(published, tmp_path):
    folder, r3d, r2d = published
    out = tmp_path / "converted"
    done = run_wecl("convert", "--visual-r3d", folder / "r3d18_K_200ep.pth", "--audio-resnet", folder / "resnet50.pth",
                    "--classes", "a, b,c", "--out", out)
    assert done.returncode == 0, done.stderr
    assert f"wrote {out}" in done.stdout
    model = WECL.from_pretrained(out)
    c = model.config
    assert c.classes == ["a", "b", "c"]
    assert (c.visual_depth, c.visual_width, c.audio_depth, c.audio_width) == (18, 0.25, 50, 0.125)
    assert c.modalities == "both" and c.training == "untrained"
    # 128-d visual and 256-d audio features: eq. 5 needs one d_k, the smaller of the two
    assert c.relation_dim == 128
    with torch.inference_mode():
        assert model(torch.randn(1, 10, 128), torch.randn(1, 10, 256)).logits.shape == (1, 3)
    assert "untrained" in (out / "README.md").read_text()
    torch.manual_seed(5)
    clips, patches = torch.randn(2, 3, 8, 64, 64), torch.randn(2, 3, 96, 96)
    with torch.inference_mode():
        _assert_close(model.visual_backbone(clips), r3d(clips))
        _assert_close(model.audio_backbone(patches), r2d(patches))
    # the classification layers of the published nets are dropped, never loaded
    assert not any(k.startswith(("visual_backbone.fc", "audio_backbone.fc")) for k in model.state_dict())


def _official_checkpoint(path, seed=3):
    """A WECL/VAANet-style training checkpoint: `resnet` / `a_resnet` Sequentials of the ResNet's
    children, the audio one with a 1-channel conv1, plus heads of that code."""
    torch.manual_seed(seed)
    visual = _randomise(ResNet(3, 10, 0.125), seed)
    audio = _randomise(ResNet(2, 18, 0.125), seed + 1)
    audio.conv1 = nn.Conv2d(1, audio.conv1.out_channels, kernel_size=7, stride=2, padding=3, bias=False)
    children = {"conv1": "0", "bn1": "1", "layer1": "4", "layer2": "5", "layer3": "6", "layer4": "7"}

    def sequential(prefix, net):
        state = {}
        for key, value in net.state_dict().items():
            head, _, rest = key.partition(".")
            if head in children:
                state[f"module.{prefix}.{children[head]}.{rest}"] = value
        return state

    state = {**sequential("resnet", visual), **sequential("a_resnet", audio)}
    heads = {"module.sa_v.conv.weight": torch.randn(4, 4), "module.av_fc.weight": torch.randn(8, 128),
             "module.av_fc.bias": torch.randn(8), "module.ta_net.weight": torch.randn(16, 16)}
    state.update(heads)
    torch.save({"epoch": 10, "state_dict": state}, path)
    return visual.eval(), audio.eval(), sorted(k.removeprefix("module.") for k in heads)


@pytest.mark.slow
def test_convert_official_checkpoint(tmp_path):
    path = tmp_path / "official.pth"
    visual, audio, head_keys = _official_checkpoint(path)
    out = tmp_path / "converted"
    done = run_wecl("convert", "--official", path, "--classes", "anger,joy", "--theta", "0.6", "--out", out)
    assert done.returncode == 0, done.stderr
    assert f"{len(head_keys)} keys of the official checkpoint have no place" in done.stdout
    for key in head_keys:
        assert key in done.stdout
    model = WECL.from_pretrained(out)
    assert (model.config.visual_depth, model.config.audio_depth) == (10, 18)
    assert model.config.theta == 0.6
    assert model.audio_backbone.conv1.weight.shape[1] == 3  # folded into the 3-channel layout
    torch.manual_seed(6)
    clips, mfcc = torch.randn(1, 3, 8, 64, 64), torch.randn(2, 1, 96, 96)
    with torch.inference_mode():
        _assert_close(model.visual_backbone(clips), visual(clips))
        # the 1-channel MFCC image repeated to 3 channels gives the 1-channel network's output
        _assert_close(model.audio_backbone(mfcc.repeat(1, 3, 1, 1)), audio(mfcc))


@pytest.mark.slow
def test_convert_not_a_state_dict(tmp_path):
    path = tmp_path / "numbers.pth"
    torch.save({"epoch": 3, "lr": [0.1, 0.01]}, path)
    done = run_wecl("convert", "--visual-r3d", path, "--classes", "a,b", "--out", tmp_path / "out")
    assert_user_error(done, str(path), "no state dict")
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_convert_garbage_file(tmp_path):
    path = tmp_path / "garbage.pth"
    path.write_bytes(os.urandom(4096))
    done = run_wecl("convert", "--audio-resnet", path, "--classes", "a,b", "--out", tmp_path / "out")
    assert_user_error(done, str(path), "not a readable weights file")
    assert not (tmp_path / "out").exists()


def test_convert_wrong_layout_and_dimensions(published, tmp_path):
    from wecl.convert import convert

    folder, _, _ = published
    # a 2D torchvision ResNet given as the 3D visual backbone
    with pytest.raises(WECLError, match=r"conv1 is 2D, a 3D ResNet is needed"):
        convert(tmp_path / "out", ["a", "b"], visual_r3d=folder / "resnet50.pth")
    odd = tmp_path / "odd.pth"
    torch.save({"encoder.weight": torch.randn(3, 3)}, odd)
    with pytest.raises(WECLError, match="not a ResNet"):
        convert(tmp_path / "out", ["a", "b"], audio_resnet=odd)
    with pytest.raises(WECLError, match="no such file"):
        convert(tmp_path / "out", ["a", "b"], audio_resnet=tmp_path / "missing.pth")
    with pytest.raises(WECLError, match="needs"):
        convert(tmp_path / "out", ["a", "b"])


def test_convert_single_modality(published, tmp_path):
    from wecl.convert import convert

    folder, r3d, _ = published
    out, unmapped = convert(tmp_path / "v", ["a", "b"], visual_r3d=folder / "r3d18_K_200ep.pth")
    assert unmapped == []
    model = WECL.from_pretrained(out)
    assert model.config.modalities == "visual" and model.audio_backbone is None and not model.config.inter
    x = torch.randn(1, 3, 4, 48, 48)
    with torch.inference_mode():
        _assert_close(model.visual_backbone(x), r3d(x))


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_load_pth_never_runs_pickle_code(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": {"conv1.weight": torch.zeros(1)}, "x": _Payload(marker)}, path)
    with pytest.raises(WECLError, match="not a readable weights file"):
        load_pth(path)
    assert not marker.exists()
