"""Conditional GANs: network shapes, condition flow through the step, options, bad data."""

from __future__ import annotations

from functools import partial

import pytest
import torch
from torch.testing import assert_close

from datamodules.conditions import MultiHot, OneHotGroups
from datamodules.errors import DataError
from datamodules.spec import DataSpec
from gans.conditioning import (
    aux_classification_loss,
    group_sizes,
    mismatched,
    random_conditions,
)
from gans.nets.acgan_d import ACGANDiscriminator
from gans.nets.cbn_generator import ConditionalBatchNorm2d, ConditionalBNGenerator
from gans.nets.cond_generator import ConditionalDCGANGenerator
from gans.nets.condition_map_d import ConditionMapDiscriminator
from gans.nets.dot_product_d import DotProductDiscriminator
from gans.nets.projection_d import ProjectionDiscriminator
from tests.gans.helpers import fit, tiny_gan
from tests.run_helpers import quiet_trainer

HAIR = ("aqua", "black", "blonde", "blue", "brown", "gray")
EYE = ("aqua", "black", "blue", "brown")
ANIME = DataSpec(image_size=32, vocab=OneHotGroups((("hair", HAIR), ("eye", EYE))), name="tags")
ICLEVR = DataSpec(
    image_size=32,
    vocab=MultiHot(tuple(f"{c} {s}" for s in ("cube", "sphere") for c in HAIR)),
    name="shapes",
)

DISCRIMINATORS = {
    "condition_map": ConditionMapDiscriminator,
    "dot_product": DotProductDiscriminator,
    "acgan": ACGANDiscriminator,
    "projection": ProjectionDiscriminator,
}


@pytest.mark.parametrize("size", [32, 64])
@pytest.mark.parametrize("embed_dim", [None, 12])
def test_conditional_generator_shapes(size: int, embed_dim: int | None) -> None:
    g = ConditionalDCGANGenerator(
        z_dim=8, cond_dim=10, image_size=size, width=4, embed_dim=embed_dim
    )
    assert g(torch.randn(3, 8), torch.rand(3, 10)).shape == (3, 3, size, size)
    first = g.body.net[0]
    assert first.in_channels == 8 + (10 if embed_dim is None else embed_dim)


@pytest.mark.parametrize("size", [32, 64])
def test_conditional_bn_generator_shapes(size: int) -> None:
    g = ConditionalBNGenerator(z_dim=8, cond_dim=10, image_size=size, width=4, embed_dim=6)
    images = g(torch.randn(3, 8), torch.rand(3, 10))
    assert images.shape == (3, 3, size, size)
    assert images.abs().max() <= 1.0


def test_conditional_bn_starts_as_batchnorm_and_then_depends_on_the_condition() -> None:
    norm = ConditionalBatchNorm2d(channels=5, cond_dim=3)
    x, c = torch.randn(4, 5, 2, 2), torch.rand(4, 3)
    plain = torch.nn.functional.batch_norm(x, None, None, training=True)
    assert_close(norm(x, c), plain)
    torch.nn.init.normal_(norm.gain.weight)
    assert not torch.allclose(norm(x, c), norm(x, c.flip(0)))


@pytest.mark.parametrize("trunk", ["shared", "batchnorm"])
def test_projection_aux_head_returns_class_logits(trunk: str) -> None:
    d = ProjectionDiscriminator(cond_dim=10, image_size=32, width=4, aux_head=True, aux_trunk=trunk)
    logits, classes = d(torch.randn(3, 3, 32, 32), torch.rand(3, 10))
    assert logits.shape == (3,) and classes.shape == (3, 10)
    has_norm = any(isinstance(m, torch.nn.BatchNorm2d) for m in d.classifier.modules())
    assert has_norm == (trunk == "batchnorm")


def test_condition_map_aux_head_reads_the_image_alone() -> None:
    """Its classifier must not see the 4th channel, or it could copy the condition it is scored
    on."""
    d = ConditionMapDiscriminator(cond_dim=24, image_size=32, width=4, aux_head=True).eval()
    x, y = torch.randn(3, 3, 32, 32), torch.rand(3, 24)
    logits, classes = d(x, y)
    assert logits.shape == (3,) and classes.shape == (3, 24)
    other_logits, other_classes = d(x, y.flip(0))
    assert_close(other_classes, classes)
    assert not torch.allclose(other_logits, logits)
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in d.classifier.modules())
    assert ConditionMapDiscriminator(cond_dim=24, image_size=32, width=4).classifier is None


@pytest.mark.parametrize("size", [32, 64])
@pytest.mark.parametrize("name", DISCRIMINATORS)
def test_conditional_discriminator_shapes(name: str, size: int) -> None:
    d = DISCRIMINATORS[name](cond_dim=10, image_size=size, width=4)
    out = d(torch.randn(3, 3, size, size), torch.rand(3, 10))
    if name == "acgan":
        assert [t.shape for t in out] == [(3,), (3, 10)]
    else:
        assert out.shape == (3,)


