"""A procedural stand-in for ICLEVR, written once in exactly the ICLEVR on-disk layout.

``root/objects.json`` (the course's 24-name mapping), ``root/train.json``, ``root/test.json``,
``root/new_test.json`` and ``root/iclevr/CLEVR_train_<scene:06d>_<k>.png``: 320×240 RGBA PNGs drawn
by ``toy_shapes``. As in the real set, every scene has three objects and is written three times,
``_0``, ``_1`` and ``_2`` showing its first 1, 2 and 3 objects, so ``n_scenes`` scenes give
``3 * n_scenes`` images; the names are true by construction. ``test.json`` holds 32 lists of 1–3
names (the real file's mix of sizes); ``new_test.json`` 32 lists that bind colours to shapes
(``["gray cube", "red cube", "gray sphere"]``, as the real one does), and no training image shows
exactly one of those sets, so new_test asks for unseen combinations. Both are the same for every
``seed``. The set is drawn into a temporary folder and renamed into place, so ``root`` either
holds a complete set or nothing; a marker file records how it was drawn.
"""

from __future__ import annotations

import functools
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from datamodules.conditions import MultiHot
from datamodules.iclevr import COLOURS, ICLEVR_OBJECTS, SHAPES, IclevrDataModule
from datamodules.procedural import ProceduralData
from datamodules.toy_shapes import SceneObject, draw_scene, sample_scene
from datamodules.toy_store import check_toy_root, read_marker, write_once

MARKER = ".litgen_toy_iclevr.json"
TOY_FORMAT = 1
IMAGE_DIR = "iclevr"
OBJECTS_PER_SCENE = 3
CHUNK = 50
EVAL_SEED = 20  # the evaluation sets do not change with the drawing's seed
TEST_SIZES = (1, 1, 1, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3) * 2  # as in the course's test.json
NAMES = tuple(ICLEVR_OBJECTS)


def toy_test_conditions() -> list[list[str]]:
    """The toy ``test.json``: 32 lists of distinct names, sized like the real file's."""
    rng = np.random.default_rng([EVAL_SEED, 0])
    return [[NAMES[i] for i in rng.choice(len(NAMES), k, replace=False)] for k in TEST_SIZES]


def toy_new_test_conditions() -> list[list[str]]:
    """The toy ``new_test.json``: 32 distinct sets binding colours to shapes.

    Cycling through ``[c1 s1, c2 s1, c1 s2]`` (twice), ``[c1 s1, c1 s2]`` and ``[c1 s1, c2 s1]``
    with random distinct colours c and shapes s, so a colour must go to the right shape.
    """
    rng = np.random.default_rng([EVAL_SEED, 1])
    sets: list[list[str]] = []
    while len(sets) < 32:
        c1, c2 = (COLOURS[i] for i in rng.choice(len(COLOURS), 2, replace=False))
        s1, s2 = (SHAPES[i] for i in rng.choice(len(SHAPES), 2, replace=False))
        pattern = (
            [(c1, s1), (c2, s1), (c1, s2)],
            [(c1, s1), (c2, s1), (c1, s2)],
            [(c1, s1), (c1, s2)],
            [(c1, s1), (c2, s1)],
        )[len(sets) % 4]
        names = [f"{colour} {shape}" for colour, shape in pattern]
        if set(names) not in [set(other) for other in sets]:
            sets.append(names)
    return sets


def toy_scene(seed: int, scene: int) -> tuple[SceneObject, ...]:
    """The three objects of ``scene``; image ``_k`` of the scene shows the first ``k + 1``.

    Each scene has its own random stream, so any one can be redrawn (e.g. by a test) alone. No
    scene starts with a set of ``new_test.json``.
    """
    rng = np.random.default_rng([seed, scene])
    unseen = _new_test_sets()
    while True:
        names = [NAMES[i] for i in rng.choice(len(NAMES), OBJECTS_PER_SCENE, replace=False)]
        if not any(frozenset(names[: k + 1]) in unseen for k in range(len(names))):
            return sample_scene(rng, names)


@functools.cache
def _new_test_sets() -> frozenset[frozenset[str]]:
    return frozenset(frozenset(names) for names in toy_new_test_conditions())


def image_name(scene: int, k: int) -> str:
    """``CLEVR_train_001032_2.png``: image ``k`` (showing ``k + 1`` objects) of ``scene``."""
    return f"CLEVR_train_{scene:06d}_{k}.png"


