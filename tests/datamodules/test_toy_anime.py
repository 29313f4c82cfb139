"""The procedural anime set: exact MLDS layout, determinism, true tags, and its datamodule."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from datamodules.errors import DataError
from datamodules.mlds_tags import read_tags
from datamodules.toy_anime import (
    ToyAnimeDataModule,
    toy_anime_marker,
    toy_face,
    write_toy_anime,
)
from datamodules.toy_faces import EYE_COLOURS, HAIR, HAIR_COLOURS, IRIS, draw_parts

TAG_LINE = re.compile(r"(\d+),(\w+) hair (\w+) eyes\n")


def read_rgb_file(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def visible(folder: Path) -> set[str]:
    return {path.name for path in folder.iterdir() if not path.name.startswith(".")}


def test_writes_exactly_the_mlds_layout(toy_root: Path) -> None:
    n_images = toy_anime_marker(toy_root)["n_images"]
    names = {f"{i}.jpg" for i in range(n_images)}
    assert visible(toy_root) == {"faces", "extra_data"}
    assert visible(toy_root / "faces") == names
    assert visible(toy_root / "extra_data") == {"images", "tags.csv"}
    assert visible(toy_root / "extra_data" / "images") == names
    assert read_rgb_file(toy_root / "faces" / "7.jpg").shape == (96, 96, 3)
    assert read_rgb_file(toy_root / "extra_data" / "images" / "7.jpg").shape == (64, 64, 3)

    text = (toy_root / "extra_data" / "tags.csv").read_bytes().decode()
    lines = text.splitlines(keepends=True)
    assert len(lines) == n_images and "\r" not in text
    matches = [TAG_LINE.fullmatch(line) for line in lines]
    assert all(matches), "every line is '<id>,<hair> hair <eye> eyes' with LF"
    assert [int(m[1]) for m in matches] == list(range(n_images))
    assert all(m[2] in HAIR_COLOURS and m[3] in EYE_COLOURS for m in matches)


def test_drawing_is_deterministic_for_a_seed(toy_root: Path, tmp_path: Path) -> None:
    seed = toy_anime_marker(toy_root)["seed"]
    write_toy_anime(tmp_path / "same", n_images=5, seed=seed)
    write_toy_anime(tmp_path / "other", n_images=5, seed=seed + 1)
    for name in ("faces/0.jpg", "faces/4.jpg", "extra_data/images/2.jpg"):
        assert (tmp_path / "same" / name).read_bytes() == (toy_root / name).read_bytes()
        assert (tmp_path / "other" / name).read_bytes() != (toy_root / name).read_bytes()
    same_tags = (tmp_path / "same" / "extra_data" / "tags.csv").read_text().splitlines()
    assert same_tags == (toy_root / "extra_data" / "tags.csv").read_text().splitlines()[:5]


def nearest(colour: np.ndarray, palette: dict[str, tuple[int, int, int]]) -> tuple[str, float]:
    distances = {name: float(np.linalg.norm(colour - rgb)) for name, rgb in palette.items()}
    name = min(distances, key=distances.get)
    return name, distances[name]


def test_tags_are_true_hair_and_iris_pixels_have_the_named_colours(toy_root: Path) -> None:
    seed = toy_anime_marker(toy_root)["seed"]
    tags = read_tags(toy_root / "extra_data" / "tags.csv", list(HAIR_COLOURS), list(EYE_COLOURS))
    for tag in tags:
        image = read_rgb_file(toy_root / "extra_data" / "images" / f"{tag.id}.jpg").astype(float)
        parts = draw_parts(toy_face(seed, "extra_data", int(tag.id)), 64)
        for part, palette, named in ((HAIR, HAIR_COLOURS, tag.hair), (IRIS, EYE_COLOURS, tag.eye)):
            assert (parts == part).sum() >= 10
            colour, distance = nearest(image[parts == part].mean(0), palette)
            assert colour == named, f"image {tag.id}: {named} drawn, looks {colour}"
            assert distance < 25


def test_faces_look_like_anime_faces_to_the_lbp_cascade(
    toy_root: Path, shared_fixtures: Path
) -> None:
    cascade = cv2.CascadeClassifier(str(shared_fixtures / "lbpcascade_animeface.xml"))
    n_images = toy_anime_marker(toy_root)["n_images"]
    found = 0
    for i in range(n_images):
        bgr = cv2.imread(str(toy_root / "extra_data" / "images" / f"{i}.jpg"))
        gray = cv2.equalizeHist(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
        faces = cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(24, 24))
        found += len(faces) > 0
    assert found >= 0.75 * n_images


def test_datamodule_writes_once_then_reads_like_anime(tmp_path: Path) -> None:
    root = tmp_path / "toy"
    module = ToyAnimeDataModule(root, n_images=20, batch_size=8, toy_seed=1)
    assert module.spec.name == "toy_anime" and module.spec.condition_dim == 0
    assert not root.exists(), "building the module must not write the data"

    module.prepare_data()
    module.setup("fit")
    images, conditions = next(iter(module.train_dataloader()))
    assert images.shape == (8, 3, 64, 64) and conditions.shape == (8, 0)
    moved, _ = module.on_after_batch_transfer((images, conditions), 0)
    assert moved.dtype == torch.float32 and -1 <= float(moved.min()) <= float(moved.max()) <= 1

    stamp = (root / "faces" / "0.jpg").stat().st_mtime_ns
    again = ToyAnimeDataModule(root, n_images=20, batch_size=8, toy_seed=1)
    again.prepare_data()
    assert (root / "faces" / "0.jpg").stat().st_mtime_ns == stamp

    resized = ToyAnimeDataModule(root, n_images=12, batch_size=8, toy_seed=1)
    resized.prepare_data()
    assert len(list((root / "faces").glob("*.jpg"))) == 12


def test_folder_with_other_content_is_not_overwritten(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("user data")
    with pytest.raises(DataError, match=rf"{tmp_path} is not empty and holds no toy anime set"):
        ToyAnimeDataModule(tmp_path)
    assert visible(tmp_path) == {"mine.txt"}
