"""Tests for AnimeFaceMetric: what it samples, what it records, where, and when."""

import copy
import importlib.util
from pathlib import Path
from types import SimpleNamespace

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import Logger
from torch.utils.data import DataLoader, TensorDataset

from callbacks.face_metric import AnimeFaceMetric
from metrics.anime_faces import GRID_PASS_FACES


def _drawn_face() -> torch.Tensor:
    """The detectable cartoon face ``(1, 3, 64, 64)`` drawn by the detector's tests, loaded by
    path so this does not depend on pytest's import mode."""
    path = Path(__file__).parents[1] / "metrics" / "test_anime_faces.py"
    spec = importlib.util.spec_from_file_location("anime_face_drawing", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.as_unit_rgb(module.draw_anime_face(64))


FACE = _drawn_face()
BLANK = torch.full_like(FACE, 0.5)


class BankSampler(pl.LightningModule):
    """A stand-in GAN whose ``sample(n)`` returns the next ``n`` images of a fixed bank."""

    def __init__(self, bank: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("bank", bank)
        self.layer = torch.nn.Linear(1, 1)
        self.cursor = 0
        self.calls: list[tuple[int, bool]] = []

    def sample(self, n: int) -> torch.Tensor:
        self.calls.append((n, torch.is_grad_enabled()))
        images = self.bank[self.cursor : self.cursor + n]
        self.cursor += n
        return images

    def training_step(self, batch: list[torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self.layer(batch[0]).sum()

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(TensorDataset(torch.zeros(4, 1)), batch_size=2)


class NoiseSampler(pl.LightningModule):
    """A stand-in GAN drawing ``(n, 3, 8, 8)`` uniform noise from the global RNG."""

    def __init__(self, d_steps: int = 0) -> None:
        super().__init__()
        self.d_steps = d_steps
        self.drawn: list[torch.Tensor] = []

    def sample(self, n: int) -> torch.Tensor:
        images = torch.rand(n, 3, 8, 8)
        self.drawn.append(images)
        return images


class RecordingLogger(Logger):
    """Keeps every ``log_metrics`` call."""

    def __init__(self) -> None:
        super().__init__()
        self.logged: list[tuple[dict[str, float], int | None]] = []

    @property
    def name(self) -> str:
        return "recording"

    @property
    def version(self) -> int:
        return 0

    def log_hyperparams(self, params: object) -> None:
        pass

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        self.logged.append((dict(metrics), step))


def _trainer(callback: AnimeFaceMetric, logger: Logger | bool = False) -> pl.Trainer:
    return pl.Trainer(
        accelerator="cpu",
        fast_dev_run=1,
        logger=logger,
        callbacks=[callback],
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )


@pytest.mark.parametrize(
    ("bank", "rate", "passed"),
    [
        ([FACE] * 25 + [BLANK] * 10 + [FACE] * 5, 30 / 40, True),
        ([BLANK] * 25 + [FACE] * 15, 15 / 40, False),
    ],
    ids=["faces-first", "blanks-first"],
)
def test_fit_records_face_metrics(bank: list[torch.Tensor], rate: float, passed: bool) -> None:
    module = BankSampler(torch.cat(bank))
    trainer = _trainer(AnimeFaceMetric(n_samples=40, batch_size=16))
    trainer.fit(module)

    assert module.calls == [(16, False), (16, False), (8, False)]
    metrics = trainer.callback_metrics
    torch.testing.assert_close(metrics["face_detect_rate"], torch.tensor(rate))
    torch.testing.assert_close(metrics["face_grid_pass"], torch.tensor(float(passed)))
    count = metrics["face_grid_count"].item()
    assert (count >= GRID_PASS_FACES) == passed
    assert count <= 25


def test_metrics_go_to_every_logger_at_lightnings_step() -> None:
    loggers = [RecordingLogger(), RecordingLogger()]
    trainer = pl.Trainer(accelerator="cpu", logger=loggers, enable_progress_bar=False)
    callback = AnimeFaceMetric(n_samples=25, batch_size=25)
    callback.on_train_end(trainer, NoiseSampler(d_steps=7))

    expected = {"face_detect_rate": 0.0, "face_grid_pass": 0.0, "face_grid_count": 0.0}
    for logger in loggers:
        assert logger.logged == [(expected, trainer.global_step)]
    for key, value in expected.items():
        torch.testing.assert_close(trainer.callback_metrics[key], torch.tensor(value))


def test_every_n_steps_scores_on_multiples_only() -> None:
    logger = RecordingLogger()
    trainer = pl.Trainer(accelerator="cpu", logger=logger, enable_progress_bar=False)
    callback = AnimeFaceMetric(n_samples=25, batch_size=25, every_n_steps=2)
    for d_steps in (1, 2, 3, 4):
        callback.on_train_batch_end(trainer, NoiseSampler(d_steps), None, None, 0)
        if d_steps % 2:
            assert "face_detect_rate" not in trainer.callback_metrics
        else:
            assert trainer.callback_metrics.pop("face_detect_rate") == 0.0
    assert len(logger.logged) == 2


def test_end_of_training_at_a_scored_step_does_not_score_again() -> None:
    logger = RecordingLogger()
    trainer = pl.Trainer(accelerator="cpu", logger=logger, enable_progress_bar=False)
    callback = AnimeFaceMetric(n_samples=25, batch_size=25, every_n_steps=2)
    module = NoiseSampler(d_steps=4)
    callback.on_train_batch_end(trainer, module, None, None, 0)
    callback.on_train_end(trainer, module)
    assert len(module.drawn) == 1
    assert len(logger.logged) == 1


def test_no_periodic_scoring_without_every_n_steps() -> None:
    logger = RecordingLogger()
    trainer = pl.Trainer(accelerator="cpu", logger=logger, enable_progress_bar=False)
    callback = AnimeFaceMetric(n_samples=25, batch_size=25)
    callback.on_train_batch_end(trainer, NoiseSampler(d_steps=2), None, None, 0)
    assert logger.logged == []


def test_only_global_rank_zero_scores() -> None:
    logger = RecordingLogger()
    module = NoiseSampler()
    trainer = SimpleNamespace(
        is_global_zero=False, callback_metrics={}, loggers=[logger], global_step=0
    )
    AnimeFaceMetric(n_samples=25, batch_size=25).on_train_end(trainer, module)
    assert module.drawn == []
    assert trainer.callback_metrics == {}
    assert logger.logged == []


def test_sampling_is_seeded_and_leaves_the_global_rng_alone() -> None:
    callback = AnimeFaceMetric(n_samples=30, batch_size=20, seed=3)
    module = NoiseSampler()
    for training_seed in (123, 456):
        torch.manual_seed(training_seed)
        state = torch.get_rng_state()
        callback.score(module)
        torch.testing.assert_close(torch.get_rng_state(), state)
    first, second = torch.cat(module.drawn[:2]), torch.cat(module.drawn[2:])
    assert first.shape == (30, 3, 8, 8)
    torch.testing.assert_close(first, second)
    assert not torch.equal(first[:10], first[20:])  # seeded once per score, not per chunk


def test_sample_returning_the_wrong_count_is_an_error() -> None:
    module = BankSampler(torch.cat([BLANK] * 10))
    with pytest.raises(ValueError, match=r"BankSampler.sample\(25\) returned 10 images"):
        AnimeFaceMetric(n_samples=25, batch_size=25).score(module)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_samples": 24}, "n_samples must be at least 25"),
        ({"batch_size": 0}, "batch_size must be positive"),
        ({"every_n_steps": 0}, "every_n_steps must be positive"),
        ({"cascade_path": "missing_cascade.xml"}, "missing_cascade.xml"),
    ],
)
def test_bad_arguments_fail_at_construction(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        AnimeFaceMetric(**kwargs)


def test_callback_can_be_deep_copied() -> None:
    callback = AnimeFaceMetric(n_samples=25)
    clone = copy.deepcopy(callback)
    assert clone.detector.path == callback.detector.path
    assert clone.n_samples == 25
