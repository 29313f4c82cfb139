"""CelebA in the torchvision layout: aligned 178×218 faces with 40 binary attributes.

The layout (DESIGN §3): ``root/img_align_celeba/000001.jpg ...``, ``root/list_attr_celeba.txt``
(line 1 the image count, line 2 the 40 attribute names, then one line per image,
``000001.jpg -1  1  1 -1 ...``; CRLF line ends and repeated spaces, so lines are split on
whitespace) and ``root/list_eval_partition.txt`` (``000001.jpg 0``: 0 train, 1 val, 2 test). A
condition is the 0/1 vector of the configured attributes (the file's -1 is 0).
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import NoReturn

import numpy as np
import torch
from torch.utils.data import DataLoader

from datamodules.base import CachedImageDataModule
from datamodules.cache import ImageCache
from datamodules.conditions import Attributes
from datamodules.errors import DataError
from datamodules.images import ImageTensorDataset
from datamodules.spec import DataSpec
from datamodules.text_file import read_head, read_text

# The 40 attribute names of list_attr_celeba.txt, in file order.
CELEBA_ATTRIBUTES = (
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald", "Bangs",
    "Big_Lips", "Big_Nose", "Black_Hair", "Blond_Hair", "Blurry", "Brown_Hair", "Bushy_Eyebrows",
    "Chubby", "Double_Chin", "Eyeglasses", "Goatee", "Gray_Hair", "Heavy_Makeup",
    "High_Cheekbones", "Male", "Mouth_Slightly_Open", "Mustache", "Narrow_Eyes", "No_Beard",
    "Oval_Face", "Pale_Skin", "Pointy_Nose", "Receding_Hairline", "Rosy_Cheeks", "Sideburns",
    "Smiling", "Straight_Hair", "Wavy_Hair", "Wearing_Earrings", "Wearing_Hat",
    "Wearing_Lipstick", "Wearing_Necklace", "Wearing_Necktie", "Young",
)  # fmt: skip
DEFAULT_ATTRIBUTES = ("Male", "Smiling", "Pale_Skin", "Goatee")
IMAGE_DIR = "img_align_celeba"
ATTRIBUTE_FILE = "list_attr_celeba.txt"
PARTITION_FILE = "list_eval_partition.txt"
SPLITS = {"train": 0, "val": 1, "test": 2}
MAX_COMBINATION_ATTRIBUTES = 8  # eval_conditions lists all 2**k combinations up to k = 8 (256)
SHOWN_MISSING = 3
PLUS_OR_MINUS_ONE = re.compile(r"[+-]?0*1")
LAYOUT = (
    f"root/{IMAGE_DIR}/000001.jpg ..., root/{ATTRIBUTE_FILE} (count line, attribute-name line,"
    f" then '000001.jpg -1 1 ...') and root/{PARTITION_FILE} ('000001.jpg 0'; 0 train, 1 val,"
    " 2 test)"
)


@dataclass(frozen=True)
class AttributeTable:
    """A parsed ``list_attr_celeba.txt``.

    ``names``: the attribute names of line 2. ``files``: the image file names, in file order.
    ``lines``: int ``(N,)``, the line of each image (1-based, for messages). ``values``: int8
    ``(N, len(names))`` of -1 / 1.
    """

    path: Path
    names: tuple[str, ...]
    files: tuple[str, ...]
    lines: np.ndarray
    values: np.ndarray

    def where(self, index: int) -> str:
        """``path:line`` of image ``index``."""
        return f"{self.path}:{int(self.lines[index])}"

    def select(self, attributes: Sequence[str]) -> np.ndarray:
        """0/1 float32 ``(N, len(attributes))`` of the named columns (-1 becomes 0)."""
        check_attribute_names(attributes, self.names, f"{self.path}:2")
        columns = [self.names.index(name) for name in attributes]
        return (self.values[:, columns] > 0).astype(np.float32)


def read_attribute_header(path: Path) -> tuple[int, tuple[str, ...]]:
    """The count (line 1) and attribute names (line 2) of ``path``, reading only those lines."""
    try:
        head = read_head(path, 2)
    except FileNotFoundError:
        raise DataError(f"{path} is missing. The CelebA datamodule expects {LAYOUT}.") from None
    return _parse_header(path, head)


def _parse_header(path: Path, head: list[str]) -> tuple[int, tuple[str, ...]]:
    count_line = head[0].strip() if head else ""
    if not (count_line.isascii() and count_line.isdigit()):
        raise DataError(
            f"{path}:1: expected the number of images (e.g. '202599'), got {count_line!r}. Restore"
            " the file from the CelebA download."
        )
    names = tuple(head[1].split()) if len(head) > 1 else ()
    if not names or len(set(names)) != len(names):
        raise DataError(
            f"{path}:2: expected the distinct attribute names (e.g. '5_o_Clock_Shadow"
            f" Arched_Eyebrows ...'), got {names}. Restore the file from the CelebA download."
        )
    return int(count_line), names


def read_attribute_table(path: Path) -> AttributeTable:
    """Parse all of ``path``; any problem is a ``DataError`` naming the file and line.

    Checked: the count line, the names line, the column count of every image line (file name
    plus one value per name), values -1 / 1, no file listed twice, and that the count line
    matches the number of image lines. Blank lines are skipped.
    """
    try:
        text = read_text(path)
    except FileNotFoundError:
        raise DataError(f"{path} is missing. The CelebA datamodule expects {LAYOUT}.") from None
    lines = text.splitlines()
    count, names = _parse_header(path, lines[:2])
    width = len(names) + 1
    files: list[str] = []
    numbers: list[int] = []
    first_line: dict[str, int] = {}
    for number, line in enumerate(lines[2:], start=3):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != width:
            raise DataError(
                f"{path}:{number}: expected {width} columns (the image file name and one -1/1 per"
                f" attribute named on line 2), got {len(parts)}. Fix or delete that line (and"
                " lower the count on line 1)."
            )
        if parts[0] in first_line:
            raise DataError(
                f"{path}:{number}: {parts[0]} is listed again (first on line"
                f" {first_line[parts[0]]}). Delete one of the two lines."
            )
        first_line[parts[0]] = number
        files.append(parts[0])
        numbers.append(number)
    if count != len(files):
        raise DataError(
            f"{path}:1: the count line says {count} images but the file lists {len(files)}. The"
            " file is truncated or edited: restore it, or set line 1 to the number of image lines."
        )
    if not files:
        raise DataError(f"{path}: lists no images. Restore the file from the CelebA download.")
    body = " ".join(lines[n - 1].split(None, 1)[1] for n in numbers)
    try:  # int64, not int8: 255 or 257 must not wrap round to -1 or 1 (large values saturate)
        values = np.fromstring(body, dtype=np.int64, sep=" ").reshape(len(files), len(names))
        valid = bool(np.isin(values, (-1, 1)).all())
    except ValueError:
        valid = False
    if not valid:
        _raise_bad_value(path, lines, numbers, names)
    return AttributeTable(path, names, tuple(files), np.asarray(numbers), values.astype(np.int8))


def _raise_bad_value(
    path: Path, lines: list[str], numbers: list[int], names: tuple[str, ...]
) -> NoReturn:
    """Name the first value that is not -1 or 1 (the slow path, taken only for a bad file)."""
    for number in numbers:
        for name, token in zip(names, lines[number - 1].split()[1:], strict=True):
            if not _is_plus_or_minus_one(token):
                raise DataError(
                    f"{path}:{number}: {name} is {token!r}; every attribute value must be -1 or 1."
                    " Fix that line."
                )
    raise DataError(f"{path}: the attribute values are not all -1 or 1.")  # not reached


def _is_plus_or_minus_one(token: str) -> bool:
    """Whether NumPy's parse above reads ``token`` as -1 or 1 (signs and leading zeros allowed)."""
    return PLUS_OR_MINUS_ONE.fullmatch(token) is not None


