"""TranslationAccuracy: the scoring maths on hand-made readings, the faces it picks, what it logs
and which checkpoint it keeps."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import pytorch_lightning as pl
import torch
from torch.testing import assert_close

from callbacks.translation_accuracy import (
    TranslationAccuracy,
    attribute_hits,
    change_key,
    choose_rows,
    held_out_faces,
    reconstruction_l1,
    score_translations,
    target_accuracy,
)
from datamodules.errors import DataError
from datamodules.images import ImageTensorDataset
from gans.domains import hair_indices, single_domain_targets
from tests.gans.test_stargan import DOMAINS, SPEC, attribute_labels, attribute_loader, tiny_stargan

HAIR = hair_indices(DOMAINS, ("Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair"))
CHANGES = ["set Black_Hair", "set Blond_Hair", "set Brown_Hair", "flip Male", "flip Young"]


def _faces(n: int = 12, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, 8, 8, generator=g) * 2 - 1, attribute_labels(n, seed)


def _identity(images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return images.clone()


def _stamp(images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """A translator that writes the targets into the first pixels (+1 yes, -1 no)."""
    out = images.clone()
    out[:, 0, 0, : targets.shape[1]] = targets * 2 - 1
    return out


def _read_stamp(images: torch.Tensor) -> torch.Tensor:
    """A classifier that reads what ``_stamp`` (or ``_with_labels``) wrote."""
    return (images[:, 0, 0, : len(DOMAINS)] > 0).float()


def _with_labels(images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return _stamp(images, labels)


# The maths


def test_change_keys_and_hits() -> None:
    assert [change_key(name) for name in CHANGES[2:4]] == ["set_Brown_Hair", "flip_Male"]
    hits = attribute_hits(torch.tensor([[1.0, 0.0], [0.7, 0.2]]), torch.tensor([[1.0, 1.0]] * 2))
    assert hits.tolist() == [[True, False], [True, False]]
    with pytest.raises(ValueError, match="differ"):
        attribute_hits(torch.zeros(2, 3), torch.zeros(2, 2))


def test_readings_equal_to_the_targets_score_one() -> None:
    _, labels = _faces()
    targets = dict(single_domain_targets(labels, DOMAINS, HAIR))
    scores = target_accuracy(targets, targets, labels)
    assert set(scores) == {
        *(f"stargan_target_acc_{change_key(name)}" for name in CHANGES),
        "stargan_target_acc",
        "stargan_all_acc",
        "stargan_changed_acc",
    }
    assert all(value == 1.0 for value in scores.values())


def test_hand_made_readings() -> None:
    originals = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    targets = {"flip a": torch.tensor([[1.0, 0.0], [0.0, 0.0]])}
    # First face: both right (the change made); second: the change not made, the other right.
    predicted = {"flip a": torch.tensor([[1.0, 0.0], [1.0, 0.0]])}
    scores = target_accuracy(predicted, targets, originals, prefix="p")
    assert scores == {
        "p_target_acc_flip_a": 0.75,
        "p_target_acc": 0.75,
        "p_all_acc": 0.5,
        "p_changed_acc": 0.5,
    }
    assert "p_changed_acc" not in target_accuracy(targets, targets, targets["flip a"], prefix="p")
    with pytest.raises(ValueError, match="same changes"):
        target_accuracy({"x": originals}, targets)


def test_reconstruction_l1_is_in_signed_unit_units() -> None:
    x = torch.zeros(2, 3, 4, 4)
    assert reconstruction_l1(x, x) == 0.0
    assert reconstruction_l1(x, x + 0.5) == pytest.approx(0.5)
    assert reconstruction_l1(x, x + 0.5, value_range=(0.0, 1.0)) == pytest.approx(1.0)


def test_a_classifier_that_reads_the_targets_gives_accuracy_one() -> None:
    images, labels = _faces()
    changes = single_domain_targets(labels, DOMAINS, HAIR)
    scores = score_translations(_stamp, _read_stamp, images, labels, changes, batch_size=5)
    accuracies = {k: v for k, v in scores.items() if k != "stargan_rec_l1"}
    assert accuracies and all(value == 1.0 for value in accuracies.values())
    assert scores["stargan_rec_l1"] > 0  # the stamp leaves other pixels, but not the first ones


def test_identity_translator_reconstructs_exactly_and_scores_the_unchanged_share() -> None:
    images, labels = _faces(n=16)
    stamped = _with_labels(images, labels)  # the classifier reads each face's own labels
    changes = single_domain_targets(labels, DOMAINS, HAIR)
    scores = score_translations(_identity, _read_stamp, stamped, labels, changes, batch_size=7)
    assert scores["stargan_rec_l1"] == 0.0
    assert scores["stargan_changed_acc"] == 0.0
    unchanged = torch.stack([(t == labels).float().mean() for _, t in changes])
    assert scores["stargan_target_acc"] == pytest.approx(float(unchanged.mean()))
    for (name, _), share in zip(changes, unchanged, strict=True):
        assert scores[f"stargan_target_acc_{change_key(name)}"] == pytest.approx(float(share))
    # Flips always change one of the 5 attributes: 4/5 right; all right only for no-op hair sets.
    assert scores["stargan_target_acc_flip_Male"] == pytest.approx(0.8)
    no_op = sum(float((t == labels).all(1).float().mean()) for _, t in changes) / len(changes)
    assert scores["stargan_all_acc"] == pytest.approx(no_op)


def test_values_in_zero_one_range_are_mapped_for_the_classifier() -> None:
    images, labels = _faces(n=4)
    seen = []

    def classify(x: torch.Tensor) -> torch.Tensor:
        seen.append(x)
        return torch.zeros(len(x), len(DOMAINS))

    unit = (images + 1) / 2
    changes = single_domain_targets(labels, DOMAINS, HAIR)[:1]
    score_translations(_identity, classify, unit, labels, changes, value_range=(0.0, 1.0))
    assert_close(seen[0], images)


# The faces


def test_faces_come_from_test_then_val_then_train_with_a_fixed_choice() -> None:
    def dataset(n: int, value: int) -> ImageTensorDataset:
        images = torch.arange(n, dtype=torch.uint8)[:, None, None, None].expand(n, 3, 2, 2)
        return ImageTensorDataset(images.contiguous() + value, attribute_labels(n))

    data = SimpleNamespace(test_set=dataset(10, 100), val_set=dataset(10, 50), train_set=None)
    images, labels, split = held_out_faces(data, 4, seed=3)
    rows = choose_rows(10, 4, seed=3)
    assert split == "test" and images.dtype == torch.uint8
    assert images[:, 0, 0, 0].tolist() == (rows + 100).tolist()
    assert_close(labels, attribute_labels(10)[rows])
    again, _, _ = held_out_faces(data, 4, seed=3)
    assert_close(again, images)
    data.test_set = None
    assert held_out_faces(data, 20, seed=0)[2] == "val"
    assert len(held_out_faces(data, 20, seed=0)[0]) == 10  # all of a smaller split
    assert held_out_faces(None, 4, 0) is None


def test_toy_celeba_faces_come_from_its_test_split(tmp_path: Path) -> None:
    from datamodules.toy_celeba import ToyCelebADataModule

    data = ToyCelebADataModule(
        tmp_path / "toy_celeba", attributes=DOMAINS, image_size=32, n_images=40
    )
    data.prepare_data()
    images, labels, split = held_out_faces(data, 3, seed=0)
    assert split == "test" and images.shape == (3, 3, 32, 32) and labels.shape == (3, 5)
    rows = data.split_indices("test")[choose_rows(len(data.split_indices("test")), 3, 0).numpy()]
    assert_close(labels, torch.from_numpy(data.table.select(DOMAINS)[rows]))


# The callback


class Reader:
    """A classifier stub over the model's domains that records its inputs."""

    def __init__(self, scored=DOMAINS) -> None:
        self.scored = tuple(scored)
        self.calls: list[torch.Tensor] = []

    def predict(self, images: torch.Tensor) -> torch.Tensor:
        self.calls.append(images)
        return torch.zeros(len(images), len(self.scored))


