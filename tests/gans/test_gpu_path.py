"""The GPU path's code, run on the CPU: channels_last, torch.compile, fused Adam, no host sync.

On a CPU the layout and compilation change speed, not results, so each option is checked against
the default after a few steps. A host sync cannot happen on a CPU; instead the tensor-to-Python
conversions (``.item()``, ``float(t)``, ``if t:`` ...) are recorded when the project's own code
calls them inside a training step. On a GPU, CUDA's sync debug mode checks the real thing.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from types import SimpleNamespace

import pytest
import pytorch_lightning as pl
import torch
from torch.testing import assert_close

from gans import losses
from gans.fused import build_optimizer, wants_fused
from gans.nets.dcgan import DCGANDiscriminator
from gans.nets.projection_d import ProjectionDiscriminator
from tests.flows.helpers import loader as flow_loader
from tests.flows.helpers import tiny_flow
from tests.gans.helpers import fit, loader, tiny_gan
from tests.gans.test_conditional import ANIME, ICLEVR, _cgan, _conditional_loader
from tests.gans.test_stargan import attribute_loader, tiny_stargan
from tests.run_helpers import quiet_trainer

REPO = Path(__file__).resolve().parents[2]
WGAN_GP = dict(
    loss=losses.GANLoss(losses.wgan_d_loss, losses.wgan_g_loss),
    discriminator=partial(DCGANDiscriminator, width=8, norm="none"),
    gp_weight=10.0,
    n_critic=2,
)
MODELS = {"dcgan": {}, "wgan_gp": WGAN_GP}


def trained(
    n_batches: int = 3, **kwargs: object
) -> tuple[pl.LightningModule, dict[str, torch.Tensor]]:
    """A tiny GAN trained from seed 0 on ``n_batches`` batches, and its final logged values."""
    torch.manual_seed(0)
    model = tiny_gan(**kwargs)
    trainer = fit(model, n_batches=n_batches)
    return model, dict(trainer.callback_metrics)


def assert_same_training(a: pl.LightningModule, b: pl.LightningModule, tolerance: float) -> None:
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert_close(x, y, rtol=tolerance, atol=tolerance, msg=name)


# channels_last


@pytest.mark.parametrize("name", MODELS)
def test_channels_last_trains_like_the_default_layout(name: str) -> None:
    seen_layouts: list[bool] = []
    torch.manual_seed(0)
    model = tiny_gan(channels_last=True, **MODELS[name])
    model.discriminator.register_forward_pre_hook(
        lambda _, args: seen_layouts.append(
            args[0].is_contiguous(memory_format=torch.channels_last)
        )
    )
    fit(model, n_batches=3)
    reference, _ = trained(**MODELS[name])

    assert_same_training(model, reference, tolerance=1e-4)
    assert seen_layouts and all(seen_layouts), "D must see real and fake images as NHWC"
    weight = model.discriminator.features[0].weight
    assert weight.is_contiguous(memory_format=torch.channels_last)
    assert not weight.is_contiguous()


# torch.compile


@pytest.fixture
def counted_compile(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Makes ``torch.compile`` use the ``aot_eager`` backend (dynamo and AOT autograd, no C++
    code generation, so seconds instead of a minute) and records every graph it compiles."""
    from torch._dynamo.backends.registry import lookup_backend

    graphs: list[str] = []
    aot_eager = lookup_backend("aot_eager")
    original = torch.compile

    def backend(graph: torch.fx.GraphModule, inputs: list[torch.Tensor]) -> Callable:
        graphs.append(str(graph.graph))
        return aot_eager(graph, inputs)

    torch._dynamo.reset()
    monkeypatch.setattr(torch, "compile", lambda model: original(model, backend=backend))
    yield graphs
    torch._dynamo.reset()


