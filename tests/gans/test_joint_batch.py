"""d_joint_batch: the D step shows D reals, fakes and mismatched pairs as one batch;
g_joint_batch: G's step shows D its fakes beside the reals."""

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from gans.nets.condition_map_d import ConditionMapDiscriminator
from tests.gans.helpers import fit, tiny_gan


def _batch_sizes_at_first_batchnorm(model) -> list[int]:
    sizes: list[int] = []
    layer = next(m for m in model.discriminator.modules() if isinstance(m, nn.BatchNorm2d))
    layer.register_forward_hook(lambda m, inputs, out: sizes.append(inputs[0].size(0)))
    return sizes


@pytest.mark.parametrize(
    ("d_joint", "g_joint", "expected"),
    [
        (False, False, [4, 4, 4]),
        (True, False, [8, 4]),
        (False, True, [4, 4, 8]),
        (True, True, [8, 8]),
    ],
)
def test_each_step_normalises_reals_and_fakes_together_only_when_joint(
    d_joint: bool, g_joint: bool, expected: list[int]
) -> None:
    torch.manual_seed(0)
    model = tiny_gan(d_joint_batch=d_joint, g_joint_batch=g_joint, n_samples=0)
    sizes = _batch_sizes_at_first_batchnorm(model)
    fit(model, n_batches=1)  # batches of 4: one D step (reals, then fakes), then one G step
    assert sizes == expected
    assert model.d_steps == 1 and model.g_steps == 1


def test_joint_logits_are_the_separate_logits_of_a_d_without_batchnorm() -> None:
    torch.manual_seed(0)
    model = tiny_gan(d_joint_batch=True, n_samples=0)
    d = ConditionMapDiscriminator(cond_dim=5, image_size=32, width=8, norm="none", aux_head=True)
    model.discriminator = model.train_nets["discriminator"] = d
    real, fake = torch.randn(3, 3, 32, 32), torch.randn(3, 3, 32, 32)
    y, wrong = torch.eye(5)[:3], torch.eye(5)[2:5]
    real_logits, real_class, fake_logits, wrong_logits = model.discriminate_joint(
        real, fake, y, wrong
    )
    assert_close(real_logits, d(real, y)[0])
    # The aux classifier's own BatchNorm trunk sees the joint batch too.
    assert_close(real_class, d.classifier(torch.cat([real, fake, real]))[:3])
    assert_close(fake_logits, d(fake, y)[0])
    assert_close(wrong_logits, d(real, wrong)[0])
    assert model.discriminate_joint(real, fake, y, None)[3] is None


def test_g_joint_logits_are_the_fakes_alone_logits_of_a_d_without_batchnorm() -> None:
    torch.manual_seed(0)
    model = tiny_gan(g_joint_batch=True, n_samples=0)
    d = ConditionMapDiscriminator(cond_dim=5, image_size=32, width=8, norm="none")
    model.discriminator = model.train_nets["discriminator"] = d
    real, fake, y = torch.randn(3, 3, 32, 32), torch.randn(3, 3, 32, 32), torch.eye(5)[:3]
    logits, classes = model.discriminate_fakes(fake, y, real)
    assert_close(logits, d(fake, y))
    assert classes is None
    with pytest.raises(ValueError, match="needs the real batch"):
        model.discriminate_fakes(fake, y, None)


@pytest.mark.parametrize("option", ["d_joint_batch", "g_joint_batch"])
def test_joint_batches_and_real_only_statistics_are_refused_together(option: str) -> None:
    with pytest.raises(ValueError, match="g_joint_batch and d_bn_real_stats"):
        tiny_gan(**{option: True}, d_bn_real_stats=True)
