"""Exact resume: N steps, stop, resume from last.ckpt for N more equals 2N steps in one go.

Each case trains 2 epochs of 3 batches in one run, and 1 epoch then a resumed second epoch in
another, and compares the two final checkpoints entry by entry: weights (EMA copy, ActNorm
included), both optimizers, learning-rate schedules, counters and the saved RNG states. One more
case resumes from a checkpoint written mid-epoch, where the loader must continue the epoch's
shuffle where it stopped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import pytorch_lightning as pl
import torch

from tests.run_helpers import SMALL, compose_train
from train import train

BATCHES = ["++trainer.limit_train_batches=3", "optimized_metric=null"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Small toy anime (with tags) and CelebA sets, written once for this module."""
    from datamodules.toy_anime import ensure_toy_anime
    from datamodules.toy_celeba import ensure_toy_celeba

    path = tmp_path_factory.mktemp("data")
    ensure_toy_anime(path / "toy_anime", n_images=48, seed=0)
    ensure_toy_celeba(path / "toy_celeba", n_images=40, seed=0)
    return path


def _gan(data_dir: Path, *extra: str) -> list[str]:
    return [f"paths.data_dir={data_dir}", "data.n_images=48", "logger=none", *SMALL, *extra]


def _celeba(data_dir: Path, *extra: str) -> list[str]:
    return [
        f"paths.data_dir={data_dir}",
        "data=toy_celeba",
        "data.n_images=40",
        "data.image_size=32",
        "data.batch_size=8",
        "logger=none",
        "~callbacks.progress_bar",
        "trainer.accelerator=cpu",
        *extra,
    ]


CASES = {
    "wgan_gp_ema": lambda d: _gan(d, "model=wgan_gp", "model.n_critic=2", "model.ema_decay=0.9"),
    "cgan_mismatch": lambda d: _gan(
        d, "model=cgan_mlds", "data=toy_anime_tags", "model.g_repeats=2"
    ),
    "glow": lambda d: _celeba(
        d,
        "model=glow",
        "model.flow.hidden=8",
        "model.flow.steps=2",
        "model.n_samples=8",
        "model.warmup_steps=10",
    ),
    "stargan": lambda d: _celeba(
        d,
        "model=stargan",
        "data.attributes=[Black_Hair,Blond_Hair,Male]",
        "model.generator.width=8",
        "model.generator.n_res=1",
        "model.discriminator.width=8",
        "model.n_samples=4",
        "model.n_critic=2",
        "model.total_steps=12",
        "model.decay_start=2",
        "callbacks.translation_grid.n_images=4",
    ),
}


