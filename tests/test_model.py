"""The WECL network: backbone shapes, every Table 2 config, the loss of eq. 12, frozen backbones,
and the checkpoint round trip."""
import itertools
import json
import shutil

import pytest
import torch
import torch.nn.functional as F

from helpers import CLASSES, tiny_config
from wecl.attention import attention_pool
from wecl.config import WECLConfig
from wecl.errors import WECLError
from wecl.model import WECL
from wecl.resnet import ResNet

T, K = 10, 16


# ---- backbones (paper 3.1, 4.2) -----------------------------------------------------------------

@pytest.mark.slow
def test_paper_model_shapes_visual_101_audio_50():
    """The paper's backbones at full width: 3D ResNet-101 and 2D ResNet-50 both give 2048-d vectors
    and the video-level feature is 2048 + 2048 = 4096."""
    torch.manual_seed(0)
    model = WECL(WECLConfig(classes=CLASSES))
    assert model.config.visual_depth == 101 and model.config.audio_depth == 50
    assert model.heads.classifier.in_features == 4096
    with torch.inference_mode():
        v = model.visual_backbone(torch.randn(1, 3, K, 112, 112))
        a = model.audio_backbone(torch.randn(1, 3, 224, 224))
    assert v.shape == (1, 2048) and a.shape == (1, 2048)
    assert torch.isfinite(v).all() and torch.isfinite(a).all()
    # the heads on (B, T, 2048) features
    with torch.inference_mode():
        out = model.eval()(torch.randn(2, T, 2048), torch.randn(2, T, 2048))
    assert out.logits.shape == (2, len(CLASSES))
    assert out.visual_attention.shape == out.audio_attention.shape == (2, T)


@pytest.mark.slow
def test_visual_backbone_depth_50_shape():
    model = WECL(WECLConfig(classes=CLASSES, visual_depth=50, modalities="visual", inter=False))
    assert model.audio_backbone is None
    with torch.inference_mode():
        v = model.visual_backbone(torch.randn(1, 3, K, 112, 112))
    assert v.shape == (1, 2048)


def test_hara_stem_keeps_time_and_layout_keys():
    net = ResNet(3, 18, 0.25)
    assert net.conv1.stride == (1, 2, 2) and net.conv1.kernel_size == (7, 7, 7)
    keys = set(net.state_dict())
    assert {"conv1.weight", "bn1.running_mean", "layer1.0.conv1.weight", "layer2.0.downsample.0.weight",
            "layer2.0.downsample.1.weight", "layer4.1.bn2.bias"} <= keys
    bottleneck = ResNet(2, 50, 0.125, num_classes=1000)
    keys = set(bottleneck.state_dict())
    assert {"layer1.0.conv3.weight", "layer1.0.downsample.0.weight", "fc.weight", "fc.bias"} <= keys
    assert bottleneck(torch.randn(2, 3, 64, 64)).shape == (2, 256)


# ---- every row of Table 2 -----------------------------------------------------------------------

def _table2_configs():
    for modalities, intra, inter, erasing in itertools.product(("both", "visual", "audio"), (True, False),
                                                               (True, False), (True, False)):
        if inter and modalities != "both":
            continue
        yield modalities, intra, inter, erasing


TABLE2 = list(_table2_configs())