def read_partition(path: Path) -> dict[str, int]:
    """``list_eval_partition.txt``: image file name → 0 (train), 1 (val) or 2 (test).

    A line that is not ``<file name> <0|1|2>`` is a ``DataError`` naming the file and line.
    """
    try:
        text = read_text(path)
    except FileNotFoundError:
        raise DataError(f"{path} is missing. The CelebA datamodule expects {LAYOUT}.") from None
    partition: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
            raise DataError(
                f"{path}:{number}: expected '<image file> <0|1|2>' (e.g. '000001.jpg 0'), got"
                f" {line.strip()!r}. Fix or delete that line."
            )
        partition[parts[0]] = int(parts[1])
    return partition


def check_attribute_names(chosen: Sequence[str], available: Sequence[str], where: str) -> None:
    """Fail unless every name of ``chosen`` (``data.attributes``) is one of ``available``."""
    unknown = [name for name in chosen if name not in available]
    if unknown:
        raise DataError(
            f"{where}: data.attributes names {unknown}, not among the {len(available)} attributes"
            f" {list(available)}. Fix data.attributes (names are case-sensitive)."
        )


def attribute_combinations(k: int) -> torch.Tensor:
    """Every 0/1 vector of length ``k``, float ``(2**k, k)``, in binary counting order."""
    return torch.tensor(list(itertools.product((0.0, 1.0), repeat=k)))


