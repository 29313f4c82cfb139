"""CelebADataModule: the torchvision layout, splits, crops, attribute selection and bad inputs."""

from __future__ import annotations

import dataclasses
import shutil
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
    attribute_combinations,
    read_attribute_table,
    read_partition,
)
from datamodules.conditions import Attributes
from datamodules.errors import DataError
from datamodules.spec import DataSpec
from datamodules.toy_celeba import MARKER, write_toy_celeba
from datamodules.toy_celeba_faces import draw_celeba_face, sample_celeba_face

FOUR = ["Male", "Smiling", "Pale_Skin", "Goatee"]


@pytest.fixture(scope="module")
def toy_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 10-image toy set (8 train, 1 val, 1 test) shared by this module's tests: do not modify."""
    root = tmp_path_factory.mktemp("celeba") / "toy"
    write_toy_celeba(root, n_images=10, seed=4)
    return root


@pytest.fixture
def celeba_root(toy_root: Path, tmp_path: Path) -> Path:
    """A private copy of the toy set as plain CelebA data (no toy marker), free to modify."""
    root = tmp_path / "celeba"
    shutil.copytree(toy_root, root)
    (root / MARKER).unlink()
    return root


@pytest.fixture
def fixture_files(shared_fixtures: Path) -> Path:
    return shared_fixtures / "celeba"


def raw_rows(path: Path) -> list[list[str]]:
    """The image lines of an attribute file, split the simplest way (the test's own parser)."""
    return [line.split() for line in path.read_text().splitlines()[2:] if line.strip()]


def edit_lines(path: Path, change) -> None:
    """Apply ``change`` to the list of lines of ``path`` (CRLF kept, as CelebA writes it)."""
    text = path.read_bytes().decode()
    end = "\r\n" if "\r\n" in text else "\n"
    lines = text.split(end)
    change(lines)
    path.write_bytes(end.join(lines).encode())


