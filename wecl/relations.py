"""Temporal correlation learning (paper 3.2): intra-modal (eq. 1-4) and inter-modal (eq. 5-6).

Shapes: features F are (B, T, C); queries, keys and values are (B, T, d_k).

Eq. 5 writes the cross-modal correlation as S(Q_v, K_a) "in Eq. (2)", i.e. with the queries, keys
and values of eq. 1. We read that literally: each modality has one embedding (theta, phi, g) that
both relation modules use; the modules own only their residual weights (W_z, W_v, W_a).
"""
from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn


class Embedded(NamedTuple):
    query: torch.Tensor  # (B, T, d_k)
    key: torch.Tensor
    value: torch.Tensor


class ModalityEmbedding(nn.Module):
    """Eq. 1: Q = theta(F), K = phi(F), V = g(F)."""

    def __init__(self, channels: int, dim: int):
        super().__init__()
        self.theta = nn.Linear(channels, dim)
        self.phi = nn.Linear(channels, dim)
        self.g = nn.Linear(channels, dim)

    def forward(self, features: torch.Tensor) -> Embedded:
        return Embedded(self.theta(features), self.phi(features), self.g(features))


def correlation(query: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
    """Eq. 2: S(Q, K) = softmax(Q K^T / sqrt(d_k)), softmax over each row. (B, T, T)."""
    return F.softmax(query @ key.transpose(-1, -2) / math.sqrt(query.shape[-1]), dim=-1)


def zero_linear(dim_in: int, dim_out: int) -> nn.Linear:
    # A residual branch that starts at zero makes a new module the identity (non-local practice),
    # so adding it to pretrained features does not disturb them at the start of training.
    layer = nn.Linear(dim_in, dim_out)
    nn.init.zeros_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


class IntraModalRelation(nn.Module):
    """Eq. 3-4: Z = S(Q, K) V; F' = F + W_z Z."""

    def __init__(self, channels: int, dim: int):
        super().__init__()
        self.w_z = zero_linear(dim, channels)

    def forward(self, features: torch.Tensor, e: Embedded) -> torch.Tensor:
        z = correlation(e.query, e.key) @ e.value
        return features + self.w_z(z)


class InterModalRelation(nn.Module):
    """Eq. 5-6: U_v = S(Q_v, K_a) V_a, U_a = S(Q_a, K_v) V_v; F''_v = F_v + W_v U_v, F''_a = F_a + W_a U_a."""

    def __init__(self, visual_channels: int, audio_channels: int, dim: int):
        super().__init__()
        self.w_v = zero_linear(dim, visual_channels)
        self.w_a = zero_linear(dim, audio_channels)

    def forward(
        self, f_v: torch.Tensor, f_a: torch.Tensor, e_v: Embedded, e_a: Embedded
    ) -> tuple[torch.Tensor, torch.Tensor]:
        u_v = correlation(e_v.query, e_a.key) @ e_a.value
        u_a = correlation(e_a.query, e_v.key) @ e_v.value
        return f_v + self.w_v(u_v), f_a + self.w_a(u_a)
