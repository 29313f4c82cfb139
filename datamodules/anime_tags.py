"""Tagged anime images in the MLDS 2018 HW3 layout: ``root/extra_data/images/<id>.jpg`` with
``root/extra_data/tags.csv`` (``<id>,<hair> hair <eye> eyes``), conditioned on hair and eye colour.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from datamodules.base import CachedImageDataModule
from datamodules.conditions import OneHotGroups
from datamodules.errors import DataError
from datamodules.mlds_tags import Tag, read_tags
from datamodules.spec import DataSpec

LAYOUT = (
    "root/extra_data/images/<id>.jpg (64x64 RGB) and root/extra_data/tags.csv with lines"
    " '<id>,<hair> hair <eye> eyes'"
)


class AnimeTagsDataModule(CachedImageDataModule):
    """The ~36.7k MLDS tagged images with a 22-dim condition: hair one-hot (12) then eye (10).

    ``hair_colours`` and ``eye_colours`` are the vocabularies (from the data config, so one-hot
    indices are stable); a tag outside them fails before training, naming the file and line.
    Batches after transfer: images float32 ``(B, 3, S, S)`` in ``value_range``, conditions
    float ``(B, 22)``.
    """

    subset = "extra_data"

    def __init__(
        self,
        root: str | Path,
        hair_colours: Sequence[str],
        eye_colours: Sequence[str],
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
        super().__init__(
            root,
            image_size=image_size,
            batch_size=batch_size,
            value_range=value_range,
            hflip=hflip,
            num_workers=num_workers,
            cache_dir=cache_dir,
            val_fraction=val_fraction,
            drop_last=drop_last,
            seed=seed,
            max_bad_fraction=max_bad_fraction,
            on_device=on_device,
        )
        self.vocab = OneHotGroups((("hair", tuple(hair_colours)), ("eyes", tuple(eye_colours))))
        self.save_hyperparameters()
        self._tags: list[Tag] | None = None
        self.check()

    @property
    def spec(self) -> DataSpec:
        return DataSpec(
            image_size=self.image_size,
            value_range=self.value_range,
            vocab=self.vocab,
            name="anime_tags",
        )

    @property
    def tags_file(self) -> Path:
        return self.root / "extra_data" / "tags.csv"

    def check(self) -> None:
        """Fail with a ``DataError`` unless ``root`` holds the tags file (cheap: no parsing)."""
        if not self.root.is_dir():
            raise DataError(
                f"The anime data folder {self.root} does not exist (or is not a folder). Point"
                f" data.root at a folder in the MLDS 2018 HW3 layout, {LAYOUT}, or use"
                " `data=toy_anime_tags` for the procedural stand-in that is written on first use."
            )
        if not self.tags_file.is_file():
            raise DataError(
                f"{self.tags_file} is missing. The anime_tags datamodule expects {LAYOUT}."
            )

    def tags(self) -> list[Tag]:
        """The parsed tags file, in file order (parsed once)."""
        if self._tags is None:
            self._tags = read_tags(self.tags_file, *(words for _, words in self.vocab.groups))
        return self._tags

    def image_files(self) -> list[Path]:
        folder = self.root / "extra_data" / "images"
        files = [folder / f"{tag.id}.jpg" for tag in self.tags()]
        missing = [f for f in files if not f.is_file()]
        if missing:
            raise DataError(
                f"{len(missing)} images listed in {self.tags_file} are missing, e.g. {missing[0]}."
                f" The anime_tags datamodule expects {LAYOUT}."
            )
        return files

    def conditions(self, kept: np.ndarray) -> torch.Tensor:
        tags = self.tags()
        return self.vocab.encode_many([f"{tags[i].hair} hair {tags[i].eye} eyes" for i in kept])
