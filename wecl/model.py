"""The WECL network: frozen backbones, relation heads, temporal erasing and the loss of eq. 12."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from wecl import checkpoints, weights
from wecl.attention import TemporalAttention, attention_pool
from wecl.config import WECLConfig, mask_rule
from wecl.device import chunk_size, resolve_precision, run_backbone
from wecl.erasing import keyframe_masks, minmax_normalise, select_segments
from wecl.errors import WECLError
from wecl.face import FaceBackbone
from wecl.relations import Embedded, InterModalRelation, IntraModalRelation, ModalityEmbedding
from wecl.resnet import ResNet, feature_dim


@dataclass
class HeadOutput:
    logits: torch.Tensor  # (B, M)
    visual_attention: torch.Tensor | None  # raw A_v of eq. 7, (B, T)
    audio_attention: torch.Tensor | None
    # Eq. 1's Q, K, V per modality. They are row-wise maps of the segment features, so the video
    # of an erasing round (segments gathered from these) can gather them instead of recomputing.
    embedded: dict[str, Embedded] | None = None

    def normalised(self) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """A* of eq. 8 for each modality that the model has."""
        norm = lambda a: None if a is None else minmax_normalise(a)  # noqa: E731
        return norm(self.visual_attention), norm(self.audio_attention)


class FeatureNorm(nn.Module):
    """Each backbone feature channel standardised with fixed statistics of the training set: (F - mean) / std.

    The random or frozen backbones' features can share one large common vector whose small variations
    carry the content (a random audio ResNet's segments are 0.9995 cosine-alike), which eq. 7's
    W_2 then barely sees: its attention falls back on W_1's per-position bias. The official code puts
    a BatchNorm after its audio backbone; this is its eval-mode form, set once from the training
    features (`set_statistics`) and saved with the heads."""

    def __init__(self, channels: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(channels))
        self.register_buffer("std", torch.ones(channels))

    @torch.no_grad()
    def set_statistics(self, features: torch.Tensor) -> None:
        """From training features (..., C)."""
        flat = features.reshape(-1, features.shape[-1]).double()
        self.mean.copy_(flat.mean(0).float())
        self.std.copy_(flat.std(0).clamp(min=1e-6).float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class WECLHeads(nn.Module):
    """Everything after the backbones: eq. 1-7 and the 4096-d classifier, on (B, T, C) features."""

    def __init__(self, config: WECLConfig, visual_dim: int, audio_dim: int):
        super().__init__()
        self.config = config
        dims = {"visual": visual_dim if config.uses_visual else 0, "audio": audio_dim if config.uses_audio else 0}
        self.modalities = [m for m, d in dims.items() if d]
        self.norm = nn.ModuleDict({m: FeatureNorm(dims[m]) for m in self.modalities} if config.feature_norm else {})
        self.embed = nn.ModuleDict()
        self.intra = nn.ModuleDict()
        self.attention = nn.ModuleDict()
        for m in self.modalities:
            d_k = config.relation_dim or dims[m]
            if config.intra or config.inter:
                self.embed[m] = ModalityEmbedding(dims[m], d_k)
            if config.intra:
                self.intra[m] = IntraModalRelation(dims[m], d_k)
            self.attention[m] = TemporalAttention(dims[m], config.segments)
        if config.inter:
            if (config.relation_dim or visual_dim) != (config.relation_dim or audio_dim):
                raise ValueError("the inter-modal relation needs equal d_k: set relation_dim")
            self.inter = InterModalRelation(visual_dim, audio_dim, config.relation_dim or visual_dim)
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(sum(dims.values()), len(config.classes))  # 2048 + 2048 = 4096

    def forward(self, visual: torch.Tensor | None, audio: torch.Tensor | None,
                embedded: dict[str, Embedded] | None = None) -> HeadOutput:
        """`embedded`: eq. 1's Q, K, V of these very features when the caller has them (gathered
        from the full video's for an erasing round); computed here otherwise."""
        feats = {"visual": visual, "audio": audio}
        for m in self.norm:
            feats[m] = self.norm[m](feats[m])
        visual, audio = feats["visual"], feats["audio"]
        if embedded is None:
            embedded = {m: self.embed[m](feats[m]) for m in self.embed}
        intra = {m: self.intra[m](feats[m], embedded[m]) if m in self.intra else feats[m] for m in self.modalities}
        inter = {m: feats[m] for m in self.modalities}
        if self.config.inter:
            inter["visual"], inter["audio"] = self.inter(visual, audio, embedded["visual"], embedded["audio"])
        attention, pooled = {}, []
        for m in self.modalities:
            x = intra[m] + inter[m]  # F' + F'' (eq. 7); each is F when its module is switched off
            attention[m] = self.attention[m](x)
            pooled.append(attention_pool(x, attention[m]))
        logits = self.classifier(self.dropout(torch.cat(pooled, dim=-1)))
        return HeadOutput(logits, attention.get("visual"), attention.get("audio"), embedded)


class WECL(checkpoints.Pretrained, nn.Module):
    """The whole network. Backbones are frozen (paper 4.2) and always run in eval mode.

    As CLIP's `encode_image`/`encode_text`: `encode_visual` and `encode_audio` run the frozen
    backbones on a video's inputs (tensors in, tensors out); `forward_head` (and `forward`) the
    heads on the features; `from_pretrained` / `save_pretrained` load and write the checkpoint
    format (`wecl.checkpoints`)."""

    # Where the weights came from: set by `from_pretrained`; None for a model built in memory.
    checkpoint: checkpoints.CheckpointRef | None = None
    # How the backbones run: "fp32", "bf16" or "auto" (the heads are always fp32).
    # `inference.load_model` sets it (default "auto"); a model built or loaded directly is exact.
    precision: str = "fp32"
    # `backbone_key`, once computed (the loader sets it from the file's bytes).
    _backbone_key: str | None = None

    def __init__(self, config: WECLConfig):
        super().__init__()
        self.config = config
        self.visual_backbone = None
        if config.uses_visual:
            self.visual_backbone = FaceBackbone() if config.face else ResNet(3, config.visual_depth, config.visual_width)
        self.audio_backbone = ResNet(2, config.audio_depth, config.audio_width) if config.uses_audio else None
        for backbone in (self.visual_backbone, self.audio_backbone):
            if backbone is not None:
                backbone.requires_grad_(False)
        visual_dim = FaceBackbone.feature_dim if config.face else feature_dim(config.visual_depth, config.visual_width)
        self.heads = WECLHeads(config, visual_dim, feature_dim(config.audio_depth, config.audio_width))

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def backbone_precision(self) -> str:
        """The precision the backbones run in ("fp32" or "bf16"): `precision` on this device, except
        for a backbone that runs in one of its own (`fixed_precision`: the face network, always fp32)."""
        asked = resolve_precision(self.precision, self.device)
        ran = {getattr(b, "fixed_precision", None) or asked for b in (self.visual_backbone, self.audio_backbone)
               if b is not None}
        return "bf16" if "bf16" in ran else "fp32"

    @property
    def chunk_size(self) -> int:
        """Segments per backbone call on this device (`wecl.device.chunk_size`)."""
        return chunk_size(self.device)

    @property
    def backbone_key(self) -> str:
        """What features depend on: the backbone weights and the input pipeline's config.

        Stronger than a checkpoint id + revision: re-trained heads on the same backbones reuse
        cached features, and a changed backbone never does."""
        if self._backbone_key is None:
            self._backbone_key = weights.backbone_digests(self)[1]
        return self._backbone_key

    def forget_backbone_key(self) -> None:
        """The backbone weights changed in place (`calibrate`): their key is computed again."""
        self._backbone_key = None

    def train(self, mode: bool = True) -> "WECL":
        super().train(mode)
        for backbone in (self.visual_backbone, self.audio_backbone):
            if backbone is not None:
                backbone.eval()
        return self

    def encode_visual(self, frames: torch.Tensor) -> torch.Tensor:
        """The frozen visual backbone on normalised clips (N, 3, k, H, W) -> features (N, C_v), what
        `forward_head` takes per segment (like CLIP's `encode_image`). It runs in inference mode,
        in `backbone_precision`, `chunk_size` clips a call; the features are float32 on the CPU,
        where the feature caches keep them. WECLError without a visual backbone."""
        return self._encode(self.visual_backbone, frames, "visual")

    def encode_audio(self, patches: torch.Tensor) -> torch.Tensor:
        """The frozen audio backbone on MFCC patches (N, 3, S, S) -> features (N, C_a), as
        `encode_visual`."""
        return self._encode(self.audio_backbone, patches, "audio")

    def _encode(self, backbone: nn.Module | None, x: torch.Tensor, name: str) -> torch.Tensor:
        if backbone is None:
            raise WECLError(f"this checkpoint has no {name} backbone (modalities: {self.config.modalities})")
        return torch.from_numpy(run_backbone(backbone, x, self.device, self.chunk_size, self.backbone_precision))

    def forward_head(self, visual: torch.Tensor | None, audio: torch.Tensor | None) -> HeadOutput:
        """The heads on backbone features: visual (B, T, C_v), audio (B, T, C_a)."""
        return self.heads(visual, audio)

    def forward(self, visual: torch.Tensor | None, audio: torch.Tensor | None) -> HeadOutput:
        """What training calls: the heads (`forward_head`); the backbones run once, before, in
        `encode_visual` and `encode_audio`."""
        return self.forward_head(visual, audio)

    def keyframe_masks(self, out: HeadOutput, theta: float | None = None, audio_present: torch.Tensor | None = None
                       ) -> tuple[torch.Tensor, torch.Tensor]:
        """(visual, audio) keyframe masks (B, T) of the config's rule (`erasing.keyframe_masks`)."""
        v, a = out.normalised()
        theta = self.config.theta if theta is None else theta
        return keyframe_masks(v, a, theta, audio_present, mask_rule(self.config.keyframe_rule))

    def erase_mask(self, out: HeadOutput, theta: float | None = None, audio_present: torch.Tensor | None = None) -> torch.Tensor:
        """The keyframes (B, T) of the config's rule: eq. 9 by default."""
        mask_v, mask_a = self.keyframe_masks(out, theta, audio_present)
        return mask_v | mask_a

    def loss(
        self,
        visual: torch.Tensor | None,
        audio: torch.Tensor | None,
        labels: torch.Tensor,
        audio_present: torch.Tensor | None = None,
        empty: str = "triple",
        reduction: str = "sum",
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Eq. 12: CE(x_o, y) + CE(x_k, y) + CE(x_l, y); only CE(x_o, y) when erasing is off.

        x_k is the video made of the keyframes (E = 1, under the config's keyframe rule; for
        "per-modality" each modality's features are cut by its own mask), x_l the video of the
        left segments (E = 0), both resampled to T segments (`erasing.resample_indices`).

        A video without keyframes has x_k = x_l = x_o (nothing to erase). With `empty="triple"`
        (eq. 12 as written) its loss is 3 CE(x_o, y); with "drop" its x_k and x_l terms are left
        out (they repeat CE(x_o)). `reduction` "sum" is eq. 12; "mean" averages the three terms, as
        the official code does. Also returned, not part of the loss, and computed with erasing
        off too: "empty_keyframes" (videos without a keyframe), "keyframe_share" (the share of
        segments that are keyframes) and "peaks_agree" (videos whose visual and audio attention
        peak in one segment)."""
        out = self(visual, audio)
        parts = {"original": F.cross_entropy(out.logits, labels)}
        with torch.no_grad():
            mask_v, mask_a = self.keyframe_masks(out, audio_present=audio_present)
            mask = mask_v | mask_a
            stats = {"empty_keyframes": (~mask.any(dim=-1)).sum(), "keyframe_share": mask.float().mean()}
            if out.visual_attention is not None and out.audio_attention is not None:
                agree = out.visual_attention.argmax(-1) == out.audio_attention.argmax(-1)
                stats["peaks_agree"] = agree.sum()
        if self.config.erasing:
            weight = torch.ones(labels.shape[0], device=labels.device)
            if empty == "drop":
                weight = mask.any(dim=-1).float()
            elif empty != "triple":
                raise ValueError(f"empty must be 'triple' or 'drop', not {empty!r}")
            for name, keep_v, keep_a in (("keyframes", mask_v, mask_a), ("left", ~mask_v, ~mask_a)):
                branch = self(None if visual is None else select_segments(visual, keep_v),
                              None if audio is None else select_segments(audio, keep_a))
                ce = F.cross_entropy(branch.logits, labels, reduction="none")
                parts[name] = (ce * weight).sum() / labels.shape[0]
        total = sum(parts.values())
        if reduction == "mean":
            total = total / len(parts)
        elif reduction != "sum":
            raise ValueError(f"reduction must be 'sum' or 'mean', not {reduction!r}")
        parts.update(stats)
        return total, parts