def write_faces(folder: Path, names: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name in names:
        rgb = draw_celeba_face(sample_celeba_face(rng))
        cv2.imwrite(str(folder / name), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def cropped(path: Path, size: int, crop: int = 178) -> torch.Tensor:
    """The test's own centre crop and resize of a 178×218 file: uint8 ``(3, size, size)``."""
    bgr = cv2.imread(str(path))
    top = (bgr.shape[0] - crop) // 2
    left = (bgr.shape[1] - crop) // 2
    square = bgr[top : top + crop, left : left + crop]
    small = cv2.resize(square, (size, size), interpolation=cv2.INTER_AREA)
    return torch.from_numpy(cv2.cvtColor(small, cv2.COLOR_BGR2RGB).transpose(2, 0, 1).copy())


# --- the real formats (../shared/fixtures/celeba) ---------------------------------------------


def test_reads_the_real_attribute_file_head(fixture_files: Path) -> None:
    path = fixture_files / "list_attr_celeba_sample.txt"
    assert b"\r\n" in path.read_bytes() and b"  " in path.read_bytes()
    table = read_attribute_table(path)
    assert table.names == CELEBA_ATTRIBUTES
    assert table.files == tuple(f"{i:06d}.jpg" for i in range(1, 9))
    assert table.lines.tolist() == list(range(3, 11))
    assert table.values.dtype == np.int8 and table.values.shape == (8, 40)
    expected = np.array([[int(v) for v in row[1:]] for row in raw_rows(path)])
    np.testing.assert_array_equal(table.values, expected)
    # 000001 is a smiling young woman, 000007 a man without a smile (CelebA's own labels).
    four = table.select(FOUR)
    assert four.dtype == np.float32
    np.testing.assert_array_equal(four[0], [0, 1, 0, 0])
    np.testing.assert_array_equal(four[6], [1, 0, 0, 0])
    np.testing.assert_array_equal(four, (expected[:, [20, 31, 26, 16]] > 0).astype(np.float32))


def test_reads_the_real_partition_file_head(fixture_files: Path) -> None:
    partition = read_partition(fixture_files / "list_eval_partition_sample.txt")
    assert partition == {f"{i:06d}.jpg": 0 for i in range(1, 9)}


@pytest.mark.parametrize(
    "rewrite",
    [
        lambda text: text.replace("\r\n", "\n"),  # LF line ends
        lambda text: text + "\r\n",  # a final newline
        lambda text: text.replace(" ", "\t").replace("\t-", "   -"),  # tabs and runs of spaces
        lambda text: text.replace("\r\n000004", "\r\n \r\n000004") + "\r\n\r\n",  # blank lines
    ],
)
def test_line_ends_and_spacing_do_not_matter(fixture_files: Path, tmp_path: Path, rewrite) -> None:
    source = fixture_files / "list_attr_celeba_sample.txt"
    path = tmp_path / ATTRIBUTE_FILE
    path.write_bytes(rewrite(source.read_bytes().decode()).encode())
    table, reference = read_attribute_table(path), read_attribute_table(source)
    assert table.names == reference.names and table.files == reference.files
    np.testing.assert_array_equal(table.values, reference.values)


def test_module_reads_the_real_files_with_drawn_images(fixture_files: Path, tmp_path: Path) -> None:
    shutil.copy(fixture_files / "list_attr_celeba_sample.txt", tmp_path / ATTRIBUTE_FILE)
    shutil.copy(fixture_files / "list_eval_partition_sample.txt", tmp_path / PARTITION_FILE)
    names = [f"{i:06d}.jpg" for i in range(1, 9)]
    write_faces(tmp_path / IMAGE_DIR, names)

    module = CelebADataModule(tmp_path, attributes=FOUR, batch_size=4)
    module.prepare_data()
    module.setup("fit")
    expected = read_attribute_table(tmp_path / ATTRIBUTE_FILE).select(FOUR)
    assert_close(module.train_set.conditions, torch.from_numpy(expected))
    assert_close(module.train_set.images[0], cropped(tmp_path / IMAGE_DIR / names[0], 64))
    assert module.val_dataloader() == []  # the sample's rows are all partition 0
    module.setup("test")
    assert module.test_dataloader() == []


# --- batches, splits, crops ---------------------------------------------------------------------


def test_spec_is_known_before_reading_any_image(celeba_root: Path) -> None:
    module = CelebADataModule(celeba_root, attributes=["Young", "Male"], image_size=128)
    spec = module.spec
    assert spec == DataSpec(image_size=128, name="celeba", vocab=Attributes(("Young", "Male")))
    assert spec.condition_kind == "attributes" and spec.condition_dim == 2
    assert DataSpec.from_dict(dataclasses.asdict(spec)) == spec
    assert not (celeba_root / ".litgen_cache").exists()


def test_splits_follow_the_partition_file(celeba_root: Path) -> None:
    partition = read_partition(celeba_root / PARTITION_FILE)
    assert sorted(partition.values()) == [0] * 8 + [1, 2]
    module = CelebADataModule(celeba_root, batch_size=4, value_range=[0, 1])
    module.prepare_data()
    caches = sorted(p.name for p in (celeba_root / ".litgen_cache").glob("*.npy"))
    assert caches == ["img_align_celeba_train_64.npy", "img_align_celeba_val_64.npy"]
    module.setup("fit")
    assert (len(module.train_set), len(module.val_set), module.test_set) == (8, 1, None)
    module.setup("test")
    assert len(module.test_set) == 1
    for split, dataset in (("train", module.train_set), ("val", module.val_set)):
        files = module.image_files(split)
        assert [partition[f.name] for f in files] == [("train", "val").index(split)] * len(files)
        assert_close(dataset.images[-1], cropped(files[-1], 64))

    images, conditions = next(iter(module.train_dataloader()))
    assert images.dtype == torch.uint8 and images.shape == (4, 3, 64, 64)
    moved, moved_conditions = module.on_after_batch_transfer((images, conditions), 0)
    assert moved.dtype == torch.float32 and float(moved.min()) >= 0 and float(moved.max()) <= 1
    assert moved_conditions.shape == (4, 4) and moved_conditions.dtype == torch.float32
    val_images, _ = next(iter(module.val_dataloader()))
    test_images, _ = next(iter(module.test_dataloader()))
    assert val_images.shape == test_images.shape == (1, 3, 64, 64)


def test_chosen_attributes_in_config_order_with_minus_one_as_zero(celeba_root: Path) -> None:
    chosen = ["Young", "Black_Hair", "Male", "Wearing_Hat"]
    module = CelebADataModule(celeba_root, attributes=chosen, batch_size=4)
    module.setup("fit")
    rows = raw_rows(celeba_root / ATTRIBUTE_FILE)
    columns = [CELEBA_ATTRIBUTES.index(name) + 1 for name in chosen]
    expected = torch.tensor([[float(row[c] == "1") for c in columns] for row in rows[:8]])
    assert_close(module.train_set.conditions, expected)
    assert set(module.train_set.conditions.unique().tolist()) <= {0.0, 1.0}


@pytest.mark.parametrize("size", [64, 128])
def test_center_crop_then_resize(celeba_root: Path, size: int) -> None:
    module = CelebADataModule(celeba_root, image_size=size, batch_size=8)
    module.setup("fit")
    first = module.image_files()[0]
    assert cv2.imread(str(first)).shape == (218, 178, 3)
    assert module.train_set.images.shape == (8, 3, size, size)
    assert_close(module.train_set.images[0], cropped(first, size))
    assert (celeba_root / ".litgen_cache" / f"img_align_celeba_train_{size}.npy").is_file()


def test_crop_size_is_configurable(celeba_root: Path) -> None:
    first = celeba_root / IMAGE_DIR / "000001.jpg"
    tight = CelebADataModule(celeba_root, image_size=32, crop_size=140, batch_size=8)
    tight.setup("fit")
    assert_close(tight.train_set.images[0], cropped(first, 32, crop=140))
    squashed = CelebADataModule(celeba_root, image_size=32, crop_size=None, batch_size=8)
    squashed.setup("fit")  # the same cache file, rebuilt for the new settings
    whole = cv2.resize(cv2.imread(str(first)), (32, 32), interpolation=cv2.INTER_AREA)
    expected = torch.from_numpy(cv2.cvtColor(whole, cv2.COLOR_BGR2RGB).transpose(2, 0, 1).copy())
    assert_close(squashed.train_set.images[0], expected)
    with pytest.raises(DataError, match="data.crop_size must be a positive"):
        CelebADataModule(celeba_root, crop_size=0)


def test_eval_conditions_are_every_attribute_combination(celeba_root: Path) -> None:
    module = CelebADataModule(celeba_root, attributes=FOUR)
    combos = module.eval_conditions()["attr_combos"]
    assert combos.shape == (16, 4) and len({tuple(row.tolist()) for row in combos}) == 16
    assert [module.vocab.decode(row) for row in combos[[0, 1, 15]]] == [
        [],
        ["Goatee"],
        FOUR,
    ]
    assert attribute_combinations(5).shape == (32, 5)
    many = CelebADataModule(celeba_root, attributes=list(CELEBA_ATTRIBUTES[:9]))
    with pytest.raises(DataError, match="512 combinations"):
        many.eval_conditions()


def test_too_few_training_images_for_a_batch(celeba_root: Path) -> None:
    module = CelebADataModule(celeba_root, batch_size=9)
    with pytest.raises(DataError, match=r"gives 8 training images.*data.batch_size=9"):
        module.setup("fit")
    CelebADataModule(celeba_root, batch_size=9, drop_last=False).setup("fit")


# --- bad inputs: each error names the file and line and what to do ------------------------------


def test_missing_root(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=rf"{tmp_path / 'nope'} does not exist.*data=toy_celeba"):
        CelebADataModule(tmp_path / "nope")


@pytest.mark.parametrize("name", [ATTRIBUTE_FILE, PARTITION_FILE, IMAGE_DIR])
def test_missing_file(celeba_root: Path, name: str) -> None:
    path = celeba_root / name
    shutil.rmtree(path) if path.is_dir() else path.unlink()
    with pytest.raises(DataError, match=rf"{path} is missing.*expects root/img_align_celeba"):
        CelebADataModule(celeba_root)


def test_torchvision_parent_folder_gets_a_hint(celeba_root: Path, tmp_path: Path) -> None:
    parent = tmp_path / "torchvision_root"
    parent.mkdir()
    shutil.move(celeba_root, parent / "celeba")
    with pytest.raises(DataError, match=rf"set data.root={parent / 'celeba'}"):
        CelebADataModule(parent)


def test_unknown_attribute_lists_the_forty(celeba_root: Path) -> None:
    message = rf"{ATTRIBUTE_FILE}:2: data.attributes names \['Beard'\], not among the 40"
    with pytest.raises(DataError, match=message) as error:
        CelebADataModule(celeba_root, attributes=["Male", "Beard"])
    assert all(name in str(error.value) for name in CELEBA_ATTRIBUTES)


def bad_column_count(lines: list[str]) -> None:
    lines[4] = lines[4].rsplit(" ", 1)[0]


def bad_value(lines: list[str]) -> None:
    parts = lines[3].split(" ")
    lines[3] = " ".join(parts[:-1] + ["0"])


def repeated_file(lines: list[str]) -> None:
    lines[5] = lines[2].split()[0] + lines[5][10:]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda lines: lines.__setitem__(0, "11"), r":1: the count line says 11 images but .* 10"),
        (lambda lines: lines.pop(), r":1: the count line says 10 images but the file lists 9"),
        (lambda lines: lines.__setitem__(0, "ten"), r":1: expected the number of images"),
        (lambda lines: lines.__setitem__(1, "Male Male"), r":2: expected the distinct attribute"),
        (bad_column_count, r":5: expected 41 columns .* got 40\. Fix or delete that line"),
        (bad_value, r":4: Young is '0'; every attribute value must be -1 or 1"),
        (repeated_file, r":6: 000001.jpg is listed again \(first on line 3\)"),
    ],
)
def test_bad_attribute_file_names_the_line(celeba_root: Path, change, message: str) -> None:
    path = celeba_root / ATTRIBUTE_FILE
    edit_lines(path, change)
    with pytest.raises(DataError, match=rf"{path}{message}"):
        CelebADataModule(celeba_root).prepare_data()
    assert not (celeba_root / ".litgen_cache").exists(), "nothing is decoded before the check"


