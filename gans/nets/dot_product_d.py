"""Anime-study cGAN discriminator: the logit is the dot product of an image code and the tags.

The DCGAN trunk maps the image to a vector of the condition's size (22 for hair 12 + eye 10); its
dot product with the one-hot tags is the logit, so D judges "is this a real image *of these
tags*". With ``embed_dim`` set (the study's "embedding" encoding), both sides live in a learned
``embed_dim``-dimensional space instead: code (N, E) . Linear(cond_dim -> E)(y).
"""

from __future__ import annotations

from typing import Literal

from torch import Tensor, nn

from gans.nets.dcgan import dcgan_d_features, init_dcgan_weights


class DotProductDiscriminator(nn.Module):
    """``(x (N, channels, S, S), y (N, cond_dim))`` -> logits ``(N,)``."""

    def __init__(
        self,
        cond_dim: int = 22,
        image_size: int = 64,
        channels: int = 3,
        width: int = 64,
        embed_dim: int | None = None,
        norm: Literal["batch", "none"] = "batch",
    ) -> None:
        super().__init__()
        code_dim = cond_dim if embed_dim is None else embed_dim
        self.features, ch = dcgan_d_features(image_size, channels, width, norm)
        self.code = nn.Sequential(nn.Flatten(), nn.Linear(ch * 16, code_dim))
        self.embed = nn.Identity() if embed_dim is None else nn.Linear(cond_dim, embed_dim)
        self.apply(init_dcgan_weights)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        code = self.code(self.features(x))
        return (code * self.embed(y.to(code.dtype))).sum(dim=1)
