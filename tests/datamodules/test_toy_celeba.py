"""The procedural CelebA set: exact CelebA layout, true and visible attributes, its datamodule."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch.testing import assert_close

from datamodules.celeba import (
    ATTRIBUTE_FILE,
    CELEBA_ATTRIBUTES,
    IMAGE_DIR,
    PARTITION_FILE,
    CelebADataModule,
    read_attribute_table,
)
from datamodules.errors import DataError
from datamodules.toy_celeba import (
    DRAWN_ATTRIBUTES,
    MARKER,
    ToyCelebADataModule,
    attribute_line,
    image_name,
    toy_celeba_image,
    toy_celeba_marker,
    write_toy_celeba,
)
from datamodules.toy_celeba_faces import HAIR_COLOURS, HEIGHT, WIDTH, draw_celeba_face

N_IMAGES = 48
HAIR_COLUMNS = {
    "black": "Black_Hair",
    "blond": "Blond_Hair",
    "brown": "Brown_Hair",
    "gray": "Gray_Hair",
}  # red hair is in no CelebA column


@pytest.fixture(scope="module")
def toy_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 48-image toy set shared by this module's tests: do not modify it."""
    root = tmp_path_factory.mktemp("toy_celeba") / "toy"
    write_toy_celeba(root, n_images=N_IMAGES, seed=7)
    return root


def visible(folder: Path) -> set[str]:
    return {path.name for path in folder.iterdir() if not path.name.startswith(".")}


def test_writes_exactly_the_celeba_layout(toy_root: Path) -> None:
    assert visible(toy_root) == {IMAGE_DIR, ATTRIBUTE_FILE, PARTITION_FILE}
    names = [f"{i:06d}.jpg" for i in range(1, N_IMAGES + 1)]
    assert visible(toy_root / IMAGE_DIR) == set(names)
    first = toy_root / IMAGE_DIR / "000001.jpg"
    assert first.read_bytes()[:2] == b"\xff\xd8"
    assert cv2.imread(str(first)).shape == (HEIGHT, WIDTH, 3) == (218, 178, 3)

    text = (toy_root / ATTRIBUTE_FILE).read_bytes().decode()
    lines = text.split("\r\n")
    assert text.count("\n") == text.count("\r\n") == N_IMAGES + 1 and not text.endswith("\n")
    assert lines[0] == str(N_IMAGES) and lines[1] == " ".join(CELEBA_ATTRIBUTES) + " "
    seed = toy_celeba_marker(toy_root)["seed"]
    for index, line in enumerate(lines[2:]):
        assert line == attribute_line(names[index], toy_celeba_image(seed, index)[1].tolist())
        assert re.fullmatch(r"\d{6}\.jpg -?1( (-1| 1)){39}", line)

    partition = (toy_root / PARTITION_FILE).read_bytes().decode()
    assert partition.endswith("\n") and "\r" not in partition
    codes = [int(line.split()[1]) for line in partition.splitlines()]
    assert [line.split()[0] for line in partition.splitlines()] == names
    assert codes == [0] * 38 + [1] * 5 + [2] * 5  # contiguous 80 / 10 / 10, as in CelebA


def test_rows_are_written_like_the_real_files(shared_fixtures: Path, toy_root: Path) -> None:
    real = (shared_fixtures / "celeba" / "list_attr_celeba_sample.txt").read_bytes().decode()
    real_lines = real.split("\r\n")
    toy_lines = (toy_root / ATTRIBUTE_FILE).read_bytes().decode().split("\r\n")
    assert toy_lines[1] == real_lines[1]  # the 40 names, in order, with the trailing space
    assert not real.endswith("\n")
    for line in real_lines[2:]:  # the writer reproduces each real row byte for byte
        name, *values = line.split()
        assert attribute_line(name, [int(v) for v in values]) == line
    real_partition = (shared_fixtures / "celeba" / "list_eval_partition_sample.txt").read_text()
    toy_partition = (toy_root / PARTITION_FILE).read_text()
    assert real_partition.splitlines()[0] == toy_partition.splitlines()[0] == "000001.jpg 0"


