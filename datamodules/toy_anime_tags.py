"""The tagged half of the procedural anime set (``extra_data/``), read as ``data=anime_tags``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from datamodules.anime_tags import AnimeTagsDataModule
from datamodules.procedural import ProceduralData
from datamodules.toy_anime import check_toy_anime_root, ensure_toy_anime, toy_anime_marker


class ToyAnimeTagsDataModule(ProceduralData, AnimeTagsDataModule):
    """``AnimeTagsDataModule`` on the procedural set (written by ``prepare_data`` on first use),
    whose tags are true by construction, so condition accuracy of samples is measurable."""

    def __init__(
        self,
        root: str | Path,
        hair_colours: Sequence[str],
        eye_colours: Sequence[str],
        n_images: int = 4000,
        toy_seed: int = 0,
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
        self.n_images = n_images
        self.toy_seed = toy_seed
        super().__init__(
            root,
            hair_colours,
            eye_colours,
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

    toy_name = "toy_anime_tags"

    def ensure_written(self) -> None:
        ensure_toy_anime(self.root, self.n_images, self.toy_seed)

    def check_root(self) -> bool:
        check_toy_anime_root(self.root)
        return toy_anime_marker(self.root) is not None
