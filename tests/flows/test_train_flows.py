"""End to end: model=glow and model=cglow through train.py's config on the procedural sets."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from omegaconf import DictConfig, OmegaConf, open_dict

from flows.actnorm import ActNorm
from runtime.checkpoint import load_run
from tests.run_helpers import REPO, compose_train
from train import train

# Image count per toy set: each datamodule's own size key.
TOY_SIZES = {"n_images": 48, "n_scenes": 16}
DATA = ["toy_iclevr", "toy_anime_tags", "toy_celeba"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the toy sets are written on first use (once for this module)."""
    return tmp_path_factory.mktemp("flow_data")


def _compose(out: Path, data_dir: Path, model: str, data: str, *extra: str) -> DictConfig:
    """A small, quick config of ``model`` on ``data`` (32x32, width 8, 2 steps per level)."""
    if not (REPO / "conf" / "data" / f"{data}.yaml").is_file():
        pytest.skip(f"conf/data/{data}.yaml does not exist yet")
    cfg = compose_train(
        out,
        [
            f"paths.data_dir={data_dir}",
            f"model={model}",
            f"data={data}",
            "data.image_size=32",
            "data.batch_size=8",
            "model.flow.hidden=8",
            "model.flow.steps=2",
            "model.n_samples=8",
            "logger=none",
            "~callbacks.progress_bar",
            "trainer.accelerator=cpu",
            *extra,
        ],
    )
    with open_dict(cfg):
        for key, value in TOY_SIZES.items():
            if key in cfg.data:
                cfg.data[key] = value
        if "anime_faces" in cfg.callbacks:
            cfg.callbacks.anime_faces.n_samples = cfg.callbacks.anime_faces.batch_size = 25
    return cfg


@pytest.mark.parametrize("data", DATA)
@pytest.mark.parametrize("model", ["glow", "cglow"])
def test_fast_dev_run(model: str, data: str, data_dir: Path, tmp_path: Path) -> None:
    cfg = _compose(tmp_path, data_dir, model, data, "+trainer.fast_dev_run=1")
    metrics = train(cfg)
    assert metrics["d_steps"] == 1
    assert 0 < metrics["train/bits_per_dim"] < 20
    assert ("train/aux" in metrics) == (model == "cglow")
    assert (tmp_path / "samples" / "step_000001.png").is_file()
    legend = tmp_path / "samples" / "conditions.txt"
    assert legend.is_file() == (model == "cglow")
    if model == "cglow":
        assert len(legend.read_text().splitlines()) == 3 * 8  # every cell, each temperature


def test_checkpoint_reloads_for_sampling_with_validation_bits(
    data_dir: Path, tmp_path: Path
) -> None:
    cfg = _compose(
        tmp_path,
        data_dir,
        "cglow",
        "toy_iclevr",
        "data.val_fraction=0.25",
        "trainer.max_epochs=1",
        "++trainer.limit_train_batches=2",
        "++trainer.limit_val_batches=1",
    )
    metrics = train(cfg)
    assert 0 < metrics["val/bits_per_dim"] < 20 and metrics["g_steps"] == 2
    run_cfg = OmegaConf.to_container(cfg, resolve=True)
    del run_cfg["hydra"]
    (tmp_path / ".hydra").mkdir()
    OmegaConf.save(OmegaConf.create(run_cfg), tmp_path / ".hydra" / "config.yaml")

    _, _, model = load_run(tmp_path / "checkpoints" / "last.ckpt")
    assert model.steps == 2
    assert all(m.initialized == 1 for m in model.modules() if isinstance(m, ActNorm))
    y = model.spec.vocab.encode_many([["red cube"], ["blue sphere", "gray cylinder"]])
    images = model.sample(y=y)
    assert images.shape == (2, 3, 32, 32) and torch.isfinite(images).all()
