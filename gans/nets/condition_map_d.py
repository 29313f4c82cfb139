"""ICLEVR-study cDCGAN discriminator: the condition as a 4th image channel.

y (N, cond_dim) -> LeakyReLU(Linear(cond_dim -> S*S)) reshaped to a 1xSxS map, concatenated to the
image, then the DCGAN D trunk (five 4x4 convs at 64x64) to one logit per image.
With ``aux_head`` D also returns class logits from a separate BatchNorm DCGAN trunk that sees the
image alone (ACGAN's auxiliary classifier; a head on the shared trunk could copy the condition
from the 4th channel instead of reading it from the image).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from gans.nets.dcgan import dcgan_classifier, dcgan_d_features, init_dcgan_weights


class ConditionMapDiscriminator(nn.Module):
    """``(x (N, channels, S, S), y (N, cond_dim))`` -> logits ``(N,)``, or
    ``(logits, class_logits (N, cond_dim))`` with ``aux_head``."""

    def __init__(
        self,
        cond_dim: int = 24,
        image_size: int = 64,
        channels: int = 3,
        width: int = 64,
        norm: Literal["batch", "none"] = "batch",
        spectral: bool = False,
        aux_head: bool = False,
    ) -> None:
        super().__init__()
        self.image_size = image_size
        self.condition_map = nn.Sequential(
            nn.Linear(cond_dim, image_size * image_size), nn.LeakyReLU(0.2, inplace=True)
        )
        self.features, ch = dcgan_d_features(image_size, channels + 1, width, norm, spectral)
        self.head = nn.Conv2d(ch, 1, 4, 1, 0)
        self.classifier = (
            dcgan_classifier(image_size, channels, width, cond_dim) if aux_head else None
        )
        self.apply(init_dcgan_weights)
        # The condition map keeps PyTorch's default Linear init, as under the PyTorch DCGAN
        # example's weights_init (conv and BatchNorm layers only); at N(0, 0.02) it would start
        # about 35 times fainter than the image channels. (On toy ICLEVR the two inits trained
        # alike; see the README's cDCGAN ablation.)
        self.condition_map[0].reset_parameters()

    def forward(self, x: Tensor, y: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        size = self.image_size
        cond = self.condition_map(y.to(x.dtype)).view(-1, 1, size, size)
        logits = self.head(self.features(torch.cat([x, cond], dim=1))).flatten()
        if self.classifier is None:
            return logits
        return logits, self.classifier(x)
