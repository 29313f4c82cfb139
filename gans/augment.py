"""Differentiable augmentation for D (DiffAugment, Zhao et al. 2020), as pure functions.

D sees every image (real and fake, in D's and in G's step) randomly shifted and with a random
square cut out; gradients flow through to G. This keeps a D trained on a few thousand images from
memorising them. Colour transforms are left out on purpose: for colour-conditioned data (anime
hair/eyes, ICLEVR objects) they would change what the condition says.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

POLICIES = ("translation", "cutout")


def translate(x: Tensor, ratio: float = 0.125) -> Tensor:
    """Shift each image ``(N, C, H, W)`` by up to ``ratio`` of its size, zero-filling the edge."""
    n, _, h, w = x.shape
    dy = torch.randint(-int(h * ratio), int(h * ratio) + 1, (n, 1, 1), device=x.device)
    dx = torch.randint(-int(w * ratio), int(w * ratio) + 1, (n, 1, 1), device=x.device)
    rows = torch.arange(h, device=x.device)[None, :, None] + dy + 1
    cols = torch.arange(w, device=x.device)[None, None, :] + dx + 1
    rows = rows.clamp(0, h + 1).expand(n, h, w)
    cols = cols.clamp(0, w + 1).expand(n, h, w)
    padded = F.pad(x, [1, 1, 1, 1])
    batch = torch.arange(n, device=x.device)[:, None, None]
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)


def cutout(x: Tensor, ratio: float = 0.5) -> Tensor:
    """Zero one random square of side ``ratio`` of the image size in each image."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    top = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), device=x.device) - ch // 2
    left = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), device=x.device) - cw // 2
    rows = torch.arange(h, device=x.device)[None, :, None]
    cols = torch.arange(w, device=x.device)[None, None, :]
    inside = (rows >= top) & (rows < top + ch) & (cols >= left) & (cols < left + cw)
    return x * (~inside)[:, None].to(x.dtype)


def diff_augment(x: Tensor, policy: Sequence[str]) -> Tensor:
    """Apply the named transforms (``"translation"``, ``"cutout"``) in order."""
    for name in policy:
        if name not in POLICIES:
            raise ValueError(f"unknown DiffAugment transform {name!r}; choose from {POLICIES}")
        x = translate(x) if name == "translation" else cutout(x)
    return x
