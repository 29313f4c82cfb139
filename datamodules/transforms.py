"""Batch transforms that run on whatever device the batch is on (GPU augmentation, DESIGN §6)."""

from __future__ import annotations

import torch


def random_hflip(images: torch.Tensor) -> torch.Tensor:
    """Mirror each image of ``(N, C, H, W)`` left-right with probability 1/2."""
    flip = torch.rand(len(images), device=images.device) < 0.5
    return torch.where(flip[:, None, None, None], images.flip(-1), images)


def to_value_range(images: torch.Tensor, value_range: tuple[float, float]) -> torch.Tensor:
    """Map uint8 images ``(N, C, H, W)`` in [0, 255] to float32 in ``value_range``."""
    low, high = value_range
    return images.float().div_(255.0).mul_(high - low).add_(low)
