"""FlowModule: maximum-likelihood training of a normalizing flow (Glow) in bits per dimension.

One training step = one optimizer update on the batch's bits/dim (plus, for a conditional model
with ``aux_weight``, a classification loss of the condition from the top latent, as in
y0ast/Glow-PyTorch's ``y_condition``). The learning rate warms up linearly over ``warmup_steps``
updates (a LambdaLR scheduler, so Lightning saves it and a resumed run continues the warmup), and
gradients are clipped to ``grad_clip_norm`` by the module itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

import pytorch_lightning as pl
import torch
from torch import Tensor, nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

from datamodules.spec import DataSpec
from flows.latents import to_flow_input
from flows.losses import bits_per_dim, dequantize
from flows.zeros import ZeroLinear
from gans.conditioning import (
    aux_classification_loss,
    group_sizes,
    random_conditions,
    require_conditions,
)
from gans.fused import build_optimizer

OptimizerFactory = Callable[..., Optimizer]


def to_image(x: Tensor) -> Tensor:
    """Flow space (about [-0.5, 0.5]) to images in [0, 1]. A decode that overflowed (an affine
    coupling's inverse far outside the training latents) gives non-finite values; they become
    black (NaN, -inf) or white (+inf) pixels, so a scorer sees a failed image, never NaN."""
    return (x + 0.5).nan_to_num(nan=0.0, posinf=1.0, neginf=0.0).clamp(0.0, 1.0)


class FlowModule(pl.LightningModule):
    """A flow, unconditional or conditional, trained by maximum likelihood.

    Args:
        spec: the data's shape, value range and conditions (from the datamodule).
        flow: builds the flow; called with ``channels``, ``image_size`` (and ``cond_dim`` when
            conditional). It provides ``encode(x, y) -> (zs, logdet, log_pz)``,
            ``sample(eps, y, temperature)`` and ``latent_shapes`` (as ``flows.glow.Glow``).
        optimizer: builds the optimizer from the parameters.
        warmup_steps: updates over which the learning rate rises linearly to its full value.
        grad_clip_norm: clip the global gradient norm to this after every backward; None is off.
        n_bits: colour depth the likelihood is measured at (5 or 8; see ``flows.losses``).
        conditional: the flow takes the data's conditions (the data must have them).
        aux_weight: weight of the auxiliary classification loss on the top latent; None is off.
        temperatures: the sample grid shows ``n_samples`` images at each of these temperatures.
        n_samples: images per temperature in the fixed sample grid (a multiple of 8 fills rows).
    """

    def __init__(
        self,
        spec: DataSpec,
        flow: Callable[..., nn.Module],
        optimizer: OptimizerFactory,
        warmup_steps: int = 500,
        grad_clip_norm: float | None = None,
        n_bits: int = 5,
        conditional: bool = False,
        aux_weight: float | None = None,
        temperatures: Sequence[float] = (0.5, 0.7, 1.0),
        n_samples: int = 16,
    ) -> None:
        super().__init__()
        if not 1 <= n_bits <= 8:
            raise ValueError(f"n_bits must be in 1..8, got {n_bits}")
        if aux_weight is not None and not conditional:
            raise ValueError("aux_weight needs a conditional model (conditional: true)")
        if conditional:
            require_conditions(spec, "model=glow")
        self.save_hyperparameters(ignore=["spec", "flow", "optimizer"])
        self.spec = spec
        self.optimizer_factory = optimizer
        cond = {"cond_dim": spec.condition_dim} if conditional else {}
        self.flow = flow(channels=spec.channels, image_size=spec.image_size, **cond)
        self.classifier = None
        if aux_weight is not None:
            self.classifier = ZeroLinear(self.flow.latent_shapes[-1][0], spec.condition_dim)
        self.aux_groups = group_sizes(spec)  # one-hot groups: a softmax per group in the aux loss
        self.steps = 0
        # One row per grid cell: the same n_samples noises (and conditions) at each temperature.
        seeded = torch.Generator().manual_seed(0)
        for i, shape in enumerate(self.flow.latent_shapes):
            eps = torch.randn(n_samples, *shape, generator=seeded)
            self.register_buffer(f"fixed_eps_{i}", eps.repeat(len(temperatures), 1, 1, 1))
        grid_temperatures = torch.tensor(temperatures, dtype=torch.float32)
        self.register_buffer("fixed_temperature", grid_temperatures.repeat_interleave(n_samples))
        if conditional:
            fixed_y = random_conditions(spec, n_samples, seeded).repeat(len(temperatures), 1)
            self.register_buffer("fixed_y", fixed_y)

    @property
    def d_steps(self) -> int:
        """Updates so far, under the name train.py and the callbacks read a run's step from."""
        return self.steps

    @property
    def g_steps(self) -> int:
        """Updates so far (train.py and evaluate.py report ``g_steps`` for every model)."""
        return self.steps

    def configure_optimizers(self) -> dict[str, Any]:
        optimizer = build_optimizer(self.optimizer_factory, self.parameters())
        warmup = max(1, self.hparams.warmup_steps)
        scheduler = LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / warmup))
        schedule = {"scheduler": scheduler, "interval": "step"}
        return {"optimizer": optimizer, "lr_scheduler": schedule}

    def configure_gradient_clipping(
        self,
        optimizer: Optimizer,
        gradient_clip_val: float | None = None,
        gradient_clip_algorithm: str | None = None,
    ) -> None:
        """Clip to ``grad_clip_norm`` (logging the norm before clipping), then apply the trainer's
        own ``gradient_clip_val`` if one is set."""
        if self.hparams.grad_clip_norm is not None:
            norm = nn.utils.clip_grad_norm_(self.parameters(), self.hparams.grad_clip_norm)
            self.log("train/grad_norm", norm)
        super().configure_gradient_clipping(optimizer, gradient_clip_val, gradient_clip_algorithm)

    def losses(self, images: Tensor, y: Tensor | None) -> dict[str, Tensor]:
        """Mean ``bits_per_dim``, ``aux`` (when on) and their weighted sum ``loss`` of a batch of
        images ``(N, C, H, W)`` in the data's value range, with conditions ``y (N, cond_dim)``.

        The flow runs in fp32 even under mixed precision: log-determinants and the coupling's
        exact inverse lose too much in bf16.
        """
        x = dequantize(self.spec.to_unit(images.float()), self.hparams.n_bits)
        with torch.autocast(self.device.type, enabled=False):
            encoding = self.flow.encode(x, y)
        log_likelihood = encoding.log_pz + encoding.logdet
        bpd = bits_per_dim(log_likelihood, self.hparams.n_bits, x[0].numel()).mean()
        out = {"bits_per_dim": bpd, "loss": bpd}
        if self.classifier is not None:
            logits = self.classifier(encoding.zs[-1].mean(dim=(2, 3)))
            out["aux"] = aux_classification_loss(logits, y, self.aux_groups)
            out["loss"] = bpd + self.hparams.aux_weight * out["aux"]
        return out

    def _conditions(self, conditions: Tensor) -> Tensor | None:
        return conditions.float() if self.hparams.conditional else None

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        images, conditions = batch
        losses = self.losses(images, self._conditions(conditions))
        self.steps += 1
        self.log_dict({f"train/{k}": v.detach() for k, v in losses.items()}, prog_bar=True)
        return losses["loss"]

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        images, conditions = batch
        losses = self.losses(images, self._conditions(conditions))
        self.log_dict({f"val/{k}": v for k, v in losses.items()}, prog_bar=True, sync_dist=True)

    def noise(self, n: int) -> list[Tensor]:
        """Standard normal noises, one per latent: ``(n, *latent_shape)`` on the module's device."""
        return [torch.randn(n, *shape, device=self.device) for shape in self.flow.latent_shapes]

    @property
    def fixed_eps(self) -> list[Tensor]:
        """The sample grid's noises, one per latent, one row per grid cell."""
        return [getattr(self, f"fixed_eps_{i}") for i in range(len(self.flow.latent_shapes))]

    @torch.no_grad()
    def sample(
        self,
        n: int | None = None,
        z: Sequence[Tensor] | None = None,
        y: Tensor | None = None,
        temperature: float | Tensor = 0.7,
    ) -> Tensor:
        """Images in [0, 1] ``(n, C, H, W)``.

        ``z``: standard normal noises, one per latent (default: fresh ones); ``y``: conditions
        ``(n, cond_dim)`` for a conditional model (default: random valid ones); ``temperature``
        scales every prior's standard deviation (0.7 as in Glow's samples), a number or ``(n,)``.
        """
        if z is None:
            n = n if n is not None else (len(y) if y is not None else self.hparams.n_samples)
            z = self.noise(n)
        if self.hparams.conditional and y is None:
            y = random_conditions(self.spec, len(z[0]))
        y = y.to(self.device).float() if self.hparams.conditional else None
        with torch.autocast(self.device.type, enabled=False):
            x = self.flow.sample([e.to(self.device) for e in z], y, temperature)
        return to_image(x)

    def sample_fixed(self) -> Tensor:
        """The fixed grid: ``n_samples`` images at each temperature, in [0, 1] (same noise and
        conditions for the whole run)."""
        fixed_y = getattr(self, "fixed_y", None)
        return self.sample(z=self.fixed_eps, y=fixed_y, temperature=self.fixed_temperature)

    @torch.no_grad()
    def encode_images(self, images: Tensor, y: Tensor | None, batch_size: int = 64) -> list[Tensor]:
        """The latents (one tensor per level, on the CPU) of uint8 images ``(N, 3, S, S)`` under
        conditions ``y`` (None for an unconditional flow), at the centre of each colour bin, in
        fp32 and in chunks of ``batch_size``."""
        chunks = []
        for start in range(0, len(images), batch_size):
            unit = images[start : start + batch_size].float() / 255.0
            x = to_flow_input(unit, self.hparams.n_bits)
            part_y = None if y is None else y[start : start + batch_size].to(self.device)
            with torch.autocast(self.device.type, enabled=False):
                chunks.append([z.cpu() for z in self.flow.encode(x.to(self.device), part_y).zs])
        return [torch.cat(level) for level in zip(*chunks, strict=True)]

    @torch.no_grad()
    def decode_latents(
        self, zs: Sequence[Tensor], y: Tensor | None, batch_size: int = 64
    ) -> Tensor:
        """Images in [0, 1] ``(N, C, H, W)`` on the CPU from latents (one tensor per level) and
        conditions: the exact inverse of ``encode_images`` up to the colour bins."""
        images = []
        for start in range(0, len(zs[0]), batch_size):
            part = [z[start : start + batch_size].to(self.device) for z in zs]
            part_y = None if y is None else y[start : start + batch_size].to(self.device)
            with torch.autocast(self.device.type, enabled=False):
                images.append(to_image(self.flow.decode(part, part_y)).cpu())
        return torch.cat(images)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["flow_counters"] = {"steps": self.steps}
        checkpoint["data_spec"] = asdict(self.spec)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.steps = checkpoint.get("flow_counters", {}).get("steps", 0)
