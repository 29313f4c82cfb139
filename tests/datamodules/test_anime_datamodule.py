"""AnimeFacesDataModule: layout checks, spec, batches before and after transfer, Lightning fit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import pytorch_lightning as pl
import torch

from datamodules.anime import AnimeFacesDataModule
from datamodules.decode import read_rgb
from datamodules.errors import DataError
from datamodules.spec import DataSpec


def test_spec_is_ready_after_init_without_reading_images(anime_root: Path) -> None:
    module = AnimeFacesDataModule(anime_root, image_size=32, value_range=[0, 1])
    assert module.spec == DataSpec(
        image_size=32, value_range=(0.0, 1.0), condition_kind="none", name="anime"
    )
    assert module.spec.condition_dim == 0
    assert not (anime_root / ".litgen_cache").exists()


def test_missing_root_says_where_and_how_to_fix(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(DataError) as error:
        AnimeFacesDataModule(missing)
    message = str(error.value)
    assert str(missing) in message
    assert "data.root" in message and "data=toy_anime" in message


@pytest.mark.parametrize("make_faces_dir", [False, True])
def test_root_without_jpgs_names_the_faces_folder(tmp_path: Path, make_faces_dir: bool) -> None:
    if make_faces_dir:
        (tmp_path / "faces").mkdir()
        (tmp_path / "faces" / "notes.txt").write_text("no images here")
    with pytest.raises(DataError, match=rf"{tmp_path / 'faces'} holds no \.jpg .*faces/0\.jpg"):
        AnimeFacesDataModule(tmp_path)


def test_bad_value_range_is_rejected(anime_root: Path) -> None:
    with pytest.raises(DataError, match="value_range"):
        AnimeFacesDataModule(anime_root, value_range=[1, -1])


def test_train_batches_are_uint8_then_float_in_range_after_transfer(anime_root: Path) -> None:
    module = AnimeFacesDataModule(anime_root, batch_size=16)
    module.prepare_data()
    module.setup("fit")

    images, conditions = next(iter(module.train_dataloader()))
    assert images.shape == (16, 3, 64, 64) and images.dtype == torch.uint8
    assert conditions.shape == (16, 0) and conditions.dtype == torch.float32

    moved, moved_conditions = module.on_after_batch_transfer((images, conditions), 0)
    assert moved.shape == (16, 3, 64, 64) and moved.dtype == torch.float32
    assert float(moved.min()) >= -1.0 and float(moved.max()) <= 1.0
    torch.testing.assert_close(moved, images.float() / 127.5 - 1.0)
    assert moved_conditions is conditions
    assert len(module.train_dataloader()) == 40 // 16


def test_setup_holds_the_decoded_files(anime_root: Path) -> None:
    module = AnimeFacesDataModule(anime_root, batch_size=8)
    module.setup("fit")
    files = sorted((anime_root / "faces").glob("*.jpg"))
    expected = torch.from_numpy(np.stack([read_rgb(path, 64) for path in files]))
    torch.testing.assert_close(module.train_set.images, expected)


def test_val_fraction_holds_out_disjoint_images(anime_root: Path) -> None:
    module = AnimeFacesDataModule(anime_root, batch_size=8, val_fraction=0.25, seed=1)
    module.setup("fit")
    train, val = module.train_set.images, module.val_set.images
    assert (len(train), len(val)) == (30, 10)
    all_images = torch.cat([train, val]).flatten(1)
    assert len(torch.unique(all_images, dim=0)) == 40
    assert sum(len(images) for images, _ in module.val_dataloader()) == 10
    assert AnimeFacesDataModule(anime_root, batch_size=8).val_dataloader() == []


def test_too_few_images_for_a_batch_is_an_error(anime_root: Path) -> None:
    module = AnimeFacesDataModule(anime_root, batch_size=64)
    with pytest.raises(DataError, match="fewer than data.batch_size=64"):
        module.setup("fit")


class RecordBatches(pl.LightningModule):
    """Keeps every training batch it is given; trains nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.batches: list[tuple[torch.Tensor, torch.Tensor]] = []

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self.batches.append(batch)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)


def test_trainer_sees_float_batches_flipped_at_random(anime_root: Path, tmp_path: Path) -> None:
    pl.seed_everything(0)
    module = AnimeFacesDataModule(anime_root, batch_size=8, value_range=[0, 1])
    model = RecordBatches()
    trainer = pl.Trainer(
        max_epochs=1,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(model, datamodule=module)

    assert len(model.batches) == 5
    images = torch.cat([images for images, _ in model.batches])
    assert images.dtype == torch.float32 and images.shape == (40, 3, 64, 64)
    assert float(images.min()) >= 0.0 and float(images.max()) <= 1.0
    stored = module.train_set.images.float().div(255).flatten(1)
    as_stored = (images.flatten(1)[:, None] == stored[None]).all(-1).any(1)
    mirrored = (images.flip(-1).flatten(1)[:, None] == stored[None]).all(-1).any(1)
    assert bool((as_stored | mirrored).all())
    assert 0 < int(mirrored.sum()) < 40