def toy_iclevr_marker(root: Path | str) -> dict | None:
    """How the toy set at ``root`` was drawn (``n_scenes``, ``seed``), or None if it holds none."""
    return read_marker(root, MARKER)


def ensure_toy_iclevr(root: Path | str, n_scenes: int = 1000, seed: int = 0) -> None:
    """Write the toy set at ``root`` unless it already holds one drawn with these settings.

    A toy set drawn with other settings is replaced; a folder with other content is an error.
    """
    root = Path(root)
    if toy_iclevr_marker(root) != _marker(n_scenes, seed):
        check_toy_iclevr_root(root)
        write_toy_iclevr(root, n_scenes, seed)


def check_toy_iclevr_root(root: Path) -> None:
    """Fail unless ``root`` is missing, empty or holds a toy set: other content is not replaced."""
    check_toy_root(
        root,
        MARKER,
        what="toy ICLEVR set",
        toy_data="toy_iclevr",
        real="ICLEVR data",
        real_data="iclevr",
    )


def write_toy_iclevr(
    root: Path | str, n_scenes: int = 1000, seed: int = 0, num_threads: int | None = None
) -> None:
    """Draw ``n_scenes`` scenes (``3 * n_scenes`` images) into ``root`` (replacing it)."""

    def fill(tmp: Path) -> None:
        (tmp / IMAGE_DIR).mkdir()

        def write_chunk(start: int) -> dict[str, list[str]]:
            labels = {}
            for scene in range(start, min(start + CHUNK, n_scenes)):
                objects = toy_scene(seed, scene)
                for k in range(len(objects)):
                    name = image_name(scene, k)
                    _write_png(tmp / IMAGE_DIR / name, draw_scene(objects[: k + 1]))
                    labels[name] = [obj.name for obj in objects[: k + 1]]
            return labels

        with ThreadPoolExecutor(num_threads) as pool:
            chunks = pool.map(write_chunk, range(0, n_scenes, CHUNK))
            labels = {name: names for chunk in chunks for name, names in chunk.items()}
        for name, content in (
            ("objects.json", ICLEVR_OBJECTS),
            ("train.json", labels),
            ("test.json", toy_test_conditions()),
            ("new_test.json", toy_new_test_conditions()),
        ):
            (tmp / name).write_text(json.dumps(content))

    write_once(root, MARKER, _marker(n_scenes, seed), fill)


def _write_png(path: Path, rgb: np.ndarray) -> None:
    """Write an opaque RGBA PNG, as the real ICLEVR images are."""
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGRA)):
        raise OSError(f"could not write {path}")


def _marker(n_scenes: int, seed: int) -> dict:
    return {"format": TOY_FORMAT, "n_scenes": n_scenes, "seed": seed}


class ToyIclevrDataModule(ProceduralData, IclevrDataModule):
    """``IclevrDataModule`` on the procedural set, which ``prepare_data`` writes on first use.

    ``n_scenes`` and ``toy_seed`` choose the drawing (``3 * n_scenes`` images); ``seed`` only the
    validation split. Batches are as in ``IclevrDataModule``: float32 ``(B, 3, S, S)`` in
    ``value_range`` and multi-hot ``(B, 24)``. The vocabulary is the course's fixed 24 names, so
    the spec is ready before anything is written.
    """

    def __init__(
        self,
        root: str | Path,
        n_scenes: int = 1000,
        toy_seed: int = 0,
        **options: Any,
    ) -> None:
        """Further ``options`` (image size, batch size, value range, ...) are
        ``IclevrDataModule``'s."""
        self.n_scenes = n_scenes
        self.toy_seed = toy_seed
        super().__init__(root, **options)

    toy_name = "toy_iclevr"

    def read_vocab(self) -> MultiHot:
        return MultiHot.from_index(ICLEVR_OBJECTS)

    def ensure_written(self) -> None:
        ensure_toy_iclevr(self.root, self.n_scenes, self.toy_seed)

    def check_root(self) -> bool:
        check_toy_iclevr_root(self.root)
        return toy_iclevr_marker(self.root) is not None

    def eval_conditions(self) -> dict[str, torch.Tensor]:
        self.ensure_written()
        return super().eval_conditions()
