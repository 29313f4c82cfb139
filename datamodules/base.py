"""The shared datamodule for image sets held in RAM as a uint8 cache, augmented on the device.

A concrete datamodule (anime faces, tagged anime images, ICLEVR, CelebA) says which files to read,
which condition each file has, and its ``DataSpec``; this base decodes the files once into an
``ImageCache``, splits off a validation holdout, serves whole-batch gathers from RAM and, after the
batch reaches the device, converts it to float in ``value_range`` and flips it (DESIGN §6). With
``on_device`` the whole cache is moved to the training device once and batches are gathered there.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from datamodules.cache import ImageCache
from datamodules.errors import DataError
from datamodules.images import Batch, ImageTensorDataset, keep_batch
from datamodules.resumable import ResumableDataLoader, ResumableSampler
from datamodules.spec import DataSpec
from datamodules.transforms import random_hflip, to_value_range


class CachedImageDataModule(pl.LightningDataModule):
    """Base class: subclasses give ``spec``, ``image_files`` and, if conditional, ``conditions``.

    Train batches are ``(images, conditions)``: uint8 ``(B, 3, S, S)`` and float ``(B, D)`` from
    the loader; after ``on_after_batch_transfer`` images are float32 ``(B, 3, S, S)`` in
    ``value_range``, randomly mirrored when training with ``hflip``.

    ``on_device``: keep the uint8 sets on the training device (``trainer.strategy.root_device``;
    CPU without a trainer) and gather each batch there; the DataLoader (no workers) then only
    draws the indices, so the batches, their order and the flips are those of the RAM path for the
    same seed, and DDP still shards them through its sampler.
    """

    subset = "images"

    def __init__(
        self,
        root: str | Path,
        image_size: int = 64,
        batch_size: int = 64,
        value_range: Sequence[float] = (-1.0, 1.0),
        hflip: bool = True,
        num_workers: int = 0,
        cache_dir: str | Path | None = None,
        val_fraction: float = 0.0,
        drop_last: bool = True,
        seed: int = 0,
        max_bad_fraction: float = 0.01,
        on_device: bool = False,
    ) -> None:
        super().__init__()
        if len(value_range) != 2 or value_range[0] >= value_range[1]:
            raise DataError(
                f"data.value_range must be [low, high] with low < high, got {value_range}"
            )
        if not 0.0 <= val_fraction < 1.0:
            raise DataError(f"data.val_fraction must be in [0, 1), got {val_fraction}")
        self.root = Path(root).expanduser()
        self.image_size = image_size
        self.batch_size = batch_size
        self.value_range = (float(value_range[0]), float(value_range[1]))
        self.hflip = hflip
        self.num_workers = num_workers
        self.cache_dir = cache_dir
        self.val_fraction = val_fraction
        self.drop_last = drop_last
        self.seed = seed
        self.max_bad_fraction = max_bad_fraction
        self.on_device = on_device
        self.train_set: ImageTensorDataset | None = None
        self.val_set: ImageTensorDataset | None = None

    @property
    def spec(self) -> DataSpec:
        """What the model needs to know about the data; available without reading any file."""
        raise NotImplementedError

    def image_files(self) -> list[Path]:
        """The image files, in a fixed order."""
        raise NotImplementedError

    def conditions(self, kept: np.ndarray) -> torch.Tensor:
        """Float conditions ``(len(kept), spec.condition_dim)`` of ``image_files()[kept]``."""
        return torch.zeros(len(kept), self.spec.condition_dim)

    def cache(self) -> ImageCache:
        """The uint8 cache of ``image_files()`` at ``image_size``."""
        return ImageCache(
            self.image_files(),
            self.root,
            self.subset,
            self.image_size,
            cache_dir=self.cache_dir,
            max_bad_fraction=self.max_bad_fraction,
        )

    def prepare_data(self) -> None:
        """Build the cache if it is missing or stale (runs once per node)."""
        cache = self.cache()
        if cache.find() is None:
            cache.build()

    def setup(self, stage: str | None = None) -> None:
        """Load the cache into RAM and split it into train and validation sets."""
        if self.train_set is not None:
            return
        cached = self.cache().load()
        images = torch.from_numpy(np.array(cached.images))
        conditions = self.conditions(cached.kept)
        n_val = round(len(images) * self.val_fraction)
        if n_val:
            generator = torch.Generator().manual_seed(self.seed)
            order = torch.randperm(len(images), generator=generator)
            train, val = order[n_val:].sort().values, order[:n_val].sort().values
            self.val_set = ImageTensorDataset(images[val], conditions[val])
            images, conditions = images[train], conditions[train]
        if self.drop_last and len(images) < self.batch_size:
            raise DataError(
                f"{self.root} gives {len(images)} training images, fewer than data.batch_size="
                f"{self.batch_size}, so drop_last would leave no batch. Lower data.batch_size or"
                " set data.drop_last=false."
            )
        self.train_set = ImageTensorDataset(images, conditions)

    def train_dataloader(self) -> ResumableDataLoader:
        """The shuffled training loader: each epoch's order comes from ``seed`` and the epoch, and
        a mid-epoch checkpoint resumes it where it stopped (``datamodules/resumable.py``)."""
        return self._loader(self.train_set, shuffle=True, drop_last=self.drop_last)

    def val_dataloader(self) -> DataLoader | list:
        """The holdout loader, or no loader when ``val_fraction`` is 0."""
        if self.val_set is None:
            return []
        return self._loader(self.val_set, shuffle=False, drop_last=False)

    def transform(self, images: torch.Tensor, train: bool) -> torch.Tensor:
        """uint8 ``(B, 3, S, S)`` → float32 in ``value_range``, randomly mirrored if ``train``."""
        if train and self.hflip:
            images = random_hflip(images)
        return to_value_range(images, self.value_range)

    def on_after_batch_transfer(self, batch: Batch, dataloader_idx: int) -> Batch:
        images, conditions = batch
        training = self.trainer is not None and self.trainer.training
        return self.transform(images, train=training), conditions

    def data_device(self) -> torch.device:
        """Where the batches are gathered: the training device with ``on_device``, else CPU."""
        if self.on_device and self.trainer is not None:
            return self.trainer.strategy.root_device
        return torch.device("cpu")

    def _loader(
        self, dataset: ImageTensorDataset | None, shuffle: bool, drop_last: bool
    ) -> DataLoader:
        """A loader of whole-batch gathers from ``dataset``; when shuffled, a
        :class:`ResumableDataLoader` (sharded over the ranks under DDP)."""
        if dataset is None:
            raise RuntimeError("call setup() before asking for a dataloader")
        dataset = dataset.to(self.data_device())
        num_workers = 0 if self.on_device else self.num_workers
        common: dict[str, Any] = {
            "batch_size": self.batch_size,
            "num_workers": num_workers,
            "persistent_workers": num_workers > 0,
            "collate_fn": keep_batch,
            "drop_last": drop_last,
        }
        if not shuffle:
            return DataLoader(dataset, **common)
        return ResumableDataLoader(dataset, sampler=ResumableSampler(dataset, self.seed), **common)
