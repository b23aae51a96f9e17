"""The paper's other baselines, CIFAR-sized: DenseNet-40 (k=12), VGG-16, Network-in-Network; LeNet.

Each names its last layer so that wsep's locator finds it by name (``classifier`` / ``fc3``).
Inputs of other sizes work where the architecture allows (global pooling; VGG pools with ceil_mode
so 28x28 MNIST still reaches 1x1).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["DenseNet", "densenet40", "vgg16", "NiN", "LeNet"]


class _DenseLayer(nn.Module):
    def __init__(self, in_ch: int, growth: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(in_ch)
        self.conv = nn.Conv2d(in_ch, growth, 3, padding=1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([x, self.conv(F.relu(self.bn(x)))], dim=1)


class _Transition(nn.Sequential):
    def __init__(self, ch: int) -> None:
        super().__init__(nn.BatchNorm2d(ch), nn.ReLU(inplace=True), nn.Conv2d(ch, ch, 1, bias=False), nn.AvgPool2d(2))


class DenseNet(nn.Module):
    """Huang et al. (2017) basic DenseNet (no bottleneck, no compression): 3 blocks of (depth-4)/3 layers."""

    def __init__(self, depth: int = 40, growth: int = 12, num_classes: int = 10, in_channels: int = 3) -> None:
        super().__init__()
        per_block = (depth - 4) // 3
        ch = 2 * growth if growth > 12 else 16
        layers: list[nn.Module] = [nn.Conv2d(in_channels, ch, 3, padding=1, bias=False)]
        for b in range(3):
            for _ in range(per_block):
                layers.append(_DenseLayer(ch, growth))
                ch += growth
            if b < 2:
                layers.append(_Transition(ch))
        layers += [nn.BatchNorm2d(ch), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(ch, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))


def densenet40(num_classes: int = 10, in_channels: int = 3) -> DenseNet:
    return DenseNet(40, 12, num_classes, in_channels)


_VGG16 = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")


class _VGG(nn.Module):
    def __init__(self, features: nn.Sequential, num_classes: int) -> None:
        super().__init__()
        self.features = features
        self.classifier = nn.Linear(512, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(F.adaptive_avg_pool2d(self.features(x), 1).flatten(1))


def vgg16(num_classes: int = 10, in_channels: int = 3) -> nn.Module:
    """VGG-16 with batch norm, CIFAR style (one 512 -> n linear layer)."""
    layers: list[nn.Module] = []
    ch = in_channels
    for v in _VGG16:
        if v == "M":
            layers.append(nn.MaxPool2d(2, ceil_mode=True))
        else:
            layers += [nn.Conv2d(ch, int(v), 3, padding=1), nn.BatchNorm2d(int(v)), nn.ReLU(inplace=True)]
            ch = int(v)
    return _VGG(nn.Sequential(*layers), num_classes)


def _mlpconv(cin: int, widths: tuple[int, int, int], k: int) -> list[nn.Module]:
    out: list[nn.Module] = []
    for i, w in enumerate(widths):
        out += [nn.Conv2d(cin, w, k if i == 0 else 1, padding=(k // 2) if i == 0 else 0),
                nn.BatchNorm2d(w), nn.ReLU(inplace=True)]
        cin = w
    return out


class NiN(nn.Module):
    """Lin et al. (2013) Network-in-Network for CIFAR, with batch norm.

    The classifier is a 1x1 convolution to n channels followed by global average pooling (no ReLU
    after it, so the logits are linear in the classifier's input, which L_re needs).
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 3) -> None:
        super().__init__()
        self.features = nn.Sequential(
            *_mlpconv(in_channels, (192, 160, 96), 5), nn.MaxPool2d(3, 2, 1, ceil_mode=True), nn.Dropout(0.5),
            *_mlpconv(96, (192, 192, 192), 5), nn.AvgPool2d(3, 2, 1, ceil_mode=True), nn.Dropout(0.5),
            *_mlpconv(192, (192, 192, 192), 3),
        )
        self.classifier = nn.Conv2d(192, num_classes, 1)

    def forward(self, x: Tensor) -> Tensor:
        return F.adaptive_avg_pool2d(self.classifier(self.features(x)), 1).flatten(1)


class LeNet(nn.Module):
    """LeNet-5 for MNIST-size input (1 x 28 x 28): two 5x5 convs, then 120 -> 84 -> n.

    Batch norm after each convolution lets it train with the paper's SGD defaults (lr 0.1,
    momentum 0.9), which make the plain LeNet-5 diverge.
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 6, 5, padding=2, bias=False)
        self.bn1 = nn.BatchNorm2d(6)
        self.conv2 = nn.Conv2d(6, 16, 5, bias=False)
        self.bn2 = nn.BatchNorm2d(16)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2).flatten(1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))