class CelebADataModule(CachedImageDataModule):
    """CelebA faces with the 0/1 vector of the chosen ``attributes`` as condition.

    Batches after transfer: images float32 ``(B, 3, image_size, image_size)`` in ``value_range``
    (a centred ``crop_size`` square cut from the 178×218 image, then resized with area averaging;
    ``crop_size=None`` squashes the whole image instead) and conditions float
    ``(B, len(attributes))``. The splits are those of ``list_eval_partition.txt``: the train loader
    serves partition 0, ``val_dataloader`` partition 1 and ``test_dataloader`` partition 2; each is
    decoded once into its own uint8 cache (``.litgen_cache/img_align_celeba_<split>_<size>.npy``).

    Building the module reads only the folder and the two header lines, so a missing file or an
    unknown attribute fails at once; ``prepare_data`` parses both text files and checks that
    every listed image exists, before any decoding.
    """

    subset = IMAGE_DIR

    def __init__(
        self,
        root: str | Path,
        attributes: Sequence[str] = DEFAULT_ATTRIBUTES,
        image_size: int = 64,
        crop_size: int | None = 178,
        batch_size: int = 64,
        value_range: Sequence[float] = (-1.0, 1.0),
        hflip: bool = True,
        num_workers: int = 0,
        cache_dir: str | Path | None = None,
        drop_last: bool = True,
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
            drop_last=drop_last,
            max_bad_fraction=max_bad_fraction,
            on_device=on_device,
        )
        if crop_size is not None and crop_size <= 0:
            raise DataError(f"data.crop_size must be a positive number of pixels, got {crop_size}")
        self.crop_size = crop_size
        self.vocab = Attributes(tuple(attributes))
        self.save_hyperparameters()
        self.test_set: ImageTensorDataset | None = None
        self.check()

    @property
    def spec(self) -> DataSpec:
        return DataSpec(
            image_size=self.image_size,
            value_range=self.value_range,
            name="celeba",
            vocab=self.vocab,
        )

    @property
    def attribute_file(self) -> Path:
        return self.root / ATTRIBUTE_FILE

    @property
    def partition_file(self) -> Path:
        return self.root / PARTITION_FILE

    @property
    def image_dir(self) -> Path:
        return self.root / IMAGE_DIR

    def check(self) -> None:
        """Fail with a ``DataError`` unless the layout is there and names every attribute."""
        if not self.root.is_dir():
            raise DataError(
                f"The CelebA data folder {self.root} does not exist (or is not a folder). Point"
                f" data.root at a folder in the torchvision CelebA layout, {LAYOUT}, e.g. `python"
                " train.py data=celeba data.root=/data/celeba`, or use `data=toy_celeba` for the"
                " procedural stand-in that is written on first use."
            )
        if not self.image_dir.is_dir():
            nested = self.root / "celeba" / IMAGE_DIR
            hint = (
                f" (it is in {nested.parent}: set data.root={nested.parent})"
                if nested.is_dir()
                else ""
            )
            raise DataError(
                f"{self.image_dir} is missing{hint}. The CelebA datamodule expects {LAYOUT}."
            )
        if not self.partition_file.is_file():
            raise DataError(
                f"{self.partition_file} is missing. The CelebA datamodule expects {LAYOUT}."
            )
        _, names = read_attribute_header(self.attribute_file)
        check_attribute_names(self.vocab.names, names, f"{self.attribute_file}:2")

    @cached_property
    def table(self) -> AttributeTable:
        """The parsed attribute file (parsed once)."""
        return read_attribute_table(self.attribute_file)

    @cached_property
    def partition(self) -> np.ndarray:
        """The split code (0, 1, 2) of each image of ``table``, in its order; checked complete,
        and every listed image checked present."""
        table = self.table
        splits = read_partition(self.partition_file)
        codes = np.array([splits.get(name, -1) for name in table.files], dtype=np.int8)
        missing = np.flatnonzero(codes < 0)
        if len(missing):
            raise DataError(
                f"{self.partition_file} has no row for {len(missing)} of the {len(codes)} images of"
                f" {table.path}, e.g. {table.files[missing[0]]} ({table.where(missing[0])}). Use"
                " the partition file that came with the attribute file."
            )
        present = set(os.listdir(self.image_dir))
        absent = [i for i, name in enumerate(table.files) if name not in present]
        if absent:
            examples = ", ".join(table.files[i] for i in absent[:SHOWN_MISSING])
            raise DataError(
                f"{table.where(absent[0])}: lists {table.files[absent[0]]}, which is not in"
                f" {self.image_dir} ({len(absent)} listed images are missing: {examples}"
                f"{' ...' if len(absent) > SHOWN_MISSING else ''}). Restore them, or delete their"
                " lines and fix the count on line 1."
            )
        return codes

    def split_indices(self, split: str = "train") -> np.ndarray:
        """Rows of ``table`` in ``split`` (``"train"``, ``"val"`` or ``"test"``), in file order."""
        if split not in SPLITS:
            raise ValueError(f"split must be one of {list(SPLITS)}, got {split!r}")
        return np.flatnonzero(self.partition == SPLITS[split])

    def image_files(self, split: str = "train") -> list[Path]:
        """The images of ``split``, in attribute-file order."""
        return [self.image_dir / self.table.files[i] for i in self.split_indices(split)]

    def conditions(self, kept: np.ndarray, split: str = "train") -> torch.Tensor:
        """0/1 float ``(len(kept), len(attributes))`` of ``image_files(split)[kept]``."""
        rows = self.split_indices(split)[kept]
        return torch.from_numpy(self.table.select(self.vocab.names)[rows])

    def cache(self, split: str = "train") -> ImageCache:
        """The uint8 cache of ``image_files(split)``, center-cropped and resized."""
        return ImageCache(
            self.image_files(split),
            self.root,
            f"{self.subset}_{split}",
            self.image_size,
            cache_dir=self.cache_dir,
            center_crop=self.crop_size,
            max_bad_fraction=self.max_bad_fraction,
        )

    def prepare_data(self) -> None:
        """Check both text files and the images, then build the train and val caches."""
        for split in ("train", "val"):
            if len(self.split_indices(split)):
                cache = self.cache(split)
                if cache.find() is None:
                    cache.build()

    def setup(self, stage: str | None = None) -> None:
        """Load the splits the stage needs: fit → train and val, validate → val, test → test."""
        if stage in (None, "fit") and self.train_set is None:
            self.train_set = self._load("train")
            if self.train_set is None or (self.drop_last and len(self.train_set) < self.batch_size):
                n = 0 if self.train_set is None else len(self.train_set)
                raise DataError(
                    f"{self.partition_file} gives {n} training images (partition 0), fewer than"
                    f" data.batch_size={self.batch_size}, so drop_last would leave no batch."
                    " Lower data.batch_size or set data.drop_last=false."
                )
        if stage in (None, "fit", "validate") and self.val_set is None:
            self.val_set = self._load("val")
        if stage in (None, "test") and self.test_set is None:
            self.test_set = self._load("test")

    def test_dataloader(self) -> DataLoader | list:
        """The partition-2 loader, or no loader when the partition file has no test rows."""
        if self.test_set is None:
            return []
        return self._loader(self.test_set, shuffle=False, drop_last=False)

    def eval_conditions(self) -> dict[str, torch.Tensor]:
        """``{"attr_combos": (2**k, k)}``: every combination of the ``k`` attributes, to score.

        More than 8 attributes would give over 256 combinations: pass the sets to score instead
        (the condition-accuracy callback's ``condition_sets``).
        """
        k = self.vocab.dim
        if k > MAX_COMBINATION_ATTRIBUTES:
            raise DataError(
                f"data.attributes has {k} attributes, {2**k} combinations: too many to score each."
                " Give the condition sets to score explicitly (condition_sets of the"
                " condition-accuracy callback)."
            )
        return {"attr_combos": attribute_combinations(k)}

    def _load(self, split: str) -> ImageTensorDataset | None:
        if not len(self.split_indices(split)):
            return None
        cached = self.cache(split).load()
        images = torch.from_numpy(np.array(cached.images))
        return ImageTensorDataset(images, self.conditions(cached.kept, split))