def test_score_of_an_identity_model_through_the_callback() -> None:
    images, labels = _faces(n=6)
    stamped = _with_labels(images, labels)
    model = SimpleNamespace(
        translate=_identity,
        single_domain_targets=lambda y: single_domain_targets(y, DOMAINS, HAIR),
        domains=DOMAINS,
        spec=SPEC,
    )
    data = SimpleNamespace(
        test_set=ImageTensorDataset(torch.zeros(6, 3, 8, 8, dtype=torch.uint8), labels)
    )
    callback = TranslationAccuracy(SimpleNamespace(scored=DOMAINS, predict=_read_stamp))
    callback._faces = (stamped, labels)  # as if chosen from the data
    scores = callback.score(model, data)
    assert scores["stargan_rec_l1"] == 0.0 and scores["stargan_changed_acc"] == 0.0
    with pytest.raises(DataError, match="model's domains"):
        TranslationAccuracy(Reader(scored=DOMAINS[::-1])).score(model, data)


def test_logs_every_n_steps_and_keeps_the_best_checkpoint(tmp_path: Path) -> None:
    reader = Reader()
    callback = TranslationAccuracy(
        reader,
        n_images=3,
        every_n_steps=2,
        best_dirpath=tmp_path,
        monitor="stargan_rec_l1",
        mode="min",
        batch_size=2,
    )
    logged = []

    class Logger(pl.loggers.Logger):
        name, version = "memory", 0

        def log_metrics(self, metrics, step=None):
            logged.append(metrics)

        def log_hyperparams(self, *args, **kwargs):
            pass

    trainer = pl.Trainer(
        accelerator="cpu",
        max_epochs=1,
        logger=Logger(),
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[callback],
    )
    trainer.fit(tiny_stargan(total_steps=None), attribute_loader(3))
    scored = [m for m in logged if "stargan_target_acc" in m]
    assert [m["d_steps"] for m in scored] == [2.0, 3.0]  # every 2 D steps, and at the end
    assert callback.split == "first training batch"  # no datamodule: the first batch's faces
    # 3 faces x 5 changes, classified one change at a time, in [-1, 1].
    assert len(reader.calls) == 2 * 5 and reader.calls[0].shape == (3, 3, 32, 32)
    assert all(x.min() >= -1 and x.max() <= 1 for x in reader.calls)
    assert trainer.callback_metrics["stargan_rec_l1"] == pytest.approx(scored[-1]["stargan_rec_l1"])
    assert callback.best == min(m["stargan_rec_l1"] for m in scored)
    assert (tmp_path / "best.ckpt").is_file()
    assert TranslationAccuracy(reader).state_dict() == {"best": None}


