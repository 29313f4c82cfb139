"""Training the CelebA attribute classifier: the loop, the arguments and the command."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from datamodules.errors import DataError
from metrics import train_celeba_classifier as command
from metrics.celeba_classifier import CelebAAttributeClassifier
from metrics.train_celeba_classifier import Options, parse_args, train_classifier

ATTRIBUTES = ("Top", "Red")


def square_task(n: int, size: int = 16, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Images uint8 ``(n, 3, size, size)``: a square in the top or bottom half (``Top``), red or
    green (``Red``), at a random column, on dark noise. Both are mirror-free, like CelebA's."""
    generator = torch.Generator().manual_seed(seed)
    conditions = (torch.rand(n, 2, generator=generator) < 0.5).float()
    images = torch.randint(0, 60, (n, 3, size, size), generator=generator, dtype=torch.uint8)
    half = size // 2
    columns = torch.randint(0, size - half + 1, (n,), generator=generator).tolist()
    for image, (top, red), x in zip(images, conditions.bool().tolist(), columns, strict=True):
        y = 0 if top else half
        image[0 if red else 1, y + 1 : y + half - 1, x + 1 : x + half - 1] = 230
    return images, conditions


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Train on one thread: two OpenMP threads slow down a lot when another process holds a core."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.usefixtures("one_thread")
def test_a_tiny_training_run_learns_and_keeps_the_best_epoch() -> None:
    images, conditions = square_task(192)
    val = square_task(64, seed=1)
    classifier, history = train_classifier(
        images, conditions, ATTRIBUTES, val=val, epochs=3, batch_size=16, lr=3e-3, seed=0
    )
    assert [record["epoch"] for record in history] == [1, 2, 3]
    assert all(record["images_per_s"] > 0 for record in history)
    assert {"val_acc_Top", "val_acc_Red", "val_acc_mean", "val_acc_all"} <= set(history[0])
    best = max(history, key=lambda record: record["val_acc_mean"])
    assert best["val_acc_mean"] > 0.9  # chance: 0.5
    assert classifier.attributes == ATTRIBUTES and classifier.image_size == 16
    assert not classifier.network.training
    scores = command.score(classifier, val)
    assert scores["acc_mean"] == pytest.approx(best["val_acc_mean"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"images": torch.zeros(4, 3, 8, 8)}, "uint8"),
        ({"conditions": torch.zeros(4, 3)}, r"\(N, 2\) for 4 images"),
        ({"val": (torch.zeros(2, 3, 8, 8, dtype=torch.uint8), torch.zeros(2, 1))}, "val images"),
        ({"epochs": 0}, "epochs"),
    ],
)
def test_bad_settings_are_refused(kwargs: dict, message: str) -> None:
    images, conditions = square_task(4, size=8)
    arguments = {"images": images, "conditions": conditions, "attributes": ATTRIBUTES, **kwargs}
    with pytest.raises(ValueError, match=message):
        train_classifier(**arguments)


def test_parse_args_converts_types_and_splits_attributes() -> None:
    options = parse_args(
        ["root=/data", "out=/c.pt", "epochs=3", "toy=true", "attributes=Male, Young,Blond_Hair"]
    )
    assert options == Options(
        root="/data", out="/c.pt", epochs=3, toy=True, attributes="Male, Young,Blond_Hair"
    )
    assert options.attribute_names == ("Male", "Young", "Blond_Hair")
    assert Options().attribute_names == ("Male", "Smiling", "Pale_Skin", "Goatee")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["root=/data"], "root=... and out=... are required"),
        (["root=/data", "out=/c.pt", "epoch=3"], "unknown argument 'epoch=3'"),
        (["root=/data", "out=/c.pt", "toy=maybe"], "toy='maybe' is not a valid bool"),
        (["root=/data", "out=/c.pt", "attributes=,"], "attributes= names no attribute"),
    ],
)
def test_bad_arguments_show_the_usage(argv: list[str], message: str) -> None:
    with pytest.raises(DataError, match=message) as error:
        parse_args(argv)
    assert "usage: python -m metrics.train_celeba_classifier" in str(error.value)


def test_missing_root_is_a_message_naming_it(tmp_path: Path, capsys) -> None:
    root, out = tmp_path / "no_celeba", tmp_path / "classifier.pt"
    assert command.main([f"root={root}", f"out={out}"]) == 2
    assert str(root) in capsys.readouterr().err
    assert not out.exists()


def test_unknown_attribute_lists_the_names(tmp_path: Path, capsys) -> None:
    out = tmp_path / "classifier.pt"
    argv = [f"root={tmp_path / 'toy'}", f"out={out}", "toy=true", "attributes=Male,Smilling"]
    assert command.main(argv) == 2
    error = capsys.readouterr().err
    assert "Smilling" in error and "Smiling" in error
    assert not out.exists()


@pytest.mark.usefixtures("one_thread")
def test_command_trains_on_the_toy_set_and_reports_each_split(tmp_path: Path, caplog) -> None:
    out = tmp_path / "classifier.pt"
    argv = [f"root={tmp_path / 'toy'}", f"out={out}", "toy=true", "n_images=60", "image_size=32"]
    with caplog.at_level("INFO", logger=command.log.name):
        assert command.main([*argv, "epochs=1", "batch_size=16", "attributes=Young,Male"]) == 0
    classifier = CelebAAttributeClassifier.from_checkpoint(out)
    assert classifier.attributes == ("Young", "Male") and classifier.image_size == 32
    assert "48 train, 6 val, 6 test faces at 32x32" in caplog.text
    assert "val_acc_Young" in caplog.text and "test accuracy" in caplog.text
