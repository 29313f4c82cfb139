"""data.on_device: the cache lives on the training device and batches are gathered there.

On a CPU-only machine the training device is the CPU, so the tests compare the on-device path
with the RAM path batch for batch, and use the meta device to show where the gather happens.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from datamodules.anime import AnimeFacesDataModule
from datamodules.decode import read_rgb
from tests.datamodules.test_anime_datamodule import RecordBatches
from tests.run_helpers import REPO


def fit_batches(root: Path, on_device: bool, **data: object) -> list[tuple[torch.Tensor, ...]]:
    """The (images, conditions) batches a 2-epoch fit sees, seeded with 0."""
    pl.seed_everything(0)
    module = AnimeFacesDataModule(root, batch_size=8, on_device=on_device, **data)
    model = RecordBatches()
    trainer = pl.Trainer(
        max_epochs=2,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=root.parent,
    )
    trainer.fit(model, datamodule=module)
    return model.batches


def test_on_device_gives_the_ram_paths_batches_for_the_same_seed(anime_root: Path) -> None:
    ram = fit_batches(anime_root, on_device=False)
    device = fit_batches(anime_root, on_device=True)

    assert len(device) == len(ram) == 10
    for (ram_images, ram_conditions), (images, conditions) in zip(ram, device, strict=True):
        assert images.dtype == torch.float32
        torch.testing.assert_close(images, ram_images, rtol=0, atol=0)
        torch.testing.assert_close(conditions, ram_conditions, rtol=0, atol=0)
    first, second = torch.cat([b[0] for b in device[:5]]), torch.cat([b[0] for b in device[5:]])
    assert not torch.equal(first, second), "the two epochs must be shuffled differently"


def test_an_epoch_on_device_holds_every_decoded_file_once(anime_root: Path) -> None:
    batches = fit_batches(anime_root, on_device=True, hflip=False, value_range=[0, 1])

    seen = torch.cat([images for images, _ in batches[:5]]).mul(255).round().to(torch.uint8)
    files = sorted((anime_root / "faces").glob("*.jpg"))
    decoded = torch.from_numpy(np.stack([read_rgb(path, 64) for path in files]))
    order = [int((decoded.flatten(1) == image.flatten()).all(1).nonzero()) for image in seen]
    assert sorted(order) == list(range(40))


def test_batches_are_gathered_where_the_trainer_trains(anime_root: Path) -> None:
    module = AnimeFacesDataModule(anime_root, batch_size=8, num_workers=4, on_device=True)
    module.setup("fit")
    module.trainer = SimpleNamespace(strategy=SimpleNamespace(root_device=torch.device("meta")))

    loader = module.train_dataloader()
    images, conditions = next(iter(loader))

    assert loader.num_workers == 0
    assert images.device.type == conditions.device.type == "meta"
    assert images.shape == (8, 3, 64, 64) and images.dtype == torch.uint8
    assert module.train_set.images.device.type == "cpu", "the RAM copy stays where it was"


def test_without_on_device_batches_come_from_ram(anime_root: Path) -> None:
    module = AnimeFacesDataModule(anime_root, batch_size=8)
    module.setup("fit")
    module.trainer = SimpleNamespace(strategy=SimpleNamespace(root_device=torch.device("meta")))

    images, _ = next(iter(module.train_dataloader()))

    assert images.device.type == "cpu"


@pytest.mark.parametrize("name", ["toy_anime", "toy_anime_tags", "toy_iclevr", "toy_celeba"])
def test_every_data_config_takes_on_device(name: str, tmp_path: Path) -> None:
    with initialize_config_dir(str(REPO / "conf"), version_base="1.3"):
        cfg = compose(
            "train", overrides=[f"data={name}", "data.on_device=true", f"paths.data_dir={tmp_path}"]
        )
    module = instantiate(cfg.data, _convert_="all")
    assert module.on_device is True
