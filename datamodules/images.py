"""An in-memory uint8 image dataset that hands out whole batches with one indexing operation.

The tensors may live on the training device (``data.on_device``): the batch is then gathered there
and only the batch's indices cross from the host, asynchronously, so serving a batch never waits
for the device.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.utils.data import Dataset

Batch = tuple[torch.Tensor, torch.Tensor]


class ImageTensorDataset(Dataset[Batch]):
    """Images ``(N, 3, S, S)`` uint8 with conditions ``(N, D)`` float (``D`` may be 0).

    The DataLoader calls ``__getitems__`` with a batch's indices, so a batch costs one tensor
    gather instead of a Python call per image; pass ``collate_fn=keep_batch`` since the result is
    already a batch ``(images (B, 3, S, S) uint8, conditions (B, D) float)``.
    """

    def __init__(self, images: torch.Tensor, conditions: torch.Tensor) -> None:
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise ValueError(
                f"images must be uint8 (N, C, H, W), got {images.dtype} {images.shape}"
            )
        if conditions.ndim != 2 or len(conditions) != len(images):
            raise ValueError(f"conditions must be ({len(images)}, D), got {conditions.shape}")
        self.images = images
        self.conditions = conditions

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> Batch:
        return self.images[index], self.conditions[index]

    def __getitems__(self, indices: Sequence[int]) -> Batch:
        index = torch.as_tensor(indices, dtype=torch.long)
        if index.device != self.images.device:
            if self.images.is_cuda:
                index = index.pin_memory()
            index = index.to(self.images.device, non_blocking=True)
        return self.images.index_select(0, index), self.conditions.index_select(0, index)

    def to(self, device: torch.device | str) -> ImageTensorDataset:
        """The same images and conditions on ``device`` (this dataset when already there)."""
        device = torch.device(device)
        if self.images.device == device:
            return self
        return ImageTensorDataset(self.images.to(device), self.conditions.to(device))


def keep_batch(batch: Batch) -> Batch:
    """Collate function for datasets that already return whole batches."""
    return batch
