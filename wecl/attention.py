"""Eq. 7 (paper 3.3): the temporal attention of one modality's segment features, and the
attention-weighted pooling that makes the video's feature of them (x_o, x_k, x_l).

Attention tensors are (B, T); features (B, T, C).
"""
from __future__ import annotations

import torch
from torch import nn


class TemporalAttention(nn.Module):
    """Eq. 7: A = ReLU(W_1 (W_2 X^T)^T), X = F' + F''. W_2: C -> 1 per segment, W_1: T -> T."""

    def __init__(self, channels: int, segments: int):
        super().__init__()
        self.w2 = nn.Linear(channels, 1)
        self.w1 = nn.Linear(segments, segments)
        # W_1 starts as the identity so that each segment's attention starts as its own score;
        # a random T x T mix behind a ReLU often starts with every segment at zero.
        # (not nn.init.eye_: on the meta device, where checkpoints are built, it imports
        # torch._dynamo, a second of a model load)
        with torch.no_grad():
            self.w1.weight.zero_().diagonal().fill_(1.0)
        nn.init.zeros_(self.w1.bias)
        # and W_2's bias starts positive so that not every segment starts behind the ReLU (a
        # video whose attention is all zero passes no gradient to the attention at all).
        nn.init.constant_(self.w2.bias, 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.w1(self.w2(x).squeeze(-1)))  # (B, T)


def attention_pool(features: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
    """Attention-weighted temporal mean: (B, T, C), (B, T) -> (B, C).

    The weights are A / sum(A); a video whose attention is all zero (possible behind eq. 7's ReLU)
    falls back to the plain mean instead of a zero vector.
    """
    total = attention.sum(dim=-1, keepdim=True)
    uniform = torch.full_like(attention, 1.0 / attention.shape[-1])
    weights = torch.where(total > 0, attention / total.clamp(min=1e-12), uniform)
    return (weights.unsqueeze(-1) * features).sum(dim=1)
