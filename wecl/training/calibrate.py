"""BatchNorm calibration of frozen backbones: recompute each BatchNorm layer's running mean and
variance from a dataset's own inputs, leaving every learned weight as it is.

Why: the demo checkpoints have randomly initialised backbones (no pretrained weights can be
downloaded here). A random ResNet whose BatchNorm layers still hold their initial statistics
(mean 0, variance 1) is a poor feature extractor: nothing re-centres the activations, so a shared
component dominates every feature and what distinguishes one segment from another shrinks to a few
per cent (measured on the synthetic benchmark's audio: MFCC features of magnitude 0.02 varying by
0.002 between segments). With statistics measured on real inputs each layer is centred and
scaled again and the same random filters give well-conditioned features (magnitude 0.8, varying by
0.2). This is a property of the frozen feature extractor, not of WECL's heads: the paper's
backbones are pretrained and already carry such statistics, and calibration never touches the
heads or the equations. Only use it on backbones that are not pretrained.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from wecl.errors import WECLError
from wecl.features import prepare_inputs
from wecl.model import WECL
from wecl.progress import Progress


def _norm_layers(backbone: nn.Module | None) -> list[nn.modules.batchnorm._BatchNorm]:
    if backbone is None:
        return []
    return [m for m in backbone.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def calibrate(model: WECL, videos: Sequence[str], progress: Progress | None = None,
              modalities: Sequence[str] = ("visual", "audio")) -> dict:
    """Set the running statistics of the BatchNorm layers of the named backbones to the plain
    average over the given videos' backbone inputs (clips and MFCC patches, as inference prepares
    them); the other backbone is left exactly as it was.

    Returns {"videos": used, "skipped": {path: reason}}. The model is left in eval mode.
    """
    unknown = sorted(set(modalities) - {"visual", "audio"})
    if unknown or not modalities:
        raise WECLError(f"modalities must be visual and/or audio, not {list(modalities)}")
    if "visual" in modalities and model.config.face:
        # its statistics are FER2013's, learned with its weights; its input is faces, not whole clips
        raise WECLError("the face backbone is a trained network: its BatchNorm statistics are not to be "
                        "recalibrated (calibrate the audio backbone alone, or use a 3D ResNet checkpoint)")
    visual = model.visual_backbone if "visual" in modalities else None
    audio = model.audio_backbone if "audio" in modalities else None
    layers = _norm_layers(visual) + _norm_layers(audio)
    if not layers:
        raise WECLError("this checkpoint's backbones have no BatchNorm layers to calibrate")
    momenta = [m.momentum for m in layers]
    for m in layers:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over all batches, not an exponential one
    used, skipped = 0, {}
    c = model.config
    try:
        with torch.no_grad():
            for n, video in enumerate(videos, 1):
                try:
                    inputs = prepare_inputs(str(video), c)
                except WECLError as error:
                    skipped[str(video)] = str(error)
                    continue
                for m in layers:
                    m.train()
                if visual is not None:
                    visual(inputs.frames(0, c))
                if audio is not None and inputs.info.has_audio:
                    audio(inputs.patches)
                used += 1
                if progress:
                    progress(n, len(videos), "videos")
    finally:
        for m, momentum in zip(layers, momenta):
            m.momentum = momentum
        model.eval()
        model.forget_backbone_key()  # the features change with the statistics
    if not used:
        raise WECLError(f"none of the {len(videos)} videos could be read, so nothing was calibrated")
    return {"videos": used, "skipped": skipped}
