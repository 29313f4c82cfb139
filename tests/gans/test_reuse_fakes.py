"""reuse_fakes: the G step trains on the D step's fakes, saving a G forward and nothing else."""

import pytest
import torch
from torch.testing import assert_close

from tests.gans.helpers import fit, tiny_gan


def _counting_g_forwards(model) -> list[None]:
    calls: list[None] = []
    model.generator.register_forward_hook(lambda *_: calls.append(None))
    return calls


@pytest.mark.parametrize(
    ("n_critic", "g_repeats", "reuse", "forwards"),
    [
        (1, 1, True, 4),  # one G forward per batch, as the PyTorch DCGAN example
        (1, 1, False, 8),
        (2, 3, True, 8),  # 4 D steps' fakes + 2 G turns x 2 further repeats
        (2, 3, False, 10),
    ],
)
def test_g_forwards_per_run(n_critic: int, g_repeats: int, reuse: bool, forwards: int) -> None:
    model = tiny_gan(n_critic=n_critic, g_repeats=g_repeats, reuse_fakes=reuse, n_samples=0)
    calls = _counting_g_forwards(model)
    fit(model, n_batches=4)
    assert len(calls) == forwards


def test_reused_fakes_train_exactly_as_fresh_fakes_of_the_same_noise(monkeypatch) -> None:
    torch.manual_seed(0)
    reuse, fresh = tiny_gan(reuse_fakes=True), tiny_gan(reuse_fakes=False)
    fresh.load_state_dict(reuse.state_dict())
    z = torch.randn(4, 16)
    g_before = [p.detach().clone() for p in reuse.generator.parameters()]
    for model in (reuse, fresh):
        monkeypatch.setattr(model, "noise", lambda n, z=z: z[:n])
        fit(model, n_batches=1)
    for net in ("generator", "discriminator"):
        for a, b in zip(
            getattr(reuse, net).parameters(), getattr(fresh, net).parameters(), strict=True
        ):
            assert_close(a, b)
    assert any(
        not torch.equal(a, b) for a, b in zip(reuse.generator.parameters(), g_before, strict=True)
    )
