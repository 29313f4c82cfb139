"""ConditionAccuracy: what it feeds the evaluator, what it logs, which checkpoint it keeps."""

from __future__ import annotations

from pathlib import Path

import torch

from callbacks.condition_accuracy import ConditionAccuracy
from gans.nets.condition_map_d import ConditionMapDiscriminator
from tests.gans.test_conditional import ANIME, _cgan, _conditional_loader
from tests.run_helpers import quiet_trainer


class ScriptedEvaluator:
    """Returns the next scripted score and records what it was given."""

    def __init__(self, scores: list[float]) -> None:
        self.scores = list(scores)
        self.calls: list[tuple[torch.Tensor, torch.Tensor]] = []

    def accuracy(self, images: torch.Tensor, conditions: torch.Tensor) -> float:
        self.calls.append((images, conditions))
        return self.scores.pop(0)


def test_scores_sets_in_words_and_keeps_the_best_checkpoint(tmp_path: Path) -> None:
    evaluator = ScriptedEvaluator([0.2, 0.7, 0.4, 0.1])
    callback = ConditionAccuracy(
        evaluator,
        condition_sets={"pairs": ["blue hair brown eyes", "gray hair aqua eyes"]},
        every_n_steps=1,
        n_repeats=3,
        monitor="acc_pairs",
        best_dirpath=tmp_path,
    )
    model = _cgan(ANIME, ConditionMapDiscriminator)
    trainer = quiet_trainer(
        callbacks=[callback],
    )
    trainer.fit(model, _conditional_loader(ANIME, 3))
    assert len(evaluator.calls) == 3  # steps 1, 2, 3; the end of training repeats step 3
    images, conditions = evaluator.calls[0]
    assert images.shape == (6, 3, 32, 32) and images.min() >= -1 and images.max() <= 1
    expected = ANIME.vocab.encode_many(["blue hair brown eyes", "gray hair aqua eyes"]).repeat(3, 1)
    torch.testing.assert_close(conditions, expected)
    assert trainer.callback_metrics["acc_pairs"] == torch.tensor(0.4)
    assert callback.best == 0.7
    best = torch.load(tmp_path / "best.ckpt", weights_only=False)
    assert best["gan_counters"]["d_steps"] == 2


def test_datamodule_sets_and_dict_results() -> None:
    class DictEvaluator:
        def accuracy(self, images, conditions):
            return {"acc_hair": 1.0, "acc_eyes": 0.5}

    class Sets:
        def eval_conditions(self):
            return {"test": ANIME.vocab.encode_many(["blue hair brown eyes"])}

    model = _cgan(ANIME, ConditionMapDiscriminator)
    metrics = ConditionAccuracy(DictEvaluator(), n_repeats=2).score(model, Sets())
    assert metrics.pop("div_test") > 0  # two draws of one condition from different noise
    assert metrics == {"acc_hair_test": 1.0, "acc_eyes_test": 0.5}


def test_sample_kwargs_reach_the_models_sample() -> None:
    class Sets:
        def eval_conditions(self):
            return {"test": ANIME.vocab.encode_many(["blue hair brown eyes"])}

    class Flow:
        device = torch.device("cpu")

        def __init__(self) -> None:
            self.kwargs: list[dict] = []

        def sample(self, y: torch.Tensor, **kwargs: float) -> torch.Tensor:
            self.kwargs.append(kwargs)
            return torch.full((len(y), 3, 8, 8), kwargs.get("temperature", 1.0))

    evaluator = ScriptedEvaluator([0.5])
    model = Flow()
    callback = ConditionAccuracy(evaluator, n_repeats=2, sample_kwargs={"temperature": 0.25})
    assert callback.score(model, Sets()) == {"acc_test": 0.5, "div_test": 0.0}
    assert model.kwargs == [{"temperature": 0.25}]
    torch.testing.assert_close(evaluator.calls[0][0], torch.full((2, 3, 8, 8), -0.5))