def test_listed_image_missing_names_its_line(celeba_root: Path) -> None:
    (celeba_root / IMAGE_DIR / "000003.jpg").unlink()
    (celeba_root / IMAGE_DIR / "000009.jpg").unlink()
    module = CelebADataModule(celeba_root)
    message = (
        rf"{celeba_root / ATTRIBUTE_FILE}:5: lists 000003.jpg, which is not in .*"
        r"\(2 listed images are missing: 000003.jpg, 000009.jpg\)\. Restore them"
    )
    with pytest.raises(DataError, match=message):
        module.prepare_data()


def test_partition_file_missing_rows(celeba_root: Path) -> None:
    edit_lines(celeba_root / PARTITION_FILE, lambda lines: lines.pop(3))
    message = (
        rf"{celeba_root / PARTITION_FILE} has no row for 1 of the 10 images of .*"
        rf"000004.jpg \({celeba_root / ATTRIBUTE_FILE}:6\)"
    )
    with pytest.raises(DataError, match=message):
        CelebADataModule(celeba_root).prepare_data()


@pytest.mark.parametrize("line", ["000003.jpg 3", "000003.jpg", "000003.jpg 0 1"])
def test_bad_partition_line(celeba_root: Path, line: str) -> None:
    edit_lines(celeba_root / PARTITION_FILE, lambda lines: lines.__setitem__(2, line))
    message = rf"{celeba_root / PARTITION_FILE}:3: expected '<image file> <0\|1\|2>'"
    with pytest.raises(DataError, match=message):
        CelebADataModule(celeba_root).prepare_data()
