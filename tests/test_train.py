"""End to end: train.py on the procedural anime faces and on a folder in the MLDS layout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from datamodules.errors import DataError
from tests.run_helpers import REPO, SMALL, compose_train, write_run_config
from train import train

MODELS = ["dcgan", "wgan", "wgan_gp", "lsgan", "hinge"]
CONDITIONAL = [
    "cgan_mlds",
    "cgan_mlds_embedding",
    "cdcgan_iclevr",
    "acgan",
    "projection_gan",
    "projection_acgan",
    "projection_acgan_bn",
    "projection_acgan_rebind",
    "projection_acgan_msgan",
    "projection_acgan_realstats",
]


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir holding a small toy anime set, written once for the whole session."""
    from datamodules.toy_anime import ensure_toy_anime
    from datamodules.toy_iclevr import ensure_toy_iclevr

    path = tmp_path_factory.mktemp("data")
    ensure_toy_anime(path / "toy_anime", n_images=48, seed=0)
    ensure_toy_iclevr(path / "toy_iclevr", n_scenes=16, seed=0)
    return path


def _overrides(data_dir: Path, *extra: str) -> list[str]:
    return [f"paths.data_dir={data_dir}", "data.n_images=48", "logger=none", *SMALL, *extra]


@pytest.mark.parametrize("model", MODELS)
def test_fast_dev_run_on_toy_anime(model: str, data_dir: Path, tmp_path: Path) -> None:
    cfg = compose_train(tmp_path, _overrides(data_dir, f"model={model}", "+trainer.fast_dev_run=1"))
    metrics = train(cfg)
    # fast_dev_run=1 stops at one optimizer step: Lightning's step counts D and G updates alike.
    assert metrics["d_steps"] == 1
    assert metrics["g_steps"] == (1 if cfg.model.n_critic == 1 else 0)
    assert 0.0 <= metrics["face_detect_rate"] <= 1.0
    assert all(torch.isfinite(torch.tensor(v)) for v in metrics.values())


@pytest.mark.parametrize("data", ["toy_anime_tags", "toy_iclevr"])
@pytest.mark.parametrize("model", CONDITIONAL)
def test_conditional_fast_dev_run(model: str, data: str, data_dir: Path, tmp_path: Path) -> None:
    size = ["data.n_images=48"] if data == "toy_anime_tags" else ["data.n_scenes=16"]
    faces = ["callbacks.anime_faces.n_samples=25"] if data == "toy_anime_tags" else []
    small = [o for o in SMALL if not o.startswith("callbacks.anime_faces")]
    overrides = [f"paths.data_dir={data_dir}", "logger=none", *small, *size, *faces]
    cfg = compose_train(
        tmp_path,
        [
            *overrides,
            f"model={model}",
            f"data={data}",
            "data.image_size=32",
            "+trainer.fast_dev_run=1",
        ],
    )
    metrics = train(cfg)
    assert metrics["d_steps"] == 1
    assert ("face_detect_rate" in metrics) == (data == "toy_anime_tags")