def test_dot_product_logit_is_code_dot_condition() -> None:
    d = DotProductDiscriminator(cond_dim=10, image_size=32, width=4)
    x, y = torch.randn(2, 3, 32, 32), torch.eye(10)[:2]
    code = d.code(d.features(x))
    assert_close(d(x, y), code[:, :2].diagonal())


def test_projection_discriminator_is_spectrally_normalised() -> None:
    d = ProjectionDiscriminator(cond_dim=10, image_size=32, width=4)
    convs = [m for m in d.features if isinstance(m, torch.nn.Conv2d)]
    assert all(hasattr(m, "parametrizations") for m in convs)


def test_condition_map_is_not_started_faint_next_to_the_image() -> None:
    """The conv layers get DCGAN's N(0, 0.02), but the condition map keeps PyTorch's default
    Linear init: under N(0, 0.02) the 4th channel started ~35x fainter than the image channels."""
    torch.manual_seed(0)
    d = ConditionMapDiscriminator(cond_dim=24, image_size=32, width=8)
    convs = [m for m in d.features.modules() if isinstance(m, torch.nn.Conv2d)]
    assert all(abs(c.weight.std().item() - 0.02) < 0.005 for c in convs)
    y = torch.zeros(16, 24)
    y[torch.arange(16), torch.randint(0, 24, (16,))] = 1.0
    assert d.condition_map(y).abs().mean() > 0.05


@pytest.mark.parametrize("spec", [ANIME, ICLEVR], ids=["onehot_groups", "multi_hot"])
def test_random_conditions_are_valid(spec: DataSpec) -> None:
    y = random_conditions(spec, 200, torch.Generator().manual_seed(0))
    assert y.shape == (200, spec.condition_dim)
    if spec is ANIME:
        assert (y[:, : len(HAIR)].sum(1) == 1).all() and (y[:, len(HAIR) :].sum(1) == 1).all()
    else:
        assert set(y.sum(1).tolist()) == {1.0, 2.0, 3.0}


def test_mismatched_pairs_each_row_with_another_rows_condition() -> None:
    y = torch.eye(4)
    assert_close(mismatched(y), y[[3, 0, 1, 2]])


def test_aux_loss_of_one_hot_groups_is_the_sum_of_group_cross_entropies() -> None:
    y = ANIME.vocab.encode_many(["blue hair brown eyes", "gray hair aqua eyes"])
    logits = torch.randn(2, ANIME.condition_dim)
    hair, eye = logits.split([len(HAIR), len(EYE)], dim=1)
    expected = torch.nn.functional.cross_entropy(
        hair, torch.tensor([3, 5])
    ) + torch.nn.functional.cross_entropy(eye, torch.tensor([3, 0]))
    assert_close(aux_classification_loss(logits, y, group_sizes(ANIME)), expected)
    assert group_sizes(ICLEVR) is None


def test_aux_loss_is_lower_for_right_predictions() -> None:
    y = torch.tensor([[1.0, 0.0, 1.0]])
    assert aux_classification_loss(10 * (2 * y - 1), y) < aux_classification_loss(
        -10 * (2 * y - 1), y
    )


def _cgan(spec: DataSpec, discriminator, **kwargs):
    return tiny_gan(
        spec=spec,
        conditional=True,
        generator=partial(ConditionalDCGANGenerator, width=4, embed_dim=16),
        discriminator=partial(discriminator, width=4),
        **kwargs,
    )


def _conditional_loader(spec: DataSpec, n_batches: int, batch_size: int = 4):
    from torch.utils.data import DataLoader, TensorDataset

    g = torch.Generator().manual_seed(0)
    images = torch.rand(n_batches * batch_size, 3, 32, 32, generator=g) * 2 - 1
    return DataLoader(
        TensorDataset(images, random_conditions(spec, len(images), g)), batch_size=batch_size
    )


