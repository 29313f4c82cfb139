"""StarGAN (Choi et al. 2018): one generator translating faces between attribute domains.

One training step = one D update on the batch; every ``n_critic`` D updates, one G update. The
target domains of a batch are its own labels shuffled (as yunjey/stargan's solver does).

- D: WGAN-GP adversarial loss on the patch scores (eq. 1 with the gradient penalty, in fp32) plus
  ``lambda_cls`` x the domain classification loss of real images against their labels (eq. 2).
- G: adversarial loss of the translations plus ``lambda_cls`` x their classification loss against
  the target labels (eq. 3) plus ``lambda_rec`` x the cycle reconstruction L1 (eq. 4), translating
  back to the original labels.

Both learning rates stay fixed for ``decay_start`` D steps, then fall linearly to 0 at
``total_steps`` (the paper: "linearly decay the learning rate to 0"; LambdaLR schedulers stepped
by the module, so checkpoints hold them and a resumed run continues the schedule), and training
stops there. ``d_steps``/``g_steps`` count updates and are saved in checkpoints, as in GANModule.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from functools import partial
from typing import Any

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

from datamodules.errors import DataError
from datamodules.spec import DataSpec
from gans.domains import HAIR_ATTRIBUTES, hair_indices, shuffled_targets, single_domain_targets
from gans.fused import build_optimizer
from gans.losses import wgan_d_loss, wgan_g_loss
from gans.penalties import gradient_penalty
from gans.scalars import device_scalar

NetworkFactory = Callable[..., nn.Module]
OptimizerFactory = Callable[..., Optimizer]


def domain_classification_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """BCE of domain logits ``(N, D)`` against 0/1 labels ``(N, D)``, summed over the domains and
    averaged over the images (the reference's ``size_average=False`` / batch size)."""
    bce = F.binary_cross_entropy_with_logits(logits.float(), labels.float(), reduction="sum")
    return bce / logits.size(0)


def reconstruction_loss(images: Tensor, reconstructed: Tensor) -> Tensor:
    """Cycle-consistency L1, mean |x - G(G(x, c_target), c_original)| (eq. 4)."""
    return (images.float() - reconstructed.float()).abs().mean()


def patch_scores(src: Tensor) -> Tensor:
    """D's real/fake patch map ``(N, 1, s, s)`` -> one score per image ``(N,)`` (its mean)."""
    return src.float().flatten(1).mean(1)


def linear_decay(step: int, decay_start: int, total_steps: int | None) -> float:
    """Learning-rate factor after ``step`` D steps: 1 until ``decay_start``, then linear to 0 at
    ``total_steps`` (and 0 after); always 1 when ``total_steps`` is None."""
    if total_steps is None or step < decay_start:
        return 1.0
    if step >= total_steps:
        return 0.0
    return (total_steps - step) / (total_steps - decay_start)


@contextmanager
def per_image_statistics(net: nn.Module) -> Iterator[None]:
    """Run ``net``'s instance norms on each image's own statistics, whatever the module's mode,
    without touching their running statistics.

    The reference never puts G in eval mode, so its translations always use per-image
    statistics; here they do too, also for a checkpoint loaded in eval mode.
    """
    norms = [m for m in net.modules() if isinstance(m, nn.InstanceNorm2d)]
    saved = [(m.training, m.momentum) for m in norms]
    for m in norms:
        m.training, m.momentum = True, 0.0  # momentum 0: running statistics stay as they are
    try:
        yield
    finally:
        for m, (training, momentum) in zip(norms, saved, strict=True):
            m.training, m.momentum = training, momentum


class StarGAN(pl.LightningModule):
    """StarGAN on binary attribute data (CelebA), trained with manual optimization.

    The domains are the data's attributes (``spec.condition_names``, from ``data.attributes``).

    Args:
        spec: the data's shape, value range and attributes (from the datamodule).
        generator: builds G; called with ``cond_dim``, ``channels``, ``value_range``;
            ``G(x, c)`` gives images in the data's range.
        discriminator: builds D; called with ``image_size``, ``channels``, ``cond_dim``;
            ``D(x)`` gives ``(patch scores (N, 1, s, s), domain logits (N, cond_dim))``.
        g_opt, d_opt: build each network's optimizer from its parameters.
        lambda_cls: weight of the domain classification losses.
        lambda_rec: weight of G's cycle reconstruction loss.
        lambda_gp: weight of D's gradient penalty.
        n_critic: D updates per G update.
        total_steps: D steps of the whole run: the learning rates reach 0 and training stops
            there; None: constant learning rates, no stop.
        decay_start: D step at which the linear decay starts.
        hair_attributes: attribute names that are hair colours (kept one-hot in single-domain
            changes); those that are not among the data's attributes are ignored.
        n_samples: real faces in the fixed grid of ``sample_fixed``.
    """

    def __init__(
        self,
        spec: DataSpec,
        generator: NetworkFactory,
        discriminator: NetworkFactory,
        g_opt: OptimizerFactory,
        d_opt: OptimizerFactory,
        lambda_cls: float = 1.0,
        lambda_rec: float = 10.0,
        lambda_gp: float = 10.0,
        n_critic: int = 5,
        total_steps: int | None = 200_000,
        decay_start: int = 100_000,
        hair_attributes: Sequence[str] = HAIR_ATTRIBUTES,
        n_samples: int = 8,
    ) -> None:
        super().__init__()
        check_attribute_data(spec)
        if n_critic < 1:
            raise ValueError(f"n_critic must be >= 1, got {n_critic}")
        if total_steps is not None and not 0 <= decay_start <= total_steps:
            raise ValueError(
                f"decay_start must be in [0, total_steps], got {decay_start} and {total_steps}"
            )
        self.save_hyperparameters(ignore=["spec", "generator", "discriminator", "g_opt", "d_opt"])
        self.automatic_optimization = False
        self.spec = spec
        self.g_opt_factory = g_opt
        self.d_opt_factory = d_opt
        self.domains = spec.condition_names
        self.hair = hair_indices(self.domains, hair_attributes)
        self.generator = generator(
            cond_dim=len(self.domains), channels=spec.channels, value_range=spec.value_range
        )
        self.discriminator = discriminator(
            image_size=spec.image_size, channels=spec.channels, cond_dim=len(self.domains)
        )
        # The fixed faces of sample_fixed: the first training batch's (saved in checkpoints).
        shape = (0, spec.channels, spec.image_size, spec.image_size)
        self.register_buffer("fixed_x", torch.zeros(shape), persistent=False)
        self.register_buffer("fixed_c", torch.zeros(0, len(self.domains)), persistent=False)
        self.d_steps = 0
        self.g_steps = 0

    def configure_optimizers(self) -> tuple[list[Optimizer], list[LambdaLR]]:
        g_opt = build_optimizer(self.g_opt_factory, self.generator.parameters())
        d_opt = build_optimizer(self.d_opt_factory, self.discriminator.parameters())
        decay = partial(
            linear_decay,
            decay_start=self.hparams.decay_start,
            total_steps=self.hparams.total_steps,
        )
        return [g_opt, d_opt], [LambdaLR(g_opt, decay), LambdaLR(d_opt, decay)]

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        real, labels = batch
        labels = labels.float()
        if len(self.fixed_x) == 0:
            self.fixed_x = real[: self.hparams.n_samples].detach().float().clone()
            self.fixed_c = labels[: self.hparams.n_samples].clone()
        targets = shuffled_targets(labels)
        opt_g, opt_d = self.optimizers()
        logs = self.d_step(real, labels, targets, opt_d)
        if self.d_steps % self.hparams.n_critic == 0:
            logs.update(self.g_step(real, labels, targets, opt_g))
        self.step_schedulers()
        self.log_dict({f"train/{k}": v for k, v in logs.items()}, prog_bar=True)
        self.log("train/d_steps", device_scalar(self.d_steps, self.device))
        self.log("train/lr", device_scalar(opt_d.param_groups[0]["lr"], self.device))

    def step_schedulers(self) -> None:
        """Advance both learning-rate schedules by one D step."""
        with warnings.catch_warnings():
            if self.g_steps == 0:  # G's schedule counts D steps, so it starts before G's update
                warnings.filterwarnings(
                    "ignore", "Detected call of `lr_scheduler.step", UserWarning
                )
            for scheduler in self.lr_schedulers():
                scheduler.step()

    def d_step(
        self, real: Tensor, labels: Tensor, targets: Tensor, opt: Optimizer
    ) -> dict[str, Tensor]:
        """One D update on real images ``(N, C, H, W)`` with labels ``(N, D)`` and their
        translations to ``targets (N, D)``; returns its losses."""
        with torch.no_grad():
            fake = self.generator(real, targets)
        with self.toggled_optimizer(opt):
            real_src, real_cls = self.discriminator(real)
            fake_src, _ = self.discriminator(fake)
            real_scores, fake_scores = patch_scores(real_src), patch_scores(fake_src)
            adv = wgan_d_loss(real_scores, fake_scores)
            cls = domain_classification_loss(real_cls, labels)
            gp = gradient_penalty(lambda x: self.discriminator(x)[0], real, fake)
            total = adv + self.hparams.lambda_cls * cls + self.hparams.lambda_gp * gp
            opt.zero_grad(set_to_none=True)
            self.manual_backward(total)
            opt.step()
        self.d_steps += 1
        return {
            "d_real": real_scores.detach().mean(),
            "d_fake": fake_scores.detach().mean(),
            "d_adv": adv.detach(),
            "d_cls": cls.detach(),
            "gp": gp.detach(),
            "d_loss": total.detach(),
        }

    def g_step(
        self, real: Tensor, labels: Tensor, targets: Tensor, opt: Optimizer
    ) -> dict[str, Tensor]:
        """One G update: translate ``real`` to ``targets``, and back to ``labels``; returns its
        losses."""
        with self.toggled_optimizer(opt):
            fake = self.generator(real, targets)
            fake_src, fake_cls = self.discriminator(fake)
            adv = wgan_g_loss(patch_scores(fake_src))
            cls = domain_classification_loss(fake_cls, targets)
            rec = reconstruction_loss(real, self.generator(fake, labels))
            total = adv + self.hparams.lambda_cls * cls + self.hparams.lambda_rec * rec
            opt.zero_grad(set_to_none=True)
            self.manual_backward(total)
            opt.step()
        self.g_steps += 1
        return {
            "g_adv": adv.detach(),
            "g_cls": cls.detach(),
            "g_rec": rec.detach(),
            "g_loss": total.detach(),
        }

    def on_train_batch_end(self, *args: Any) -> None:
        total = self.hparams.total_steps
        if total is not None and self.d_steps >= total:
            self.trainer.should_stop = True

    @torch.no_grad()
    def translate(self, images: Tensor, targets: Tensor) -> Tensor:
        """Images ``(N, C, H, W)`` in the data's value range translated to 0/1 target labels
        ``(N, D)``, in the data's value range (G normalises each image by its own statistics)."""
        with per_image_statistics(self.generator):
            out = self.generator(images.to(self.device).float(), targets.to(self.device).float())
        return out.float()

    def single_domain_targets(self, labels: Tensor) -> list[tuple[str, Tensor]]:
        """Every single-domain change of ``labels (N, D)`` as ``(name, targets)``: each hair colour
        set (``"set Black_Hair"``, the others cleared), each other attribute flipped
        (``"flip Male"``)."""
        return single_domain_targets(labels, self.domains, self.hair)

    def translation_rows(self, images: Tensor, labels: Tensor) -> tuple[Tensor, list[str]]:
        """Each face of ``images (N, C, H, W)`` (labels ``(N, D)``) followed by its translation to
        every single-domain change: cells ``(N * (1 + K), C, H, W)`` in [0, 1], row-major, and the
        ``1 + K`` column names (``"input"``, then the changes)."""
        changes = self.single_domain_targets(labels)
        images = images.to(self.device).float()
        cells = [images] + [self.translate(images, targets) for _, targets in changes]
        rows = torch.stack(cells, dim=1).flatten(0, 1)
        return self.spec.to_unit(rows), ["input"] + [name for name, _ in changes]

    def sample_fixed(self) -> Tensor:
        """The fixed grid for ``callbacks.sample_grid``, in [0, 1]: the ``n_samples`` fixed faces,
        then the same faces after each single-domain change (``n_samples`` cells per change), so
        with ``nrow = n_samples`` each grid row is one change. ``fixed_y`` labels its cells."""
        if len(self.fixed_x) == 0:
            raise RuntimeError("StarGAN has no fixed faces yet: they are the first training batch")
        changes = self.single_domain_targets(self.fixed_c)
        cells = [self.fixed_x] + [self.translate(self.fixed_x, t) for _, t in changes]
        return self.spec.to_unit(torch.cat(cells))

    @property
    def fixed_y(self) -> Tensor | None:
        """The labels of every cell of ``sample_fixed`` ``(N * (1 + K), D)`` (None before any
        training batch)."""
        if len(self.fixed_c) == 0:
            return None
        changes = self.single_domain_targets(self.fixed_c)
        return torch.cat([self.fixed_c] + [targets for _, targets in changes])

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["gan_counters"] = {"d_steps": self.d_steps, "g_steps": self.g_steps}
        checkpoint["data_spec"] = asdict(self.spec)
        checkpoint["stargan_fixed"] = {"images": self.fixed_x.cpu(), "labels": self.fixed_c.cpu()}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        counters = checkpoint.get("gan_counters", {})
        self.d_steps = counters.get("d_steps", 0)
        self.g_steps = counters.get("g_steps", 0)
        fixed = checkpoint.get("stargan_fixed")
        if fixed is not None:
            self.fixed_x = fixed["images"].to(self.fixed_x.device)
            self.fixed_c = fixed["labels"].to(self.fixed_c.device)


def check_attribute_data(spec: DataSpec) -> None:
    """Fail unless the data has binary attribute conditions (StarGAN's domains)."""
    example = (
        "Use data=toy_celeba or data=celeba, e.g. 'data.attributes=[Black_Hair,Blond_Hair,"
        "Brown_Hair,Male,Young]' (StarGAN's five CelebA domains)."
    )
    name = spec.name or "this dataset"
    if not spec.conditional:
        raise DataError(
            f"StarGAN translates images between attribute domains, but the data ({name}) has no"
            f" conditions. {example}"
        )
    if spec.condition_kind != "attributes":
        raise DataError(
            f"StarGAN's domains are binary attributes, but the data ({name}) has"
            f" {spec.condition_kind} conditions. {example}"
        )
    if spec.image_size % 4:
        raise DataError(
            f"StarGAN's generator down-samples twice by 2, so data.image_size must be a multiple"
            f" of 4, got {spec.image_size}."
        )
