"""Where and in what precision the frozen backbones run: the device, bf16 or fp32, and how many
segments go through a backbone per call."""
from __future__ import annotations

import functools

import numpy as np
import torch

from wecl.errors import WECLError

PRECISIONS = ("auto", "fp32", "bf16")


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """"auto" -> the CUDA GPU when there is one, else the CPU; a CUDA device that is not there is
    refused with a message."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise WECLError("device 'cuda' was asked for but no CUDA GPU is available")
    return device


@functools.lru_cache(maxsize=1)
def cpu_has_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AMX or AVX-512 BF16), where bf16 autocast pays."""
    try:
        with open("/proc/cpuinfo") as handle:
            flags = next((line.split(":", 1)[1].split() for line in handle if line.startswith("flags")), [])
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def resolve_precision(precision: str, device: torch.device) -> str:
    """"auto" -> "bf16" on CUDA and on CPUs with native bf16, else "fp32"."""
    if precision not in PRECISIONS:
        raise WECLError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    if precision == "auto":
        return "bf16" if device.type == "cuda" or (device.type == "cpu" and cpu_has_bf16()) else "fp32"
    return precision


def chunk_size(device: torch.device) -> int:
    """Segments per backbone call: a whole video (T <= 64) on a GPU; five on a CPU, so that the
    first half of a video's clips runs while the second half decodes. It depends on the device
    only, never on the thread count: a batch of one runs another convolution algorithm than a
    batch of several, and features must not change with the machine's cores."""
    return 64 if device.type == "cuda" else 5


def run_backbone(backbone: torch.nn.Module, batch: torch.Tensor, device: torch.device, chunk: int,
                 precision: str) -> np.ndarray:
    """A backbone in inference mode on (N, ...) inputs, `chunk` at a time -> (N, C) float32.
    "bf16": autocast to bfloat16 with channels-last inputs (what oneDNN and cuDNN run
    fastest); the features come back as float32."""
    bf16 = precision == "bf16"
    outs = []
    with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        for part in batch.split(chunk):
            part = part.to(device, non_blocking=True)
            if bf16:
                part = part.contiguous(memory_format=torch.channels_last_3d if part.dim() == 5 else torch.channels_last)
            outs.append(backbone(part).float().cpu())
    return torch.cat(outs).numpy()
