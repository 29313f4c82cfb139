"""FlowModule: the training step, warmup and clipping, checkpoints (ActNorm init, counters),
sampling and conditioning."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch.testing import assert_close
from torch.utils.data import DataLoader, TensorDataset

from datamodules.errors import DataError
from flows.actnorm import ActNorm
from tests.flows.helpers import SHAPES, SPEC, loader, tiny_flow
from tests.run_helpers import quiet_trainer


def _actnorm_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {
        f"{name}.{key}": value.clone()
        for name, layer in model.named_modules()
        if isinstance(layer, ActNorm)
        for key, value in layer.state_dict().items()
    }


def test_training_lowers_bits_per_dim() -> None:
    torch.manual_seed(0)
    model = tiny_flow(optimizer=lambda params: torch.optim.Adam(params, lr=1e-2))
    data = loader(1, batch_size=16)
    images, conditions = next(iter(data))
    before = model.losses(images, None)["bits_per_dim"].item()
    quiet_trainer(max_epochs=30).fit(model, data)
    after = model.losses(images, None)["bits_per_dim"].item()
    assert model.steps == 30
    assert after < before - 0.5, (before, after)


def test_resume_keeps_actnorm_init_warmup_and_counters(tmp_path: Path) -> None:
    torch.manual_seed(0)
    first = tiny_flow(warmup_steps=4)
    quiet_trainer(max_steps=2).fit(first, loader(2))
    ckpt = tmp_path / "two.ckpt"
    first.trainer.save_checkpoint(ckpt)
    saved = torch.load(ckpt, weights_only=True)
    assert saved["flow_counters"] == {"steps": 2} and saved["data_spec"]["image_size"] == 8
    assert saved["lr_schedulers"][0]["last_epoch"] == 2
    assert all(saved["state_dict"][k] == 1 for k in saved["state_dict"] if "initialized" in k)

    torch.manual_seed(1)
    resumed = tiny_flow(warmup_steps=4)
    images, conditions = loader(3, seed=1).dataset.tensors
    shifted = DataLoader(TensorDataset(images * 50 + 20, conditions), batch_size=4)  # new stats
    quiet_trainer(max_steps=3, max_epochs=2).fit(resumed, shifted, ckpt_path=ckpt)
    assert resumed.steps == 3
    # One Adam step (lr 1e-3) moves ActNorm a little; a second data init would move it a lot.
    for key, value in _actnorm_state(first).items():
        assert (_actnorm_state(resumed)[key] - value).abs().max() < 1e-2, key
    (scheduler,) = resumed.trainer.lr_scheduler_configs
    assert scheduler.scheduler.last_epoch == 3
    assert resumed.optimizers().param_groups[0]["lr"] == pytest.approx(1e-3)  # warmup over


def test_state_dict_loaded_into_a_fresh_module_is_not_reinitialised() -> None:
    torch.manual_seed(0)
    trained = tiny_flow()
    quiet_trainer(max_steps=1).fit(trained, loader(1))
    fresh = tiny_flow()
    fresh.load_state_dict(trained.state_dict())
    images = torch.rand(4, 3, 8, 8) * 100
    fresh.losses(images, None)
    assert_close(_actnorm_state(fresh), _actnorm_state(trained))


def test_gradients_are_clipped_by_the_module() -> None:
    model = tiny_flow(grad_clip_norm=1e-3)
    fitted = quiet_trainer(max_steps=1)
    fitted.fit(model, loader(1))
    assert fitted.gradient_clip_val is None
    assert fitted.callback_metrics["train/grad_norm"] > 1e-3
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])) <= 1.01e-3


def test_validation_logs_bits_per_dim() -> None:
    model = tiny_flow()
    (metrics,) = quiet_trainer().validate(model, loader(2), verbose=False)
    assert 0 < metrics["val/bits_per_dim"] < 20


def test_fixed_grid_shows_each_temperature_and_is_repeatable() -> None:
    torch.manual_seed(0)
    model = tiny_flow(n_samples=4, temperatures=[0.5, 1.0])
    quiet_trainer(max_steps=1).fit(model, loader(1))
    grid = model.sample_fixed()
    assert grid.shape == (8, 3, 8, 8) and grid.min() >= 0 and grid.max() <= 1
    assert_close(model.sample_fixed(), grid)
    assert_close(model.fixed_temperature, torch.tensor([0.5] * 4 + [1.0] * 4))
    assert_close(model.fixed_eps[0][:4], model.fixed_eps[0][4:])
    assert model.sample(5).shape == (5, 3, 8, 8)
    assert model.d_steps == model.g_steps == 1


def test_conditional_flow_uses_the_conditions() -> None:
    torch.manual_seed(0)
    model = tiny_flow(spec=SHAPES, conditional=True, aux_weight=0.5, n_samples=2)
    assert model.fixed_y.shape == (6, 6)
    assert_close(model.fixed_y[:2], model.fixed_y[2:4])
    fitted = quiet_trainer(max_steps=2)
    fitted.fit(model, loader(2, conditions=6))
    assert {"train/aux", "train/bits_per_dim", "train/loss"} <= fitted.callback_metrics.keys()
    images, y = next(iter(loader(1, conditions=6)))
    losses = model.losses(images, y)
    assert_close(losses["loss"], losses["bits_per_dim"] + 0.5 * losses["aux"])
    z = model.noise(4)
    assert not torch.allclose(model.sample(z=z, y=y), model.sample(z=z, y=1 - y))
    assert model.sample(y=y).shape == (4, 3, 8, 8)
    assert model.sample(3).shape == (3, 3, 8, 8)  # random valid conditions


def test_flow_runs_in_fp32_under_autocast() -> None:
    model = tiny_flow()
    images = torch.rand(4, 3, 8, 8) * 2 - 1
    torch.manual_seed(0)
    full = model.losses(images, None)["bits_per_dim"]
    torch.manual_seed(0)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = model.losses(images, None)["bits_per_dim"]
    assert mixed.dtype == torch.float32
    assert_close(mixed, full)


def test_bad_settings_fail_early() -> None:
    with pytest.raises(DataError, match="has no conditions"):
        tiny_flow(spec=SPEC, conditional=True)
    with pytest.raises(ValueError, match="aux_weight needs a conditional model"):
        tiny_flow(aux_weight=1.0)
    with pytest.raises(ValueError, match="n_bits"):
        tiny_flow(n_bits=9)


def test_overflowed_decodes_come_out_as_black_or_white_pixels(monkeypatch) -> None:
    model = tiny_flow()
    values = torch.tensor([float("nan"), float("inf"), -float("inf"), 0.2])
    monkeypatch.setattr(model.flow, "sample", lambda eps, y, t: values.repeat(len(eps[0]), 3, 4, 2))
    images = model.sample(n=2)
    assert torch.isfinite(images).all()
    assert_close(images[0, 0, 0], torch.tensor([0.0, 1.0, 0.0, 0.7] * 2))
