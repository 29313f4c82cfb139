"""Tagged anime data: tags → 22-dim conditions aligned with images, and bad input."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from datamodules.anime_tags import AnimeTagsDataModule
from datamodules.errors import DataError
from datamodules.toy_anime import ensure_toy_anime
from datamodules.toy_anime_tags import ToyAnimeTagsDataModule

CONFIG = OmegaConf.load(Path(__file__).resolve().parents[2] / "conf" / "data" / "anime_tags.yaml")
HAIR, EYES = list(CONFIG.hair_colours), list(CONFIG.eye_colours)


@pytest.fixture(scope="module")
def toy_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tags") / "toy_anime"
    ensure_toy_anime(root, n_images=24, seed=0)
    return root


def test_conditions_follow_the_tags_file(toy_root: Path) -> None:
    dm = AnimeTagsDataModule(toy_root, HAIR, EYES, image_size=32, batch_size=8)
    dm.prepare_data()
    dm.setup()
    lines = (toy_root / "extra_data" / "tags.csv").read_text().splitlines()
    assert len(dm.train_set) == len(lines) == 24
    _, conditions = dm.train_set[torch.arange(3)]
    for line, vector in zip(lines[:3], conditions, strict=True):
        assert dm.spec.vocab.decode(vector) == line.split(",", 1)[1]
    assert dm.spec.condition_dim == 22 and dm.spec.condition_kind == "onehot_groups"
    images, y = dm.on_after_batch_transfer(next(iter(dm.train_dataloader())), 0)
    assert images.shape == (8, 3, 32, 32) and y.shape == (8, 22)
    assert (y[:, :12].sum(1) == 1).all() and (y[:, 12:].sum(1) == 1).all()


def test_words_to_vectors_both_ways(toy_root: Path) -> None:
    vocab = AnimeTagsDataModule(toy_root, HAIR, EYES).spec.vocab
    y = vocab.encode("blue hair red eyes")
    assert y[HAIR.index("blue")] == 1 and y[12 + EYES.index("red")] == 1 and y.sum() == 2
    assert vocab.decode(y) == "blue hair red eyes"
    with pytest.raises(DataError, match="aqua"):
        vocab.encode("golden hair red eyes")


def test_fixture_tags_parse(shared_fixtures: Path, tmp_path: Path) -> None:
    root = tmp_path / "anime"
    (root / "extra_data" / "images").mkdir(parents=True)
    shutil.copy(shared_fixtures / "anime" / "tags_sample.csv", root / "extra_data" / "tags.csv")
    dm = AnimeTagsDataModule(root, HAIR, EYES)
    assert [t.id for t in dm.tags()][:2] == ["0", "166"]
    with pytest.raises(DataError, match="missing, e.g."):
        dm.image_files()


def test_unknown_colour_names_file_and_line(tmp_path: Path) -> None:
    root = tmp_path / "anime"
    (root / "extra_data").mkdir(parents=True)
    (root / "extra_data" / "tags.csv").write_text("0,aqua hair aqua eyes\n1,golden hair red eyes\n")
    with pytest.raises(DataError, match=r"tags\.csv:2: hair colour 'golden'"):
        AnimeTagsDataModule(root, HAIR, EYES).tags()


def test_missing_root_and_missing_tags_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="toy_anime_tags"):
        AnimeTagsDataModule(tmp_path / "nope", HAIR, EYES)
    with pytest.raises(DataError, match=r"tags\.csv is missing"):
        AnimeTagsDataModule(tmp_path, HAIR, EYES)


def test_toy_module_writes_on_first_use(tmp_path: Path) -> None:
    dm = ToyAnimeTagsDataModule(tmp_path / "toy", HAIR, EYES, n_images=16, batch_size=8)
    assert not (tmp_path / "toy").exists()
    dm.prepare_data()
    dm.setup()
    assert len(dm.train_set) == 16 and dm.spec.name == "toy_anime_tags"
