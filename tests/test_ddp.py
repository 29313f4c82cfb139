"""``trainer=ddp`` on CPU: two processes (gloo) train like one process with the same global batch.

The DDP run is ``python -m tests.ddp_train`` as a subprocess: ``train.py`` with Glow's
dequantization noise replaced by the bin centre, so a step depends on its batch alone; Lightning
starts the second process. Glow has no BatchNorm (SyncBatchNorm needs GPUs) and its ActNorm
initialisation averages the first batch's moments over the processes, so with 8 images per process
the run must match one process with batches of 16.

What "same" means: the training set is exactly one global batch (16 images, no flips), so every
step of both runs sees the same images whatever order DistributedSampler and the one-process
shuffle give them, and Glow's loss is a mean over images, which does not depend on their order.
The two runs then differ only by floating-point summation order (DDP averages two half-batch
gradients), so after four SGD steps the parameters agree to 1e-5 relative and 1e-6 absolute
(measured: 2e-7 at most), while one process trained on half the batch ends up to 0.15 away. SGD,
not Glow's Adamax: Adamax's first steps move each weight by about ``lr`` in the direction of its
gradient's sign, so a gradient that is nearly zero flips its update with the last bit of rounding.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch.testing import assert_close

import flows.module
from datamodules.toy_anime import ensure_toy_anime
from tests.ddp_train import dequantize_to_bin_centre
from tests.run_helpers import REPO, compose_train
from train import train

GLOBAL_BATCH = 16
STEPS = 4
RTOL, ATOL = 1e-5, 1e-6
SETTINGS = [
    "model=glow",
    "model.flow.hidden=8",
    "model.flow.steps=2",
    "model.flow.levels=2",
    "model.warmup_steps=1",
    "optimizer@model.optimizer=sgd",
    "model.n_samples=8",
    "data=toy_anime",
    f"data.n_images={GLOBAL_BATCH}",
    "data.image_size=16",
    "data.hflip=false",
    "callbacks.anime_faces.n_samples=25",
    "callbacks.anime_faces.batch_size=25",
    "~callbacks.progress_bar",
    f"trainer.max_epochs={STEPS}",
    "trainer.log_every_n_steps=1",
    "logger=csv",
]


def _parameters(run: Path) -> dict[str, torch.Tensor]:
    checkpoint = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu")
    return checkpoint["state_dict"]


def _one_process(run: Path, data_dir: Path, batch_size: int) -> dict[str, torch.Tensor]:
    overrides = [f"paths.data_dir={data_dir}", *SETTINGS, "trainer=cpu"]
    train(compose_train(run, [*overrides, f"data.batch_size={batch_size}"]))
    return _parameters(run)


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A two-process DDP run on CPU (8 images per process); returns its run dir and data dir."""
    base = tmp_path_factory.mktemp("ddp")
    data_dir = base / "data"
    ensure_toy_anime(data_dir / "toy_anime", n_images=GLOBAL_BATCH, seed=0)
    run = base / "ddp_run"
    command = [sys.executable, "-m", "tests.ddp_train", *SETTINGS]
    command += ["trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2"]
    command += [f"data.batch_size={GLOBAL_BATCH // 2}", f"paths.data_dir={data_dir}"]
    command += [f"hydra.run.dir={run}", "hydra.job.name=train"]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, cwd=base, env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "Starting with 2 processes" in result.stdout + result.stderr
    return run, data_dir


@pytest.mark.slow
def test_two_cpu_processes_match_one_process_with_the_global_batch(
    ddp_run: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run, data_dir = ddp_run
    monkeypatch.setattr(flows.module, "dequantize", dequantize_to_bin_centre)
    ddp = _parameters(run)
    one = _one_process(tmp_path / "one", data_dir, GLOBAL_BATCH)
    assert ddp.keys() == one.keys()
    assert_close(ddp, one, rtol=RTOL, atol=ATOL)
    half = _one_process(tmp_path / "half", data_dir, GLOBAL_BATCH // 2)
    largest = max((ddp[k] - half[k]).abs().max().item() for k in ddp)
    assert largest > 100 * ATOL, "half the batch must train differently, or the test shows nothing"


@pytest.mark.slow
def test_rank_zero_alone_writes_samples_metrics_checkpoints_and_logs(
    ddp_run: tuple[Path, Path],
) -> None:
    run, _ = ddp_run
    assert sorted(p.name for p in (run / "samples").iterdir()) == [f"step_{STEPS:06d}.png"]
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["last.ckpt"]
    assert [p.name for p in (run / "csv").iterdir()] == ["version_0"]
    metrics = (run / "metrics.json").read_text()
    assert f'"d_steps": {STEPS},' in metrics and '"face_detect_rate"' in metrics
    assert "metrics written" in (run / "train.log").read_text()
    assert "metrics written" not in (run / "train_ddp_process_1.log").read_text()
