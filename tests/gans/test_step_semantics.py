"""GANModule's step semantics: n_critic, g_repeats, clipping, penalty, EMA, counters."""

import copy

import pytorch_lightning as pl
import torch
from torch.testing import assert_close

from gans import losses
from tests.gans.helpers import fit, tiny_gan


def _params(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def test_n_critic_five_gives_five_d_steps_per_g_step():
    model = tiny_gan(n_critic=5)
    trainer = fit(model, n_batches=10)
    assert (model.d_steps, model.g_steps) == (10, 2)
    assert trainer.global_step == 12  # Lightning counts every optimizer step


def test_generator_untouched_until_n_critic_d_steps():
    model = tiny_gan(n_critic=5)
    g_before = _params(model.generator)
    d_before = _params(model.discriminator)
    fit(model, n_batches=4)
    for before, after in zip(g_before, model.generator.parameters(), strict=True):
        assert_close(after, before)
    d_after = model.discriminator.parameters()
    assert any(not torch.equal(b, a) for b, a in zip(d_before, d_after, strict=True))


def test_g_repeats_gives_repeated_g_steps():
    model = tiny_gan(n_critic=2, g_repeats=3)
    trainer = fit(model, n_batches=4)
    assert (model.d_steps, model.g_steps) == (4, 6)
    assert trainer.global_step == 10


class _ClipCheck(pl.Callback):
    def __init__(self, clip: float) -> None:
        self.clip = clip
        self.checked = 0

    def on_train_batch_end(self, trainer, pl_module, *_):
        assert all(p.abs().max() <= self.clip for p in pl_module.discriminator.parameters())
        self.checked += 1


def test_every_d_weight_within_clip_after_each_d_step():
    model = tiny_gan(
        n_critic=5, clip_value=0.01, loss=losses.GANLoss(losses.wgan_d_loss, losses.wgan_g_loss)
    )
    check = _ClipCheck(0.01)
    fit(model, n_batches=6, callbacks=[check])
    assert check.checked == 6


def test_gradient_penalty_is_logged_and_changes_the_d_update():
    torch.manual_seed(0)
    with_gp = tiny_gan(gp_weight=10.0)
    without = copy.deepcopy(with_gp)
    without.hparams.gp_weight = None
    torch.manual_seed(1)
    trainer = fit(with_gp, n_batches=1)
    torch.manual_seed(1)
    fit(without, n_batches=1)
    assert "train/gp" in trainer.callback_metrics
    assert trainer.callback_metrics["train/gp"] > 0
    d_with = torch.cat([p.flatten() for p in with_gp.discriminator.parameters()])
    d_without = torch.cat([p.flatten() for p in without.discriminator.parameters()])
    assert not torch.allclose(d_with, d_without)


def test_ema_generator_follows_generator_and_is_used_for_samples():
    model = tiny_gan(ema_decay=0.5)
    ema_before = _params(model.g_ema)
    fit(model, n_batches=3)
    ema_after = _params(model.g_ema)
    g_after = _params(model.generator)
    assert any(not torch.equal(a, b) for a, b in zip(ema_before, ema_after, strict=True))
    assert any(not torch.equal(a, b) for a, b in zip(g_after, ema_after, strict=True))
    model.eval()
    assert_close(model.sample_fixed(), model.spec.to_unit(model.g_ema(model.fixed_z)))


def test_counters_survive_a_checkpoint(tmp_path):
    model = tiny_gan(n_critic=2)
    trainer = fit(model, n_batches=5)
    path = tmp_path / "last.ckpt"
    trainer.save_checkpoint(path)
    checkpoint = torch.load(path, weights_only=False)
    fresh = tiny_gan(n_critic=2)
    fresh.on_load_checkpoint(checkpoint)
    assert (fresh.d_steps, fresh.g_steps) == (5, 2)
    assert checkpoint["data_spec"]["image_size"] == 32


def test_samples_are_images_in_unit_range_and_fixed_noise_is_fixed():
    model = tiny_gan()
    samples = model.sample(6)
    assert samples.shape == (6, 3, 32, 32)
    assert samples.min() >= 0 and samples.max() <= 1
    assert_close(model.sample_fixed(), model.sample_fixed())
    assert "fixed_z" in model.state_dict()
