"""`WECLConfig`: everything needed to rebuild a model and its input pipeline (it is `config.json`)."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wecl.errors import WECLError

# Hara et al.'s 3D-ResNets-PyTorch expect 0-255 pixels minus a mean, std 1. Their Kinetics weights
# were trained with `get_mean(norm_value=1, dataset="activitynet")`: this is the ActivityNet mean.
ACTIVITYNET_MEAN = (114.7748, 107.7354, 99.4750)
MODALITIES = ("both", "visual", "audio")
# (field, low, high): what a config may ask for. The paper's model is depth 101/50, width 1, T 10,
# k 16, 112 px frames, 224 px MFCC patches.
LIMITS = (("visual_width", 0.0625, 2.0), ("audio_width", 0.0625, 2.0), ("segments", 1, 64),
          ("frames_per_segment", 1, 64), ("frame_size", 16, 448), ("audio_patch_size", 16, 448),
          ("relation_dim", 1, 4096), ("n_mfcc", 1, 128), ("sample_rate", 1000, 96000), ("mfcc_hop", 16, 4096))
# Which segments are keyframes (detections are their maximal runs). The mask rules are used alike
# by the loss of eq. 12, the erasing rounds and detection (`wecl.erasing.keyframe_masks`); "fused"
# is a reading of the erasing rounds on top of eq. 9's (`wecl.detection`).
MASK_RULES = ("eq9", "eq9-fallback", "min-joint", "sum-joint", "per-modality")
KEYFRAME_RULES = MASK_RULES + ("fused",)


def mask_rule(keyframe_rule: str) -> str:
    """The mask that erases and trains under a keyframe rule: its own, or eq. 9's for "fused"."""
    return "eq9" if keyframe_rule == "fused" else keyframe_rule
# The visual backbone: Hara et al.'s 3D ResNet on clips (the paper's), or a face-expression network
# on the faces of frames spread over each segment (`wecl.face`, docs/face.md).
VISUAL_BACKBONES = ("r3d", "face")


def cache_root() -> Path:
    """What the project keeps on disk between runs (features, results of unwritable folders):
    $WECL_CACHE, default ~/.cache/wecl (`wecl.settings`)."""
    from wecl.settings import settings

    return settings().cache_root


@dataclass
class WECLConfig:
    classes: list[str]
    # Backbones (paper 4.2: 3D ResNet-101 on frames, 2D ResNet-50 on MFCC patches). `*_width`
    # scales every channel count so tests and demos can use tiny networks.
    visual_backbone: str = "r3d"
    visual_depth: int = 101
    visual_width: float = 1.0
    audio_depth: int = 50
    audio_width: float = 1.0
    # Sampling (paper 3.1, 4.2): T segments, k successive frames each, 112x112 crops.
    segments: int = 10
    frames_per_segment: int = 16
    frame_size: int = 112
    pixel_mean: tuple[float, float, float] = ACTIVITYNET_MEAN
    pixel_std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    # Audio: mono at `sample_rate` -> MFCC over the whole track -> T patches -> 224x224, the
    # 1-channel patch repeated to 3 channels so ImageNet-layout weights load unchanged.
    sample_rate: int = 16000
    n_mfcc: int = 40
    mfcc_hop: int = 160
    audio_patch_size: int = 224
    audio_channels: str = "repeat"
    # Heads (paper 3.2-3.4). `relation_dim` None means d_k = C, as in eq. 1 (Q, K, V in R^{T x C}).
    relation_dim: int | None = None
    # Standardise each backbone feature channel with the training set's statistics before the relations
    # (`model.FeatureNorm`; the official code's BatchNorm after its audio backbone, in eval form).
    feature_norm: bool = False
    dropout: float = 0.5
    theta: float = 0.7
    # Which segments are keyframes, in the loss (x_k, x_l) and in detection: one of KEYFRAME_RULES
    # ("eq9", the paper's, is the default of a config that does not say).
    keyframe_rule: str = "eq9"
    # Table 2 switches: one model, every row a config.
    modalities: str = "both"
    intra: bool = True
    inter: bool = True
    erasing: bool = True
    # Provenance shown in every output: "untrained", "synthetic", "real", or "rule" (heads set by
    # a documented rule over a trained backbone, not trained; see cards.TRAINING_NOTES).
    training: str = "untrained"
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.classes = list(self.classes)
        self.pixel_mean = tuple(self.pixel_mean)
        self.pixel_std = tuple(self.pixel_std)
        problems = []
        if len(self.classes) < 2:
            problems.append("needs at least two classes")
        if self.modalities not in MODALITIES:
            problems.append(f"modalities must be one of {MODALITIES}, not {self.modalities!r}")
        if self.inter and self.modalities != "both":
            problems.append("the inter-modal relation needs both modalities")
        if not 0.0 <= self.theta <= 1.0:
            problems.append(f"theta must lie in [0, 1], not {self.theta}")
        if self.visual_backbone not in VISUAL_BACKBONES:
            problems.append(f"visual_backbone must be one of {VISUAL_BACKBONES}, not {self.visual_backbone!r}")
        if self.keyframe_rule not in KEYFRAME_RULES:
            problems.append(f"keyframe_rule must be one of {KEYFRAME_RULES}, not {self.keyframe_rule!r}")
        if self.segments < 1 or self.frames_per_segment < 1:
            problems.append("segments and frames_per_segment must be positive")
        # Bounds on everything that sizes memory, so that no config.json (anyone's Hub repo) can
        # ask for more than a large real model needs.
        for name, low, high in LIMITS:
            value = getattr(self, name)
            if value is not None and not (isinstance(value, (int, float)) and low <= value <= high):
                problems.append(f"{name} must lie in [{low}, {high}], not {value!r}")
        if problems:
            raise WECLError("invalid WECL config: " + "; ".join(problems))

    @property
    def uses_visual(self) -> bool:
        return self.modalities in ("both", "visual")

    @property
    def face(self) -> bool:
        """Whether the visual backbone is the face-expression network (`wecl.face`): its frames are
        whole pictures spread over each segment, not centred clips."""
        return self.uses_visual and self.visual_backbone == "face"

    @property
    def uses_audio(self) -> bool:
        return self.modalities in ("both", "audio")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "WECLConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise WECLError(f"config.json has unknown keys {unknown}; is it a WECL checkpoint?")
        try:
            return cls(**data)
        except TypeError as error:
            raise WECLError(f"config.json is incomplete: {error}") from None

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> "WECLConfig":
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, UnicodeDecodeError) as error:
            raise WECLError(f"cannot read {path}: {error}") from None
        except json.JSONDecodeError as error:
            raise WECLError(f"{path} line {error.lineno}: not valid JSON ({error.msg})") from None
        if not isinstance(data, dict):
            raise WECLError(f"{path}: expected a JSON object")
        return cls.from_dict(data)
