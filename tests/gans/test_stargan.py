"""StarGAN: network shapes, target domains, loss directions, the LR schedule, the training step,
checkpoints, and a run through the Hydra config on the procedural CelebA faces."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from torch.testing import assert_close
from torch.utils.data import DataLoader, TensorDataset

from datamodules.conditions import Attributes, MultiHot
from datamodules.errors import DataError
from datamodules.spec import DataSpec
from gans.domains import hair_indices, shuffled_targets, single_domain_targets
from gans.losses import wgan_d_loss, wgan_g_loss
from gans.nets.stargan import StarGANDiscriminator, StarGANGenerator, default_d_layers
from gans.stargan import (
    StarGAN,
    domain_classification_loss,
    linear_decay,
    patch_scores,
    reconstruction_loss,
)
from tests.run_helpers import compose_train

DOMAINS = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young")
SPEC = DataSpec(image_size=32, vocab=Attributes(DOMAINS), name="faces")


def attribute_labels(n: int, seed: int = 0) -> torch.Tensor:
    """``(n, 5)`` labels in DOMAINS order: one of the three hair colours, random Male and Young."""
    g = torch.Generator().manual_seed(seed)
    hair = torch.nn.functional.one_hot(torch.randint(3, (n,), generator=g), 3).float()
    return torch.cat([hair, torch.randint(0, 2, (n, 2), generator=g).float()], dim=1)


def attribute_loader(n_batches: int, batch_size: int = 4, size: int = 32) -> DataLoader:
    """Random images in [-1, 1] with valid attribute labels, as the CelebA datamodule yields."""
    g = torch.Generator().manual_seed(0)
    n = n_batches * batch_size
    images = torch.rand(n, 3, size, size, generator=g) * 2 - 1
    return DataLoader(TensorDataset(images, attribute_labels(n)), batch_size=batch_size)


def tiny_stargan(spec: DataSpec = SPEC, **kwargs) -> StarGAN:
    """A StarGAN of width 8 with one residual block (fast on CPU); kwargs override its args."""
    args = dict(
        spec=spec,
        generator=partial(StarGANGenerator, width=8, n_res=1),
        discriminator=partial(StarGANDiscriminator, width=8),
        g_opt=partial(torch.optim.Adam, lr=1e-4, betas=(0.5, 0.999)),
        d_opt=partial(torch.optim.Adam, lr=1e-4, betas=(0.5, 0.999)),
        n_critic=2,
        total_steps=8,
        decay_start=4,
        n_samples=3,
    )
    args.update(kwargs)
    return StarGAN(**args)


def trainer(**kwargs) -> pl.Trainer:
    return pl.Trainer(
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        **kwargs,
    )


# Networks


@pytest.mark.parametrize("size", [32, 64, 128])
def test_generator_preserves_the_image_shape(size: int) -> None:
    g = StarGANGenerator(cond_dim=5, width=8, n_res=2)
    x = torch.rand(2, 3, size, size) * 2 - 1
    out = g(x, attribute_labels(2))
    assert out.shape == x.shape
    assert out.min() >= -1 and out.max() <= 1


def test_generator_output_follows_the_value_range() -> None:
    g = StarGANGenerator(cond_dim=5, value_range=(0.0, 1.0), width=8, n_res=1)
    out = g(torch.rand(2, 3, 32, 32), attribute_labels(2))
    assert out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize(("size", "patches"), [(32, 2), (64, 2), (128, 2), (256, 4)])
def test_discriminator_heads(size: int, patches: int) -> None:
    d = StarGANDiscriminator(image_size=size, cond_dim=5, width=4)
    src, cls = d(torch.randn(2, 3, size, size))
    assert src.shape == (2, 1, patches, patches)
    assert cls.shape == (2, 5)


def test_discriminator_depth_from_the_image_size() -> None:
    assert [default_d_layers(s) for s in (32, 64, 128, 256, 96)] == [4, 5, 6, 6, 5]
    with pytest.raises(ValueError, match="image_size"):
        StarGANDiscriminator(image_size=40, cond_dim=5, n_layers=4)


def test_state_dict_keys_follow_the_reference_model() -> None:
    g_keys = StarGANGenerator(cond_dim=5, width=8).state_dict().keys()
    # 7x7 conv, IN, ReLU, then 2 x (down conv, IN, ReLU): the residual blocks start at main.9.
    assert {"main.0.weight", "main.1.weight", "main.1.running_mean", "main.9.main.0.weight"} <= set(
        g_keys
    )
    assert "main.0.bias" not in g_keys
    d_keys = set(StarGANDiscriminator(image_size=128, cond_dim=5, width=4).state_dict())
    convs = {f"main.{i}.{p}" for i in (0, 2, 4, 6, 8, 10) for p in ("weight", "bias")}
    assert d_keys == convs | {"conv1.weight", "conv2.weight"}


# Target domains


def test_shuffled_targets_are_the_batch_labels_reordered_with_hair_one_hot() -> None:
    labels = attribute_labels(16)
    targets = shuffled_targets(labels, torch.Generator().manual_seed(1))
    assert not torch.equal(targets, labels)
    assert sorted(map(tuple, targets.tolist())) == sorted(map(tuple, labels.tolist()))
    assert_close(targets[:, :3].sum(1), torch.ones(16))


def test_hair_indices_are_the_hair_colours_among_the_data_attributes() -> None:
    hair = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair")
    assert hair_indices(DOMAINS, hair) == (0, 1, 2)
    assert hair_indices(("Male", "Blond_Hair", "Smiling"), hair) == (1,)
    assert hair_indices(("Male", "Smiling"), hair) == ()


def test_single_domain_targets_set_one_hair_colour_or_flip_one_attribute() -> None:
    labels = torch.tensor([[1.0, 0, 0, 1, 0], [0, 0, 1, 0, 1], [0, 0, 0, 1, 1]])
    changes = single_domain_targets(labels, DOMAINS, (0, 1, 2))
    names = [name for name, _ in changes]
    assert names == [
        "set Black_Hair",
        "set Blond_Hair",
        "set Brown_Hair",
        "flip Male",
        "flip Young",
    ]
    blond = changes[1][1]
    assert_close(blond[:, :3], torch.tensor([[0.0, 1, 0]] * 3))
    assert_close(blond[:, 3:], labels[:, 3:])
    male = changes[3][1]
    assert_close(male[:, 3], 1 - labels[:, 3])
    assert_close(male[:, [0, 1, 2, 4]], labels[:, [0, 1, 2, 4]])
    for _, targets in changes[:3]:
        assert_close(targets[:, :3].sum(1), torch.ones(3))


# Losses


def test_reconstruction_loss_is_zero_for_identity_and_grows_with_the_error() -> None:
    x = torch.rand(2, 3, 8, 8)
    assert reconstruction_loss(x, x) == 0
    assert_close(reconstruction_loss(x, x + 0.5), torch.tensor(0.5))
    assert reconstruction_loss(x, x + 0.5) > reconstruction_loss(x, x + 0.1)


def test_classification_loss_sums_over_domains_and_is_lower_for_right_logits() -> None:
    labels = attribute_labels(4)
    right = (labels * 2 - 1) * 4
    assert domain_classification_loss(right, labels) < domain_classification_loss(-right, labels)
    # Zero logits: log 2 per domain, summed over the 5 domains, averaged over images.
    zeros = torch.zeros(4, 5)
    assert_close(domain_classification_loss(zeros, labels), torch.tensor(5 * 0.6931472))


def test_adversarial_losses_favour_real_for_d_and_fooling_for_g() -> None:
    high, low = torch.full((2, 1, 2, 2), 3.0), torch.full((2, 1, 2, 2), -3.0)
    assert_close(patch_scores(high), torch.full((2,), 3.0))
    d_right = wgan_d_loss(patch_scores(high), patch_scores(low))
    d_wrong = wgan_d_loss(patch_scores(low), patch_scores(high))
    assert d_right < d_wrong
    assert wgan_g_loss(patch_scores(high)) < wgan_g_loss(patch_scores(low))


def test_linear_decay_holds_then_falls_to_zero() -> None:
    decay = partial(linear_decay, decay_start=100, total_steps=200)
    assert [decay(0), decay(99), decay(100), decay(150), decay(200), decay(250)] == [
        1.0,
        1.0,
        1.0,
        0.5,
        0.0,
        0.0,
    ]
    assert linear_decay(10**6, decay_start=0, total_steps=None) == 1.0
    assert linear_decay(5, decay_start=5, total_steps=5) == 0.0


# The module


def test_rejects_unconditional_and_non_attribute_data() -> None:
    with pytest.raises(DataError, match="no conditions"):
        tiny_stargan(DataSpec(image_size=32, name="anime"))
    with pytest.raises(DataError, match="multi_hot"):
        tiny_stargan(DataSpec(image_size=32, vocab=MultiHot(("red cube", "blue cube"))))
    with pytest.raises(DataError, match="multiple of 4"):
        tiny_stargan(DataSpec(image_size=30, vocab=Attributes(DOMAINS)))


def test_training_step_counts_decays_the_lr_and_stops_at_total_steps() -> None:
    model = tiny_stargan(n_critic=2, total_steps=6, decay_start=2)
    g_before = [p.detach().clone() for p in model.generator.parameters()]
    run = trainer(max_epochs=1)
    run.fit(model, attribute_loader(10))
    assert (model.d_steps, model.g_steps) == (6, 3)  # stopped at total_steps, not 10 batches
    assert run.global_step == 9
    for opt in run.optimizers:
        assert opt.param_groups[0]["lr"] == 0.0
    assert any(
        not torch.equal(b, a) for b, a in zip(g_before, model.generator.parameters(), strict=True)
    )
    for key in ("d_adv", "d_cls", "gp", "g_adv", "g_cls", "g_rec", "lr"):
        assert torch.isfinite(run.callback_metrics[f"train/{key}"])


def test_translate_keeps_the_shape_uses_per_image_statistics_and_leaves_buffers() -> None:
    model = tiny_stargan()
    trainer(max_epochs=1).fit(model, attribute_loader(2))
    buffers = {k: v.clone() for k, v in model.generator.state_dict().items()}
    x, labels = torch.rand(3, 3, 32, 32) * 2 - 1, attribute_labels(3)
    out_train = model.train().translate(x, labels)
    out_eval = model.eval().translate(x, labels)
    assert out_train.shape == x.shape and out_train.min() >= -1 and out_train.max() <= 1
    assert_close(out_eval, out_train)
    # One face alone translates as in a batch (instance norm is per image).
    assert_close(model.translate(x[:1], labels[:1]), out_train[:1])
    for key, value in model.generator.state_dict().items():
        assert_close(value, buffers[key], msg=key)
    assert not model.generator.training


def test_sample_fixed_shows_the_first_batch_then_one_row_per_change() -> None:
    model = tiny_stargan(n_samples=3)
    trainer(max_epochs=1).fit(model, attribute_loader(2))
    first = next(iter(attribute_loader(2)))
    assert_close(model.fixed_x, first[0][:3])
    cells = model.sample_fixed()
    assert cells.shape == (3 * 6, 3, 32, 32)
    assert cells.min() >= 0 and cells.max() <= 1
    assert_close(cells[:3], SPEC.to_unit(first[0][:3]))
    y = model.fixed_y
    assert y.shape == (18, 5)
    assert_close(y[3:6, :3], torch.tensor([[1.0, 0, 0]] * 3))  # the "set Black_Hair" row
    rows, columns = model.translation_rows(first[0][:2], first[1][:2])
    assert rows.shape == (2 * 6, 3, 32, 32) and columns[0] == "input" and len(columns) == 6


def test_resume_restores_counters_schedulers_and_fixed_faces(tmp_path: Path) -> None:
    model = tiny_stargan(n_critic=2, total_steps=12, decay_start=2)
    first = trainer(max_epochs=1)
    first.fit(model, attribute_loader(4))
    ckpt = tmp_path / "a.ckpt"
    first.save_checkpoint(ckpt)
    saved = torch.load(ckpt, weights_only=True)
    assert saved["gan_counters"] == {"d_steps": 4, "g_steps": 2}
    assert tuple(saved["data_spec"]["condition_names"]) == DOMAINS
    assert [s["last_epoch"] for s in saved["lr_schedulers"]] == [4, 4]

    resumed = tiny_stargan(n_critic=2, total_steps=12, decay_start=2)
    second = trainer(max_epochs=2)
    second.fit(resumed, attribute_loader(4), ckpt_path=ckpt)
    assert (resumed.d_steps, resumed.g_steps) == (8, 4)
    assert_close(resumed.fixed_x, model.fixed_x)
    for opt, scheduler in zip(second.optimizers, second.lr_scheduler_configs, strict=True):
        assert scheduler.scheduler.last_epoch == 8
        assert opt.param_groups[0]["lr"] == pytest.approx(1e-4 * linear_decay(8, 2, 12))


# Through the Hydra config


@pytest.fixture(scope="module")
def celeba_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from datamodules.toy_celeba import ensure_toy_celeba

    path = tmp_path_factory.mktemp("data")
    ensure_toy_celeba(path / "toy_celeba", n_images=40, seed=0)
    return path


def _overrides(data_dir: Path, *extra: str) -> list[str]:
    return [
        f"paths.data_dir={data_dir}",
        "model=stargan",
        "data=toy_celeba",
        "data.n_images=40",
        "data.image_size=32",
        "data.batch_size=8",
        f"data.attributes=[{','.join(DOMAINS)}]",
        "model.generator.width=8",
        "model.generator.n_res=1",
        "model.discriminator.width=8",
        "model.n_samples=4",
        "callbacks.translation_grid.n_images=4",
        "logger=none",
        "~callbacks.progress_bar",
        "trainer.accelerator=cpu",
        "optimized_metric=null",
        *extra,
    ]


def test_fast_dev_run_on_toy_celeba(celeba_dir: Path, tmp_path: Path) -> None:
    from PIL import Image

    from train import train

    cfg = compose_train(tmp_path, _overrides(celeba_dir, "+trainer.fast_dev_run=1"))
    metrics = train(cfg)
    assert (metrics["d_steps"], metrics["g_steps"]) == (1, 0)
    assert torch.isfinite(torch.tensor(metrics["train/d_loss"]))
    grid = Image.open(tmp_path / "translations" / "step_000001.png")
    assert grid.size == (6 * 34 + 2, 4 * 34 + 2)
    assert (tmp_path / "samples" / "step_000001.png").is_file()


def test_resume_through_train_py_continues_counters_and_lr(
    celeba_dir: Path, tmp_path: Path
) -> None:
    from train import train

    steps = ["model.total_steps=10", "model.decay_start=2", "model.n_critic=2"]
    batches = ["++trainer.limit_train_batches=2"]
    train(compose_train(tmp_path, _overrides(celeba_dir, *steps, *batches, "trainer.max_epochs=1")))
    last = tmp_path / "checkpoints" / "last.ckpt"
    resumed = compose_train(
        tmp_path / "resumed",
        _overrides(celeba_dir, *steps, *batches, "trainer.max_epochs=2", f"ckpt_path={last}"),
    )
    metrics = train(resumed)
    assert (metrics["d_steps"], metrics["g_steps"]) == (4, 2)
    assert metrics["train/lr"] == pytest.approx(1e-4 * linear_decay(4, 2, 10))
    saved = json.loads((tmp_path / "resumed" / "metrics.json").read_text())
    assert saved["d_steps"] == 4