@pytest.mark.parametrize("spec", [ANIME, ICLEVR], ids=["onehot_groups", "multi_hot"])
@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("condition_map", {}),
        ("dot_product", {"mismatch_negatives": True}),
        ("projection", {"mismatch_negatives": True, "mismatch_kind": "rebind"}),
        ("acgan", {"aux_weight": 1.0}),
        ("projection", {"gp_weight": 1.0}),
        ("projection", {"augment": ["translation", "cutout"]}),
        ("projection_aux", {"aux_weight": 1.0, "augment": ["cutout"]}),
        ("condition_map_aux", {"aux_weight": 1.0, "mismatch_negatives": True}),
    ],
)
def test_conditional_models_train_and_sample(spec: DataSpec, name: str, options: dict) -> None:
    with_aux = {
        "projection_aux": partial(ProjectionDiscriminator, aux_head=True),
        "condition_map_aux": partial(ConditionMapDiscriminator, aux_head=True),
    }
    discriminator = DISCRIMINATORS.get(name) or with_aux[name]
    model = _cgan(spec, discriminator, **options)
    trainer = quiet_trainer()
    trainer.fit(model, _conditional_loader(spec, 2))
    assert (model.d_steps, model.g_steps) == (2, 2)
    metrics = trainer.callback_metrics
    assert ("train/d_mismatch" in metrics) == bool(options.get("mismatch_negatives"))
    assert ("train/d_aux" in metrics and "train/g_aux" in metrics) == ("aux_weight" in options)
    assert model.sample_fixed().shape == (4, 3, 32, 32)
    y = spec.vocab.encode_many([spec.vocab.decode(v) for v in model.fixed_y[:2]])
    assert model.sample(y=y).shape == (2, 3, 32, 32)


def _g_update(g_aux_weight: float | None) -> torch.Tensor:
    """G's parameter change over one batch (SGD, so the change is the gradient scaled)."""
    torch.manual_seed(0)
    model = _cgan(
        ICLEVR,
        partial(ConditionMapDiscriminator, aux_head=True),
        aux_weight=1.0,
        g_aux_weight=g_aux_weight,
        g_opt=partial(torch.optim.SGD, lr=0.1),
    )
    before = torch.cat([p.detach().flatten() for p in model.generator.parameters()])
    quiet_trainer().fit(model, _conditional_loader(ICLEVR, 1))
    return torch.cat([p.detach().flatten() for p in model.generator.parameters()]) - before


def test_g_aux_weight_scales_only_the_classifier_term_of_g_update() -> None:
    adversarial = _g_update(0.0)
    aux_once = _g_update(None) - adversarial  # g_aux_weight defaults to aux_weight (1.0)
    assert aux_once.abs().max() > 1e-6
    assert_close(_g_update(3.0) - adversarial, 3 * aux_once, rtol=1e-3, atol=1e-6)


def test_g_aux_weight_without_a_classifier_is_refused() -> None:
    with pytest.raises(ValueError, match="set model.aux_weight"):
        _cgan(ICLEVR, ConditionMapDiscriminator, g_aux_weight=2.0)


def test_conditions_change_the_generated_image() -> None:
    model = _cgan(ANIME, ConditionMapDiscriminator)
    z = torch.randn(1, 16)
    blue = ANIME.vocab.encode("blue hair aqua eyes")[None]
    gray = ANIME.vocab.encode("gray hair brown eyes")[None]
    assert not torch.allclose(model.sample(z=z, y=blue), model.sample(z=z, y=gray))


def test_conditional_model_on_unconditional_data_is_a_clear_error() -> None:
    with pytest.raises(DataError, match="no conditions"):
        _cgan(DataSpec(image_size=32, name="toy_anime"), ConditionMapDiscriminator)


@pytest.mark.parametrize("kind", ["reshape", "rebind_reshape"])
def test_reshaping_negatives_train_on_iclevr_and_are_refused_for_tags(kind: str) -> None:
    model = _cgan(ICLEVR, ConditionMapDiscriminator, mismatch_negatives=True, mismatch_kind=kind)
    trainer = quiet_trainer()
    trainer.fit(model, _conditional_loader(ICLEVR, 1))
    assert model.d_steps == 1 and "train/d_mismatch" in trainer.callback_metrics
    with pytest.raises(ValueError, match=f"mismatch_kind={kind} .* use roll or rebind"):
        _cgan(ANIME, ConditionMapDiscriminator, mismatch_negatives=True, mismatch_kind=kind)


def test_an_unknown_mismatch_kind_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="roll, rebind, reshape, rebind_reshape"):
        _cgan(ICLEVR, ConditionMapDiscriminator, mismatch_negatives=True, mismatch_kind="swap")


def test_unconditional_model_ignores_conditions_of_conditional_data() -> None:
    model = tiny_gan(spec=ICLEVR)
    fit(model, n_batches=1)
    assert model.d_steps == 1


def test_sample_grid_labels_cells_with_conditions(tmp_path) -> None:
    from types import SimpleNamespace

    from callbacks.sample_grid import SampleGrid

    model = _cgan(ICLEVR, ConditionMapDiscriminator)
    grid = SampleGrid(tmp_path, nrow=2)
    grid.save(SimpleNamespace(is_global_zero=True, loggers=[], global_step=0), model)
    lines = (tmp_path / "conditions.txt").read_text().splitlines()
    assert (tmp_path / "step_000000.png").is_file()
    assert len(lines) == len(model.fixed_y)
    row, col = divmod(3, 2)
    assert lines[3] == f"{row},{col}: " + ", ".join(ICLEVR.vocab.decode(model.fixed_y[3]))
