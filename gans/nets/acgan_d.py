"""ACGAN discriminator (Odena et al. 2017): an unconditional real/fake head and an auxiliary
classifier head that predicts the condition from the image (multi-label logits)."""

from __future__ import annotations

from typing import Literal

from torch import Tensor, nn

from gans.nets.dcgan import dcgan_d_features, init_dcgan_weights


class ACGANDiscriminator(nn.Module):
    """``x (N, channels, S, S)`` -> ``(logits (N,), class_logits (N, cond_dim))``.

    ``y`` is accepted for a uniform call signature but not used: ACGAN's D sees only the image.
    """

    def __init__(
        self,
        cond_dim: int = 24,
        image_size: int = 64,
        channels: int = 3,
        width: int = 64,
        norm: Literal["batch", "none"] = "batch",
        spectral: bool = False,
    ) -> None:
        super().__init__()
        self.features, ch = dcgan_d_features(image_size, channels, width, norm, spectral)
        self.head = nn.Conv2d(ch, 1, 4, 1, 0)
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(ch * 16, cond_dim))
        self.apply(init_dcgan_weights)

    def forward(self, x: Tensor, y: Tensor | None = None) -> tuple[Tensor, Tensor]:
        h = self.features(x)
        return self.head(h).flatten(), self.classifier(h)
