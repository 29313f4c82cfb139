"""The procedural ICLEVR set: exact ICLEVR layout, determinism, true colours, and its datamodule."""

from __future__ import annotations

import json
import re
from itertools import combinations
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch.testing import assert_close

from datamodules.decode import read_rgb
from datamodules.errors import DataError
from datamodules.iclevr import ICLEVR_OBJECTS
from datamodules.toy_iclevr import (
    ToyIclevrDataModule,
    image_name,
    toy_iclevr_marker,
    toy_new_test_conditions,
    toy_scene,
    toy_test_conditions,
    write_toy_iclevr,
)
from datamodules.toy_shapes import COLOURS, HEIGHT, WIDTH

FILE_NAME = re.compile(r"CLEVR_train_(\d{6})_([012])\.png")


@pytest.fixture(scope="module")
def toy_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 12-scene (36-image) toy ICLEVR set shared by this module's tests: do not modify it."""
    root = tmp_path_factory.mktemp("toy_iclevr") / "toy"
    write_toy_iclevr(root, n_scenes=12, seed=5)
    return root


def visible(folder: Path) -> set[str]:
    return {path.name for path in folder.iterdir() if not path.name.startswith(".")}


def read_json(path: Path) -> object:
    return json.loads(path.read_text())


def test_writes_exactly_the_iclevr_layout(toy_root: Path) -> None:
    assert visible(toy_root) == {
        "objects.json",
        "train.json",
        "test.json",
        "new_test.json",
        "iclevr",
    }
    assert read_json(toy_root / "objects.json") == ICLEVR_OBJECTS
    labels = read_json(toy_root / "train.json")
    assert isinstance(labels, dict) and len(labels) == 36
    assert visible(toy_root / "iclevr") == set(labels)
    for name, names in labels.items():
        scene, k = FILE_NAME.fullmatch(name).groups()
        assert isinstance(names, list) and len(names) == int(k) + 1
        assert set(names) <= set(ICLEVR_OBJECTS) and len(set(names)) == len(names)
        assert names[:-1] == labels.get(image_name(int(scene), int(k) - 1), [])

    image = cv2.imread(str(toy_root / "iclevr" / "CLEVR_train_000003_2.png"), cv2.IMREAD_UNCHANGED)
    assert image.shape == (HEIGHT, WIDTH, 4) == (240, 320, 4) and (image[..., 3] == 255).all()


def test_evaluation_sets_are_32_lists_and_new_test_is_unseen(toy_root: Path) -> None:
    test, new_test = read_json(toy_root / "test.json"), read_json(toy_root / "new_test.json")
    assert test == toy_test_conditions() and new_test == toy_new_test_conditions()
    for sets in (test, new_test):
        assert len(sets) == 32
        assert all(1 <= len(names) == len(set(names)) <= 3 for names in sets)
        assert all(set(names) <= set(ICLEVR_OBJECTS) for names in sets)
    assert sorted(len(names) for names in test) == [1] * 6 + [2] * 12 + [3] * 14
    assert len({frozenset(names) for names in new_test}) == 32
    seen = {frozenset(names) for names in read_json(toy_root / "train.json").values()}
    assert not seen & {frozenset(names) for names in new_test}
    for names in new_test:  # every set binds a colour to two shapes or a shape to two colours
        parts = [name.split() for name in names]
        assert any(a[0] == b[0] or a[1] == b[1] for a, b in combinations(parts, 2))


def test_drawing_is_deterministic_for_a_seed(toy_root: Path, tmp_path: Path) -> None:
    seed = toy_iclevr_marker(toy_root)["seed"]
    write_toy_iclevr(tmp_path / "same", n_scenes=2, seed=seed)
    write_toy_iclevr(tmp_path / "other", n_scenes=2, seed=seed + 1)
    for name in (image_name(0, 0), image_name(1, 2)):
        path = Path("iclevr") / name
        assert (tmp_path / "same" / path).read_bytes() == (toy_root / path).read_bytes()
        assert (tmp_path / "other" / path).read_bytes() != (toy_root / path).read_bytes()


def nearest_colour(rgb: np.ndarray) -> tuple[str, float]:
    distances = {name: float(np.linalg.norm(rgb - colour)) for name, colour in COLOURS.items()}
    name = min(distances, key=distances.get)
    return name, distances[name]


