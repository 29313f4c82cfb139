"""Our GAN step without Lightning: the same networks, losses, optimizers and data path.

The throughput benchmark's reference for Lightning's overhead: ``GANModule.d_step`` and
``g_step`` written out as a plain loop (D update on every batch, G update every ``n_critic``
batches, D frozen during it, on the D step's fakes with ``reuse_fakes``), on the batches of our
datamodule converted on the device exactly as ``on_after_batch_transfer`` does, under the same
autocast and memory layout as the module.
"""

from __future__ import annotations

from contextlib import nullcontext

import torch
from torch import Tensor

from datamodules.base import CachedImageDataModule
from gans.base import GANModule
from gans.penalties import gradient_penalty


class PlainLoop:
    """Trains ``module``'s networks with its own settings; :meth:`iteration` takes one uint8
    batch from the datamodule's loader."""

    def __init__(
        self,
        module: GANModule,
        datamodule: CachedImageDataModule,
        device: torch.device,
        bf16: bool,
    ) -> None:
        self.module = module.to(device)
        self.datamodule = datamodule
        self.device = device
        self.bf16 = bf16
        self.opt_g, self.opt_d = module.configure_optimizers()
        self.d_steps = 0

    def autocast(self) -> torch.autocast | nullcontext:
        if not self.bf16:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    def iteration(self, batch: tuple[Tensor, Tensor]) -> dict[str, Tensor]:
        """One D update and, every ``n_critic`` batches, ``g_repeats`` G updates; returns the
        losses as tensors (nothing is read back to the host)."""
        images, _ = batch
        real = self.datamodule.transform(images.to(self.device, non_blocking=True), train=True)
        hp = self.module.hparams
        if hp.channels_last:
            real = real.contiguous(memory_format=torch.channels_last)
        g_turn = (self.d_steps + 1) % hp.n_critic == 0
        keep_graph = g_turn and hp.reuse_fakes
        with self.autocast(), torch.set_grad_enabled(keep_graph):
            fake = self.module.generate(self.module.noise(real.size(0)), None)
        logs = self.d_step(real, fake.detach())
        self.d_steps += 1
        if g_turn:
            for repeat in range(hp.g_repeats):
                reused = fake if keep_graph and repeat == 0 else None
                logs["g_loss"] = self.g_step(real.size(0), reused)
        return logs

    def d_step(self, real: Tensor, fake: Tensor) -> dict[str, Tensor]:
        module, hp = self.module, self.module.hparams
        with self.autocast():
            real_logits, _ = module.discriminate(real, None)
            fake_logits, _ = module.discriminate(fake, None)
            d_loss = module.loss.d(real_logits, fake_logits)
            total = d_loss
            if hp.gp_weight is not None:

                def critic(x: Tensor) -> Tensor:
                    return module.discriminate(x, None, eager=True)[0]

                total = total + hp.gp_weight * gradient_penalty(critic, real, fake)
        self.opt_d.zero_grad(set_to_none=True)
        total.backward()
        self.opt_d.step()
        return {"d_loss": d_loss.detach()}

    def g_step(self, n: int, fake: Tensor | None) -> Tensor:
        module = self.module
        module.discriminator.requires_grad_(False)
        with self.autocast():
            if fake is None:
                fake = module.generate(module.noise(n), None)
            fake_logits, _ = module.discriminate(fake, None)
            g_loss = module.loss.g(fake_logits)
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_g.step()
        module.discriminator.requires_grad_(True)
        return g_loss.detach()
