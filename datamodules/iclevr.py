"""ICLEVR (NYCU DLP conditional-GAN lab): CLEVR scenes labelled with 1–3 of 24 object names.

The layout (DESIGN §3): ``root/objects.json`` maps the 24 names (``"gray cube"``, ...: 8 colours ×
cube/sphere/cylinder) to 0..23; ``root/train.json`` maps an image file name
(``"CLEVR_train_001032_0.png"``) to its list of names; the images (320×240 RGBA or RGB PNG) are in
``root/images/`` or ``root/iclevr/``; ``test.json`` and ``new_test.json`` are lists of name lists,
the evaluation conditions (no images). A condition is the 24-dim multi-hot vector of the names.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from datamodules.base import CachedImageDataModule
from datamodules.conditions import MultiHot
from datamodules.errors import DataError
from datamodules.spec import DataSpec
from datamodules.text_file import read_text

log = logging.getLogger(__name__)

COLOURS = ("gray", "red", "blue", "green", "brown", "purple", "cyan", "yellow")
SHAPES = ("cube", "sphere", "cylinder")
# The course's objects.json: colour varies fastest ("gray cube": 0, "red cube": 1, ...).
ICLEVR_OBJECTS = {
    f"{colour} {shape}": index
    for index, (shape, colour) in enumerate(itertools.product(SHAPES, COLOURS))
}
IMAGE_DIRS = ("images", "iclevr")
EVAL_SETS = ("test", "new_test")
LAYOUT = (
    "root/objects.json (24 names → 0..23), root/train.json (image file name → list of names) and"
    " the images in root/images/ or root/iclevr/ (optional: test.json, new_test.json)"
)


def read_objects(path: Path) -> MultiHot:
    """The vocabulary of an ``objects.json``: names in index order."""
    index = _read_json(path)
    if not isinstance(index, dict) or not all(isinstance(i, int) for i in index.values()):
        raise DataError(
            f'{path}: expected an object mapping names to indices, e.g. {{"gray cube": 0, ...}}.'
        )
    try:
        return MultiHot.from_index(index)
    except DataError as error:
        raise DataError(f"{path}: {error}") from None


def read_train_labels(path: Path, vocab: MultiHot) -> dict[str, list[str]]:
    """A ``train.json``: image file name → its object names, each checked against ``vocab``."""
    labels = _read_json(path)
    if not isinstance(labels, dict) or not labels:
        raise DataError(
            f"{path}: expected a non-empty object mapping image file names to lists of object"
            ' names, e.g. {"CLEVR_train_001032_0.png": ["gray cube"]}.'
        )
    for key, names in labels.items():
        _check_names(names, vocab, f"{path}, entry {key!r}")
    return labels


def read_condition_sets(path: Path, vocab: MultiHot) -> list[list[str]]:
    """A ``test.json`` or ``new_test.json``: object-name lists, checked against ``vocab``."""
    sets = _read_json(path)
    if not isinstance(sets, list) or not sets:
        raise DataError(
            f'{path}: expected a non-empty list of object-name lists, e.g. [["gray cube"], ...].'
        )
    for number, names in enumerate(sets):
        _check_names(names, vocab, f"{path}, item {number}")
    return sets


def _read_json(path: Path) -> Any:
    try:
        text = read_text(path)
    except FileNotFoundError:
        raise DataError(f"{path} is missing. The ICLEVR datamodule expects {LAYOUT}.") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise DataError(
            f"{path}:{error.lineno}:{error.colno}: not valid JSON ({error.msg}). Restore the file"
            " from the course data."
        ) from None


def _check_names(names: Any, vocab: MultiHot, where: str) -> None:
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise DataError(f"{where}: expected a non-empty list of object names, got {names!r}.")
    for name in names:
        if name not in vocab.names:
            raise DataError(
                f"{where}: {name!r} is not one of the names in objects.json, {list(vocab.names)}."
                " Fix the entry, or use the objects.json that came with the data."
            )


class IclevrDataModule(CachedImageDataModule):
    """ICLEVR training images with their multi-hot object conditions.

    Batches after transfer: images float32 ``(B, 3, image_size, image_size)`` in ``value_range``
    and conditions float ``(B, 24)`` (1 for each object in the scene). The 320×240 images are
    resized to ``image_size`` squares without cropping (area interpolation), as the course code
    does, so objects look narrower; alpha is dropped. ``objects.json`` is read when the module is
    built (the spec needs its names) and ``train.json`` is checked then too, so bad names fail
    before the model is built; the images are decoded once in ``prepare_data``.
    """

    subset = "iclevr"

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
        self.vocab = self.read_vocab()
        self.check()

    @property
    def spec(self) -> DataSpec:
        return DataSpec(
            image_size=self.image_size,
            value_range=self.value_range,
            name="iclevr",
            vocab=self.vocab,
        )

    def read_vocab(self) -> MultiHot:
        """The names of ``root/objects.json``, in index order."""
        if not self.root.is_dir():
            raise DataError(
                f"The ICLEVR data folder {self.root} does not exist (or is not a folder). Point"
                f" data.root at a folder in the ICLEVR layout, {LAYOUT}, e.g. `python train.py"
                " data=iclevr data.root=/data/iclevr`, or use `data=toy_iclevr` for the"
                " procedural stand-in that is written on first use."
            )
        return read_objects(self.root / "objects.json")

    def check(self) -> None:
        """Fail with a ``DataError`` unless train.json is valid and an image folder exists."""
        self.labels()
        _ = self.image_dir

    @property
    def image_dir(self) -> Path:
        """``root/images`` or else ``root/iclevr``."""
        for name in IMAGE_DIRS:
            if (self.root / name).is_dir():
                return self.root / name
        raise DataError(
            f"{self.root} has neither images/ nor iclevr/, the folders ICLEVR images are read from."
            f" The ICLEVR datamodule expects {LAYOUT}."
        )

    def labels(self) -> dict[str, list[str]]:
        """``train.json`` sorted by file name: the order of ``image_files`` and ``conditions``."""
        labels = read_train_labels(self.root / "train.json", self.vocab)
        return dict(sorted(labels.items()))

    def image_files(self) -> list[Path]:
        """The images listed in ``train.json``; a missing one is a ``DataError``."""
        folder, labels = self.image_dir, self.labels()
        present = set(os.listdir(folder))
        missing = [name for name in labels if name not in present]
        if missing:
            raise DataError(
                f"{len(missing)} images listed in {self.root / 'train.json'} are missing from"
                f" {folder}, e.g. {missing[:3]}. Restore them, or delete their entries from"
                " train.json."
            )
        return [folder / name for name in labels]

    def conditions(self, kept: np.ndarray) -> torch.Tensor:
        """Multi-hot ``(len(kept), 24)`` of ``image_files()[kept]``."""
        names = list(self.labels().values())
        return self.vocab.encode_many([names[i] for i in kept.tolist()])

    def eval_conditions(self) -> dict[str, torch.Tensor]:
        """The evaluation sets ``{"test": (32, 24), "new_test": (32, 24)}`` that exist in root.

        A missing file is left out (with a log line); a bad name in one is a ``DataError``.
        """
        sets = {}
        for name in EVAL_SETS:
            path = self.root / f"{name}.json"
            if path.is_file():
                sets[name] = self.vocab.encode_many(read_condition_sets(path, self.vocab))
            else:
                log.info("%s is absent: no %r evaluation conditions.", path, name)
        return sets
