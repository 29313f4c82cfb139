"""DataSpec: what a datamodule tells the model about its data, so model configs never repeat it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch

ConditionKind = Literal["none", "onehot_groups", "multi_hot", "attributes"]


@dataclass(frozen=True)
class DataSpec:
    """Shape, value range and conditioning of a dataset's training images.

    Images reach the model as float tensors ``(N, channels, image_size, image_size)`` with values
    in ``value_range``; conditions as float tensors ``(N, condition_dim)`` (``condition_dim`` is 0
    for unconditional data).
    """

    image_size: int
    channels: int = 3
    value_range: tuple[float, float] = (-1.0, 1.0)
    condition_kind: ConditionKind = "none"
    condition_names: tuple[str, ...] = field(default_factory=tuple)
    name: str = ""

    @property
    def condition_dim(self) -> int:
        return len(self.condition_names)

    @property
    def conditional(self) -> bool:
        return self.condition_kind != "none"

    def to_unit(self, images: torch.Tensor) -> torch.Tensor:
        """Map images from ``value_range`` to [0, 1] (for saving and for metrics)."""
        low, high = self.value_range
        return ((images - low) / (high - low)).clamp(0.0, 1.0)

    def from_unit(self, images: torch.Tensor) -> torch.Tensor:
        """Map images from [0, 1] to ``value_range``."""
        low, high = self.value_range
        return images * (high - low) + low
