"""A procedural stand-in for CelebA, written once in exactly the torchvision CelebA layout.

``root/img_align_celeba/000001.jpg ...`` (178×218 faces drawn by ``toy_celeba_faces``),
``root/list_attr_celeba.txt`` (the count line, the 40 CelebA attribute names in their order and
one ``000001.jpg -1  1 ...`` line per image, with CRLF line ends, padded columns and no final
newline, as the real file is written) and ``root/list_eval_partition.txt`` (``000001.jpg 0``; the
first 80% train, the next 10% val, the rest test, contiguous like the real split). The columns of
``DRAWN_ATTRIBUTES`` are true by construction; every other column is a fair coin flip, unrelated
to the picture. The set is drawn into a temporary folder and renamed into place, so ``root``
either holds a complete set or nothing; a marker file records how it was drawn.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from datamodules.celeba import (
    ATTRIBUTE_FILE,
    CELEBA_ATTRIBUTES,
    DEFAULT_ATTRIBUTES,
    IMAGE_DIR,
    PARTITION_FILE,
    CelebADataModule,
    check_attribute_names,
)
from datamodules.procedural import ProceduralData
from datamodules.toy_celeba_faces import CelebaFace, draw_celeba_face, sample_celeba_face
from datamodules.toy_store import check_toy_root, read_marker, write_once

MARKER = ".litgen_toy_celeba.json"
TOY_FORMAT = 1
CHUNK = 100
SPLIT_SHARES = (0.8, 0.1)  # train, val; test takes the rest
JPEG_OPTIONS = [
    cv2.IMWRITE_JPEG_QUALITY,
    95,
    cv2.IMWRITE_JPEG_SAMPLING_FACTOR,
    cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444,
]
# The attributes the picture shows (``toy_celeba_faces``), each with its rule.
DRAWN_ATTRIBUTES = {
    "Black_Hair": lambda face: face.hair == "black",
    "Blond_Hair": lambda face: face.hair == "blond",
    "Brown_Hair": lambda face: face.hair == "brown",
    "Gray_Hair": lambda face: face.hair == "gray",
    "Eyeglasses": lambda face: face.eyeglasses,
    "Goatee": lambda face: face.goatee,
    "Male": lambda face: face.male,
    "Mouth_Slightly_Open": lambda face: face.smiling,
    "Mustache": lambda face: face.mustache,
    "No_Beard": lambda face: not (face.goatee or face.mustache),
    "Pale_Skin": lambda face: face.pale,
    "Smiling": lambda face: face.smiling,
    "Young": lambda face: face.young,
}


def toy_celeba_image(seed: int, index: int) -> tuple[CelebaFace, np.ndarray]:
    """The face of image ``index`` (0-based) and its 40 attribute values, int8 -1 / 1.

    Each image has its own random stream, so any one can be redrawn (e.g. by a test) alone.
    """
    rng = np.random.default_rng([seed, index])
    face = sample_celeba_face(rng)
    values = rng.choice(np.array([-1, 1], dtype=np.int8), size=len(CELEBA_ATTRIBUTES))
    for name, rule in DRAWN_ATTRIBUTES.items():
        values[CELEBA_ATTRIBUTES.index(name)] = 1 if rule(face) else -1
    return face, values


def image_name(index: int) -> str:
    """``000001.jpg`` for ``index`` 0, as CelebA numbers its images from 1."""
    return f"{index + 1:06d}.jpg"


def toy_partition(index: int, n_images: int) -> int:
    """The split of image ``index``: 0 (train), 1 (val) or 2 (test), in contiguous blocks."""
    n_train = round(SPLIT_SHARES[0] * n_images)
    n_val = round(SPLIT_SHARES[1] * n_images)
    return 0 if index < n_train else 1 if index < n_train + n_val else 2


def attribute_line(name: str, values: Sequence[int]) -> str:
    """One row as CelebA writes it: ``000001.jpg -1  1 ...`` (columns after the first padded)."""
    return f"{name} {values[0]}" + "".join(f" {int(value):>2}" for value in values[1:])


def toy_celeba_marker(root: Path | str) -> dict | None:
    """How the toy set at ``root`` was drawn (``n_images``, ``seed``), or None if it holds none."""
    return read_marker(root, MARKER)


def ensure_toy_celeba(root: Path | str, n_images: int = 2000, seed: int = 0) -> None:
    """Write the toy set at ``root`` unless it already holds one drawn with these settings.

    A toy set drawn with other settings is replaced; a folder with other content is an error.
    """
    root = Path(root)
    if toy_celeba_marker(root) != _marker(n_images, seed):
        check_toy_celeba_root(root)
        write_toy_celeba(root, n_images, seed)


def check_toy_celeba_root(root: Path) -> None:
    """Fail unless ``root`` is missing, empty or holds a toy set: other content is not replaced."""
    check_toy_root(
        root,
        MARKER,
        what="toy CelebA set",
        toy_data="toy_celeba",
        real="CelebA data",
        real_data="celeba",
    )


def write_toy_celeba(
    root: Path | str, n_images: int = 2000, seed: int = 0, num_threads: int | None = None
) -> None:
    """Draw ``n_images`` faces with their attribute and partition files into ``root``."""

    def fill(tmp: Path) -> None:
        (tmp / IMAGE_DIR).mkdir()

        def write_chunk(start: int) -> list[str]:
            rows = []
            for index in range(start, min(start + CHUNK, n_images)):
                face, values = toy_celeba_image(seed, index)
                _write_jpeg(tmp / IMAGE_DIR / image_name(index), draw_celeba_face(face))
                rows.append(attribute_line(image_name(index), values.tolist()))
            return rows

        with ThreadPoolExecutor(num_threads) as pool:
            rows = [
                row for chunk in pool.map(write_chunk, range(0, n_images, CHUNK)) for row in chunk
            ]
        header = [str(n_images), " ".join(CELEBA_ATTRIBUTES) + " "]
        (tmp / ATTRIBUTE_FILE).write_bytes("\r\n".join(header + rows).encode())
        partition = "".join(
            f"{image_name(i)} {toy_partition(i, n_images)}\n" for i in range(n_images)
        )
        (tmp / PARTITION_FILE).write_bytes(partition.encode())

    write_once(root, MARKER, _marker(n_images, seed), fill)


def _write_jpeg(path: Path, rgb: np.ndarray) -> None:
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), JPEG_OPTIONS):
        raise OSError(f"could not write {path}")


def _marker(n_images: int, seed: int) -> dict:
    return {"format": TOY_FORMAT, "n_images": n_images, "seed": seed}


class ToyCelebADataModule(ProceduralData, CelebADataModule):
    """``CelebADataModule`` on the procedural set, which ``prepare_data`` writes on first use.

    ``n_images`` and ``toy_seed`` choose the drawing. Batches are as in ``CelebADataModule``:
    float32 ``(B, 3, S, S)`` in ``value_range`` and 0/1 ``(B, len(attributes))``. ``attributes``
    may name any of the 40 CelebA columns, but only ``DRAWN_ATTRIBUTES`` are visible.
    """

    def __init__(
        self,
        root: str | Path,
        attributes: Sequence[str] = DEFAULT_ATTRIBUTES,
        n_images: int = 2000,
        toy_seed: int = 0,
        **options: Any,
    ) -> None:
        """Further ``options`` (image size, batch size, value range, ...) are
        ``CelebADataModule``'s."""
        self.n_images = n_images
        self.toy_seed = toy_seed
        super().__init__(root, attributes=attributes, **options)

    toy_name = "toy_celeba"

    def check(self) -> None:
        """Unknown attribute names fail at once, even before the set is written."""
        check_attribute_names(self.vocab.names, CELEBA_ATTRIBUTES, "data=toy_celeba")
        super().check()

    def ensure_written(self) -> None:
        ensure_toy_celeba(self.root, self.n_images, self.toy_seed)

    def check_root(self) -> bool:
        check_toy_celeba_root(self.root)
        return toy_celeba_marker(self.root) is not None
