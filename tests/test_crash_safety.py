"""Crash safety: a process killed (SIGKILL) while saving never leaves a truncated checkpoint,
and a training run killed at random moments, again and again, resumes from its last.ckpt."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from runtime.checkpoint_io import AtomicCheckpointIO, atomic_torch_save
from tests.run_helpers import REPO

# Saves an 8 MB checkpoint in a loop (so a kill mostly lands mid-save), each one a tensor filled
# with its own number.
SAVER = """
import sys, torch
from runtime.checkpoint_io import atomic_torch_save
for i in range(10**9):
    atomic_torch_save({"i": i, "x": torch.full((2_000_000,), float(i))}, sys.argv[1])
"""


def _env() -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "WANDB_MODE": "offline"}
    env.pop("WANDB_API_KEY", None)
    return env


def _mtime(path: Path) -> int:
    return path.stat().st_mtime_ns if path.exists() else 0


def _wait_for_save(path: Path, before: int, proc: subprocess.Popen) -> bool:
    """Poll until ``proc`` has (re)written ``path`` since its mtime was ``before`` (True) or
    ``proc`` exited (False)."""
    deadline = time.monotonic() + 120.0
    while time.monotonic() < deadline:
        if _mtime(path) != before:
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.02)
    raise TimeoutError(f"the subprocess wrote no {path.name} in 120 s")


def _kill(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def test_interrupted_save_keeps_the_old_file_and_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "last.ckpt"
    atomic_torch_save({"step": 1}, path)

    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_torch_save({"x": torch.zeros(1000), "bad": Unpicklable()}, path)
    assert torch.load(path, weights_only=True) == {"step": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt"]


def test_checkpoint_io_replaces_and_cleans_leftovers(tmp_path: Path) -> None:
    path = tmp_path / "checkpoints" / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint({"step": 1}, path)
    leftover = path.parent / ".last.ckpt.abc123.tmp"  # as a kill during a save leaves one
    leftover.write_bytes(b"half a checkpoint")
    AtomicCheckpointIO().save_checkpoint({"step": 2}, path)
    assert AtomicCheckpointIO().load_checkpoint(path, weights_only=True) == {"step": 2}
    assert sorted(p.name for p in path.parent.iterdir()) == ["last.ckpt"]


def test_saver_killed_at_random_moments_always_leaves_a_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "last.ckpt"
    rng = random.Random(0)
    for _ in range(2):
        before = _mtime(path)
        proc = subprocess.Popen([sys.executable, "-c", SAVER, str(path)], env=_env(), cwd=REPO)
        assert _wait_for_save(path, before, proc), "the saver exited"
        time.sleep(rng.uniform(0.0, 0.4))
        _kill(proc)
        checkpoint = torch.load(path, weights_only=True)
        assert torch.equal(checkpoint["x"], torch.full((2_000_000,), float(checkpoint["i"])))


@pytest.mark.slow
def test_training_killed_repeatedly_resumes_from_last_checkpoint(
    anime_data_dir: Path, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    last = run / "checkpoints" / "last.ckpt"
    total_steps = 5 * 6  # 5 epochs of 6 batches
    args = [
        str(REPO / "train.py"),
        f"paths.data_dir={anime_data_dir}",
        "data.n_images=48",
        "data.batch_size=8",
        "model.generator.width=32",
        "model.discriminator.width=32",
        "model.n_samples=16",
        "logger=none",
        "~callbacks.progress_bar",
        "~callbacks.anime_faces",
        "optimized_metric=null",
        "trainer.accelerator=cpu",
        "trainer.max_epochs=5",
        "callbacks.model_checkpoint.every_n_train_steps=1",
        "callbacks.sample_grid.every_n_steps=0",
        f"hydra.run.dir={run}",
    ]
    rng = random.Random(0)
    steps = 0
    for _ in range(2):
        resume = [f"ckpt_path={last}"] if last.exists() else []
        before = _mtime(last)
        proc = subprocess.Popen(
            [sys.executable, *args, *resume],
            cwd=tmp_path,
            env=_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        if not _wait_for_save(last, before, proc):
            pytest.fail(f"training exited before saving: {proc.stderr.read().decode()[-3000:]}")
        time.sleep(rng.uniform(0.0, 0.5))
        _kill(proc)
        proc.stderr.close()
        checkpoint = torch.load(last, weights_only=True)  # whole, whatever moment the kill hit
        assert checkpoint["gan_counters"]["d_steps"] >= steps
        steps = checkpoint["gan_counters"]["d_steps"]
        assert (run / ".hydra" / "config.yaml").is_file()
        if steps == total_steps:
            break

    done = subprocess.run(
        [sys.executable, *args, f"ckpt_path={last}"],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads((run / "metrics.json").read_text())["d_steps"] == total_steps
    assert [p.name for p in last.parent.iterdir()] == ["last.ckpt"]
