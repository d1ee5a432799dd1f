"""ResNets for both backbones, 2D and 3D from one definition.

The state-dict keys follow torchvision (2D) and Hara et al.'s 3D-ResNets-PyTorch (3D): `conv1`,
`bn1`, `layer{1..4}.{i}.conv{1,2,3}` / `bn{1,2,3}`, `downsample.0/1` (conv + BN, shortcut type B),
`fc`. The two layouts only differ in dimensionality and in conv1's stride: Hara's stem keeps the
temporal resolution (stride (1, 2, 2)), so one class serves both and published weights load by
key name. torchvision itself is not usable with the CPU torch build this project pins.
"""
from __future__ import annotations

import torch
from torch import nn

BLOCK_COUNTS = {
    10: ("basic", (1, 1, 1, 1)),
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
    200: ("bottleneck", (3, 24, 36, 3)),
}
EXPANSION = {"basic": 1, "bottleneck": 4}


def _conv(dims: int, cin: int, cout: int, kernel: int, stride: int = 1) -> nn.Module:
    conv = nn.Conv3d if dims == 3 else nn.Conv2d
    return conv(cin, cout, kernel_size=kernel, stride=stride, padding=kernel // 2, bias=False)


def _norm(dims: int, channels: int) -> nn.Module:
    return nn.BatchNorm3d(channels) if dims == 3 else nn.BatchNorm2d(channels)


class BasicBlock(nn.Module):
    def __init__(self, dims: int, cin: int, planes: int, stride: int, downsample: nn.Module | None):
        super().__init__()
        self.conv1 = _conv(dims, cin, planes, 3, stride)
        self.bn1 = _norm(dims, planes)
        self.conv2 = _conv(dims, planes, planes, 3)
        self.bn2 = _norm(dims, planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + shortcut)


class Bottleneck(nn.Module):
    # Stride on the 3x3 conv (torchvision's "ResNet v1.5" and Hara et al. alike).
    def __init__(self, dims: int, cin: int, planes: int, stride: int, downsample: nn.Module | None):
        super().__init__()
        self.conv1 = _conv(dims, cin, planes, 1)
        self.bn1 = _norm(dims, planes)
        self.conv2 = _conv(dims, planes, planes, 3, stride)
        self.bn2 = _norm(dims, planes)
        self.conv3 = _conv(dims, planes, planes * 4, 1)
        self.bn3 = _norm(dims, planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)) + shortcut)


class ResNet(nn.Module):
    """A ResNet whose `forward` returns globally pooled features (N, feature_dim), without `fc`.

    `fc` exists only so that published checkpoints (which carry one) have a home for their keys;
    the converters drop it and WECL never calls it.
    """

    def __init__(self, dims: int, depth: int, width: float = 1.0, num_classes: int = 0):
        super().__init__()
        if dims not in (2, 3):
            raise ValueError(f"dims must be 2 or 3, not {dims}")
        if depth not in BLOCK_COUNTS:
            raise ValueError(f"ResNet depth must be one of {sorted(BLOCK_COUNTS)}, not {depth}")
        kind, counts = BLOCK_COUNTS[depth]
        block = BasicBlock if kind == "basic" else Bottleneck
        expansion = EXPANSION[kind]
        planes = [max(1, round(p * width)) for p in (64, 128, 256, 512)]
        self.dims, self.depth, self.width = dims, depth, width

        conv = nn.Conv3d if dims == 3 else nn.Conv2d
        stride = (1, 2, 2) if dims == 3 else 2
        self.conv1 = conv(3, planes[0], kernel_size=7, stride=stride, padding=3, bias=False)
        self.bn1 = _norm(dims, planes[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = (nn.MaxPool3d if dims == 3 else nn.MaxPool2d)(kernel_size=3, stride=2, padding=1)
        cin = planes[0]
        for i, (p, n) in enumerate(zip(planes, counts)):
            blocks = []
            for j in range(n):
                s = 2 if (i > 0 and j == 0) else 1
                downsample = None
                if s != 1 or cin != p * expansion:
                    downsample = nn.Sequential(_conv(dims, cin, p * expansion, 1, s), _norm(dims, p * expansion))
                blocks.append(block(dims, cin, p, s, downsample))
                cin = p * expansion
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
        self.feature_dim = cin
        self.fc = nn.Linear(cin, num_classes) if num_classes else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return x.flatten(2).mean(-1)  # spatial(-temporal) average pooling -> (N, C)


def feature_dim(depth: int, width: float) -> int:
    kind, _ = BLOCK_COUNTS[depth]
    return max(1, round(512 * width)) * EXPANSION[kind]
