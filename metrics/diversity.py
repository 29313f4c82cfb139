"""How much a conditional generator's images vary with the noise under one condition.

Condition accuracy cannot see a G that draws one image per condition whatever the noise (a
per-condition mode collapse); this number can. It is a plain pixel statistic, comparable between
models of one dataset and image size only.
"""

from __future__ import annotations

import torch
from torch import Tensor


def within_condition_l1(images: Tensor, n_repeats: int) -> float:
    """Mean absolute pixel difference between two draws of the same condition.

    ``images`` ``(n_repeats * M, C, H, W)`` hold ``n_repeats`` draws of ``M`` conditions, draw-major
    (image ``r * M + m`` is draw ``r`` of condition ``m``, as ``y.repeat(n_repeats, 1)`` orders
    them); needs two draws or more.
    """
    if n_repeats < 2 or len(images) % n_repeats:
        raise ValueError(
            f"need n_repeats >= 2 draws per condition dividing {len(images)} images, "
            f"got n_repeats={n_repeats}"
        )
    draws = images.float().reshape(n_repeats, len(images) // n_repeats, -1).transpose(0, 1)
    distances = torch.cdist(draws, draws, p=1) / draws.size(-1)
    pairs = draws.size(0) * n_repeats * (n_repeats - 1)
    return float(distances.sum() / pairs)
