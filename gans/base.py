"""GANModule: the training step shared by every GAN objective (DESIGN §4).

One training step = one D update on the batch (images and, for conditional data, conditions).
Every ``n_critic`` D updates, ``g_repeats`` G updates follow, each with fresh noise. WGAN weight
clipping (``clip_value``) runs after every D step and the WGAN-GP penalty (``gp_weight``) is added
to the D loss; both are off by default.
``d_steps``/``g_steps`` count updates and are saved in checkpoints; Lightning's ``global_step``
counts every optimizer step and is not an iteration count.

A conditional model (``conditional: true``) gives G and D the batch's conditions; options are the
anime study's mismatch negatives (D also sees real images with wrong conditions, as fakes) and
ACGAN's auxiliary classification loss (``aux_weight``; D returns ``(logits, class_logits)``).

GPU path (DESIGN §6): ``channels_last`` keeps weights and images in NHWC layout, ``compile`` runs
G and D through ``torch.compile`` in the training step, Adam takes its fused kernel on a GPU, and
the step never waits for the device: it logs tensors, never Python numbers read from them.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import asdict
from typing import Any

import pytorch_lightning as pl
import torch
from torch import Tensor, nn
from torch.optim import Optimizer

from datamodules.spec import DataSpec
from gans.augment import diff_augment
from gans.batchnorm import frozen_batchnorm
from gans.conditioning import (
    MISMATCH_KINDS,
    BindingTable,
    aux_classification_loss,
    group_sizes,
    random_conditions,
    require_conditions,
    wrong_conditions,
)
from gans.ema import ema_update
from gans.fused import build_optimizer
from gans.losses import GANLoss, mode_seeking_loss
from gans.penalties import clip_weights, gradient_penalty
from gans.scalars import device_scalar

NetworkFactory = Callable[..., nn.Module]
OptimizerFactory = Callable[..., Optimizer]


class GANModule(pl.LightningModule):
    """A GAN, unconditional or conditional, trained with manual optimization.

    Args:
        spec: the data's shape and value range (from the datamodule).
        generator: builds G; called with ``z_dim``, ``image_size``, ``channels``, ``value_range``
            (and ``cond_dim`` when conditional); G(z) or G(z, y) gives images.
        discriminator: builds D; called with ``image_size``, ``channels`` (and ``cond_dim``);
            D(x) or D(x, y) gives logits (N,), or ``(logits, class_logits)`` for ACGAN.
        loss: the D and G objectives on logits.
        g_opt, d_opt: build each network's optimizer from its parameters.
        z_dim: noise size.
        n_critic: D updates per G turn.
        g_repeats: G updates per G turn.
        clip_value: clamp D's weights to [-c, c] after every D step (WGAN); None is off.
        gp_weight: weight of the gradient penalty (WGAN-GP); None is off.
        ema_decay: keep an EMA copy of G for samples; None is off.
        n_samples: size of the fixed-noise sample grid.
        conditional: G and D take the data's conditions (the data must have them).
        mismatch_negatives: also train D on real images with wrong conditions, labelled fake.
        mismatch_kind: how the wrong conditions are made: ``roll`` (another image's, the anime
            study's), ``rebind`` (ICLEVR: the same colours and shapes, bound wrongly),
            ``reshape`` (ICLEVR: one object's shape changed) or ``rebind_reshape`` (either, per
            row).
        aux_weight: weight of ACGAN's auxiliary classification loss; None is off.
        g_aux_weight: the auxiliary loss's weight in G's objective alone, when it should pull G
            harder (or softer) towards images D's classifier reads as their conditions than D's
            classifier is trained; None is ``aux_weight``. Needs ``aux_weight``.
        augment: DiffAugment transforms applied to every image D sees (``["translation",
            "cutout"]``); None or empty is off.
        mode_seeking_weight: weight of MSGAN's mode-seeking term in G's loss (each G step makes
            a second image from new noise for half of its conditions); None is off.
        d_bn_real_stats: D's BatchNorm layers learn their running statistics from real batches
            only and normalise every other batch (fakes, mismatched pairs, G's step) with them,
            so an auxiliary classifier judges fakes as it judges real images.
        d_joint_batch: the D step passes reals, fakes and mismatched pairs through D as one batch
            (as BigGAN's D step joins real and fake), so a BatchNorm D normalises them by shared
            statistics and cannot tell them apart by the statistics of their separate batches
            (``benchmarks/binding_probe.py``); G's step still shows D its fakes alone.
        g_joint_batch: G's step shows D its fakes beside the real batch, in one batch, and
            trains on the fakes' logits, so a BatchNorm D judges them under the mixed statistics
            that ``d_joint_batch`` trains it with rather than a batch of fakes' own.
        reuse_fakes: the G step that follows a D step trains on that D step's fakes (as the
            PyTorch DCGAN example does) rather than on new ones; G has not changed in between,
            so this only saves a G forward pass. Further ``g_repeats`` draw new fakes.
        channels_last: keep G's and D's weights and the real images in channels-last (NHWC)
            memory layout, which cuDNN and oneDNN convolve faster; the same results up to
            rounding.
        compile: run G and D through ``torch.compile`` in training steps. The gradient penalty
            (a double backward, which compiled graphs do not support) and sampling run eagerly.
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
        conditional: bool = False,
        mismatch_negatives: bool = False,
        mismatch_kind: str = "roll",
        aux_weight: float | None = None,
        g_aux_weight: float | None = None,
        augment: Sequence[str] | None = None,
        mode_seeking_weight: float | None = None,
        d_bn_real_stats: bool = False,
        d_joint_batch: bool = False,
        g_joint_batch: bool = False,
        reuse_fakes: bool = True,
        channels_last: bool = False,
        compile: bool = False,
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
        if conditional:
            require_conditions(spec, "model=dcgan, wgan, wgan_gp, lsgan, hinge")
        if (d_joint_batch or g_joint_batch) and d_bn_real_stats:
            raise ValueError(
                "d_joint_batch / g_joint_batch and d_bn_real_stats exclude each other: a joint"
                " batch has no real-only statistics to keep; set one of them to false"
            )
        if mismatch_kind not in MISMATCH_KINDS:
            raise ValueError(
                f"mismatch_kind must be one of {', '.join(MISMATCH_KINDS)}, got {mismatch_kind!r}"
            )
        if mismatch_kind in ("reshape", "rebind_reshape") and spec.condition_kind != "multi_hot":
            raise ValueError(
                f"mismatch_kind={mismatch_kind} changes ICLEVR objects' shapes and needs multi-hot"
                f" '<colour> <shape>' conditions; data {spec.name!r} has"
                f" {spec.condition_kind!r} conditions: use roll or rebind"
            )
        if g_aux_weight is not None and aux_weight is None:
            raise ValueError(
                "g_aux_weight weighs the auxiliary classifier's loss in G's objective, but"
                " aux_weight is null, so D has no classifier trained: set model.aux_weight too"
            )
        self.g_aux_weight = aux_weight if g_aux_weight is None else g_aux_weight
        # Rebinding and reshaping need the colour x shape table of the condition names (ICLEVR).
        self.binding = None
        if mismatch_negatives and mismatch_kind != "roll":
            self.binding = BindingTable(spec.condition_names)
        cond = {"cond_dim": spec.condition_dim} if conditional else {}
        self.generator = generator(
            z_dim=z_dim,
            image_size=spec.image_size,
            channels=spec.channels,
            value_range=spec.value_range,
            **cond,
        )
        self.discriminator = discriminator(
            image_size=spec.image_size, channels=spec.channels, **cond
        )
        if channels_last:
            self.generator.to(memory_format=torch.channels_last)
            self.discriminator.to(memory_format=torch.channels_last)
        # The networks as the training step calls them; a plain dict, so not registered as
        # submodules (the state dict keeps its keys).
        self.train_nets = {
            "generator": torch.compile(self.generator) if compile else self.generator,
            "discriminator": torch.compile(self.discriminator) if compile else self.discriminator,
        }
        self.g_ema = None
        if ema_decay is not None:
            self.g_ema = copy.deepcopy(self.generator).requires_grad_(False)
        fixed = torch.randn(n_samples, z_dim, generator=torch.Generator().manual_seed(0))
        self.register_buffer("fixed_z", fixed)
        if conditional:
            seeded = torch.Generator().manual_seed(0)
            self.register_buffer("fixed_y", random_conditions(spec, n_samples, seeded))
        # One-hot groups' sizes for the aux loss (a softmax per group), None for multi-hot.
        self.aux_groups = group_sizes(spec)
        self.d_steps = 0
        self.g_steps = 0

    def configure_optimizers(self) -> tuple[Optimizer, Optimizer]:
        return (
            build_optimizer(self.g_opt_factory, self.generator.parameters()),
            build_optimizer(self.d_opt_factory, self.discriminator.parameters()),
        )

    def noise(self, n: int) -> Tensor:
        """Standard normal z ``(n, z_dim)`` on the module's device."""
        return torch.randn(n, self.hparams.z_dim, device=self.device)

    def generate(
        self, z: Tensor, y: Tensor | None, net: nn.Module | Callable[..., Tensor] | None = None
    ) -> Tensor:
        """Images from noise ``z`` and, for a conditional model, conditions ``y``, by ``net``
        (default: G as the training step runs it, compiled with ``compile``)."""
        net = net if net is not None else self.train_nets["generator"]
        return net(z) if y is None else net(z, y)

    def discriminate(
        self, x: Tensor, y: Tensor | None, eager: bool = False, real_batch: bool = False
    ) -> tuple[Tensor, Tensor | None]:
        """D's logits ``(N,)`` and, for ACGAN, its class logits ``(N, cond_dim)`` (else None).

        With ``augment`` set, D sees the images through DiffAugment (differentiable, so G's
        gradients pass through it). ``eager`` bypasses ``torch.compile`` (for double backward).
        ``real_batch`` says ``x`` is a batch of real images with their own conditions: the only
        batches D's BatchNorm layers learn from under ``d_bn_real_stats``.
        """
        if self.hparams.augment:
            x = diff_augment(x, self.hparams.augment)
        net = self.discriminator if eager else self.train_nets["discriminator"]
        frozen = self.hparams.d_bn_real_stats and not real_batch
        with frozen_batchnorm(self.discriminator) if frozen else nullcontext():
            out = net(x) if y is None else net(x, y)
        return out if isinstance(out, tuple) else (out, None)

    def discriminate_joint(
        self, real: Tensor, fake: Tensor, y: Tensor | None, wrong: Tensor | None
    ) -> tuple[Tensor, Tensor | None, Tensor, Tensor | None]:
        """D's logits for reals, fakes and (when ``wrong`` is given) reals under the wrong
        conditions, from one forward pass over all of them; with the reals' class logits."""
        images, conditions = [real, fake], None if y is None else [y, y]
        if wrong is not None:
            images.append(real)
            conditions.append(wrong)
        joined = None if conditions is None else torch.cat(conditions)
        logits, classes = self.discriminate(torch.cat(images), joined, real_batch=True)
        n = real.size(0)
        wrong_logits = logits[2 * n :] if wrong is not None else None
        return logits[:n], None if classes is None else classes[:n], logits[n : 2 * n], wrong_logits

    def discriminate_fakes(
        self, fake: Tensor, y: Tensor | None, real: Tensor | None
    ) -> tuple[Tensor, Tensor | None]:
        """D's logits (and class logits) for G's fakes: alone, or under ``g_joint_batch``
        from one pass over ``real`` (with the fakes' conditions) and the fakes."""
        if not self.hparams.g_joint_batch:
            return self.discriminate(fake, y)
        if real is None:
            raise ValueError("g_joint_batch needs the real batch beside G's fakes")
        n = real.size(0)
        joined = None if y is None else torch.cat([y, y])
        logits, classes = self.discriminate(torch.cat([real, fake]), joined)
        return logits[n:], None if classes is None else classes[n:]

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        real, conditions = batch
        if self.hparams.channels_last:
            real = real.contiguous(memory_format=torch.channels_last)
        y = conditions if self.hparams.conditional else None
        opt_g, opt_d = self.optimizers()
        g_turn = (self.d_steps + 1) % self.hparams.n_critic == 0
        # G is unchanged between this D step and the next G step, so that G step can reuse
        # these fakes (with their graph) instead of drawing new ones: one G forward fewer.
        keep_graph = g_turn and self.hparams.reuse_fakes
        z = self.noise(real.size(0))
        with torch.set_grad_enabled(keep_graph):
            fake = self.generate(z, y)
        logs = self.d_step(real, y, fake.detach(), opt_d)
        if g_turn:
            for repeat in range(self.hparams.g_repeats):
                if keep_graph and repeat == 0:
                    logs.update(self.g_step(z, y, opt_g, fake, real=real))
                else:
                    logs.update(self.g_step(self.noise(real.size(0)), y, opt_g, real=real))
        self.log_dict({f"train/{k}": v for k, v in logs.items()}, prog_bar=True)
        self.log("train/d_steps", device_scalar(self.d_steps, self.device))

    def d_step(
        self, real: Tensor, y: Tensor | None, fake: Tensor, opt: Optimizer
    ) -> dict[str, Tensor]:
        """One D update on real images ``(N, C, H, W)`` (with their conditions ``y``) and as many
        fakes ``fake`` (no graph) made for the same conditions; returns its losses."""
        with self.toggled_optimizer(opt):
            wrong = None
            if self.hparams.mismatch_negatives:
                wrong = wrong_conditions(y, self.hparams.mismatch_kind, self.binding)
            if self.hparams.d_joint_batch:
                real_logits, real_class, fake_logits, wrong_logits = self.discriminate_joint(
                    real, fake, y, wrong
                )
            else:
                real_logits, real_class = self.discriminate(real, y, real_batch=True)
                fake_logits, _ = self.discriminate(fake, y)
                wrong_logits = None if wrong is None else self.discriminate(real, wrong)[0]
            logs = {"d_real": real_logits.detach().mean(), "d_fake": fake_logits.detach().mean()}
            if wrong_logits is not None:
                logs["d_mismatch"] = wrong_logits.detach().mean()
                fake_logits = torch.cat([fake_logits, wrong_logits])
            d_loss = self.loss.d(real_logits, fake_logits)
            logs["d_loss"] = d_loss.detach()
            total = d_loss
            if self.hparams.aux_weight is not None:
                aux = aux_classification_loss(real_class, y, self.aux_groups)
                total = total + self.hparams.aux_weight * aux
                logs["d_aux"] = aux.detach()
            if self.hparams.gp_weight is not None:
                gp = gradient_penalty(lambda x: self.discriminate(x, y, eager=True)[0], real, fake)
                total = total + self.hparams.gp_weight * gp
                logs["gp"] = gp.detach()
            opt.zero_grad(set_to_none=True)
            self.manual_backward(total)
            opt.step()
        if self.hparams.clip_value is not None:
            clip_weights(self.discriminator.parameters(), self.hparams.clip_value)
        self.d_steps += 1
        return logs

    def g_step(
        self,
        z: Tensor,
        y: Tensor | None,
        opt: Optimizer,
        fake: Tensor | None = None,
        real: Tensor | None = None,
    ) -> dict[str, Tensor]:
        """One G update on the fakes of noise ``z`` ``(n, z_dim)`` (and conditions ``y``
        ``(n, cond_dim)`` when the model is conditional): ``fake``, made from them by the
        current G with its graph, or else made here; returns its losses. ``real`` (images of
        the same conditions) joins the fakes in D's batch under ``g_joint_batch``."""
        with self.toggled_optimizer(opt):
            if fake is None:
                fake = self.generate(z, y)
            fake_logits, fake_class = self.discriminate_fakes(fake, y, real)
            g_loss = self.loss.g(fake_logits)
            logs = {"g_loss": g_loss.detach()}
            total = g_loss
            if self.hparams.aux_weight is not None:
                aux = aux_classification_loss(fake_class, y, self.aux_groups)
                total = total + self.g_aux_weight * aux
                logs["g_aux"] = aux.detach()
            if self.hparams.mode_seeking_weight is not None:
                half = max(1, len(z) // 2)
                z_b = self.noise(half)
                fake_b = self.generate(z_b, None if y is None else y[:half])
                ms = mode_seeking_loss(fake[:half], fake_b, z[:half], z_b)
                total = total + self.hparams.mode_seeking_weight * ms
                logs["g_mode_seeking"] = ms.detach()
            opt.zero_grad(set_to_none=True)
            self.manual_backward(total)
            opt.step()
        self.g_steps += 1
        if self.g_ema is not None:
            ema_update(self.g_ema, self.generator, self.hparams.ema_decay)
        return logs

    @torch.no_grad()
    def sample(
        self, n: int | None = None, z: Tensor | None = None, y: Tensor | None = None
    ) -> Tensor:
        """Images in [0, 1] ``(n, C, H, W)`` from ``z`` (default: fresh noise) and, for a
        conditional model, conditions ``y`` (default: random valid ones), by the EMA G if any.

        G runs in eval mode (BatchNorm running statistics), so a sample does not depend on the
        other images in its batch.
        """
        if z is None:
            n = n if n is not None else (len(y) if y is not None else self.hparams.n_samples)
            z = self.noise(n)
        if self.hparams.conditional and y is None:
            y = random_conditions(self.spec, len(z))
        y = y.to(self.device) if self.hparams.conditional else None
        net = self.g_ema if self.g_ema is not None else self.generator
        was_training = net.training
        net.eval()
        images = self.generate(z.to(self.device), y, net)
        net.train(was_training)
        return self.spec.to_unit(images.float())

    def sample_fixed(self) -> Tensor:
        """The fixed grid's images in [0, 1] (same noise and conditions for the whole run)."""
        return self.sample(z=self.fixed_z, y=getattr(self, "fixed_y", None))

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["gan_counters"] = {"d_steps": self.d_steps, "g_steps": self.g_steps}
        checkpoint["data_spec"] = asdict(self.spec)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        counters = checkpoint.get("gan_counters", {})
        self.d_steps = counters.get("d_steps", 0)
        self.g_steps = counters.get("g_steps", 0)
