"""The config tree: every group composes, per-network optimizers, run naming, wandb mode."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hydra.utils import instantiate

from runtime import resolvers
from tests.run_helpers import REPO, compose_train

MODELS = ["dcgan", "wgan", "wgan_gp", "lsgan", "hinge"]


def test_help_lists_every_group() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "train.py"), "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    for group in ("data", "model", "optimizer", "loss", "trainer", "logger", "callbacks", "paths"):
        assert f"{group}:" in result.stdout


@pytest.mark.parametrize("model", MODELS)
def test_model_configs_instantiate(model: str, tmp_path: Path) -> None:
    from datamodules.spec import DataSpec

    cfg = compose_train(tmp_path, [f"model={model}"])
    gan = instantiate(cfg.model, _partial_=True)(spec=DataSpec(image_size=64))
    g_opt, d_opt = gan.configure_optimizers()
    assert g_opt.defaults["lr"] == cfg.model.g_opt.lr
    assert d_opt.defaults["lr"] == cfg.model.d_opt.lr


def test_paper_settings_of_each_model(tmp_path: Path) -> None:
    wgan = compose_train(tmp_path, ["model=wgan"]).model
    assert (wgan.n_critic, wgan.clip_value, wgan.g_opt.lr) == (5, 0.01, 5e-5)
    assert wgan.d_opt._target_ == "torch.optim.RMSprop"
    gp = compose_train(tmp_path, ["model=wgan_gp"]).model
    assert (gp.n_critic, gp.gp_weight, gp.d_opt.lr, list(gp.d_opt.betas)) == (
        5,
        10.0,
        1e-4,
        [0, 0.9],
    )
    assert gp.discriminator.norm == "none"
    dcgan = compose_train(tmp_path, ["model=dcgan"]).model
    assert (dcgan.g_opt.lr, dcgan.g_opt.betas[0], dcgan.loss.g._target_) == (
        2e-4,
        0.5,
        "gans.losses.bce_g_loss_nonsaturating",
    )


def test_optimizer_chosen_per_network(tmp_path: Path) -> None:
    cfg = compose_train(
        tmp_path, ["optimizer@model.g_opt=sgd", "optimizer@model.d_opt=adam", "model.g_opt.lr=0.1"]
    )
    assert cfg.model.g_opt._target_ == "torch.optim.SGD"
    assert cfg.model.g_opt.lr == 0.1
    assert cfg.model.d_opt._target_ == "torch.optim.Adam"


def test_training_tips_are_config_knobs(tmp_path: Path) -> None:
    cfg = compose_train(
        tmp_path, ["data.value_range=[0,1]", "loss@model.loss=bce_saturating", "model.g_repeats=2"]
    )
    assert list(cfg.data.value_range) == [0, 1]
    assert cfg.model.loss.g._target_ == "gans.losses.bce_g_loss_saturating"


def test_run_name_and_tags_come_from_overrides(tmp_path: Path) -> None:
    cfg = compose_train(tmp_path, ["model=wgan", "model.n_critic=3", "logger=wandb"])
    assert resolvers.run_name() == "wgan-toy_anime,model.n_critic=3"
    assert "model:wgan" in resolvers.run_tags()
    assert resolvers.run_group() is None
    assert cfg.logger.wandb.project == "litgen"


def test_wandb_is_offline_unless_logged_in(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("NETRC", str(tmp_path / ".netrc"))
    assert resolvers.wandb_offline() is True
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    assert resolvers.wandb_offline() is False
    monkeypatch.setenv("WANDB_MODE", "offline")
    assert resolvers.wandb_offline() is True
