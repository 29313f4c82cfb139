"""StarGAN's generator and PatchGAN discriminator (Choi et al. 2018, appendix, tables 4 and 5).

G translates an image ``(N, C, H, W)`` to the target domains ``c (N, cond_dim)``: the labels are
tiled into ``cond_dim`` extra input channels, then a 7x7 conv, two stride-2 down-samplings, a
bottleneck of residual blocks, two stride-2 up-samplings and a 7x7 conv with Tanh; every conv but
the last is followed by instance norm and ReLU. D is a PatchGAN of stride-2 4x4 convs with
LeakyReLU(0.01) and no normalisation, with two heads: a 3x3 conv giving a real/fake score per patch
and a conv over the whole remaining map giving ``cond_dim`` domain logits.

Module and parameter names follow yunjey/stargan's ``model.py`` (``main``, ``conv1``, ``conv2``),
so a state dict of the reference's ``Generator`` / ``Discriminator`` has the same keys.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

# The reference's depth at 128x128 (and, unchanged, at 256x256): six stride-2 convs.
MAX_D_LAYERS = 6


def instance_norm(channels: int) -> nn.InstanceNorm2d:
    """Instance norm with learned scale and shift; running statistics tracked as the reference
    does (they are used only in eval mode, which StarGAN's translations avoid)."""
    return nn.InstanceNorm2d(channels, affine=True, track_running_stats=True)


class ResidualBlock(nn.Module):
    """x + (conv3x3 -> IN -> ReLU -> conv3x3 -> IN)(x), shape-preserving ``(N, C, H, W)``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False),
            instance_norm(channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False),
            instance_norm(channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.main(x)


class StarGANGenerator(nn.Module):
    """G(x, c): an image translated to target domain labels ``c``.

    Args:
        cond_dim: number of domain labels (the data's attributes).
        channels: image channels.
        value_range: the data's range; the Tanh output [-1, 1] is mapped onto it.
        width: channels of the first conv (64 in the paper); 2x and 4x after the down-samplings.
        n_res: residual blocks in the bottleneck (6 in the paper for 128x128).
    """

    def __init__(
        self,
        cond_dim: int,
        channels: int = 3,
        value_range: Sequence[float] = (-1.0, 1.0),
        width: int = 64,
        n_res: int = 6,
    ) -> None:
        super().__init__()
        self.value_range = (float(value_range[0]), float(value_range[1]))
        layers: list[nn.Module] = [
            nn.Conv2d(channels + cond_dim, width, 7, 1, 3, bias=False),
            instance_norm(width),
            nn.ReLU(inplace=True),
        ]
        c = width
        for _ in range(2):  # down-sampling
            layers += [nn.Conv2d(c, 2 * c, 4, 2, 1, bias=False), instance_norm(2 * c)]
            layers.append(nn.ReLU(inplace=True))
            c *= 2
        layers += [ResidualBlock(c) for _ in range(n_res)]  # bottleneck
        for _ in range(2):  # up-sampling
            layers += [nn.ConvTranspose2d(c, c // 2, 4, 2, 1, bias=False), instance_norm(c // 2)]
            layers.append(nn.ReLU(inplace=True))
            c //= 2
        layers += [nn.Conv2d(c, channels, 7, 1, 3, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        """Images ``(N, C, H, W)`` in ``value_range`` (H, W multiples of 4) and 0/1 target labels
        ``(N, cond_dim)`` -> translated images ``(N, C, H, W)`` in ``value_range``."""
        c = c.to(x.dtype)[:, :, None, None].expand(-1, -1, x.size(2), x.size(3))
        out = self.main(torch.cat([x, c], dim=1))
        low, high = self.value_range
        if (low, high) == (-1.0, 1.0):
            return out
        return low + (out + 1.0) * (0.5 * (high - low))


def default_d_layers(image_size: int) -> int:
    """The reference's 6 stride-2 convs, fewer for small images so at least a 2x2 map remains
    (64 -> 5, 32 -> 4); halving stops at an odd size."""
    n, size = 0, image_size
    while n < MAX_D_LAYERS and size % 2 == 0 and size // 2 >= 2:
        size //= 2
        n += 1
    return n


class StarGANDiscriminator(nn.Module):
    """D(x) -> (patch scores ``(N, 1, s, s)``, domain logits ``(N, cond_dim)``).

    ``s = image_size / 2**n_layers`` (2 at 128x128 with the paper's six layers); the domain head is
    a conv with kernel ``s``, one logit per domain label.

    Args:
        image_size: height and width of the images.
        cond_dim: number of domain labels.
        channels: image channels.
        width: channels of the first conv (64 in the paper), doubled by each further conv.
        n_layers: stride-2 convs; None takes ``default_d_layers(image_size)`` (6 at 128 and 256).
    """

    def __init__(
        self,
        image_size: int,
        cond_dim: int,
        channels: int = 3,
        width: int = 64,
        n_layers: int | None = None,
    ) -> None:
        super().__init__()
        n_layers = default_d_layers(image_size) if n_layers is None else n_layers
        if n_layers < 1 or image_size % 2**n_layers:
            raise ValueError(
                f"StarGAN's discriminator needs data.image_size ({image_size}) to be a multiple of"
                f" 2**n_layers ({n_layers} layers); use a size such as 64, 128 or 256"
            )
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.01)]
        c = width
        for _ in range(1, n_layers):
            layers += [nn.Conv2d(c, 2 * c, 4, 2, 1), nn.LeakyReLU(0.01)]
            c *= 2
        self.main = nn.Sequential(*layers)
        self.conv1 = nn.Conv2d(c, 1, 3, 1, 1, bias=False)
        self.conv2 = nn.Conv2d(c, cond_dim, image_size // 2**n_layers, bias=False)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.main(x)
        return self.conv1(h), self.conv2(h).flatten(1)
