"""Weight converters (docs/design.md#3-backbones): published `.pth` files -> the project's checkpoint.

- Hara et al.'s 3D-ResNets-PyTorch (Kinetics): a dict with `state_dict` (or a bare state dict),
  keys possibly prefixed `module.`, any `fc` size; depth and width are read from the keys.
- torchvision ResNets (ImageNet): a bare state dict in torchvision's key layout.
- The official WECL/VAANet training checkpoints: their backbones are `nn.Sequential`s of the
  ResNet's children (`resnet.{0,1,4..7}` visual, `a_resnet.{0,1,4..7}` audio with a 1-channel
  conv1); those keys map, the attention/classifier heads of that code do not (they differ from the
  paper's equations) and are reported as unmapped.

Every `.pth` is read with `torch.load(..., weights_only=True)`: no pickle code ever runs.
"""
from __future__ import annotations

import re
import warnings
from pathlib import Path

import torch

from wecl.config import WECLConfig
from wecl.errors import WECLError
from wecl.model import WECL
from wecl.resnet import BLOCK_COUNTS, feature_dim

SEQUENTIAL_CHILDREN = {"0": "conv1", "1": "bn1", "4": "layer1", "5": "layer2", "6": "layer3", "7": "layer4"}


def load_pth(path: str | Path) -> dict[str, torch.Tensor]:
    """A state dict from a `.pth`: unwraps `state_dict`/`model`, strips `module.`, keeps tensors."""
    try:
        with warnings.catch_warnings():  # torch warns about odd pickle protocols before refusing them
            warnings.simplefilter("ignore")
            obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise WECLError(f"{path}: no such file") from None
    except Exception as error:  # unpickling refuses anything but tensors and plain containers
        raise WECLError(f"{path}: not a readable weights file ({type(error).__name__}: {str(error)[:200]})") from None
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not any(isinstance(v, torch.Tensor) for v in obj.values()):
        raise WECLError(f"{path}: holds no state dict of tensors")
    return {k.removeprefix("module."): v for k, v in obj.items() if isinstance(v, torch.Tensor)}


def resnet_shape(state: dict[str, torch.Tensor], source: str) -> tuple[int, float]:
    """(depth, width) of a ResNet state dict in torchvision/Hara layout, from its keys."""
    counts = []
    for layer in range(1, 5):
        blocks = {int(m.group(1)) for k in state if (m := re.match(rf"layer{layer}\.(\d+)\.", k))}
        counts.append(len(blocks))
    bottleneck = any(re.match(r"layer1\.0\.conv3\.", k) for k in state)
    kind = "bottleneck" if bottleneck else "basic"
    depth = next((d for d, (k, c) in BLOCK_COUNTS.items() if k == kind and list(c) == counts), None)
    if depth is None or "conv1.weight" not in state:
        raise WECLError(f"{source}: not a ResNet in torchvision/Hara key layout (blocks per stage {counts})")
    return depth, state["conv1.weight"].shape[0] / 64


def backbone_state(state: dict[str, torch.Tensor], dims: int, source: str) -> tuple[dict, int, float]:
    """Drop `fc`, check conv dimensionality, fold a 1-channel conv1 into the 3-channel layout."""
    state = {k: v for k, v in state.items() if not k.startswith("fc.") and not k.endswith("num_batches_tracked")}
    depth, width = resnet_shape(state, source)
    conv1 = state["conv1.weight"]
    if conv1.dim() != dims + 2:
        raise WECLError(f"{source}: conv1 is {conv1.dim() - 2}D, a {dims}D ResNet is needed here")
    if conv1.shape[1] == 1:
        # Repeating the 1-channel input 3 times with weights w/3 gives the same output.
        state["conv1.weight"] = conv1.repeat(1, 3, *([1] * dims)) / 3
    return state, depth, width


def split_official(state: dict[str, torch.Tensor]) -> tuple[dict, dict, list[str]]:
    """(visual, audio, unmapped keys) from a WECL/VAANet training checkpoint."""
    visual, audio, unmapped = {}, {}, []
    for key, value in state.items():
        m = re.match(r"(resnet|a_resnet)\.(\d+)\.(.*)", key)
        if m and m.group(2) in SEQUENTIAL_CHILDREN:
            target = visual if m.group(1) == "resnet" else audio
            target[f"{SEQUENTIAL_CHILDREN[m.group(2)]}.{m.group(3)}"] = value
        else:
            unmapped.append(key)
    return visual, audio, unmapped


def convert(
    out: str | Path,
    classes: list[str],
    visual_r3d: str | Path | None = None,
    audio_resnet: str | Path | None = None,
    official: str | Path | None = None,
    backbone_dtype: str = "fp32",
    **config_overrides,
) -> tuple[Path, list[str]]:
    """Write a checkpoint folder from published weights; returns (folder, unmapped keys).

    The heads (eq. 1-7 and the classifier) start freshly initialised: the checkpoint is marked
    untrained until `python -m wecl train` has trained them."""
    visual = audio = None
    unmapped: list[str] = []
    if official:
        v, a, unmapped = split_official(load_pth(official))
        visual = backbone_state(v, 3, f"{official} (visual)") if v else None
        audio = backbone_state(a, 2, f"{official} (audio)") if a else None
    if visual_r3d:
        visual = backbone_state(load_pth(visual_r3d), 3, str(visual_r3d))
    if audio_resnet:
        audio = backbone_state(load_pth(audio_resnet), 2, str(audio_resnet))
    if visual is None and audio is None:
        raise WECLError("convert needs --visual-r3d, --audio-resnet or --official weights")
    modalities = "both" if visual and audio else ("visual" if visual else "audio")
    settings = {"modalities": modalities, "training": "untrained"}
    if modalities != "both":
        settings["inter"] = False
    if visual:
        settings.update(visual_depth=visual[1], visual_width=visual[2])
    if audio:
        settings.update(audio_depth=audio[1], audio_width=audio[2])
    if visual and audio and feature_dim(visual[1], visual[2]) != feature_dim(audio[1], audio[2]):
        # eq. 5 mixes the two modalities' Q, K, V: they need one d_k (e.g. R3D-18's 512 vs 2048)
        settings["relation_dim"] = min(feature_dim(visual[1], visual[2]), feature_dim(audio[1], audio[2]))
    settings["description"] = (
        "Converted from published backbone weights "
        + ", ".join(str(p) for p in (visual_r3d, audio_resnet, official) if p)
        + ". The relation, attention and classifier heads are freshly initialised (untrained)."
    )
    settings.update(config_overrides)
    config = WECLConfig(classes=classes, **settings)
    model = WECL(config)
    for name, part in (("visual_backbone", visual), ("audio_backbone", audio)):
        if part is None:
            continue
        target = getattr(model, name)
        missing, unexpected = target.load_state_dict(part[0], strict=False)
        missing = [k for k in missing if not k.startswith("fc.")]
        if missing or unexpected:
            raise WECLError(f"{name}: weights do not fit a ResNet-{part[1]}: missing {missing[:3]}, unexpected {unexpected[:3]}")
    model.save_pretrained(out, backbone_dtype=backbone_dtype)
    return Path(out), unmapped
