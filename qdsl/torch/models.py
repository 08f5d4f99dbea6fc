"""Models for the paper's experiment: a CIFAR-shaped ResNet whose width is chosen for a parameter
budget (arXiv:2303.03428 trains a 7M-parameter ResNet on CIFAR-100)."""
from __future__ import annotations

import math

import torch
from torch import nn


class BasicBlock(nn.Module):
    """Two 3×3 conv–BatchNorm layers with a skip connection (a 1×1 conv–BN when the shape changes)."""

    def __init__(self, cin: int, cout: int, stride: int, norm=nn.BatchNorm2d):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = norm(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = norm(cout)
        self.skip = nn.Sequential()
        if stride != 1 or cin != cout:
            self.skip = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), norm(cout))

    def forward(self, x):
        h = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(h)) + self.skip(x))


class CifarResNet(nn.Module):
    """ResNet for 3×32×32 images (the CIFAR layout of He et al.: a 3×3 stem, four stages of basic
    blocks at widths w, 2w, 4w, 8w, the last three downsampling by 2, global average pooling and
    a linear classifier). `blocks=(2, 2, 2, 2)` with w = 64 is ResNet-18 (11.2M parameters with 100
    classes). `batchnorm=False` puts identities where the BatchNorm layers were."""

    def __init__(self, width: int = 64, blocks=(2, 2, 2, 2), classes: int = 100, in_channels: int = 3,
                 batchnorm: bool = True):
        super().__init__()
        self.width, self.blocks, self.classes = int(width), tuple(blocks), int(classes)
        w = int(width)
        norm = nn.BatchNorm2d if batchnorm else (lambda c: nn.Identity())
        self.stem = nn.Sequential(nn.Conv2d(in_channels, w, 3, 1, 1, bias=False), norm(w), nn.ReLU())
        layers, cin = [], w
        for i, nb in enumerate(blocks):
            cout = w * 2 ** i
            for j in range(nb):
                layers.append(BasicBlock(cin, cout, 2 if (j == 0 and i > 0) else 1, norm))
                cin = cout
        self.layers = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.layers(self.stem(x))), 1))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def cifar_resnet(params: float = 7e6, *, classes: int = 100, blocks=(2, 2, 2, 2), in_channels: int = 3,
                 batchnorm: bool = True, seed: int = 0, dtype=torch.float32, device=None) -> CifarResNet:
    """A CifarResNet whose base width is the one (≥ 2) with the parameter count closest to `params`
    (7M by default, the paper's size: width 51 of the ResNet-18 layout gives 7.1M with 100
    classes). Initialized from `seed`."""
    def size(w):
        with torch.device("meta"):   # shapes only: nothing allocated or initialized
            return count_parameters(CifarResNet(w, blocks, classes, in_channels, batchnorm))
    w = max(2, int(round(64 * math.sqrt(float(params) / size(64)))))
    best = min((abs(size(c) - params), c) for c in range(max(2, w - 2), w + 3))[1]
    torch.manual_seed(int(seed))
    return CifarResNet(best, blocks, classes, in_channels, batchnorm).to(dtype=dtype, device=device)