def _hand_resample(features: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """The left (or kept) segments of each video in time order, resampled to T by nearest index,
    written out without wecl.erasing: position j takes kept segment floor(j n / T)."""
    out = []
    for f, k in zip(features, keep):
        kept = [i for i in range(len(k)) if k[i]]
        n, t = len(kept), len(k)
        index = list(range(t)) if n in (0, t) else [kept[(j * n) // t] for j in range(t)]
        out.append(f[index])
    return torch.stack(out)


def test_table2_has_sixteen_rows():
    assert len(TABLE2) == 16


@pytest.mark.parametrize("modalities,intra,inter,erasing", TABLE2)
def test_table2_config_builds_and_loss_is_eq_12(modalities, intra, inter, erasing):
    torch.manual_seed(1)
    config = tiny_config(modalities=modalities, intra=intra, inter=inter, erasing=erasing, theta=0.5)
    model = WECL(config).eval()  # eval: dropout off, so the hand computation is deterministic
    assert (model.visual_backbone is None) == (modalities == "audio")
    assert (model.audio_backbone is None) == (modalities == "visual")
    b, c = 4, 64
    visual = torch.randn(b, T, c) if config.uses_visual else None
    audio = torch.randn(b, T, c) if config.uses_audio else None
    labels = torch.tensor([0, 1, 2, 1])

    out = model(visual, audio)
    assert out.logits.shape == (b, len(CLASSES))
    assert (out.visual_attention is None) == (modalities == "audio")
    assert (out.audio_attention is None) == (modalities == "visual")
    for a in (out.visual_attention, out.audio_attention):
        if a is not None:
            assert a.shape == (b, T) and (a >= 0).all()

    loss, parts = model.loss(visual, audio, labels)
    ce_o = F.cross_entropy(out.logits, labels)
    # eq. 8 and 9 by hand
    norm = [((x - x.min(1, keepdim=True).values) / (x.max(1, keepdim=True).values - x.min(1, keepdim=True).values))
            for x in (out.visual_attention, out.audio_attention) if x is not None]
    mask = torch.ones(b, T, dtype=torch.bool)
    for n in norm:
        mask &= n >= 0.5
    if not erasing:  # CE(x_o) alone; the keyframe set is still counted
        assert {"keyframes", "left"}.isdisjoint(parts) and parts["empty_keyframes"] == int((~mask.any(1)).sum())
        assert torch.allclose(loss, ce_o)
        return
    assert {"original", "keyframes", "left", "empty_keyframes", "keyframe_share"} <= set(parts)
    assert mask.any() and (~mask).any(), "the test needs some keyframes and some left segments"
    assert parts["empty_keyframes"] == int((~mask.any(1)).sum())
    branch = lambda keep: model(*(None if f is None else _hand_resample(f, keep) for f in (visual, audio)))  # noqa: E731
    ce_k = F.cross_entropy(branch(mask).logits, labels)
    ce_l = F.cross_entropy(branch(~mask).logits, labels)
    assert torch.allclose(parts["original"], ce_o)
    assert torch.allclose(parts["keyframes"], ce_k, atol=1e-6)
    assert torch.allclose(parts["left"], ce_l, atol=1e-6)
    assert torch.allclose(loss, ce_o + ce_k + ce_l, atol=1e-6)
    assert not torch.allclose(ce_k, ce_l)  # the branches really see different videos


def test_switched_off_modules_have_no_parameters():
    model = WECL(tiny_config(intra=False, inter=False))
    names = [n for n, _ in model.heads.named_parameters()]
    assert not any(n.startswith(("intra.", "inter.", "embed.")) for n in names)
    assert any(n.startswith("attention.visual.") for n in names)
    on = WECL(tiny_config())
    names = [n for n, _ in on.heads.named_parameters()]
    assert any(n.startswith("inter.w_v") for n in names) and any(n.startswith("intra.audio.w_z") for n in names)


def test_inter_needs_both_modalities():
    with pytest.raises(WECLError, match="inter-modal"):
        tiny_config(modalities="visual", inter=True)


def test_attention_pool_by_hand_and_zero_attention_falls_back_to_mean():
    f = torch.tensor([[[1.0, 0.0], [3.0, 2.0], [5.0, 4.0]]])
    out = attention_pool(f, torch.tensor([[1.0, 0.0, 3.0]]))
    assert torch.allclose(out, torch.tensor([[(1 + 15) / 4, 12 / 4]]))
    out = attention_pool(f, torch.zeros(1, 3))
    assert torch.allclose(out, f.mean(1))


def test_missing_audio_does_not_veto_in_loss():
    torch.manual_seed(2)
    model = WECL(tiny_config(theta=0.5)).eval()
    visual, audio = torch.randn(2, T, 64), torch.zeros(2, T, 64)
    out = model(visual, audio)
    present = torch.tensor([False, False])
    mask = model.erase_mask(out, audio_present=present)
    v_norm, _ = out.normalised()
    assert torch.equal(mask, v_norm >= 0.5)


# ---- frozen backbones ----------------------------------------------------------------------------

def test_backbones_frozen_and_stay_in_eval_mode():
    torch.manual_seed(3)
    model = WECL(tiny_config())
    model.train()
    assert model.training and model.heads.training
    assert not model.visual_backbone.training and not model.audio_backbone.training
    assert all(not m.training for m in model.visual_backbone.modules())
    assert all(not p.requires_grad for p in model.visual_backbone.parameters())
    assert all(not p.requires_grad for p in model.audio_backbone.parameters())
    clips, patches = torch.randn(T, 3, 4, 32, 32), torch.randn(T, 3, 32, 32)
    before = model.visual_backbone.bn1.running_mean.clone()
    visual = model.visual_backbone(clips)[None]
    audio = model.audio_backbone(patches)[None]
    assert torch.equal(model.visual_backbone.bn1.running_mean, before)  # BN statistics untouched
    loss, _ = model.loss(visual, audio, torch.tensor([1]))
    loss.backward()
    assert all(p.grad is None for p in model.visual_backbone.parameters())
    assert all(p.grad is None for p in model.audio_backbone.parameters())
    assert model.heads.classifier.weight.grad is not None
    assert model.heads.attention["visual"].w2.weight.grad is not None
    model.eval()
    assert not model.heads.training


# ---- checkpoints round trip ---------------------------------------------------------------------

def _randomise_bn(model):
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (torch.nn.BatchNorm2d, torch.nn.BatchNorm3d)):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.normal_(1, 0.1)
                m.bias.normal_(0, 0.1)


def test_save_load_round_trip(tmp_path):
    torch.manual_seed(4)
    model = WECL(tiny_config(theta=0.6, description="round trip"))
    _randomise_bn(model)
    with torch.no_grad():
        for p in model.heads.parameters():
            p.normal_(0, 0.05)
    model.eval()
    model.save_pretrained(tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {"config.json", "model.safetensors", "README.md"}
    loaded = WECL.from_pretrained(tmp_path)
    assert loaded.config == model.config
    assert not loaded.training
    a, b = model.state_dict(), loaded.state_dict()
    assert set(a) == set(b)
    for key in a:
        assert torch.equal(a[key], b[key]), key
    clips, patches = torch.randn(T, 3, 4, 32, 32), torch.randn(T, 3, 32, 32)
    with torch.inference_mode():
        for net in ("visual_backbone", "audio_backbone"):
            x = clips if net == "visual_backbone" else patches
            assert torch.equal(getattr(model, net)(x), getattr(loaded, net)(x))
        v, au = torch.randn(2, T, 64), torch.randn(2, T, 64)
        o1, o2 = model(v, au), loaded(v, au)
    assert torch.equal(o1.logits, o2.logits)
    assert torch.equal(o1.visual_attention, o2.visual_attention)
    assert torch.equal(o1.audio_attention, o2.audio_attention)
    assert loaded.checkpoint.revision is None
    assert loaded.checkpoint.path == tmp_path.resolve()
    assert len(loaded.checkpoint.fingerprint) == 64
    assert "round trip" in (tmp_path / "README.md").read_text()


@pytest.fixture
def checkpoint_copy(tiny_checkpoint, tmp_path):
    folder = tmp_path / "ckpt"
    shutil.copytree(tiny_checkpoint, folder)
    return folder


def _edit_config(folder, **changes):
    path = folder / "config.json"
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


def test_config_with_unknown_keys_is_refused(checkpoint_copy):
    _edit_config(checkpoint_copy, hidden_size=768)
    with pytest.raises(WECLError, match=r"unknown keys.*hidden_size"):
        WECL.from_pretrained(checkpoint_copy)


def test_config_not_matching_weights_is_refused(checkpoint_copy):
    _edit_config(checkpoint_copy, visual_depth=18)
    with pytest.raises(WECLError) as error:
        WECL.from_pretrained(checkpoint_copy)
    message = str(error.value)
    assert "does not match its weights" in message and str(checkpoint_copy) in message
    assert "layer1.1" in message  # names a key that the ResNet-18 has and the ResNet-10 lacks


def test_config_with_other_width_is_refused(checkpoint_copy):
    _edit_config(checkpoint_copy, visual_width=0.25, audio_width=0.25)
    with pytest.raises(WECLError, match="shape differs for .*conv1.weight"):
        WECL.from_pretrained(checkpoint_copy)


def test_config_invalid_json_or_values(checkpoint_copy):
    (checkpoint_copy / "config.json").write_text("{not json")
    with pytest.raises(WECLError, match="not valid JSON"):
        WECL.from_pretrained(checkpoint_copy)
    _edit_config_raw = json.dumps({"classes": ["only-one"]})
    (checkpoint_copy / "config.json").write_text(_edit_config_raw)
    with pytest.raises(WECLError, match="at least two classes"):
        WECL.from_pretrained(checkpoint_copy)


def test_corrupt_safetensors_is_refused(checkpoint_copy):
    weights = checkpoint_copy / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    with pytest.raises(WECLError, match="model.safetensors"):
        WECL.from_pretrained(checkpoint_copy)
    weights.write_bytes(b"\x00" * 100)
    with pytest.raises(WECLError, match="cannot read model.safetensors"):
        WECL.from_pretrained(checkpoint_copy)


def test_missing_weights_file_is_refused(checkpoint_copy):
    (checkpoint_copy / "model.safetensors").unlink()
    with pytest.raises(WECLError, match="model.safetensors is missing"):
        WECL.from_pretrained(checkpoint_copy)


def test_the_heads_on_encoded_inputs_give_the_prediction_of_the_clip(media, tiny_model):
    """encode_visual / encode_audio: tensors in, tensors out; the heads on them predict what
    `inference.predict` predicts for the same clip (which goes through the feature cache's numpy)."""
    from wecl import inference
    from wecl.features import prepare_inputs

    video = str(media("av"))
    inputs = prepare_inputs(video, tiny_model.config)
    visual = tiny_model.encode_visual(inputs.frames(0, tiny_model.config))
    audio = tiny_model.encode_audio(inputs.patches)
    assert isinstance(visual, torch.Tensor) and visual.dtype == torch.float32 and visual.shape[0] == tiny_model.config.segments
    assert audio.shape[0] == tiny_model.config.segments
    with torch.no_grad():
        out = tiny_model.forward_head(visual[None], audio[None])
    expected = inference.predict(video, tiny_model).json["probabilities"]
    assert F.softmax(out.logits.float(), -1)[0].tolist() == pytest.approx(expected, abs=1e-5)
    visual_only = WECL(tiny_config(modalities="visual", inter=False))
    with pytest.raises(WECLError, match="no audio backbone"):
        visual_only.encode_audio(inputs.patches)
