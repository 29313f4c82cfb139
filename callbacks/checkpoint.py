"""ModelCheckpoint that leaves each epoch's end and the final state in ``last.ckpt``."""

from __future__ import annotations

import warnings
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.callbacks import ModelCheckpoint


class LastCheckpoint(ModelCheckpoint):
    """Lightning's ModelCheckpoint, plus a ``last.ckpt`` at the end of every epoch and of fit.

    With ``every_n_train_steps`` set, Lightning saves ``last.ckpt`` only at those steps, so the
    steps after the last multiple would be lost; this also saves at each epoch's end and when
    training ends. A step-triggered save that falls on an epoch's last batch is left to the
    epoch's end: Lightning resumes a checkpoint taken there into a miscounted epoch, and the
    next mid-epoch checkpoint of that run then resumes by repeating batches.

    Lightning warns at every step-triggered save of a manually optimised model that the
    checkpoint holds the state after the optimizer steps; that is the state our runs resume
    from (the batch's D and G steps, with their counters), so the warning is silenced here.
    """

    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if batch_idx + 1 < trainer.num_training_batches:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", "Using ModelCheckpoint with manual optimization")
                super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_train_epoch_end(trainer, pl_module)
        self._save_last_if_new(trainer)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._save_last_if_new(trainer)
        super().on_train_end(trainer, pl_module)

    def _save_last_if_new(self, trainer: pl.Trainer) -> None:
        """Save ``last.ckpt`` unless this step is already saved."""
        if (
            self.save_last
            and not self._should_skip_saving_checkpoint(trainer)
            and self._last_global_step_saved != trainer.global_step
        ):
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))
