"""TranslationGrid: the fixed faces, the grid file's size and legend, resume, and logging."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytorch_lightning as pl
import torch
from PIL import Image
from pytorch_lightning.loggers import WandbLogger
from torch.testing import assert_close

from callbacks.translation_grid import TranslationGrid
from tests.gans.test_stargan import attribute_loader, tiny_stargan
from tests.run_helpers import quiet_trainer


def _fit(model: pl.LightningModule, grid: TranslationGrid, n_batches: int) -> pl.Trainer:
    trainer = quiet_trainer(
        callbacks=[grid],
    )
    trainer.fit(model, attribute_loader(n_batches))
    return trainer


def test_grid_written_every_n_steps_and_at_the_end_with_a_row_per_face(tmp_path: Path) -> None:
    grid = TranslationGrid(tmp_path / "translations", every_n_steps=2, n_images=3)
    _fit(tiny_stargan(total_steps=None), grid, n_batches=3)
    files = sorted(p.name for p in (tmp_path / "translations").glob("*.png"))
    assert files == ["step_000002.png", "step_000003.png"]
    # 3 faces x (input + 5 single-domain changes) of 32x32 cells, padding 2.
    assert Image.open(tmp_path / "translations" / "step_000003.png").size == (
        6 * 34 + 2,
        3 * 34 + 2,
    )
    columns = (tmp_path / "translations" / "columns.txt").read_text().splitlines()
    assert columns == [
        "0: input",
        "1: set Black_Hair",
        "2: set Blond_Hair",
        "3: set Brown_Hair",
        "4: flip Male",
        "5: flip Young",
    ]


def test_fixed_faces_are_the_first_batch_after_transfer_and_survive_a_resume(
    tmp_path: Path,
) -> None:
    grid = TranslationGrid(tmp_path, every_n_steps=None, n_images=2)
    _fit(tiny_stargan(total_steps=None), grid, n_batches=2)
    images, labels = next(iter(attribute_loader(2)))
    assert grid.images.dtype == torch.float32
    assert_close(grid.images, images[:2])
    assert_close(grid.labels, labels[:2])

    restored = TranslationGrid(tmp_path, every_n_steps=None, n_images=2)
    restored.load_state_dict(grid.state_dict())
    restored.on_train_batch_start(None, None, (torch.zeros(4, 3, 32, 32), labels), 0)
    assert_close(restored.images, images[:2])  # kept, not replaced by the resumed run's batch
    assert restored.state_dict()["last_saved"] == 2


def test_grid_is_logged_to_wandb(tmp_path: Path, monkeypatch) -> None:
    model = tiny_stargan(total_steps=None)
    grid = TranslationGrid(tmp_path, every_n_steps=None, n_images=2)
    _fit(model, grid, n_batches=1)
    logger = WandbLogger(save_dir=str(tmp_path), offline=True)
    logged = []
    monkeypatch.setattr(logger, "log_image", lambda key, paths, step: logged.append((key, step)))
    model.d_steps = 5
    trainer = SimpleNamespace(is_global_zero=True, loggers=[logger], global_step=7)
    path = grid.save(trainer, model)
    assert path == tmp_path / "step_000005.png" and path.is_file()
    assert logged == [("translations", 7)]
    assert grid.save(trainer, model) is None  # once per step
