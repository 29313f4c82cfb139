"""IclevrDataModule: the course's files, batches with multi-hot conditions, and bad-input errors."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch.testing import assert_close

from datamodules.conditions import MultiHot
from datamodules.decode import read_rgb
from datamodules.errors import DataError
from datamodules.iclevr import (
    ICLEVR_OBJECTS,
    IclevrDataModule,
    read_condition_sets,
    read_objects,
    read_train_labels,
)
from datamodules.toy_iclevr import MARKER, write_toy_iclevr
from datamodules.toy_shapes import draw_scene, sample_scene

VOCAB = MultiHot.from_index(ICLEVR_OBJECTS)


@pytest.fixture(scope="module")
def toy_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 6-scene (18-image) toy set shared by this module's tests: do not modify it."""
    root = tmp_path_factory.mktemp("iclevr") / "toy"
    write_toy_iclevr(root, n_scenes=6, seed=2)
    return root


@pytest.fixture
def iclevr_root(toy_root: Path, tmp_path: Path) -> Path:
    """A private copy of the toy set as plain ICLEVR data (no toy marker), free to modify."""
    root = tmp_path / "iclevr_data"
    shutil.copytree(toy_root, root)
    (root / MARKER).unlink()
    return root


def edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_embedded_names_are_the_course_objects_json(shared_fixtures: Path) -> None:
    path = shared_fixtures / "iclevr" / "objects.json"
    assert json.loads(path.read_text()) == ICLEVR_OBJECTS
    assert read_objects(path).names == tuple(ICLEVR_OBJECTS)


@pytest.mark.parametrize("name", ["test", "new_test"])
def test_reads_the_course_evaluation_sets(shared_fixtures: Path, name: str) -> None:
    sets = read_condition_sets(shared_fixtures / "iclevr" / f"{name}.json", VOCAB)
    conditions = VOCAB.encode_many(sets)
    assert conditions.shape == (32, 24)
    assert conditions.sum(1).tolist() == [float(len(names)) for names in sets]


def test_reads_course_files_with_images_drawn_for_the_train_excerpt(
    shared_fixtures: Path, tmp_path: Path
) -> None:
    """The real objects/test/new_test files and train.json excerpt, with RGB PNGs in images/."""
    source = shared_fixtures / "iclevr"
    for name in ("objects.json", "test.json", "new_test.json"):
        shutil.copy(source / name, tmp_path / name)
    shutil.copy(source / "train_excerpt.json", tmp_path / "train.json")
    labels = read_train_labels(tmp_path / "train.json", VOCAB)
    assert len(labels) == 30
    (tmp_path / "images").mkdir()
    rng = np.random.default_rng(0)
    for file_name, names in labels.items():
        rgb = draw_scene(sample_scene(rng, names))
        cv2.imwrite(str(tmp_path / "images" / file_name), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))

    module = IclevrDataModule(tmp_path, batch_size=10)
    assert module.spec.name == "iclevr" and module.spec.condition_names == tuple(ICLEVR_OBJECTS)
    module.setup("fit")
    assert_close(
        module.train_set.conditions, VOCAB.encode_many([labels[n] for n in sorted(labels)])
    )
    first = tmp_path / "images" / sorted(labels)[0]
    assert_close(module.train_set.images[0], torch.from_numpy(read_rgb(first, 64)))
    evaluation = module.eval_conditions()
    for name in ("test", "new_test"):
        expected = json.loads((source / f"{name}.json").read_text())
        assert [VOCAB.decode(row) for row in evaluation[name]] == [
            sorted(names, key=ICLEVR_OBJECTS.get) for names in expected
        ]


def test_batches_are_float_images_with_multi_hot_conditions(iclevr_root: Path) -> None:
    module = IclevrDataModule(iclevr_root, image_size=32, batch_size=6, value_range=[0, 1])
    module.prepare_data()
    module.setup("fit")
    images, conditions = next(iter(module.train_dataloader()))
    assert images.dtype == torch.uint8 and images.shape == (6, 3, 32, 32)
    moved, moved_conditions = module.on_after_batch_transfer((images, conditions), 0)
    assert moved.dtype == torch.float32 and moved.shape == (6, 3, 32, 32)
    assert float(moved.min()) >= 0.0 and float(moved.max()) <= 1.0
    assert moved_conditions.shape == (6, 24) and moved_conditions.dtype == torch.float32
    assert set(moved_conditions.unique().tolist()) == {0.0, 1.0}


