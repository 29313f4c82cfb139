"""GANModule: the training step shared by every GAN objective (DESIGN §4).

One training step = one D update on the batch. Every ``n_critic`` D updates, ``g_repeats`` G
updates follow, each with fresh noise. WGAN weight clipping (``clip_value``) runs after every D
step and the WGAN-GP penalty (``gp_weight``) is added to the D loss; both are off by default.
``d_steps``/``g_steps`` count updates and are saved in checkpoints; Lightning's ``global_step``
counts every optimizer step and is not an iteration count.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import pytorch_lightning as pl
import torch
from torch import Tensor, nn
from torch.optim import Optimizer

from datamodules.spec import DataSpec
from gans.ema import ema_update
from gans.losses import GANLoss
from gans.penalties import clip_weights, gradient_penalty

NetworkFactory = Callable[..., nn.Module]
OptimizerFactory = Callable[..., Optimizer]


class GANModule(pl.LightningModule):
    """An unconditional GAN trained with manual optimization.

    Args:
        spec: the data's shape and value range (from the datamodule).
        generator: builds G; called with ``z_dim``, ``image_size``, ``channels``, ``value_range``.
        discriminator: builds D; called with ``image_size``, ``channels``; returns logits (N,).
        loss: the D and G objectives on logits.
        g_opt, d_opt: build each network's optimizer from its parameters.
        z_dim: noise size.
        n_critic: D updates per G turn.
        g_repeats: G updates per G turn.
        clip_value: clamp D's weights to [-c, c] after every D step (WGAN); None is off.
        gp_weight: weight of the gradient penalty (WGAN-GP); None is off.
        ema_decay: keep an EMA copy of G for samples; None is off.
        n_samples: size of the fixed-noise sample grid.
    """

    def __init__(
        self,
        spec: DataSpec,
        generator: NetworkFactory,
        discriminator: NetworkFactory,
        loss: GANLoss,
        g_opt: OptimizerFactory,
        d_opt: OptimizerFactory,
        z_dim: int = 100,
        n_critic: int = 1,
        g_repeats: int = 1,
        clip_value: float | None = None,
        gp_weight: float | None = None,
        ema_decay: float | None = None,
        n_samples: int = 64,
    ) -> None:
        super().__init__()
        if n_critic < 1 or g_repeats < 1:
            raise ValueError(f"n_critic and g_repeats must be >= 1, got {n_critic}, {g_repeats}")
        self.save_hyperparameters(
            ignore=["spec", "generator", "discriminator", "loss", "g_opt", "d_opt"]
        )
        self.automatic_optimization = False
        self.spec = spec
        self.loss = loss
        self.g_opt_factory = g_opt
        self.d_opt_factory = d_opt
        self.generator = generator(
            z_dim=z_dim,
            image_size=spec.image_size,
            channels=spec.channels,
            value_range=spec.value_range,
        )
        self.discriminator = discriminator(image_size=spec.image_size, channels=spec.channels)
        self.g_ema = None
        if ema_decay is not None:
            self.g_ema = copy.deepcopy(self.generator).requires_grad_(False)
        fixed = torch.randn(n_samples, z_dim, generator=torch.Generator().manual_seed(0))
        self.register_buffer("fixed_z", fixed)
        self.d_steps = 0
        self.g_steps = 0

    def configure_optimizers(self) -> tuple[Optimizer, Optimizer]:
        return (
            self.g_opt_factory(self.generator.parameters()),
            self.d_opt_factory(self.discriminator.parameters()),
        )

    def noise(self, n: int) -> Tensor:
        """Standard normal z ``(n, z_dim)`` on the module's device."""
        return torch.randn(n, self.hparams.z_dim, device=self.device)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        real, _ = batch
        opt_g, opt_d = self.optimizers()
        logs = self.d_step(real, opt_d)
        if self.d_steps % self.hparams.n_critic == 0:
            for _ in range(self.hparams.g_repeats):
                logs.update(self.g_step(real.size(0), opt_g))
        self.log_dict({f"train/{k}": v for k, v in logs.items()}, prog_bar=True)
        self.log("train/d_steps", float(self.d_steps))

    def d_step(self, real: Tensor, opt: Optimizer) -> dict[str, Tensor]:
        """One D update on a real batch ``(N, C, H, W)`` and as many fakes; returns its losses."""
        with torch.no_grad():
            fake = self.generator(self.noise(real.size(0)))
        with self.toggled_optimizer(opt):
            real_logits = self.discriminator(real)
            fake_logits = self.discriminator(fake)
            d_loss = self.loss.d(real_logits, fake_logits)
            logs = {"d_loss": d_loss.detach(), "d_real": real_logits.detach().mean()}
            logs["d_fake"] = fake_logits.detach().mean()
            total = d_loss
            if self.hparams.gp_weight is not None:
                gp = gradient_penalty(self.discriminator, real, fake)
                total = total + self.hparams.gp_weight * gp
                logs["gp"] = gp.detach()
            opt.zero_grad(set_to_none=True)
            self.manual_backward(total)
            opt.step()
        if self.hparams.clip_value is not None:
            clip_weights(self.discriminator.parameters(), self.hparams.clip_value)
        self.d_steps += 1
        return logs

    def g_step(self, n: int, opt: Optimizer) -> dict[str, Tensor]:
        """One G update on ``n`` fresh fakes; returns its loss."""
        with self.toggled_optimizer(opt):
            g_loss = self.loss.g(self.discriminator(self.generator(self.noise(n))))
            opt.zero_grad(set_to_none=True)
            self.manual_backward(g_loss)
            opt.step()
        self.g_steps += 1
        if self.g_ema is not None:
            ema_update(self.g_ema, self.generator, self.hparams.ema_decay)
        return {"g_loss": g_loss.detach()}

    @torch.no_grad()
    def sample(self, n: int | None = None, z: Tensor | None = None) -> Tensor:
        """Images in [0, 1] ``(n, C, H, W)`` from ``z`` (default: fresh noise), by the EMA G if any.

        G runs in eval mode (BatchNorm running statistics), so a sample does not depend on the
        other images in its batch.
        """
        if z is None:
            z = self.noise(n if n is not None else self.hparams.n_samples)
        net = self.g_ema if self.g_ema is not None else self.generator
        was_training = net.training
        net.eval()
        images = net(z.to(self.device))
        net.train(was_training)
        return self.spec.to_unit(images.float())

    def sample_fixed(self) -> Tensor:
        """The fixed-noise grid's images in [0, 1] (same noise for the whole run)."""
        return self.sample(z=self.fixed_z)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["gan_counters"] = {"d_steps": self.d_steps, "g_steps": self.g_steps}
        checkpoint["data_spec"] = asdict(self.spec)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        counters = checkpoint.get("gan_counters", {})
        self.d_steps = counters.get("d_steps", 0)
        self.g_steps = counters.get("g_steps", 0)
