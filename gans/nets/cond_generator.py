"""Conditional DCGAN generator: the condition joins the noise before the first layer.

Anime study (MLDS cGAN): z (100) concatenated with the raw one-hot tags (22) = a 122x1x1 input
(``embed_dim: null``). ICLEVR study (cDCGAN): z (100) concatenated with ReLU(Linear(24 -> 200))
of the multi-hot condition (``embed_dim: 200``). The rest is the DCGAN generator.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gans.nets.dcgan import DCGANGenerator, Output


class ConditionalDCGANGenerator(nn.Module):
    """``(z (N, z_dim), y (N, cond_dim))`` -> images ``(N, channels, image_size, image_size)``."""

    def __init__(
        self,
        z_dim: int = 100,
        cond_dim: int = 24,
        image_size: int = 64,
        channels: int = 3,
        width: int = 64,
        embed_dim: int | None = None,
        output: Output | None = None,
        value_range: tuple[float, float] = (-1.0, 1.0),
    ) -> None:
        super().__init__()
        self.embed = (
            nn.Identity()
            if embed_dim is None
            else nn.Sequential(nn.Linear(cond_dim, embed_dim), nn.ReLU(inplace=True))
        )
        in_dim = z_dim + (cond_dim if embed_dim is None else embed_dim)
        self.body = DCGANGenerator(in_dim, image_size, channels, width, output, value_range)

    def forward(self, z: Tensor, y: Tensor) -> Tensor:
        return self.body(torch.cat([z, self.embed(y.to(z.dtype))], dim=1))