# The preset


def _classifier_file(path: Path, attributes=DOMAINS, image_size: int = 32) -> Path:
    from metrics.anime_tags_classifier import ColourNet
    from metrics.celeba_classifier import CelebAAttributeClassifier

    torch.manual_seed(0)
    classifier = CelebAAttributeClassifier(ColourNet(len(attributes)), attributes, image_size)
    torch.save(classifier.to_checkpoint(), path)
    return path


def test_preset_loads_as_evaluate_py_loads_metric_presets(tmp_path: Path) -> None:
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from tests.run_helpers import REPO

    preset = OmegaConf.load(REPO / "conf" / "metric" / "stargan_accuracy.yaml")
    # A classifier trained on more attributes, in another order, reads the model's by name.
    preset.evaluator.path = str(_classifier_file(tmp_path / "clf.pt", ("Smiling", *DOMAINS[::-1])))
    preset.evaluator.attributes = list(DOMAINS)
    preset.monitor, preset.best_dirpath = None, None
    callback = instantiate(preset)
    assert isinstance(callback, TranslationAccuracy) and callback.every_n_steps == 500
    model = tiny_stargan(total_steps=None)
    images, labels = next(iter(attribute_loader(1, batch_size=4)))
    callback._batch = (images, labels)
    scores = callback.score(model, None)
    assert len(scores) == 5 + 4 and 0 <= scores["stargan_target_acc"] <= 1
    assert scores["stargan_rec_l1"] > 0


def test_through_train_py_on_toy_celeba(tmp_path: Path) -> None:
    from datamodules.toy_celeba import ensure_toy_celeba
    from tests.run_helpers import compose_train
    from train import train

    data_dir = tmp_path / "data"
    ensure_toy_celeba(data_dir / "toy_celeba", n_images=40, seed=0)
    clf = _classifier_file(tmp_path / "clf.pt", ("Smiling", *DOMAINS))
    overrides = [
        f"paths.data_dir={data_dir}",
        "model=stargan",
        "data=toy_celeba",
        "data.n_images=40",
        "data.image_size=32",
        "data.batch_size=8",
        f"data.attributes=[{','.join(DOMAINS)}]",
        "model.generator.width=8",
        "model.generator.n_res=1",
        "model.discriminator.width=8",
        "model.total_steps=2",
        "model.decay_start=1",
        "model.n_critic=1",
        "callbacks.translation_grid.every_n_steps=null",
        "logger=none",
        "~callbacks.progress_bar",
        "trainer.accelerator=cpu",
        "+metric@callbacks.stargan_accuracy=stargan_accuracy",
        f"callbacks.stargan_accuracy.evaluator.path={clf}",
        "callbacks.stargan_accuracy.every_n_steps=1",
        "callbacks.stargan_accuracy.n_images=3",
        "optimized_metric=stargan_target_acc",
    ]
    metrics = train(compose_train(tmp_path / "run", overrides))
    assert metrics["d_steps"] == 2
    assert {"stargan_target_acc", "stargan_rec_l1", "stargan_target_acc_flip_Young"} <= set(metrics)
    assert (tmp_path / "run" / "checkpoints" / "best.ckpt").is_file()
