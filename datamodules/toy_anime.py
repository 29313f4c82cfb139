"""A procedural stand-in for the MLDS anime data, written once in the exact MLDS 2018 HW3 layout.

``root/faces/<i>.jpg`` (96×96 faces with random colours), ``root/extra_data/images/<i>.jpg``
(64×64) and ``root/extra_data/tags.csv`` (``<i>,<hair> hair <eye> eyes``) whose tags are true by
construction (see ``toy_faces``). The set is drawn into a temporary folder and renamed into place,
so ``root`` either holds a complete set or nothing; a marker file records how it was drawn.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from datamodules.anime import AnimeFacesDataModule
from datamodules.procedural import ProceduralData
from datamodules.toy_faces import EYE_COLOURS, HAIR_COLOURS, FaceParams, draw_face, sample_face
from datamodules.toy_store import check_toy_root, read_marker, write_once

FACES_SIZE = 96
TAGGED_SIZE = 64
MARKER = ".litgen_toy_anime.json"
TOY_FORMAT = 1
CHUNK = 200
SUBSETS = ("faces", "extra_data")
JPEG_OPTIONS = [
    cv2.IMWRITE_JPEG_QUALITY,
    95,
    cv2.IMWRITE_JPEG_SAMPLING_FACTOR,
    cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444,
]


def toy_face(seed: int, subset: str, index: int) -> FaceParams:
    """The layout of image ``index`` of ``subset`` (``"faces"`` or ``"extra_data"``).

    Each image has its own random stream, so any one can be redrawn (e.g. by a test) alone.
    """
    rng = np.random.default_rng([seed, SUBSETS.index(subset), index])
    hair = list(HAIR_COLOURS)[rng.integers(len(HAIR_COLOURS))]
    eye = list(EYE_COLOURS)[rng.integers(len(EYE_COLOURS))]
    return sample_face(rng, hair, eye)


def toy_anime_marker(root: Path | str) -> dict | None:
    """How the toy set at ``root`` was drawn (``n_images``, ``seed``), or None if it holds none."""
    return read_marker(root, MARKER)


def ensure_toy_anime(root: Path | str, n_images: int = 4000, seed: int = 0) -> None:
    """Write the toy set at ``root`` unless it already holds one drawn with these settings.

    A toy set drawn with other settings is replaced; a folder with other content is an error.
    """
    root = Path(root)
    if toy_anime_marker(root) != _marker(n_images, seed):
        check_toy_anime_root(root)
        write_toy_anime(root, n_images, seed)


def check_toy_anime_root(root: Path) -> None:
    """Fail unless ``root`` is missing, empty or holds a toy set: other content is not replaced."""
    check_toy_root(
        root,
        MARKER,
        what="toy anime set",
        toy_data="toy_anime",
        real="MLDS data",
        real_data="anime",
    )


def write_toy_anime(
    root: Path | str, n_images: int = 4000, seed: int = 0, num_threads: int | None = None
) -> None:
    """Draw ``n_images`` faces and ``n_images`` tagged images into ``root`` (replacing it)."""

    def fill(tmp: Path) -> None:
        (tmp / "faces").mkdir()
        (tmp / "extra_data" / "images").mkdir(parents=True)

        def write_chunk(start: int) -> list[str]:
            tags = []
            for index in range(start, min(start + CHUNK, n_images)):
                face = draw_face(toy_face(seed, "faces", index), FACES_SIZE)
                _write_jpeg(tmp / "faces" / f"{index}.jpg", face)
                params = toy_face(seed, "extra_data", index)
                image = draw_face(params, TAGGED_SIZE)
                _write_jpeg(tmp / "extra_data" / "images" / f"{index}.jpg", image)
                tags.append(f"{index},{params.hair} hair {params.eye} eyes\n")
            return tags

        with ThreadPoolExecutor(num_threads) as pool:
            chunks = pool.map(write_chunk, range(0, n_images, CHUNK))
            tags = "".join(line for chunk in chunks for line in chunk)
        (tmp / "extra_data" / "tags.csv").write_text(tags, newline="\n")

    write_once(root, MARKER, _marker(n_images, seed), fill)


def _write_jpeg(path: Path, rgb: np.ndarray) -> None:
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    if not cv2.imwrite(str(path), bgr, JPEG_OPTIONS):
        raise OSError(f"could not write {path}")


def _marker(n_images: int, seed: int) -> dict:
    return {"format": TOY_FORMAT, "n_images": n_images, "seed": seed}


class ToyAnimeDataModule(ProceduralData, AnimeFacesDataModule):
    """``AnimeFacesDataModule`` on the procedural set, which ``prepare_data`` writes on first use.

    ``n_images`` and ``toy_seed`` choose the drawing; ``seed`` only the validation split. Batches
    are as in ``AnimeFacesDataModule``: float32 ``(B, 3, S, S)`` in ``value_range``, ``(B, 0)``.
    """

    def __init__(
        self,
        root: str | Path,
        n_images: int = 4000,
        toy_seed: int = 0,
        **options: Any,
    ) -> None:
        """Further ``options`` (image size, batch size, value range, ...) are
        ``AnimeFacesDataModule``'s."""
        self.n_images = n_images
        self.toy_seed = toy_seed
        super().__init__(root, **options)

    toy_name = "toy_anime"

    def ensure_written(self) -> None:
        ensure_toy_anime(self.root, self.n_images, self.toy_seed)

    def check_root(self) -> bool:
        check_toy_anime_root(self.root)
        return toy_anime_marker(self.root) is not None
