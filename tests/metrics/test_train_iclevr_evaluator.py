"""Our own ICLEVR evaluator: it learns, loads as the course's checkpoint, and its command."""

from __future__ import annotations

import colorsys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from datamodules.errors import DataError
from metrics import train_iclevr_evaluator as command
from metrics.iclevr_evaluator import IclevrEvaluator
from metrics.train_iclevr_evaluator import (
    Options,
    parse_args,
    save_checkpoint,
    scene_groups,
    split_groups,
    train_evaluator,
)

# 24 distinct colours (12 hues, bright and dark): label c is a square of colour c.
PALETTE = torch.tensor(
    [colorsys.hsv_to_rgb(hue / 12, 1.0, value) for value in (1.0, 0.5) for hue in range(12)]
)


def coloured_squares(n: int, size: int = 32, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A tiny ICLEVR-like task: images uint8 ``(n, 3, size, size)``, multi-hot ``(n, 24)``.

    Each image holds 1–3 squares of distinct label colours, one per quadrant, at random offsets.
    """
    generator = torch.Generator().manual_seed(seed)
    images = torch.zeros(n, 3, size, size, dtype=torch.uint8)
    conditions = torch.zeros(n, 24)
    half, side = size // 2, size // 2 - 2
    for image, condition in zip(images, conditions, strict=True):
        k = int(torch.randint(1, 4, (1,), generator=generator))
        labels = torch.randperm(24, generator=generator)[:k].tolist()
        quadrants = torch.randperm(4, generator=generator)[:k].tolist()
        for label, quadrant in zip(labels, quadrants, strict=True):
            dy, dx = torch.randint(0, half - side + 1, (2,), generator=generator).tolist()
            y, x = (quadrant // 2) * half + dy, (quadrant % 2) * half + dx
            image[:, y : y + side, x : x + side] = (PALETTE[label] * 255).round()[:, None, None]
            condition[label] = 1.0
    return images, conditions


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Train on one thread: two OpenMP threads slow down ~20x when another process holds a core."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.usefixtures("one_thread")
def test_learns_a_tiny_task_and_its_checkpoint_loads_as_the_courses(tmp_path: Path) -> None:
    images, conditions = coloured_squares(256)
    network, history = train_evaluator(
        images, conditions, epochs=4, batch_size=16, lr=1e-3, val_fraction=0.25, seed=0
    )
    assert [record["epoch"] for record in history] == [1, 2, 3, 4]
    assert all(record["images_per_s"] > 0 for record in history)
    # Chance (random top-k) is E[k^2] / (24 E[k]) ~ 0.1 here.
    assert max(record["val_acc"] for record in history) > 0.3

    path = save_checkpoint(network, tmp_path / "evaluator" / "checkpoint.pth")
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind
    assert set(torch.load(path, weights_only=True)) == {"model"}
    evaluator = IclevrEvaluator.from_checkpoint(path)
    inputs = images[:8].float() / 127.5 - 1
    with torch.no_grad():
        expected = network(
            torch.nn.functional.interpolate(inputs, size=64, mode="bilinear", align_corners=False)
        )
    torch.testing.assert_close(evaluator.predict(inputs), expected)


def test_a_failed_save_keeps_the_old_checkpoint(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "checkpoint.pth"
    path.write_bytes(b"old")

    def broken_save(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(torch.nn.Linear(1, 1), path)
    assert path.read_bytes() == b"old"
    assert list(tmp_path.iterdir()) == [path]


def test_scenes_are_held_out_whole() -> None:
    names = [f"CLEVR_train_{scene:06d}_{k}.png" for scene in range(40) for k in range(3)]
    groups = scene_groups(names)
    assert groups.tolist() == [scene for scene in range(40) for _ in range(3)]
    torch.manual_seed(0)
    val, train = split_groups(groups, 0.25)
    assert len(val) == 30 and len(train) == 90
    assert set(groups[val].tolist()).isdisjoint(groups[train].tolist())
    assert sorted(val.tolist() + train.tolist()) == list(range(120))


def test_parse_args_converts_types() -> None:
    options = parse_args(["root=/data", "out=/tmp/c.pth", "epochs=3", "lr=0.01", "toy=true"])
    assert options == Options(root="/data", out="/tmp/c.pth", epochs=3, lr=0.01, toy=True)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["root=/data"], "root=... and out=... are required"),
        (["out=/tmp/c.pth"], "root=... and out=... are required"),
        (["root=/data", "out=/c.pth", "epoch=3"], "unknown argument 'epoch=3'"),
        (["root=/data", "out=/c.pth", "--epochs", "3"], "unknown argument '--epochs'"),
        (["root=/data", "out=/c.pth", "epochs=many"], "epochs='many' is not a valid int"),
        (["root=/data", "out=/c.pth", "toy=maybe"], "toy='maybe' is not a valid bool"),
    ],
)
def test_bad_arguments_show_the_usage(argv: list[str], message: str) -> None:
    with pytest.raises(DataError, match=message) as error:
        parse_args(argv)
    assert "usage: python -m metrics.train_iclevr_evaluator" in str(error.value)


def test_missing_root_is_a_message_naming_it(tmp_path: Path, capsys) -> None:
    root, out = tmp_path / "no_iclevr", tmp_path / "checkpoint.pth"
    assert command.main([f"root={root}", f"out={out}"]) == 2
    assert str(root) in capsys.readouterr().err
    assert not out.exists()


def test_command_trains_on_the_toy_set(tmp_path: Path) -> None:
    out = tmp_path / "evaluator" / "checkpoint.pth"
    argv = [f"root={tmp_path / 'toy'}", f"out={out}", "toy=true", "n_scenes=8", "image_size=32"]
    assert command.main([*argv, "epochs=1", "batch_size=8", "val_fraction=0.25"]) == 0
    IclevrEvaluator.from_checkpoint(out)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"val_fraction": 1.0}, "val_fraction"),
        ({"epochs": 0}, "epochs"),
        ({"conditions": torch.zeros(4, 10)}, r"conditions must be \(4, 24\)"),
        ({"images": torch.zeros(4, 3, 8, 8)}, "uint8"),
    ],
)
def test_bad_settings_are_refused(kwargs: dict, message: str) -> None:
    images, conditions = coloured_squares(4)
    arguments = {"images": images, "conditions": conditions, **kwargs}
    with pytest.raises(ValueError, match=message):
        train_evaluator(**arguments)
