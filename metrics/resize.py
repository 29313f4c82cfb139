"""Bring images to the square size an evaluator was built for."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def resize_square(images: torch.Tensor, size: int) -> torch.Tensor:
    """Resize float images ``(N, C, H, W)`` bilinearly (antialiased when shrinking) to
    ``(N, C, size, size)``; returned unchanged when already that size."""
    if images.shape[-2:] == (size, size):
        return images
    return F.interpolate(
        images.float(), size=size, mode="bilinear", align_corners=False, antialias=True
    )
