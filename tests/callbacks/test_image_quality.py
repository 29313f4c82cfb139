"""ImageQuality: the keys it returns for a tiny GAN, the real images and conditions it uses, its
errors, its schedule during training, and the presets that add it."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from torch.utils.data import DataLoader, TensorDataset

from callbacks.image_quality import ImageQuality, generated_images, real_images
from datamodules.errors import DataError
from datamodules.images import ImageTensorDataset
from metrics.anime_tags_classifier import AnimeTagsClassifier, ColourNet
from metrics.celeba_classifier import CelebAAttributeClassifier
from metrics.iclevr_evaluator import build_evaluator_network
from tests.gans.helpers import tiny_gan
from tests.metrics.test_image_distance import GROUPS
from tests.run_helpers import compose_train

KEYS = {"fcd", "kcd_mean", "kcd_std"}


def classifier() -> AnimeTagsClassifier:
    torch.manual_seed(0)
    return AnimeTagsClassifier(ColourNet(GROUPS.dim), GROUPS, image_size=16)


def dataset(n: int = 40, dim: int = 0, size: int = 32) -> ImageTensorDataset:
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 3, size, size), generator=g, dtype=torch.uint8)
    conditions = torch.arange(n * dim, dtype=torch.float32).reshape(n, dim)
    return ImageTensorDataset(images, conditions)


def quality(**kwargs) -> ImageQuality:
    args = dict(n_images=24, classifier=classifier(), batch_size=10, kid_subsets=5)
    args.update(kwargs)
    return ImageQuality(**args)


class Recorder(pl.LightningModule):
    """A conditional generator stub: records the conditions it samples under."""

    def __init__(self, conditional: bool = True) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.seen: list[torch.Tensor] = []

    def sample(self, n: int | None = None, y: torch.Tensor | None = None) -> torch.Tensor:
        self.seen.append(y)
        return torch.rand(len(y) if y is not None else n, 3, 32, 32)


class Translator(pl.LightningModule):
    """An image-to-image stub (no sample): records its inputs and targets."""

    spec = SimpleNamespace(value_range=(-1.0, 1.0), to_unit=lambda x: ((x + 1) / 2).clamp(0, 1))

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[torch.Tensor, torch.Tensor]] = []

    def translate(self, images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        self.calls.append((images, targets))
        return images


def test_a_tiny_gan_gets_the_classifier_distances_deterministically() -> None:
    callback = quality()
    data = SimpleNamespace(train_set=dataset())
    model = tiny_gan()
    scores = callback.score(model, data)
    assert set(scores) == KEYS == set(callback.names)
    assert all(torch.isfinite(torch.tensor(v)) for v in scores.values()) and scores["fcd"] > 0
    assert callback.score(model, data) == pytest.approx(scores)  # seeded noise and subsets
    assert callback.distances[0].n_real == 24  # real features extracted once, kept


def test_fewer_real_images_than_asked_compare_as_many_generated() -> None:
    callback = quality(n_images=100)
    callback.score(tiny_gan(), SimpleNamespace(train_set=dataset(n=12)))
    distance = callback.distances[0]
    assert distance.n_real == 12


def test_a_conditional_model_samples_under_the_real_images_conditions() -> None:
    data = SimpleNamespace(train_set=dataset(n=30, dim=3))
    model = Recorder()
    quality(n_images=20).score(model, data)
    _, expected = real_images(data, "train", 20, seed=0)
    torch.testing.assert_close(torch.cat(model.seen), expected)
    unconditional = Recorder(conditional=False)
    list(generated_images(unconditional, expected, batch_size=8))
    assert unconditional.seen == [None, None, None]


def test_an_image_to_image_model_translates_other_real_images_to_their_labels() -> None:
    data = SimpleNamespace(train_set=dataset(n=30, dim=2))
    model = Translator()
    quality(n_images=10).score(model, data)
    images, labels = real_images(data, "train", 20, seed=0)
    sources = torch.cat([x for x, _ in model.calls])
    torch.testing.assert_close(sources, images[10:].float() / 255 * 2 - 1)
    torch.testing.assert_close(torch.cat([t for _, t in model.calls]), labels[:10])


def test_the_real_images_come_from_a_set_up_split() -> None:
    class Data:
        train_set = None
        val_set = None
        prepared = False

        def prepare_data(self) -> None:
            self.prepared = True

        def setup(self, stage: str) -> None:
            self.train_set = dataset(n=6)

    data = Data()
    images, conditions = real_images(data, "train", 4, seed=0)
    assert data.prepared and images.shape == (4, 3, 32, 32) and conditions.shape == (4, 0)
    with pytest.raises(DataError, match="no 'val' images.*val_fraction"):
        real_images(data, "val", 4, seed=0)
    with pytest.raises(DataError, match="no datamodule"):
        real_images(None, "train", 4, seed=0)


def test_neither_weights_nor_classifier_is_an_error_naming_both() -> None:
    with pytest.raises(DataError, match="inception_weights.*classifier"):
        ImageQuality()
    with pytest.raises(ValueError, match="split"):
        quality(split="holdout")


def test_missing_inception_weights_stop_before_training(tmp_path: Path) -> None:
    path = tmp_path / "inception.pth"
    with pytest.raises(DataError, match=f"{path} does not exist"):
        ImageQuality(inception_weights=path)


class TinyData(pl.LightningDataModule):
    def __init__(self) -> None:
        super().__init__()
        self.train_set = dataset(n=16)

    def train_dataloader(self) -> DataLoader:
        images = self.train_set.images.float() / 127.5 - 1
        return DataLoader(TensorDataset(images, self.train_set.conditions), batch_size=4)


def test_during_training_it_scores_every_n_steps_and_logs(tmp_path: Path) -> None:
    callback = quality(n_images=8, every_n_steps=2)
    scored: list[int] = []
    score = callback.score
    callback.score = lambda module, data: scored.append(module.d_steps) or score(module, data)
    trainer = pl.Trainer(
        accelerator="cpu",
        max_epochs=1,
        limit_train_batches=3,
        logger=pl.loggers.CSVLogger(tmp_path),
        callbacks=[callback],
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(tiny_gan(), datamodule=TinyData())
    assert scored == [2, 3]
    assert set(trainer.callback_metrics) >= KEYS
    header = next((tmp_path / "lightning_logs").rglob("metrics.csv")).read_text().splitlines()[0]
    assert {"fcd", "kcd_mean", "d_steps"} <= set(header.split(","))


# Presets


def saved_classifiers(tmp_path: Path) -> dict[str, Path]:
    paths = {name: tmp_path / f"{name}.pt" for name in ("anime", "celeba", "iclevr")}
    torch.save(classifier().to_checkpoint(), paths["anime"])
    celeba = CelebAAttributeClassifier(ColourNet(2), ["Male", "Smiling"], image_size=16)
    torch.save(celeba.to_checkpoint(), paths["celeba"])
    torch.save({"model": build_evaluator_network().state_dict()}, paths["iclevr"])
    return paths


@pytest.mark.parametrize("preset", ["fcd_anime", "fcd_celeba", "fcd_iclevr"])
def test_fcd_presets_compose_and_build(tmp_path: Path, preset: str) -> None:
    path = saved_classifiers(tmp_path)[preset.removeprefix("fcd_")]
    cfg = compose_train(
        tmp_path / "run",
        [f"+metric@callbacks.fcd={preset}", f"callbacks.fcd.classifier.path={path}"],
    )
    callback = instantiate(cfg.callbacks.fcd, _convert_="all")
    assert isinstance(callback, ImageQuality) and callback.names == ["fcd", "kcd_mean", "kcd_std"]
    assert (callback.n_images, callback.every_n_steps, callback.mode) == (1000, 500, "min")


def test_the_fid_preset_takes_the_weights_from_either_key(tmp_path: Path) -> None:
    weights = tmp_path / "absent_inception.pth"
    for overrides in (
        [f"callbacks.fid.inception_weights={weights}"],
        [f"+metrics.fid.inception_weights={weights}"],
    ):
        cfg = compose_train(tmp_path / "run", ["+metric@callbacks.fid=fid", *overrides])
        assert cfg.callbacks.fid.inception_weights == str(weights)
        with pytest.raises(Exception, match="absent_inception.pth does not exist"):
            instantiate(cfg.callbacks.fid, _convert_="all")
    cfg = compose_train(tmp_path / "run", ["+metric@callbacks.fid=fid"])
    with pytest.raises(Exception, match="needs inception_weights"):
        instantiate(cfg.callbacks.fid, _convert_="all")
