"""Small GANModules and data for CPU tests of the training step."""

from __future__ import annotations

from functools import partial

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from datamodules.spec import DataSpec
from gans import losses
from gans.base import GANModule
from gans.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from tests.run_helpers import quiet_trainer

SPEC = DataSpec(image_size=32, name="test")


def tiny_gan(**kwargs) -> GANModule:
    """A 32x32 DCGAN of width 8 (fast on CPU); kwargs override GANModule's arguments."""
    args = dict(
        spec=SPEC,
        generator=partial(DCGANGenerator, width=8),
        discriminator=partial(DCGANDiscriminator, width=8),
        loss=losses.GANLoss(d=losses.bce_d_loss, g=losses.bce_g_loss_nonsaturating),
        g_opt=partial(torch.optim.Adam, lr=2e-4, betas=(0.5, 0.999)),
        d_opt=partial(torch.optim.Adam, lr=2e-4, betas=(0.5, 0.999)),
        z_dim=16,
        n_samples=4,
    )
    args.update(kwargs)
    return GANModule(**args)


def loader(n_batches: int, batch_size: int = 4) -> DataLoader:
    """Random images in [-1, 1] with empty conditions, as the datamodules yield them."""
    g = torch.Generator().manual_seed(0)
    images = torch.rand(n_batches * batch_size, 3, 32, 32, generator=g) * 2 - 1
    return DataLoader(TensorDataset(images, torch.zeros(len(images), 0)), batch_size=batch_size)


def fit(model: GANModule, n_batches: int, **trainer_kwargs) -> pl.Trainer:
    """Train ``model`` on ``n_batches`` batches on CPU, without logging or checkpoints."""
    trainer = quiet_trainer(**trainer_kwargs)
    trainer.fit(model, loader(n_batches))
    return trainer
