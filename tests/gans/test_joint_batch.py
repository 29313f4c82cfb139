"""d_joint_batch: the D step shows D reals, fakes and mismatched pairs as one batch."""

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


@pytest.mark.parametrize("joint", [True, False])
def test_the_d_step_normalises_reals_and_fakes_together_only_when_joint(joint: bool) -> None:
    torch.manual_seed(0)
    model = tiny_gan(d_joint_batch=joint, n_samples=0)
    sizes = _batch_sizes_at_first_batchnorm(model)
    fit(model, n_batches=1)  # batches of 4: one D step, then one G step on the fakes alone
    assert sizes == ([8, 4] if joint else [4, 4, 4])
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


def test_joint_batches_and_real_only_statistics_are_refused_together() -> None:
    with pytest.raises(ValueError, match="d_joint_batch and d_bn_real_stats"):
        tiny_gan(d_joint_batch=True, d_bn_real_stats=True)