def test_drawing_is_deterministic_for_a_seed(toy_root: Path, tmp_path: Path) -> None:
    seed = toy_celeba_marker(toy_root)["seed"]
    write_toy_celeba(tmp_path / "same", n_images=3, seed=seed)
    write_toy_celeba(tmp_path / "other", n_images=3, seed=seed + 1)
    path = Path(IMAGE_DIR) / image_name(2)
    assert (tmp_path / "same" / path).read_bytes() == (toy_root / path).read_bytes()
    assert (tmp_path / "other" / path).read_bytes() != (toy_root / path).read_bytes()


def test_labels_are_the_drawn_attributes(toy_root: Path) -> None:
    seed = toy_celeba_marker(toy_root)["seed"]
    table = read_attribute_table(toy_root / ATTRIBUTE_FILE)
    column = {
        name: table.values[:, CELEBA_ATTRIBUTES.index(name)] > 0 for name in CELEBA_ATTRIBUTES
    }
    for index in range(N_IMAGES):
        face, values = toy_celeba_image(seed, index)
        np.testing.assert_array_equal(table.values[index], values)
        assert column["Male"][index] == face.male and column["Smiling"][index] == face.smiling
        assert column["Pale_Skin"][index] == face.pale and column["Goatee"][index] == face.goatee
        assert column["Young"][index] == face.young
        assert column["No_Beard"][index] == (not face.goatee and not face.mustache)
        hair = [name for name in HAIR_COLUMNS.values() if column[name][index]]
        assert hair == ([HAIR_COLUMNS[face.hair]] if face.hair in HAIR_COLUMNS else [])
    for name in ("Male", "Smiling", "Pale_Skin", "Goatee", "Young", "Attractive", "Wearing_Hat"):
        assert 0 < column[name].sum() < N_IMAGES, f"{name} is constant over the set"
    assert {"Male", "Smiling", "Pale_Skin", "Goatee", "Young"} <= set(DRAWN_ATTRIBUTES)


# Where each attribute shows, in face units (x: ±1 at the cheeks; y: 0 at the eyes, down).
REGIONS = {
    "smiling": ((-0.56, 0.56), (0.5, 1.1)),
    "goatee": ((-0.35, 0.35), (0.9, 1.4)),
    "mustache": ((-0.4, 0.4), (0.5, 0.8)),
    "eyeglasses": ((-0.8, 0.8), (-0.32, 0.32)),
    "young": ((-0.7, 0.7), (-0.75, 0.95)),
    "male": ((-1.7, 1.7), (-1.6, 3.5)),
}


@pytest.mark.parametrize("attribute", list(REGIONS))
def test_each_attribute_changes_its_part_of_the_face_visibly(attribute: str) -> None:
    """The same face drawn with and without the attribute differs only in its region, and there
    by enough to see after the centre crop and the resize to 64×64."""
    (x0, x1), (y0, y1) = REGIONS[attribute]
    ys, xs = np.mgrid[:HEIGHT, :WIDTH] + 0.5
    for index in range(12):
        face = dataclasses.replace(toy_celeba_image(0, index)[0], tilt=0.0)
        on, off = (
            draw_celeba_face(dataclasses.replace(face, **{attribute: value})).astype(float)
            for value in (True, False)
        )
        (cx, cy), w = face.center, face.width
        inside = (
            (xs >= cx + x0 * w) & (xs <= cx + x1 * w) & (ys >= cy + y0 * w) & (ys <= cy + y1 * w)
        )
        assert np.abs(on - off)[~inside].max() == 0, f"{attribute} changes image {index} elsewhere"
        small_on, small_off = (
            cv2.resize(image[20:198], (64, 64), interpolation=cv2.INTER_AREA) for image in (on, off)
        )
        region = cv2.resize(inside[20:198].astype(float), (64, 64), interpolation=cv2.INTER_AREA)
        change = np.abs(small_on - small_off).sum(-1)[region > 0.5].mean()
        assert change > 12, f"{attribute} changes image {index} by only {change:.1f} at 64×64"


def probe(image: np.ndarray, face, x: float, y: float) -> np.ndarray:
    """Mean RGB of the 3×3 pixels of a 64×64 crop ``(3, 64, 64)`` at face point ``(x, y)``."""
    matrix = cv2.getRotationMatrix2D(face.center, face.tilt, 1.0)
    px, py = matrix @ (face.center[0] + x * face.width, face.center[1] + y * face.width, 1.0)
    u, v = int(px * 64 / 178), int((py - 20) * 64 / 178)
    return image[:, v - 1 : v + 2, u - 1 : u + 2].reshape(3, -1).mean(1)