@pytest.mark.parametrize("name", MODELS)
def test_compile_traces_g_and_d_and_trains_like_eager(name: str, counted_compile: list) -> None:
    model, logged = trained(compile=True, **MODELS[name])
    reference, reference_logged = trained(**MODELS[name])

    assert len(counted_compile) >= 2, "both G and D must be compiled"
    assert all("conv" in graph for graph in counted_compile)
    assert_same_training(model, reference, tolerance=1e-4)
    for key, value in reference_logged.items():
        assert_close(logged[key], value, rtol=1e-4, atol=1e-4, msg=key)
    assert set(model.state_dict()) == set(reference.state_dict()), "compile must keep the keys"


def test_sampling_and_the_gradient_penalty_run_eagerly(counted_compile: list) -> None:
    model = tiny_gan(compile=True, **WGAN_GP)
    model.sample(n=2)
    real = torch.rand(2, 3, 32, 32)
    model.discriminate(real, None, eager=True)
    assert counted_compile == []
    model.discriminate(real, None)
    assert len(counted_compile) == 1


@pytest.mark.slow
def test_compile_with_inductor_runs_a_step() -> None:
    """The real backend (C++ code generation): skipped where it takes too long on this CPU."""
    script = textwrap.dedent(
        """
        import torch
        from tests.gans.helpers import fit, tiny_gan
        model = tiny_gan(compile=True)
        fit(model, n_batches=1)
        assert model.d_steps == 1 and all(p.isfinite().all() for p in model.parameters())
        """
    )
    budget = 120
    try:
        done = subprocess.run(
            [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=budget
        )
    except subprocess.TimeoutExpired:
        pytest.skip(f"torch.compile (inductor) took over {budget} s for a tiny GAN on this CPU")
    assert done.returncode == 0, done.stderr[-3000:]


# fused Adam


def test_fused_adam_is_chosen_only_for_gpu_parameters() -> None:
    adam = partial(torch.optim.Adam, lr=1e-3, fused=None)
    on_gpu = [SimpleNamespace(device=torch.device("cuda", 0))]
    on_cpu = [torch.nn.Parameter(torch.zeros(2))]

    assert wants_fused(adam, on_gpu)
    assert wants_fused(torch.optim.Adam, on_gpu)
    assert not wants_fused(adam, on_cpu)
    assert not wants_fused(adam, on_gpu + on_cpu)
    assert not wants_fused(partial(torch.optim.Adam, fused=False), on_gpu), "config wins"
    assert not wants_fused(partial(torch.optim.Adamax, lr=1e-3), on_gpu), "Adamax has none"


def test_build_optimizer_obeys_the_config_on_cpu() -> None:
    params = [torch.nn.Parameter(torch.zeros(2))]
    assert not build_optimizer(partial(torch.optim.Adam, fused=None), params).defaults["fused"]
    assert build_optimizer(partial(torch.optim.Adam, fused=True), params).defaults["fused"]
    g_opt, d_opt = tiny_gan().configure_optimizers()
    assert isinstance(g_opt, torch.optim.Adam) and not g_opt.defaults["fused"]


# no host sync in the training step

CONVERSIONS = ("item", "tolist", "numpy", "__float__", "__int__", "__bool__", "__index__")


class HostReads:
    """Records tensor-to-Python conversions called from the project's code while ``active``.

    Library code (Lightning, the optimizers' own bookkeeping on host tensors) is not recorded: on
    a GPU those paths are covered by :func:`test_training_step_never_syncs_on_a_gpu`.
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.active = False
        self.calls: list[str] = []
        for name in CONVERSIONS:
            monkeypatch.setattr(
                torch.Tensor, name, self._recorded(name, getattr(torch.Tensor, name))
            )

    def _recorded(self, name: str, original: Callable) -> Callable:
        def conversion(tensor: torch.Tensor, *args: object, **kwargs: object) -> object:
            if self.active:
                caller = sys._getframe(1)
                path = Path(caller.f_code.co_filename).resolve()
                if path.is_relative_to(REPO):
                    self.calls.append(f"{name} at {path.relative_to(REPO)}:{caller.f_lineno}")
            return original(tensor, *args, **kwargs)

        return conversion

    @contextmanager
    def watching(self, model: pl.LightningModule, skip: int = 1) -> Iterator[None]:
        """Watch ``model.training_step`` from its ``skip + 1``-th call on (the first step may
        initialise state: ActNorm reads its flag once)."""
        step, calls = model.training_step, []

        def watched(*args: object, **kwargs: object) -> object:
            self.active = len(calls) >= skip
            calls.append(None)
            try:
                return step(*args, **kwargs)
            finally:
                self.active = False

        model.training_step = watched
        yield
        assert len(calls) > skip, "the training step was not watched"


@pytest.fixture
def host_reads(monkeypatch: pytest.MonkeyPatch) -> HostReads:
    return HostReads(monkeypatch)


def _trained_watched(reads: HostReads, model: pl.LightningModule, data: object) -> None:
    with reads.watching(model):
        quiet_trainer().fit(model, data)


CASES = {
    "dcgan_channels_last": lambda: (tiny_gan(channels_last=True), loader(3)),
    "wgan_gp_ema": lambda: (tiny_gan(ema_decay=0.9, **WGAN_GP), loader(3)),
    "wgan_clip": lambda: (
        tiny_gan(clip_value=0.01, loss=losses.GANLoss(losses.wgan_d_loss, losses.wgan_g_loss)),
        loader(3),
    ),
    "projection_aux_mismatch_augment": lambda: (
        _cgan(
            ANIME,
            partial(ProjectionDiscriminator, aux_head=True),
            aux_weight=1.0,
            mismatch_negatives=True,
            augment=["translation", "cutout"],
        ),
        _conditional_loader(ANIME, 3),
    ),
    "projection_aux_rebind": lambda: (
        _cgan(
            ICLEVR,
            partial(ProjectionDiscriminator, aux_head=True, aux_trunk="batchnorm"),
            aux_weight=1.0,
            mismatch_negatives=True,
            mismatch_kind="rebind",
        ),
        _conditional_loader(ICLEVR, 3),
    ),
    "stargan": lambda: (tiny_stargan(n_critic=1), attribute_loader(3)),
    "glow": lambda: (tiny_flow(), flow_loader(3)),
}


@pytest.mark.parametrize("case", CASES)
def test_training_step_reads_no_tensor_into_python(case: str, host_reads: HostReads) -> None:
    model, data = CASES[case]()
    _trained_watched(host_reads, model, data)
    assert host_reads.calls == []


def test_the_guard_catches_a_python_read_in_the_step(host_reads: HostReads) -> None:
    model = tiny_gan()
    d_step = model.d_step

    def d_step_that_reads_its_loss(*args: object) -> dict[str, torch.Tensor]:
        logs = d_step(*args)
        float(logs["d_loss"])
        return logs

    model.d_step = d_step_that_reads_its_loss
    _trained_watched(host_reads, model, loader(3))
    assert len(host_reads.calls) == 2 and "__float__ at tests/gans" in host_reads.calls[0]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA sync debug mode needs a GPU")
@pytest.mark.parametrize("name", MODELS)
def test_training_step_never_syncs_on_a_gpu(name: str) -> None:
    model = tiny_gan(channels_last=True, **MODELS[name])
    step, calls = model.training_step, []

    def strict(*args: object, **kwargs: object) -> object:
        calls.append(None)
        torch.cuda.set_sync_debug_mode("error" if len(calls) > 1 else "default")
        try:
            return step(*args, **kwargs)
        finally:
            torch.cuda.set_sync_debug_mode("default")

    model.training_step = strict
    pl.Trainer(
        accelerator="gpu",
        devices=1,
        precision="bf16-mixed",
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    ).fit(model, loader(4))
    assert len(calls) == 4
