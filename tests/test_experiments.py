"""conf/experiment/ presets and sweeps: every preset (and every job of its sweep) composes, runs
a fast_dev_run on the toy data, multiruns write a dir per job with one W&B group, and a failing
job is reported without losing the others."""

from __future__ import annotations

import itertools
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from runtime import resolvers
from tests.run_helpers import REPO, compose_train
from train import train

EXPERIMENTS = sorted(p.stem for p in (REPO / "conf" / "experiment").glob("*.yaml"))
TIPS = sorted(p.stem for p in (REPO / "conf" / "tip").glob("*.yaml"))

# Each real data set's procedural stand-in, with sizes small enough for a test.
TOY = {
    "anime": ("toy_anime", ["data.n_images=48"]),
    "anime_tags": ("toy_anime_tags", ["data.n_images=48", "data.image_size=32"]),
    "iclevr": ("toy_iclevr", ["data.n_scenes=16", "data.image_size=32"]),
    "celeba": ("toy_celeba", ["data.n_images=40", "data.image_size=32"]),
}
# Tiny networks per model family (their width keys differ).
SMALL_MODEL = {
    "gans.base.GANModule": [
        "model.generator.width=8",
        "model.discriminator.width=8",
        "model.n_samples=16",
    ],
    "flows.module.FlowModule": ["model.flow.hidden=8", "model.flow.steps=2", "model.n_samples=8"],
    "gans.stargan.StarGAN": [
        "model.generator.width=8",
        "model.generator.n_res=1",
        "model.discriminator.width=8",
        "model.n_samples=4",
        "callbacks.translation_grid.n_images=4",
    ],
}
QUIET = ["logger=none", "~callbacks.progress_bar", "trainer.accelerator=cpu", "data.batch_size=8"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The four toy sets, tiny, written once for this module."""
    from datamodules.toy_anime import ensure_toy_anime
    from datamodules.toy_celeba import ensure_toy_celeba
    from datamodules.toy_iclevr import ensure_toy_iclevr

    path = tmp_path_factory.mktemp("experiment_data")
    ensure_toy_anime(path / "toy_anime", n_images=48, seed=0)
    ensure_toy_iclevr(path / "toy_iclevr", n_scenes=16, seed=0)
    ensure_toy_celeba(path / "toy_celeba", n_images=40, seed=0)
    return path


@pytest.fixture(scope="module")
def evaluator_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An ICLEVR evaluator in the course's checkpoint format (untrained: only the plumbing)."""
    from metrics.iclevr_evaluator import build_evaluator_network

    path = tmp_path_factory.mktemp("evaluator") / "checkpoint.pth"
    torch.save({"model": build_evaluator_network().state_dict()}, path)
    return path


def _sweep_jobs(cfg: DictConfig) -> list[list[str]]:
    """The override lists of the jobs that ``cfg``'s basic-sweeper params expand to."""
    params = cfg.hydra.sweeper.get("params") or {}
    parser = OverridesParser.create()
    axes = []
    for key, spec in params.items():
        values = parser.parse_override(f"{key}={spec}").sweep_string_iterator()
        axes.append([f"{key}={value}" for value in values])
    return [list(job) for job in itertools.product(*axes)]


def _toy(experiment: str, tmp_path: Path, data_dir: Path, *extra: str) -> list[str]:
    """``experiment`` at toy scale: its data's toy stand-in and tiny networks."""
    real = compose_train(tmp_path, [f"experiment={experiment}"])
    toy_data, sizes = TOY[real.hydra.runtime.choices.data]
    overrides = [f"experiment={experiment}", f"data={toy_data}", f"paths.data_dir={data_dir}"]
    overrides += [*sizes, *SMALL_MODEL[real.model._target_], *QUIET, *extra]
    if "anime_faces" in compose_train(tmp_path, overrides).callbacks:
        overrides += ["callbacks.anime_faces.n_samples=25", "callbacks.anime_faces.batch_size=25"]
    return overrides


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_preset_is_documented_and_every_job_composes(experiment: str, tmp_path: Path) -> None:
    text = (REPO / "conf" / "experiment" / f"{experiment}.yaml").read_text()
    assert text.startswith("# @package _global_\n# "), "a header comment says what the study is"
    cfg = compose_train(tmp_path, [f"experiment={experiment}"])
    assert cfg.hydra.runtime.choices.experiment == experiment
    assert cfg.hydra.runtime.choices.data in TOY
    optuna = "Optuna" in cfg.hydra.sweeper._target_
    jobs = [] if optuna else _sweep_jobs(cfg)
    sweeps = optuna or len(jobs) > 1
    # The header shows the command (with -m when the preset is a sweep) and the toy-scale one.
    command = re.compile(rf"# +python train\.py {'-m ' if sweeps else ''}experiment={experiment} ")
    assert command.search(text), f"no 'python train.py ... experiment={experiment}' in the header"
    assert re.search(rf"experiment={experiment} data=toy_", text), "no toy-scale command"
    for job in jobs:
        compose_train(tmp_path, [f"experiment={experiment}", *job])


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_preset_fast_dev_run_on_toy_data(
    experiment: str, data_dir: Path, evaluator_ckpt: Path, tmp_path: Path
) -> None:
    extra = ["+trainer.fast_dev_run=1"]
    preset = compose_train(tmp_path, [f"experiment={experiment}"])
    # ``in`` is False for a ``???`` value: ask whether the key is missing instead.
    if OmegaConf.is_missing(preset, "evaluator_ckpt"):
        extra += [f"evaluator_ckpt={evaluator_ckpt}", "callbacks.iclevr_accuracy.n_repeats=1"]
    cfg = compose_train(tmp_path, _toy(experiment, tmp_path, data_dir, *extra))
    metrics = train(cfg)
    assert metrics["d_steps"] == 1
    if cfg.optimized_metric is not None:
        assert math.isfinite(metrics[cfg.optimized_metric]), "the preset's metric is produced"
    assert list((tmp_path / "samples").glob("step_*.png"))


@pytest.mark.slow
@pytest.mark.parametrize("tip", TIPS)
def test_every_tips_arm_runs_on_toy_anime(tip: str, data_dir: Path, tmp_path: Path) -> None:
    overrides = _toy("tips", tmp_path, data_dir, f"tip={tip}", "+trainer.fast_dev_run=1")
    metrics = train(compose_train(tmp_path, overrides))
    assert metrics["d_steps"] == 1


def test_tips_sweep_covers_every_arm_and_each_arm_changes_its_knob(tmp_path: Path) -> None:
    cfg = compose_train(tmp_path, ["experiment=tips"])
    assert sorted(job[0].removeprefix("tip=") for job in _sweep_jobs(cfg)) == TIPS
    assert cfg.trainer.max_epochs == 200
    arm = {tip: compose_train(tmp_path, ["experiment=tips", f"tip={tip}"]) for tip in TIPS}
    base = arm["baseline"]
    assert (list(base.data.value_range), base.model.generator.output) == ([-1, 1], None)
    assert list(arm["range_01"].data.value_range) == [0, 1]
    assert arm["saturating"].model.loss.g._target_ == "gans.losses.bce_g_loss_saturating"
    assert base.model.loss.g._target_ == "gans.losses.bce_g_loss_nonsaturating"
    pairs = {
        tip: (arm[tip].model.g_opt._target_[12:], arm[tip].model.d_opt._target_[12:])
        for tip in ("baseline", "g_adam_d_sgd", "g_sgd_d_adam", "g_sgd_d_sgd")
    }
    assert sorted(pairs.values()) == [
        ("Adam", "Adam"),
        ("Adam", "SGD"),
        ("SGD", "Adam"),
        ("SGD", "SGD"),
    ]
    ratios = {tip: (arm[tip].model.n_critic, arm[tip].model.g_repeats) for tip in TIPS}
    assert ratios["baseline"] == (1, 1)
    assert (ratios["ratio_d2_g1"], ratios["ratio_d1_g2"]) == ((2, 1), (1, 2))
    for part in ("tips_range", "tips_loss", "tips_optimizers", "tips_ratio"):
        jobs = _sweep_jobs(compose_train(tmp_path, [f"experiment={part}"]))
        assert ["tip=baseline"] in jobs and len(jobs) >= 2


def test_presets_set_the_metric_that_train_py_returns(tmp_path: Path) -> None:
    expected = {
        "tips": "face_detect_rate",
        "iclevr_cglow": "acc_test",
        "celeba_cglow": "val/bits_per_dim",
        "stargan_celeba": None,
    }
    for experiment, metric in expected.items():
        cfg = compose_train(tmp_path, [f"experiment={experiment}"])
        # Holds only when conf/train.yaml lists _self_ before the experiment.
        assert cfg.optimized_metric == metric, experiment


def test_iclevr_presets_need_an_evaluator_checkpoint(tmp_path: Path) -> None:
    from omegaconf.errors import InterpolationToMissingValueError

    cfg = compose_train(tmp_path, ["experiment=iclevr_cdcgan"])
    assert (cfg.data.batch_size, cfg.model.g_opt.lr, cfg.model.d_opt.lr) == (16, 2e-4, 2e-4)
    assert cfg.model.g_repeats == 4 and cfg.optimized_metric == "acc_test"
    with pytest.raises(InterpolationToMissingValueError, match="evaluator_ckpt"):
        _ = cfg.callbacks.iclevr_accuracy.evaluator.path
    cfg = compose_train(tmp_path, ["experiment=iclevr_cdcgan", "evaluator_ckpt=/e/checkpoint.pth"])
    assert cfg.callbacks.iclevr_accuracy.evaluator.path == "/e/checkpoint.pth"
    jobs = _sweep_jobs(compose_train(tmp_path, ["experiment=iclevr_cglow"]))
    assert [job[0].lower() for job in jobs] == ["model.flow.affine=false", "model.flow.affine=true"]


def test_stargan_presets_use_the_papers_domains_and_sizes(tmp_path: Path) -> None:
    cfg = compose_train(tmp_path, ["experiment=stargan_celeba"])
    assert list(cfg.data.attributes) == ["Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young"]
    assert (cfg.data.image_size, cfg.data.batch_size, cfg.model.total_steps) == (128, 16, 200000)
    assert compose_train(tmp_path, ["experiment=stargan_celeba_256"]).data.image_size == 256


def test_launcher_and_optuna_presets_compose(tmp_path: Path) -> None:
    joblib = compose_train(tmp_path, ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"])
    assert joblib.hydra.launcher.n_jobs == 2
    assert "JoblibLauncher" in joblib.hydra.launcher._target_
    slurm = compose_train(tmp_path, ["hydra/launcher=slurm", "hydra.launcher.partition=gpu"])
    assert "SlurmLauncher" in slurm.hydra.launcher._target_
    assert (slurm.hydra.launcher.partition, slurm.hydra.launcher.gpus_per_node) == ("gpu", 1)
    for overrides in (["experiment=optuna_lr"], ["hydra/sweeper=optuna_lr", "model=wgan_gp"]):
        cfg = compose_train(tmp_path, overrides)
        sweeper = cfg.hydra.sweeper
        assert "OptunaSweeper" in sweeper._target_ and sweeper.direction == "maximize"
        assert set(sweeper.params) == {"model.g_opt.lr", "model.d_opt.lr", "model.n_critic"}
        for key in sweeper.params:  # each searched key exists in the model's config
            assert OmegaConf.select(cfg, key) is not None
        assert cfg.optimized_metric == "face_detect_rate"


def test_jobs_of_a_multirun_share_a_group_and_are_named_by_their_overrides(tmp_path: Path) -> None:
    sweep = tmp_path / "multirun" / "2026-11-23" / "16-40-00"
    names, groups, tags = [], set(), []
    for tip in ("baseline", "saturating"):
        cfg = compose_train(tmp_path, ["experiment=tips", f"tip={tip}", "logger=wandb"])
        with read_write(cfg.hydra), open_dict(cfg):
            cfg.hydra.mode = RunMode.MULTIRUN
            cfg.hydra.sweep.dir = str(sweep)
            cfg.hydra.overrides.task = [f"tip={tip}", "experiment=tips", "logger=wandb"]
        HydraConfig.instance().set_config(cfg)
        names.append(resolvers.run_name())
        groups.add(resolvers.run_group())
        tags.append(resolvers.run_tags())
    assert names == ["tips-dcgan-anime,tip=baseline", "tips-dcgan-anime,tip=saturating"]
    assert groups == {"tips-2026-11-23_16-40-00"}
    assert tags[1] == ["model:dcgan", "data:anime", "experiment:tips", "tip:saturating"]


def _train_py(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", **env}
    return subprocess.run(
        [sys.executable, str(REPO / "train.py"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _multirun(sweep: Path, data_dir: Path, *args: str) -> list[str]:
    small = SMALL_MODEL["gans.base.GANModule"] + [o for o in QUIET if o != "logger=none"]
    faces = ["callbacks.anime_faces.n_samples=25", "callbacks.anime_faces.batch_size=25"]
    return [
        "-m",
        *args,
        f"paths.data_dir={data_dir}",
        "data.n_images=48",
        "trainer.max_epochs=1",
        "++trainer.limit_train_batches=2",
        *small,
        *faces,
        f"hydra.sweep.dir={sweep}",
    ]


@pytest.mark.slow
def test_two_job_multirun_writes_a_run_per_job_in_one_wandb_group(
    data_dir: Path, tmp_path: Path
) -> None:
    sweep = tmp_path / "sweep"
    args = _multirun(sweep, data_dir, "experiment=tips_loss", "data=toy_anime", "logger=wandb")
    result = _train_py(*args, cwd=tmp_path, WANDB_MODE="offline", HOME=str(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    assert (sweep / "multirun.yaml").is_file()
    group = "tips_loss-" + "_".join(sweep.parts[-2:])
    for job, tip in (("0", "baseline"), ("1", "saturating")):
        metrics = json.loads((sweep / job / "metrics.json").read_text())
        assert metrics["d_steps"] == 2
        (run,) = (sweep / job / "wandb").glob("offline-run-*/run-*.wandb")  # one run per job
        record = run.read_bytes()  # protobuf records: the strings are stored as they are
        assert group.encode() in record
        assert f"tips_loss-dcgan-toy_anime,tip={tip},".encode() in record  # the run's name
        assert b"experiment:tips_loss" in record and f"tip:{tip}".encode() in record  # tags


@pytest.mark.slow
def test_optuna_example_runs_its_trials_and_writes_the_best(data_dir: Path, tmp_path: Path) -> None:
    sweep = tmp_path / "optuna"
    args = ["experiment=optuna_lr", "data=toy_anime", "logger=csv", "hydra.sweeper.n_trials=2"]
    result = _train_py(*_multirun(sweep, data_dir, *args), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    best = OmegaConf.load(sweep / "optimization_results.yaml")
    assert set(best.best_params) == {"model.g_opt.lr", "model.d_opt.lr", "model.n_critic"}
    assert 0.0 <= best.best_value <= 1.0  # the face-detection rate train.py returned
    assert all((sweep / job / "metrics.json").is_file() for job in ("0", "1"))


def test_in_process_failure_handling_of_main(data_dir: Path, tmp_path: Path) -> None:
    """A failing single run raises; the same failure in a multirun job writes failed.json."""
    import train as train_py

    overrides = _toy("tips", tmp_path, data_dir, "model.d_opt.lr=-1", "+trainer.fast_dev_run=1")
    cfg = compose_train(tmp_path, overrides)
    with pytest.raises(ValueError, match="Invalid learning rate"):
        train_py.main.__wrapped__(cfg)
    assert not (tmp_path / "failed.json").exists()
    with read_write(cfg.hydra), open_dict(cfg):
        cfg.hydra.mode = RunMode.MULTIRUN
    HydraConfig.instance().set_config(cfg)
    assert train_py.main.__wrapped__(cfg) is None
    failed = json.loads((tmp_path / "failed.json").read_text())
    assert failed["error"].startswith("ValueError: Invalid learning rate")


def test_sample_grids_at_fixed_epochs(data_dir: Path, tmp_path: Path) -> None:
    tips = compose_train(tmp_path, ["experiment=tips"])
    assert list(tips.callbacks.sample_grid.at_epochs) == [50, 100, 150, 200]
    extra = ["trainer.max_epochs=3", "++trainer.limit_train_batches=1"]
    extra += ["callbacks.sample_grid.at_epochs=[1,3]", "callbacks.sample_grid.every_n_steps=null"]
    train(compose_train(tmp_path, _toy("tips", tmp_path, data_dir, *extra)))
    names = sorted(p.name for p in (tmp_path / "samples").glob("*.png"))
    assert names == ["epoch_001.png", "epoch_003.png", "step_000003.png"]