def test_skin_and_hair_colour_read_from_the_loaded_images(toy_root: Path) -> None:
    """Through the CelebA loader at 64×64: pale cheeks are lighter than any other cheek, and the
    crown shows the colour of the hair column that is set."""
    module = CelebADataModule(toy_root, batch_size=8)
    module.setup()  # all three splits
    seed = toy_celeba_marker(toy_root)["seed"]
    pale, other = [], []
    splits = {"train": module.train_set, "val": module.val_set, "test": module.test_set}
    for split, dataset in splits.items():
        for path, image, condition in zip(
            module.image_files(split), dataset.images.numpy(), dataset.conditions, strict=True
        ):
            face = toy_celeba_image(seed, int(path.stem) - 1)[0]
            assert bool(condition[2]) == face.pale
            cheeks = [probe(image, face, side * 0.6, 0.45).mean() for side in (-1, 1)]
            (pale if face.pale else other).append(min(cheeks) if face.pale else max(cheeks))
            crown = probe(image, face, 0.0, -1.1)
            nearest = min(HAIR_COLOURS, key=lambda h: np.linalg.norm(crown - HAIR_COLOURS[h]))
            assert nearest == face.hair, f"{path.name}: {face.hair} hair looks {nearest}"
    assert pale and other and min(pale) > max(other) + 20


def test_datamodule_writes_once_then_reads_like_celeba(tmp_path: Path) -> None:
    root = tmp_path / "toy"
    module = ToyCelebADataModule(root, n_images=20, toy_seed=1, image_size=32, batch_size=4)
    spec = module.spec
    assert not root.exists(), "building the module must not write the data"
    assert spec.name == "toy_celeba" and spec.condition_kind == "attributes"
    assert spec.condition_names == ("Male", "Smiling", "Pale_Skin", "Goatee")
    assert module.eval_conditions()["attr_combos"].shape == (16, 4)

    module.prepare_data()
    module.setup("fit")
    assert (len(module.train_set), len(module.val_set)) == (16, 2)
    images, conditions = next(iter(module.train_dataloader()))
    moved, moved_conditions = module.on_after_batch_transfer((images, conditions), 0)
    assert moved.shape == (4, 3, 32, 32) and moved.dtype == torch.float32
    assert float(moved.min()) >= -1.0 and float(moved.max()) <= 1.0
    expected = [toy_celeba_image(1, i)[0] for i in range(16)]
    expected = torch.tensor([[f.male, f.smiling, f.pale, f.goatee] for f in expected]).float()
    assert_close(module.train_set.conditions, expected)

    real = CelebADataModule(root, image_size=32, batch_size=4)  # the same files, read as CelebA
    real.setup("fit")
    assert_close(real.train_set.images, module.train_set.images)
    assert_close(real.train_set.conditions, expected)

    stamp = (root / IMAGE_DIR / "000001.jpg").stat().st_mtime_ns
    ToyCelebADataModule(root, n_images=20, toy_seed=1, batch_size=4).prepare_data()
    assert (root / IMAGE_DIR / "000001.jpg").stat().st_mtime_ns == stamp
    ToyCelebADataModule(root, n_images=10, toy_seed=1, batch_size=4).prepare_data()
    assert len(visible(root / IMAGE_DIR)) == 10 and toy_celeba_marker(root)["n_images"] == 10


def test_unknown_attribute_fails_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"data=toy_celeba: data.attributes names \['Beard'\]"):
        ToyCelebADataModule(tmp_path / "toy", attributes=["Male", "Beard"])
    assert not (tmp_path / "toy").exists()


def test_folder_with_other_content_is_not_overwritten(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("user data")
    with pytest.raises(DataError, match=rf"{tmp_path} is not empty and holds no toy CelebA set"):
        ToyCelebADataModule(tmp_path)
    assert visible(tmp_path) == {"mine.txt"}
    assert MARKER.startswith(".")  # the marker does not show among the CelebA files