def _assert_same(a: Any, b: Any, where: str) -> None:
    """Equal nested checkpoint entries: tensors bit for bit, everything else by ``==``."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and torch.equal(a, b), f"{where} differs"
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), f"{where}: keys {sorted(a)} vs {sorted(b)}"
        for key in a:
            _assert_same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), f"{where}: length {len(a)} vs {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_same(x, y, f"{where}[{i}]")
    else:
        assert a == b, f"{where}: {a!r} vs {b!r}"


def _final(run: Path) -> dict[str, Any]:
    return torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)


@pytest.mark.parametrize("case", list(CASES))
def test_resumed_run_equals_uninterrupted_run(case: str, data_dir: Path, tmp_path: Path) -> None:
    overrides = [*CASES[case](data_dir), *BATCHES]
    train(compose_train(tmp_path / "whole", [*overrides, "trainer.max_epochs=2"]))
    train(compose_train(tmp_path / "half", [*overrides, "trainer.max_epochs=1"]))
    last = tmp_path / "half" / "checkpoints" / "last.ckpt"
    train(
        compose_train(
            tmp_path / "resumed", [*overrides, "trainer.max_epochs=2", f"ckpt_path={last}"]
        )
    )

    whole, half, resumed = (_final(tmp_path / run) for run in ("whole", "half", "resumed"))
    counters = "flow_counters" if case == "glow" else "gan_counters"
    assert whole[counters] == resumed[counters] != half[counters]
    assert whole["global_step"] == resumed["global_step"] > half["global_step"]
    for key in ("state_dict", "optimizer_states", "lr_schedulers", counters):
        _assert_same(whole[key], resumed[key], key)
    _assert_same(whole["callbacks"]["RNGState"], resumed["callbacks"]["RNGState"], "rng")
    assert not torch.equal(
        half["callbacks"]["RNGState"]["torch"], whole["callbacks"]["RNGState"]["torch"]
    )


def test_resumed_from_mid_epoch_equals_uninterrupted_run(data_dir: Path, tmp_path: Path) -> None:
    # 2 epochs of 4 batches; a D step every batch and a G step every second one make global step
    # 9 the end of batch 2 of epoch 1, where last.ckpt is saved; the run crashes at the next
    # batch and resumes from there. The rest of the epoch must be the same batches in the same
    # order, so the final state is the uninterrupted run's.
    overrides = [
        *CASES["wgan_gp_ema"](data_dir),
        "++trainer.limit_train_batches=4",
        "optimized_metric=null",
        "trainer.max_epochs=2",
        "callbacks.model_checkpoint.every_n_train_steps=9",
    ]
    train(compose_train(tmp_path / "whole", overrides))
    last = tmp_path / "resumed" / "checkpoints" / "last.ckpt"
    crash = [f"+callbacks.crash._target_={__name__}.CrashAt", "+callbacks.crash.d_steps=6"]
    with pytest.raises(RuntimeError, match="crash after D step 6"):
        train(compose_train(tmp_path / "resumed", [*overrides, *crash]))
    mid = torch.load(last, weights_only=True)
    assert mid["global_step"] == 9
    assert mid["loops"]["fit_loop"]["state_dict"]["combined_loader"] == [{"epoch": 1, "batches": 2}]
    train(compose_train(tmp_path / "resumed", [*overrides, f"ckpt_path={last}"]))

    whole, resumed = _final(tmp_path / "whole"), _final(tmp_path / "resumed")
    assert whole["global_step"] == resumed["global_step"] == 12
    for key in ("state_dict", "optimizer_states", "gan_counters"):
        _assert_same(whole[key], resumed[key], key)
    _assert_same(whole["callbacks"]["RNGState"], resumed["callbacks"]["RNGState"], "rng")


class CrashAt(pl.Callback):
    """Raises (as a crash would stop the process) before the batch after ``d_steps`` D steps."""

    def __init__(self, d_steps: int) -> None:
        self.d_steps = d_steps

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, *_) -> None:
        if pl_module.d_steps == self.d_steps:
            raise RuntimeError(f"crash after D step {self.d_steps}")


def test_crashes_at_an_epoch_end_and_mid_epoch_resume_to_the_right_step_count(
    data_dir: Path, tmp_path: Path
) -> None:
    # 2 epochs of 6 batches, last.ckpt after every step; crash at the epoch boundary (D step 6),
    # resume, crash mid-epoch (D step 9), resume to the end: 12 D steps, none repeated.
    overrides = [
        *_gan(data_dir, "~callbacks.anime_faces", "optimized_metric=null"),
        "trainer.max_epochs=2",
        "callbacks.model_checkpoint.every_n_train_steps=1",
    ]
    last = tmp_path / "checkpoints" / "last.ckpt"
    crash = f"+callbacks.crash._target_={__name__}.CrashAt"
    for step, resume in ((6, []), (9, [f"ckpt_path={last}"])):
        cfg = compose_train(
            tmp_path, [*overrides, *resume, crash, f"+callbacks.crash.d_steps={step}"]
        )
        with pytest.raises(RuntimeError, match=f"crash after D step {step}"):
            train(cfg)
        assert torch.load(last, weights_only=True)["gan_counters"]["d_steps"] == step
    metrics = train(compose_train(tmp_path, [*overrides, f"ckpt_path={last}"]))
    assert (metrics["d_steps"], metrics["g_steps"]) == (12, 12)


def test_overfit_batches_swaps_in_a_sequential_sampler_and_trains(
    data_dir: Path, tmp_path: Path
) -> None:
    """Lightning rebuilds the training loader with a sequential sampler for overfit_batches; the
    resumable loader then acts as a plain one."""
    overrides = _gan(data_dir, "~callbacks.anime_faces", "+trainer.overfit_batches=2")
    metrics = train(compose_train(tmp_path, [*overrides, "trainer.max_epochs=2"]))
    assert metrics["d_steps"] == 4
