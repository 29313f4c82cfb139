"""Generator with conditional BatchNorm (de Vries et al. 2017; as in SNGAN/BigGAN's G).

The condition enters every layer instead of only the input: each BatchNorm's scale and shift are
linear maps of ``[z, embed(y)]``, so "which objects, which colours" is re-stated at every
resolution. The layout is the DCGAN generator's (4x4 transposed conv, stride-2 transposed convs
halving the width, last transposed conv to the image with Tanh/Sigmoid). It works for one-hot
groups and multi-hot conditions alike (the embedding is a linear map of the 0/1 vector).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gans.nets.dcgan import Output, _levels, _output_activation, init_dcgan_weights


class ConditionalBatchNorm2d(nn.Module):
    """BatchNorm without its own affine; scale ``1 + gain(c)`` and shift ``bias(c)`` per image.

    ``gain`` and ``bias`` start at zero, so at initialisation this is a plain BatchNorm.
    """

    def __init__(self, channels: int, cond_dim: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(channels, affine=False)
        self.gain = nn.Linear(cond_dim, channels)
        self.bias = nn.Linear(cond_dim, channels)
        for layer in (self.gain, self.bias):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        scale = 1.0 + self.gain(c)[:, :, None, None]
        return self.norm(x) * scale + self.bias(c)[:, :, None, None]


class ConditionalBNGenerator(nn.Module):
    """``(z (N, z_dim), y (N, cond_dim))`` -> images ``(N, channels, image_size, image_size)``."""

    def __init__(
        self,
        z_dim: int = 100,
        cond_dim: int = 24,
        image_size: int = 64,
        channels: int = 3,
        width: int = 64,
        embed_dim: int = 128,
        output: Output | None = None,
        value_range: tuple[float, float] = (-1.0, 1.0),
    ) -> None:
        super().__init__()
        levels = _levels(image_size)
        ch = width * 2 ** (levels - 1)
        self.embed = nn.Linear(cond_dim, embed_dim, bias=False)
        in_dim = z_dim + embed_dim
        self.convs = nn.ModuleList([nn.ConvTranspose2d(in_dim, ch, 4, 1, 0, bias=False)])
        self.norms = nn.ModuleList([ConditionalBatchNorm2d(ch, in_dim)])
        for _ in range(levels - 1):
            self.convs.append(nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False))
            self.norms.append(ConditionalBatchNorm2d(ch // 2, in_dim))
            ch //= 2
        self.to_image = nn.Sequential(
            nn.ConvTranspose2d(ch, channels, 4, 2, 1, bias=False),
            _output_activation(output, value_range),
        )
        self.apply(init_dcgan_weights)

    def forward(self, z: Tensor, y: Tensor) -> Tensor:
        c = torch.cat([z, self.embed(y.to(z.dtype))], dim=1)
        h = c[:, :, None, None]
        for conv, norm in zip(self.convs, self.norms, strict=True):
            h = torch.relu(norm(conv(h), c))
        return self.to_image(h)