def test_images_folder_and_rgb_files_are_read_too(iclevr_root: Path) -> None:
    (iclevr_root / "iclevr").rename(iclevr_root / "images")
    path = next((iclevr_root / "images").iterdir())
    rgba = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    cv2.imwrite(str(path), rgba[..., :3])  # the same pixels, without the alpha channel
    module = IclevrDataModule(iclevr_root, batch_size=6)
    module.setup("fit")
    assert len(module.train_set) == 18
    assert module.image_files()[0].parent == iclevr_root / "images"


def test_missing_evaluation_sets_are_left_out_with_a_log_line(
    iclevr_root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (iclevr_root / "new_test.json").unlink()
    with caplog.at_level(logging.INFO, logger="datamodules.iclevr"):
        evaluation = IclevrDataModule(iclevr_root).eval_conditions()
    assert list(evaluation) == ["test"] and evaluation["test"].shape == (32, 24)
    assert "new_test.json is absent" in caplog.text


def test_missing_root_says_where_and_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(DataError) as error:
        IclevrDataModule(tmp_path / "nowhere")
    message = str(error.value)
    assert str(tmp_path / "nowhere") in message
    assert "data.root" in message and "data=toy_iclevr" in message


@pytest.mark.parametrize("name", ["objects.json", "train.json"])
def test_missing_json_is_named(iclevr_root: Path, name: str) -> None:
    (iclevr_root / name).unlink()
    with pytest.raises(DataError, match=rf"{iclevr_root / name} is missing.*objects\.json"):
        IclevrDataModule(iclevr_root)


def test_missing_image_folder_is_named(iclevr_root: Path) -> None:
    shutil.rmtree(iclevr_root / "iclevr")
    with pytest.raises(DataError, match="has neither images/ nor iclevr/"):
        IclevrDataModule(iclevr_root)


def test_malformed_json_names_file_and_line(iclevr_root: Path) -> None:
    (iclevr_root / "train.json").write_text('{"CLEVR_train_000000_0.png": ["gray cube"],\n}')
    with pytest.raises(DataError, match=rf"{iclevr_root / 'train.json'}:2:1: not valid JSON"):
        IclevrDataModule(iclevr_root)


def test_unknown_name_in_train_json_names_file_and_entry(iclevr_root: Path) -> None:
    edit_json(iclevr_root / "train.json", lambda d: d.update({"CLEVR_train_000001_1.png": ["x"]}))
    with pytest.raises(
        DataError,
        match=rf"{iclevr_root / 'train.json'}, entry 'CLEVR_train_000001_1.png': 'x' is not one"
        r" of the names in objects.json, \['gray cube'",
    ):
        IclevrDataModule(iclevr_root)


def test_bad_entry_in_train_json_is_named(iclevr_root: Path) -> None:
    edit_json(iclevr_root / "train.json", lambda d: d.update({"CLEVR_train_000002_0.png": []}))
    with pytest.raises(DataError, match="entry 'CLEVR_train_000002_0.png': expected a non-empty"):
        IclevrDataModule(iclevr_root)


def test_unknown_name_in_test_json_names_file_and_item(iclevr_root: Path) -> None:
    edit_json(iclevr_root / "new_test.json", lambda d: d[4].append("pink cube"))
    module = IclevrDataModule(iclevr_root)
    with pytest.raises(DataError, match=rf"{iclevr_root / 'new_test.json'}, item 4: 'pink cube'"):
        module.eval_conditions()


def test_objects_json_with_bad_indices_is_named(iclevr_root: Path) -> None:
    edit_json(iclevr_root / "objects.json", lambda d: d.update({"gray cube": 30}))
    with pytest.raises(DataError, match=rf"{iclevr_root / 'objects.json'}: condition indices"):
        IclevrDataModule(iclevr_root)


def test_missing_listed_image_fails_before_decoding(iclevr_root: Path) -> None:
    (iclevr_root / "iclevr" / "CLEVR_train_000004_1.png").unlink()
    module = IclevrDataModule(iclevr_root)
    with pytest.raises(DataError, match=r"1 images listed in .*train\.json are missing.*000004_1"):
        module.prepare_data()
    assert not (iclevr_root / ".litgen_cache").exists()
