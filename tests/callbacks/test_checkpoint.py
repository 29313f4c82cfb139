"""LastCheckpoint: step-triggered saves of a manually optimised GAN, quietly."""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from callbacks.checkpoint import LastCheckpoint
from tests.gans.helpers import loader, tiny_gan
from tests.run_helpers import quiet_trainer


def test_step_saves_of_a_gan_write_last_ckpt_without_lightnings_manual_optimization_warning(
    tmp_path: Path,
) -> None:
    torch.manual_seed(0)
    model = tiny_gan(n_samples=0)
    checkpoint = LastCheckpoint(
        dirpath=tmp_path, save_last=True, save_top_k=0, every_n_train_steps=2
    )
    trainer = quiet_trainer(callbacks=[checkpoint], enable_checkpointing=True, max_steps=4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.fit(model, loader(n_batches=3))
    messages = [str(w.message) for w in caught]
    assert not [m for m in messages if "manual optimization" in m], messages
    saved = torch.load(tmp_path / "last.ckpt", weights_only=False)
    assert saved["global_step"] == 4
    assert model.d_steps == 2 and model.g_steps == 2