def test_colours_are_far_apart() -> None:
    for (a, rgb_a), (b, rgb_b) in combinations(COLOURS.items(), 2):
        distance = np.linalg.norm(np.subtract(rgb_a, rgb_b))
        assert distance > 100, f"{a} and {b} are only {distance:.0f} apart"


def test_each_named_object_shows_its_colour_at_its_centre(toy_root: Path) -> None:
    """At full size a disc around each centre is the exact colour; at 64 and 32 the nearest."""
    seed = toy_iclevr_marker(toy_root)["seed"]
    labels = read_json(toy_root / "train.json")
    for name, names in labels.items():
        scene, k = (int(group) for group in FILE_NAME.fullmatch(name).groups())
        objects = toy_scene(seed, scene)[: k + 1]
        assert [obj.name for obj in objects] == names
        path = toy_root / "iclevr" / name
        full = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB).astype(float)
        ys, xs = np.mgrid[:HEIGHT, :WIDTH]
        small = {size: read_rgb(path, size).transpose(1, 2, 0).astype(float) for size in (64, 32)}
        for obj in objects:
            x, y = obj.center
            disc = (xs + 0.5 - x) ** 2 + (ys + 0.5 - y) ** 2 < obj.probe_radius**2
            assert np.abs(full[disc] - COLOURS[obj.colour]).max() <= 1, f"{name}: {obj.name}"
            for size, image in small.items():
                pixel = image[int(y * size / HEIGHT), int(x * size / WIDTH)]
                colour, distance = nearest_colour(pixel)
                assert colour == obj.colour, f"{name} at {size}: {obj.name} looks {colour}"
                assert distance < 40


def test_datamodule_writes_once_then_reads_like_iclevr(tmp_path: Path) -> None:
    root = tmp_path / "toy"
    module = ToyIclevrDataModule(root, n_scenes=6, batch_size=8, toy_seed=1, image_size=32)
    spec = module.spec
    assert not root.exists(), "building the module must not write the data"
    assert spec.name == "toy_iclevr" and spec.condition_kind == "multi_hot"
    assert spec.condition_names == tuple(ICLEVR_OBJECTS) and spec.condition_dim == 24
    assert spec.vocab.encode(["red cube", "cyan cylinder"]).nonzero().flatten().tolist() == [1, 22]

    module.prepare_data()
    module.setup("fit")
    images, conditions = next(iter(module.train_dataloader()))
    moved, moved_conditions = module.on_after_batch_transfer((images, conditions), 0)
    assert moved.shape == (8, 3, 32, 32) and moved.dtype == torch.float32
    assert float(moved.min()) >= -1.0 and float(moved.max()) <= 1.0
    assert moved_conditions.shape == (8, 24) and moved_conditions.dtype == torch.float32
    assert set(moved_conditions.unique().tolist()) == {0.0, 1.0}
    assert moved_conditions.sum(1).min() >= 1 and moved_conditions.sum(1).max() <= 3

    labels = read_json(root / "train.json")
    expected = spec.vocab.encode_many([labels[name] for name in sorted(labels)])
    assert_close(module.train_set.conditions, expected)
    evaluation = module.eval_conditions()
    assert_close(evaluation["test"], spec.vocab.encode_many(toy_test_conditions()))
    assert_close(evaluation["new_test"], spec.vocab.encode_many(toy_new_test_conditions()))

    stamp = (root / "iclevr" / image_name(0, 0)).stat().st_mtime_ns
    ToyIclevrDataModule(root, n_scenes=6, batch_size=8, toy_seed=1).prepare_data()
    assert (root / "iclevr" / image_name(0, 0)).stat().st_mtime_ns == stamp
    ToyIclevrDataModule(root, n_scenes=4, batch_size=8, toy_seed=1).prepare_data()
    assert len(visible(root / "iclevr")) == 12


def test_folder_with_other_content_is_not_overwritten(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("user data")
    with pytest.raises(DataError, match=rf"{tmp_path} is not empty and holds no toy ICLEVR set"):
        ToyIclevrDataModule(tmp_path)
    assert visible(tmp_path) == {"mine.txt"}