@pytest.mark.parametrize("model", MODELS)
def test_each_model_on_mlds_layout_leaves_metrics_checkpoint_and_samples(
    model: str, data_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    cfg = compose_train(
        out,
        [
            f"model={model}",
            "data=anime",
            f"data.root={data_dir / 'toy_anime'}",
            "trainer.max_epochs=1",
            "++trainer.limit_train_batches=3",
            "logger=csv",
            *SMALL,
        ],
    )
    train(cfg)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["d_steps"] == 3
    assert {"face_detect_rate", "face_grid_pass", "train/d_loss"} <= metrics.keys()
    checkpoint = torch.load(out / "checkpoints" / "last.ckpt", weights_only=False)
    assert checkpoint["gan_counters"]["d_steps"] == 3
    assert sorted(p.name for p in (out / "samples").glob("*.png")) == ["step_000003.png"]
    assert (out / "csv").is_dir()


def test_last_checkpoint_holds_the_final_state_between_periodic_saves(
    data_dir: Path, tmp_path: Path
) -> None:
    cfg = compose_train(
        tmp_path,
        _overrides(
            data_dir,
            "trainer.max_epochs=1",
            "++trainer.limit_train_batches=5",
            "callbacks.model_checkpoint.every_n_train_steps=4",
        ),
    )
    train(cfg)
    checkpoint = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["gan_counters"]["d_steps"] == 5


def test_resume_from_last_checkpoint_continues_counters(data_dir: Path, tmp_path: Path) -> None:
    first = compose_train(
        tmp_path, _overrides(data_dir, "trainer.max_epochs=1", "++trainer.limit_train_batches=3")
    )
    train(first)
    last = tmp_path / "checkpoints" / "last.ckpt"
    resumed = compose_train(
        tmp_path / "resumed",
        _overrides(
            data_dir, "trainer.max_epochs=2", "++trainer.limit_train_batches=3", f"ckpt_path={last}"
        ),
    )
    metrics = train(resumed)
    assert (metrics["d_steps"], metrics["g_steps"]) == (6, 6)


def _run_train(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    for key in ("WANDB_MODE", "WANDB_API_KEY"):  # as on a machine never logged in to W&B
        env.pop(key, None)
    return subprocess.run(
        [sys.executable, str(REPO / "train.py"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_train_py_command_line(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = _run_train(
        *_overrides(data_dir, "trainer.max_epochs=1", "++trainer.limit_train_batches=2"),
        "logger=wandb",
        f"hydra.run.dir={out}",
        cwd=tmp_path,
        env={"HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["d_steps"] == 2
    assert (out / "checkpoints" / "last.ckpt").is_file()
    assert list((out / "samples").glob("step_*.png"))
    assert (out / ".hydra" / "config.yaml").is_file()
    # Not logged in: wandb runs offline, with the sample grid among the run's media.
    (run,) = (out / "wandb").glob("offline-run-*")
    assert list((run / "files" / "media" / "images").glob("samples_*.png"))


def test_missing_data_root_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "no_such_anime"
    result = _run_train(
        "data=anime",
        f"data.root={missing}",
        "logger=none",
        f"hydra.run.dir={tmp_path}/o",
        cwd=tmp_path,
    )
    assert result.returncode != 0
    assert str(missing) in result.stderr
    assert "toy_anime" in result.stderr
    assert "Traceback" not in result.stderr


def test_conditional_model_on_unconditional_data_fails_before_training(
    data_dir: Path, tmp_path: Path
) -> None:
    from datamodules.errors import DataError

    cfg = compose_train(tmp_path, _overrides(data_dir, "model=cgan_mlds"))
    with pytest.raises(DataError, match="has no conditions.*toy_anime_tags.*celeba"):
        train(cfg)
    assert not (tmp_path / "checkpoints").exists()


def test_evaluate_and_sample_a_conditional_checkpoint(data_dir: Path, tmp_path: Path) -> None:
    """sample.py and evaluate.py as commands on a checkpoint trained in-process."""
    from hydra import compose, initialize_config_dir

    from sample import sample

    run = tmp_path / "run"
    cfg = compose_train(
        run,
        _overrides(
            data_dir,
            "trainer.max_epochs=1",
            "++trainer.limit_train_batches=2",
            "model=cgan_mlds",
            "data=toy_anime_tags",
            "data.image_size=32",
        ),
    )
    train(cfg)
    write_run_config(cfg, run)
    ckpt = run / "checkpoints" / "last.ckpt"
    tags = tmp_path / "testing_tags.txt"
    tags.write_text(
        "".join(
            f"{i},{h} hair {e} eyes\n"
            for i, (h, e) in enumerate(
                [
                    ("blue", "red"),
                    ("pink", "green"),
                    ("white", "yellow"),
                    ("black", "blue"),
                    ("red", "aqua"),
                ]
                * 5
            )
        )
    )

    def run_script(script: str, *args: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        return subprocess.run(
            [
                sys.executable,
                str(REPO / script),
                f"ckpt_path={ckpt}",
                f"paths.data_dir={data_dir}",
                *args,
            ],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    sampled = run_script(
        "sample.py",
        "conditions=[blue hair red eyes,pink hair green eyes]",
        "n=3",
        f"tags_file={tags}",
    )
    assert sampled.returncode == 0, sampled.stderr[-3000:]
    from PIL import Image

    assert Image.open(run / "generated" / "conditions.png").size == (3 * 34 + 2, 2 * 34 + 2)
    assert Image.open(run / "generated" / "mlds_tags_grid.png").size == (5 * 32, 5 * 32)

    with initialize_config_dir(str(REPO / "conf"), version_base="1.3"):
        bad = compose("sample", [f"ckpt_path={ckpt}", "conditions=[golden hair red eyes]"])
    with pytest.raises(DataError, match="golden"):
        sample(bad)

    evaluated = run_script("evaluate.py", "+run_overrides.callbacks.anime_faces.n_samples=25")
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    metrics = json.loads((run / "eval_metrics.json").read_text())
    assert metrics["d_steps"] == 2 and 0.0 <= metrics["face_detect_rate"] <= 1.0


def test_evaluate_names_a_missing_checkpoint(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "evaluate.py"), f"ckpt_path={tmp_path}/nope.ckpt"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert result.returncode != 0
    assert "nope.ckpt does not exist" in result.stderr and "Traceback" not in result.stderr


def test_tag_accuracy_is_scored_during_training_and_keeps_best(
    data_dir: Path, tmp_path: Path
) -> None:
    from datamodules.toy_anime_tags import ToyAnimeTagsDataModule
    from metrics.train_anime_tags_classifier import save_checkpoint, train_classifier

    cfg = compose_train(
        tmp_path,
        _overrides(
            data_dir,
            "model=cgan_mlds",
            "data=toy_anime_tags",
            "data.image_size=32",
            "trainer.max_epochs=1",
            "++trainer.limit_train_batches=2",
            "+metric@callbacks.tags_accuracy=anime_tags_accuracy",
            f"callbacks.tags_accuracy.evaluator.path={tmp_path / 'clf.pt'}",
            "callbacks.tags_accuracy.every_n_steps=1",
            "callbacks.tags_accuracy.n_repeats=1",
        ),
    )
    dm = ToyAnimeTagsDataModule(
        data_dir / "toy_anime",
        cfg.data.hair_colours,
        cfg.data.eye_colours,
        n_images=48,
        batch_size=8,
    )
    dm.setup()
    images, conditions = dm.train_set[torch.arange(len(dm.train_set))]
    classifier, _ = train_classifier(images, conditions, dm.spec.vocab, epochs=1, val_fraction=0.25)
    save_checkpoint(classifier, tmp_path / "clf.pt")

    metrics = train(cfg)
    assert {"acc_hair_pairs", "acc_eyes_pairs", "acc_both_pairs"} <= metrics.keys()
    assert 0.0 <= metrics["acc_both_pairs"] <= metrics["acc_hair_pairs"] <= 1.0
    best = torch.load(tmp_path / "checkpoints" / "best.ckpt", weights_only=True)
    assert best["gan_counters"]["d_steps"] in (1, 2)


def test_iclevr_accuracy_is_scored_on_test_and_new_test(data_dir: Path, tmp_path: Path) -> None:
    from metrics.iclevr_evaluator import build_evaluator_network

    torch.save({"model": build_evaluator_network().state_dict()}, tmp_path / "checkpoint.pth")
    small = [o for o in SMALL if not o.startswith("callbacks.anime_faces")]
    cfg = compose_train(
        tmp_path,
        [
            f"paths.data_dir={data_dir}",
            "logger=none",
            *small,
            "model=cdcgan_iclevr",
            "data=toy_iclevr",
            "data.n_scenes=16",
            "data.image_size=32",
            "trainer.max_epochs=1",
            "++trainer.limit_train_batches=1",
            "+metric@callbacks.iclevr_accuracy=iclevr_accuracy",
            f"callbacks.iclevr_accuracy.evaluator.path={tmp_path / 'checkpoint.pth'}",
            "callbacks.iclevr_accuracy.n_repeats=1",
        ],
    )
    metrics = train(cfg)
    assert 0.0 <= metrics["acc_test"] <= 1.0 and 0.0 <= metrics["acc_new_test"] <= 1.0
    assert (tmp_path / "checkpoints" / "best.ckpt").is_file()


def test_evaluate_scores_iclevr_with_a_given_evaluator(data_dir: Path, tmp_path: Path) -> None:
    """evaluate.py evaluator_ckpt=... scores a run trained without any accuracy callback."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf, open_dict

    from evaluate import evaluate
    from metrics.iclevr_evaluator import build_evaluator_network

    torch.save({"model": build_evaluator_network().state_dict()}, tmp_path / "checkpoint.pth")
    small = [o for o in SMALL if not o.startswith("callbacks.anime_faces")]
    run = tmp_path / "run"
    overrides = ["model=cdcgan_iclevr", "data=toy_iclevr", "data.n_scenes=16"]
    overrides += ["data.image_size=32", "trainer.max_epochs=1", "++trainer.limit_train_batches=1"]
    cfg = compose_train(run, [f"paths.data_dir={data_dir}", "logger=none", *small, *overrides])
    train(cfg)
    with open_dict(cfg):
        del cfg.hydra
    (run / ".hydra").mkdir()
    OmegaConf.save(cfg, run / ".hydra" / "config.yaml")  # as train.py's Hydra run writes it
    with initialize_config_dir(str(REPO / "conf"), version_base="1.3"):
        cfg = compose(
            "evaluate",
            overrides=[
                f"ckpt_path={run / 'checkpoints' / 'last.ckpt'}",
                f"evaluator_ckpt={tmp_path / 'checkpoint.pth'}",
                f"paths.data_dir={data_dir}",
            ],
        )
    metrics = evaluate(cfg)
    assert 0.0 <= metrics["acc_test"] <= 1.0 and 0.0 <= metrics["acc_new_test"] <= 1.0
    written = json.loads((run / "eval_metrics.json").read_text())
    assert written["acc_test"] == metrics["acc_test"]


def test_stargan_defaults_to_its_five_domains_at_128_and_names_wrong_data(
    data_dir: Path, tmp_path: Path
) -> None:
    cfg = compose_train(tmp_path, ["model=stargan", "data=toy_celeba"])
    assert list(cfg.data.attributes) == ["Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young"]
    assert cfg.data.image_size == 128  # the paper's; data.image_size=64 or 256 selects the others
    assert compose_train(tmp_path, ["model=stargan", "data.image_size=64"]).data.image_size == 64
    cfg = compose_train(tmp_path, ["model=stargan", "data=toy_celeba", "data.attributes=[Male]"])
    assert list(cfg.data.attributes) == ["Male"]
    assert list(compose_train(tmp_path, ["model=cglow", "data=toy_celeba"]).data.attributes) == [
        "Male",
        "Smiling",
        "Pale_Skin",
        "Goatee",
    ]
    with pytest.raises(DataError, match="attributes.*data=toy_celeba"):
        train(compose_train(tmp_path, _overrides(data_dir, "model=stargan")))


def test_a_data_error_inside_a_callback_preset_is_not_wrapped(
    data_dir: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "no_such_checkpoint.pth"
    overrides = ["model=cdcgan_iclevr", "data=toy_iclevr", "data.n_scenes=16"]
    overrides += ["+metric@callbacks.iclevr_accuracy=iclevr_accuracy"]
    overrides += [f"callbacks.iclevr_accuracy.evaluator.path={missing}"]
    small = [o for o in SMALL if not o.startswith("callbacks.anime_faces")]
    cfg = compose_train(tmp_path, [f"paths.data_dir={data_dir}", "logger=none", *small, *overrides])
    with pytest.raises(DataError, match="no_such_checkpoint"):
        train(cfg)
