"""DCGAN generator and discriminator (Radford et al. 2016, Fig. 1) for 32x32 and 64x64 images.

G: z (N, z_dim) -> 4x4 by a 4x4 transposed conv, then stride-2 transposed convs doubling the size
and halving the width down to ``width`` channels, BatchNorm + ReLU after each, and a last
transposed conv to the image with Tanh (data in [-1, 1]) or Sigmoid (data in [0, 1]).
D: the mirror image with strided convs and LeakyReLU(0.2), optional BatchNorm (not on the first
layer), and a last 4x4 conv to one logit per image (no Sigmoid: losses work on logits).
"""

from __future__ import annotations

import math
from typing import Literal

from torch import Tensor, nn
from torch.nn.utils import parametrize

Output = Literal["tanh", "sigmoid"]


def _levels(image_size: int) -> int:
    """Number of stride-2 stages between 4x4 and ``image_size`` (3 for 32, 4 for 64)."""
    levels = int(math.log2(image_size)) - 2
    if image_size not in (32, 64):
        raise ValueError(f"DCGAN networks support image_size 32 or 64, got {image_size}")
    return levels


def _output_activation(output: Output | None, value_range: tuple[float, float]) -> nn.Module:
    """Tanh for data in [-1, 1], Sigmoid for [0, 1] (tip 1), unless ``output`` says otherwise."""
    if output is None:
        output = "sigmoid" if tuple(value_range) == (0.0, 1.0) else "tanh"
    if output not in ("tanh", "sigmoid"):
        raise ValueError(f"generator output must be 'tanh', 'sigmoid' or null, got {output!r}")
    return nn.Tanh() if output == "tanh" else nn.Sigmoid()


def init_dcgan_weights(module: nn.Module) -> None:
    """Conv weights ~ N(0, 0.02), BatchNorm scale ~ N(1, 0.02) and shift 0, as in the paper.

    A spectrally normalised layer gets the init on its raw weight (``.weight`` is computed).
    """
    if isinstance(module, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
        weight = (
            module.parametrizations.weight.original
            if parametrize.is_parametrized(module, "weight")
            else module.weight
        )
        nn.init.normal_(weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d) and module.affine:
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class DCGANGenerator(nn.Module):
    """z ``(N, z_dim)`` -> images ``(N, channels, image_size, image_size)``."""

    def __init__(
        self,
        z_dim: int = 100,
        image_size: int = 64,
        channels: int = 3,
        width: int = 64,
        output: Output | None = None,
        value_range: tuple[float, float] = (-1.0, 1.0),
    ) -> None:
        super().__init__()
        levels = _levels(image_size)
        ch = width * 2 ** (levels - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(z_dim, ch, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ch),
            nn.ReLU(inplace=True),
        ]
        for _ in range(levels - 1):
            layers += [
                nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ch // 2),
                nn.ReLU(inplace=True),
            ]
            ch //= 2
        layers += [
            nn.ConvTranspose2d(ch, channels, 4, 2, 1, bias=False),
            _output_activation(output, value_range),
        ]
        self.net = nn.Sequential(*layers)
        self.apply(init_dcgan_weights)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z[:, :, None, None])


def dcgan_d_features(
    image_size: int,
    channels: int,
    width: int,
    norm: Literal["batch", "none"] = "batch",
    spectral: bool = False,
) -> tuple[nn.Sequential, int]:
    """The DCGAN D trunk: ``(N, channels, S, S)`` -> ``(N, C, 4, 4)``; returns it and ``C``.

    Strided 4x4 convs with LeakyReLU(0.2), BatchNorm after all but the first when ``norm`` is
    "batch", each conv spectrally normalised when ``spectral`` (Miyato et al. 2018).
    """
    if norm not in ("batch", "none"):
        raise ValueError(f"discriminator norm must be 'batch' or 'none', got {norm!r}")
    wrap = nn.utils.parametrizations.spectral_norm if spectral else (lambda m: m)
    ch = width
    layers: list[nn.Module] = [
        wrap(nn.Conv2d(channels, ch, 4, 2, 1, bias=False)),
        nn.LeakyReLU(0.2, inplace=True),
    ]
    for _ in range(_levels(image_size) - 1):
        layers.append(wrap(nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=norm == "none")))
        if norm == "batch":
            layers.append(nn.BatchNorm2d(ch * 2))
        layers.append(nn.LeakyReLU(0.2, inplace=True))
        ch *= 2
    return nn.Sequential(*layers), ch


def dcgan_classifier(image_size: int, channels: int, width: int, cond_dim: int) -> nn.Sequential:
    """A DCGAN D trunk with BatchNorm and a linear head: images -> ``(N, cond_dim)`` class logits.

    The auxiliary classifier that reads the condition from the image alone: on ICLEVR-like images
    this trunk learns which colour goes with which shape far faster than a spectrally normalised
    one, and it never sees a condition input it could copy.
    """
    trunk, ch = dcgan_d_features(image_size, channels, width, "batch", spectral=False)
    return nn.Sequential(trunk, nn.Flatten(), nn.Linear(ch * 16, cond_dim))


class DCGANDiscriminator(nn.Module):
    """Images ``(N, channels, image_size, image_size)`` -> logits ``(N,)``."""

    def __init__(
        self,
        image_size: int = 64,
        channels: int = 3,
        width: int = 64,
        norm: Literal["batch", "none"] = "batch",
    ) -> None:
        super().__init__()
        self.features, ch = dcgan_d_features(image_size, channels, width, norm)
        self.head = nn.Conv2d(ch, 1, 4, 1, 0)
        self.apply(init_dcgan_weights)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x)).flatten()
