"""Anime faces in the MLDS 2018 HW3 layout (``root/faces/*.jpg``), unconditional."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from datamodules.base import CachedImageDataModule
from datamodules.errors import DataError
from datamodules.spec import DataSpec

LAYOUT = "root/faces/0.jpg, 1.jpg, ... (the MLDS 2018 HW3 anime faces, 96×96 RGB JPEG)"


class AnimeFacesDataModule(CachedImageDataModule):
    """The ~33k MLDS anime faces, resized to ``image_size``, without conditions.

    Batches after transfer: images float32 ``(B, 3, image_size, image_size)`` in ``value_range``
    and conditions float ``(B, 0)``. The layout is checked when the module is built, so a wrong
    ``data.root`` fails before the model is; the images are decoded in ``prepare_data``.
    """

    subset = "faces"

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
        self.save_hyperparameters()
        self.check()

    @property
    def spec(self) -> DataSpec:
        return DataSpec(
            image_size=self.image_size,
            value_range=self.value_range,
            condition_kind="none",
            name="anime",
        )

    @property
    def faces_dir(self) -> Path:
        return self.root / "faces"

    def check(self) -> None:
        """Fail with a ``DataError`` unless ``root`` holds ``faces/*.jpg`` (reads one entry)."""
        if not self.root.is_dir():
            raise DataError(
                f"The anime data folder {self.root} does not exist (or is not a folder). Point"
                f" data.root at a folder in the MLDS 2018 HW3 layout, {LAYOUT}, e.g."
                " `python train.py data=anime data.root=/data/anime`, or use `data=toy_anime`"
                " for the procedural stand-in that is written on first use."
            )
        if next(self.faces_dir.glob("*.jpg"), None) is None:
            raise DataError(
                f"{self.faces_dir} holds no .jpg images. The anime datamodule expects {LAYOUT}."
                " Point data.root at the folder that contains faces/, or use `data=toy_anime`."
            )

    def image_files(self) -> list[Path]:
        return sorted(self.faces_dir.glob("*.jpg"))
