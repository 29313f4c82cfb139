"""Translation grids of an image-to-image model (StarGAN): PNG files and an image in loggers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from torch import Tensor
from torchvision.utils import make_grid, save_image

from callbacks.sample_grid import SampleGrid, log_grid


class TranslationGrid(SampleGrid):
    """Every ``every_n_steps`` D steps and at the end of training, save
    ``translations/step_XXXXXX.png``: one row per fixed real face, the face then its translation
    to each single-domain change, with ``translations/columns.txt`` naming the columns.

    The fixed faces are the first ``n_images`` of the first training batch, kept for the whole run
    (and in checkpoints, so a resumed run shows the same faces). The module provides
    ``translation_rows(images, labels) -> (cells in [0, 1], column names)`` and ``d_steps``
    (as ``gans.stargan.StarGAN``).
    """

    def __init__(
        self, dirpath: str | Path, every_n_steps: int | None = 500, n_images: int = 8
    ) -> None:
        super().__init__(dirpath, every_n_steps)
        self.n_images = n_images
        self.images: Tensor | None = None
        self.labels: Tensor | None = None

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if self.images is None:
            images, labels = batch
            self.images = images[: self.n_images].detach().float().cpu()
            self.labels = labels[: self.n_images].detach().float().cpu()

    def save(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> Path | None:
        """Write the grid for the current step (once per step, on rank 0) and log it."""
        step = pl_module.d_steps
        if not trainer.is_global_zero or self._last_saved == step or self.images is None:
            return None
        self._last_saved = step
        grid, columns = translation_grid(pl_module, self.images, self.labels)
        self.dirpath.mkdir(parents=True, exist_ok=True)
        path = self.dirpath / f"step_{step:06d}.png"
        save_image(grid, path)
        lines = [f"{i}: {name}" for i, name in enumerate(columns)]
        (self.dirpath / "columns.txt").write_text("\n".join(lines) + "\n")
        log_grid(trainer, "translations", path, grid)
        return path

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "images": self.images, "labels": self.labels}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        self.images = state_dict.get("images")
        self.labels = state_dict.get("labels")


@torch.no_grad()
def translation_grid(
    pl_module: pl.LightningModule, images: Tensor, labels: Tensor, padding: int = 2
) -> tuple[Tensor, list[str]]:
    """The grid image ``(3, H', W')`` in [0, 1] of ``images (N, C, H, W)`` (in the data's range,
    labels ``(N, D)``): a row per face, the face then each single-domain translation; and the
    column names."""
    cells, columns = pl_module.translation_rows(images, labels)
    return make_grid(cells.cpu(), nrow=len(columns), padding=padding), columns
