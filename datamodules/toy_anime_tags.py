"""The tagged half of the procedural anime set (``extra_data/``), read as ``data=anime_tags``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

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
        **options: Any,
    ) -> None:
        """Further ``options`` (image size, batch size, value range, ...) are
        ``AnimeTagsDataModule``'s."""
        self.n_images = n_images
        self.toy_seed = toy_seed
        super().__init__(root, hair_colours, eye_colours, **options)

    toy_name = "toy_anime_tags"

    def ensure_written(self) -> None:
        ensure_toy_anime(self.root, self.n_images, self.toy_seed)

    def check_root(self) -> bool:
        check_toy_anime_root(self.root)
        return toy_anime_marker(self.root) is not None
