"""The schedule shared by metric callbacks: score every N D steps and at the end of training, log
the scores with ``d_steps``, keep ``best.ckpt`` when the monitored score improves.

A subclass gives ``score(pl_module, datamodule) -> dict[str, float]``; ``evaluate.py`` calls the
same method on a loaded checkpoint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import pytorch_lightning as pl
import torch


class PeriodicScore(pl.Callback):
    """Args:
    every_n_steps: also score every this many D steps; None only at the end.
    monitor: the metric that picks the best checkpoint; None keeps none.
    mode: ``"max"`` (accuracies) or ``"min"`` (distances, errors).
    best_dirpath: folder of ``best.ckpt``.
    """

    def __init__(
        self,
        every_n_steps: int | None = 500,
        monitor: str | None = None,
        mode: Literal["max", "min"] = "max",
        best_dirpath: str | Path | None = None,
    ) -> None:
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
        self.every_n_steps = every_n_steps
        self.monitor = monitor
        self.mode = mode
        self.best_dirpath = Path(best_dirpath) if best_dirpath is not None else None
        self.best: float | None = None
        self._last_step: int | None = None

    def score(self, pl_module: pl.LightningModule, datamodule: Any = None) -> dict[str, float]:
        raise NotImplementedError

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, *_) -> None:
        if self.every_n_steps and pl_module.d_steps % self.every_n_steps == 0:
            self._record(trainer, pl_module)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._record(trainer, pl_module)

    def _record(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        step = pl_module.d_steps
        if self._last_step == step:
            return
        self._last_step = step
        metrics = self.score(pl_module, getattr(trainer, "datamodule", None))
        for key, value in metrics.items():
            trainer.callback_metrics[key] = torch.tensor(value)
        for logger in trainer.loggers:
            logger.log_metrics({**metrics, "d_steps": float(step)}, step=trainer.global_step)
        if self.monitor is None or self.best_dirpath is None:
            return
        value = metrics[self.monitor]
        if self.best is None or (value > self.best if self.mode == "max" else value < self.best):
            self.best = value
            trainer.save_checkpoint(self.best_dirpath / "best.ckpt", weights_only=False)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best = state_dict.get("best")
