"""ModelCheckpoint that always leaves the final state in ``last.ckpt``."""

from __future__ import annotations

import pytorch_lightning as pl
from pytorch_lightning.callbacks import ModelCheckpoint


class LastCheckpoint(ModelCheckpoint):
    """Lightning's ModelCheckpoint, plus a ``last.ckpt`` of the final state at the end of fit.

    With ``every_n_train_steps`` set, Lightning saves ``last.ckpt`` only at those steps, so the
    steps after the last multiple would be lost; this saves them when training ends.
    """

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if (
            self.save_last
            and not self._should_skip_saving_checkpoint(trainer)
            and self._last_global_step_saved != trainer.global_step
        ):
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))
        super().on_train_end(trainer, pl_module)
