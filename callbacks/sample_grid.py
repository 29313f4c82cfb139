"""Sample grids at fixed noise: PNG files in the run dir and an image in every logger."""

from __future__ import annotations

from pathlib import Path

import pytorch_lightning as pl
from pytorch_lightning.loggers import TensorBoardLogger, WandbLogger
from torch import Tensor
from torchvision.utils import make_grid, save_image


class SampleGrid(pl.Callback):
    """Every ``every_n_steps`` D steps and at the end of training, save ``samples/step_XXXXXX.png``;
    at the end of each epoch in ``at_epochs`` (counted from 1), ``samples/epoch_XXX.png``.

    The module provides ``sample_fixed() -> Tensor (N, C, H, W) in [0, 1]`` (same noise all run,
    so the grids show progress) and a ``d_steps`` counter (the step in the file name). For a
    conditional module (a ``fixed_y`` buffer and a ``spec.vocab``), ``samples/conditions.txt``
    labels every cell of the grid with its condition in the dataset's words.
    """

    def __init__(
        self,
        dirpath: str | Path,
        every_n_steps: int | None = 200,
        nrow: int = 8,
        at_epochs: list[int] | None = None,
    ) -> None:
        self.dirpath = Path(dirpath)
        self.every_n_steps = every_n_steps
        self.nrow = nrow
        self.at_epochs = set(at_epochs or ())
        self._last_saved: int | None = None

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, *_) -> None:
        step = pl_module.d_steps
        if self.every_n_steps and step % self.every_n_steps == 0:
            self.save(trainer, pl_module)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        epoch = trainer.current_epoch + 1
        if epoch in self.at_epochs and trainer.is_global_zero:
            self.write(trainer, pl_module, f"epoch_{epoch:03d}.png")

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.save(trainer, pl_module)

    def save(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> Path | None:
        """Write the grid for the current step (once per step, on rank 0) and log it."""
        step = pl_module.d_steps
        if not trainer.is_global_zero or self._last_saved == step:
            return None
        self._last_saved = step
        return self.write(trainer, pl_module, f"step_{step:06d}.png")

    def write(self, trainer: pl.Trainer, pl_module: pl.LightningModule, name: str) -> Path:
        """Write the grid as ``dirpath/name`` with its legend, and log it."""
        grid = make_grid(pl_module.sample_fixed().cpu(), nrow=self.nrow, padding=2)
        self.dirpath.mkdir(parents=True, exist_ok=True)
        path = self.dirpath / name
        save_image(grid, path)
        self.write_legend(pl_module)
        log_grid(trainer, "samples", path, grid)
        return path

    def write_legend(self, pl_module: pl.LightningModule) -> Path | None:
        """``conditions.txt``: ``row,column: words`` for each grid cell (conditional modules)."""
        conditions = getattr(pl_module, "fixed_y", None)
        vocab = getattr(getattr(pl_module, "spec", None), "vocab", None)
        if conditions is None or vocab is None:
            return None
        lines = [
            f"{i // self.nrow},{i % self.nrow}: {_words(vocab.decode(y))}"
            for i, y in enumerate(conditions.cpu())
        ]
        path = self.dirpath / "conditions.txt"
        path.write_text("\n".join(lines) + "\n")
        return path

    def state_dict(self) -> dict[str, int | None]:
        return {"last_saved": self._last_saved}

    def load_state_dict(self, state_dict: dict[str, int | None]) -> None:
        self._last_saved = state_dict.get("last_saved")


def log_grid(trainer: pl.Trainer, key: str, path: Path, grid: Tensor) -> None:
    """Log a saved grid (``path``, the image ``(3, H, W)`` in [0, 1]) to every W&B and
    TensorBoard logger of ``trainer`` under ``key``."""
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger):
            logger.log_image(key, [str(path)], step=trainer.global_step)
        elif isinstance(logger, TensorBoardLogger):
            logger.experiment.add_image(key, grid, global_step=trainer.global_step)


def _words(decoded: str | list[str]) -> str:
    return decoded if isinstance(decoded, str) else ", ".join(decoded)
