"""DataSpec: what a datamodule tells the model about its data, so model configs never repeat it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import torch

from datamodules.conditions import Attributes, MultiHot, OneHotGroups
from datamodules.errors import DataError

ConditionKind = Literal["none", "onehot_groups", "multi_hot", "attributes"]
Vocabulary = OneHotGroups | MultiHot | Attributes
VOCABULARIES: dict[str, type[Vocabulary]] = {
    v.kind: v for v in (OneHotGroups, MultiHot, Attributes)
}


@dataclass(frozen=True)
class DataSpec:
    """Shape, value range and conditioning of a dataset's training images.

    Images reach the model as float tensors ``(N, channels, image_size, image_size)`` with values
    in ``value_range``; conditions as float tensors ``(N, condition_dim)`` (``condition_dim`` is 0
    for unconditional data).

    ``vocab`` turns the dataset's words into condition vectors and back
    (``spec.vocab.encode("blue hair red eyes")``); given one, ``condition_kind`` and
    ``condition_names`` follow from it. ``dataclasses.asdict(spec)`` is plain data (the GAN module
    stores it in checkpoints) and ``DataSpec.from_dict`` rebuilds the spec from it.
    """

    image_size: int
    channels: int = 3
    value_range: tuple[float, float] = (-1.0, 1.0)
    condition_kind: ConditionKind = "none"
    condition_names: tuple[str, ...] = field(default_factory=tuple)
    name: str = ""
    vocab: Vocabulary | None = None

    def __post_init__(self) -> None:
        if self.vocab is None:
            return
        kind, names = self.vocab.kind, self.vocab.names
        if self.condition_kind not in ("none", kind) or self.condition_names not in ((), names):
            raise DataError(
                f"DataSpec {self.name!r}: condition_kind {self.condition_kind!r} and"
                f" condition_names {self.condition_names} disagree with its {kind} vocabulary."
            )
        object.__setattr__(self, "condition_kind", kind)
        object.__setattr__(self, "condition_names", names)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DataSpec:
        """Rebuild a spec from ``dataclasses.asdict(spec)`` (e.g. a checkpoint's ``data_spec``)."""
        fields = dict(data)
        vocab = fields.pop("vocab", None)
        if vocab is not None:
            fields["vocab"] = VOCABULARIES[fields["condition_kind"]](**vocab)
        fields["value_range"] = tuple(fields["value_range"])
        fields["condition_names"] = tuple(fields["condition_names"])
        return cls(**fields)

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
