"""The ICLEVR evaluator: the course's top-k rule, its checkpoint format and its plain code path."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import resnet18

from datamodules.errors import DataError
from metrics.iclevr_evaluator import IclevrEvaluator, object_errors, topk_accuracy


def course_network() -> nn.Module:
    """The course's evaluator network, built as its ``evaluation_model.__init__`` does."""
    network = resnet18(weights=None)
    network.fc = nn.Sequential(nn.Linear(512, 24), nn.Sigmoid())
    return network


def course_compute_acc(out: torch.Tensor, onehot_labels: torch.Tensor) -> float:
    """The course's ``evaluation_model.compute_acc``, line for line."""
    acc = 0
    total = 0
    for i in range(out.size(0)):
        k = int(onehot_labels[i].sum().item())
        total += k
        outv, outi = out[i].topk(k)
        lv, li = onehot_labels[i].topk(k)
        for j in outi:
            if j in li:
                acc += 1
    return acc / total


def course_eval(checkpoint: Path, images: torch.Tensor, labels: torch.Tensor) -> float:
    """The course's ``evaluation_model().eval(images, labels)``, on the CPU."""
    network = course_network()
    network.load_state_dict(torch.load(checkpoint)["model"])
    network.eval()
    with torch.no_grad():
        out = network(images)
        return course_compute_acc(out.cpu(), labels.cpu())


def random_conditions(n: int, generator: torch.Generator) -> torch.Tensor:
    """Multi-hot ``(n, 24)`` with 1–3 objects per row."""
    conditions = torch.zeros(n, 24)
    for row in conditions:
        k = int(torch.randint(1, 4, (1,), generator=generator))
        row[torch.randperm(24, generator=generator)[:k]] = 1.0
    return conditions


def multi_hot(*rows: list[int]) -> torch.Tensor:
    conditions = torch.zeros(len(rows), 24)
    for row, labels in zip(conditions, rows, strict=True):
        row[labels] = 1.0
    return conditions


@pytest.fixture
def course_checkpoint(tmp_path: Path) -> Path:
    """A ``checkpoint.pth`` as the course's is built: ``{"model": state_dict}``, varied weights."""
    torch.manual_seed(0)
    network = course_network()
    nn.init.normal_(network.fc[0].weight, std=0.3)  # spread the sigmoid outputs
    for module in network.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.normal_(0.0, 0.1)
            module.running_var.uniform_(0.5, 2.0)
    path = tmp_path / "checkpoint.pth"
    torch.save({"model": network.state_dict()}, path)
    return path


def test_topk_rule_on_hand_made_predictions() -> None:
    probs = torch.full((4, 24), 0.1)
    probs[0, 5] = 0.9  # k=1, right
    probs[1, [2, 7]] = torch.tensor([0.8, 0.7])  # k=1: top is 2, the object is 7 -> 0
    probs[2, [0, 1, 2]] = torch.tensor([0.9, 0.8, 0.7])  # k=2: top-2 {0, 1}, objects {1, 2} -> 1
    probs[3, [3, 4, 5, 6]] = torch.tensor([0.6, 0.9, 0.7, 0.8])  # k=3: top {4, 6, 5} -> 2
    conditions = multi_hot([5], [7], [1, 2], [3, 4, 5])
    assert topk_accuracy(probs, conditions) == (1 + 0 + 1 + 2) / (1 + 1 + 2 + 3)
    assert topk_accuracy(probs[2:3], conditions[2:3]) == 0.5
    assert topk_accuracy(probs[3:], conditions[3:]) == 2 / 3


def test_object_errors_say_what_was_seen_in_place_of_each_object() -> None:
    names = ["red cube", "red sphere", "blue cube", "blue sphere", "gray cylinder", "red cylinder"]

    def row(*objects: str) -> torch.Tensor:
        return torch.tensor([float(n in objects) for n in names])

    def scores(*seen: str) -> torch.Tensor:  # the seen objects rank highest, in this order
        return torch.tensor([10.0 - seen.index(n) if n in seen else 0.0 for n in names])

    conditions = torch.stack(
        [
            row("red cube", "blue sphere"),  # seen bound wrongly: red sphere, blue cube
            row("red cube"),  # seen as a red cylinder: a shape nobody asked for
            row("blue cube"),  # seen as a red cube: right shape, wrong colour
            row("red sphere", "gray cylinder"),  # red sphere found, the cylinder not at all
        ]
    )
    probs = torch.stack(
        [
            scores("red sphere", "blue cube"),
            scores("red cylinder"),
            scores("red cube"),
            scores("red sphere", "blue sphere"),
        ]
    )
    errors = object_errors(probs, conditions, names)
    assert errors == pytest.approx(
        {
            "exact": 1 / 6,
            "swapped": 2 / 6,
            "wrong_shape": 1 / 6,
            "wrong_colour": 1 / 6,
            "other": 1 / 6,
        }
    )
    assert errors["exact"] == pytest.approx(topk_accuracy(probs, conditions))
    with pytest.raises(ValueError, match="'<colour> <shape>' labels"):
        object_errors(probs, conditions, names[:5])


def test_topk_ties_break_as_torch_topk() -> None:
    tied = torch.zeros(1, 24)  # every label ties: the pick is torch.topk's
    picked = int(tied[0].topk(1).indices)
    assert topk_accuracy(tied, multi_hot([picked])) == 1.0
    assert topk_accuracy(tied, multi_hot([(picked + 1) % 24])) == 0.0
    generator = torch.Generator().manual_seed(1)
    coarse = torch.randint(0, 3, (200, 24), generator=generator) / 2  # many ties per row
    conditions = random_conditions(200, generator)
    assert topk_accuracy(coarse, conditions) == course_compute_acc(coarse, conditions)


def test_topk_rule_rejects_bad_input() -> None:
    probs = torch.rand(2, 24)
    with pytest.raises(ValueError, match="multi-hot"):
        topk_accuracy(probs, torch.full((2, 24), 0.5))
    with pytest.raises(ValueError, match="same shape"):
        topk_accuracy(probs, torch.zeros(3, 24))
    with pytest.raises(ValueError, match="at least one object"):
        topk_accuracy(probs, torch.zeros(2, 24))


def test_course_checkpoint_scores_as_the_course_code(course_checkpoint: Path) -> None:
    generator = torch.Generator().manual_seed(2)
    images = torch.rand(24, 3, 64, 64, generator=generator) * 2 - 1
    conditions = random_conditions(24, generator)
    evaluator = IclevrEvaluator.from_checkpoint(course_checkpoint)
    expected = course_eval(course_checkpoint, images, conditions)
    assert evaluator.accuracy(images, conditions) == expected
    network = course_network()
    network.load_state_dict(torch.load(course_checkpoint)["model"])
    with torch.no_grad():
        torch.testing.assert_close(evaluator.predict(images), network.eval()(images))


def test_other_sizes_are_resized_to_64(course_checkpoint: Path) -> None:
    images = torch.rand(4, 3, 32, 32) * 2 - 1
    evaluator = IclevrEvaluator.from_checkpoint(course_checkpoint)
    upsampled = F.interpolate(images, size=64, mode="bilinear", align_corners=False)
    torch.testing.assert_close(evaluator.predict(images), evaluator.predict(upsampled))


def test_missing_checkpoint_names_file_and_training_command(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "checkpoint.pth"
    with pytest.raises(DataError, match="train_iclevr_evaluator") as error:
        IclevrEvaluator.from_checkpoint(path)
    assert str(path) in str(error.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"state_dict": {}}, r"found keys \['state_dict'\]"),
        ([1, 2], "found list"),
        ("resnet18_1000", r"missing keys: \['fc.0.weight'.*unexpected keys: \['fc.weight'"),
        ("fc_10", r"wrong shapes: \['fc.0.weight \(10, 512\) instead of \(24, 512\)"),
    ],
)
def test_checkpoint_in_another_format_names_file_and_keys(
    tmp_path: Path, content: object, message: str
) -> None:
    if content == "resnet18_1000":
        content = {"model": resnet18(weights=None).state_dict()}
    elif content == "fc_10":
        network = course_network()
        network.fc[0] = nn.Linear(512, 10)
        content = {"model": network.state_dict()}
    path = tmp_path / "other.pth"
    torch.save(content, path)
    with pytest.raises(DataError, match=message) as error:
        IclevrEvaluator.from_checkpoint(path)
    assert str(path) in str(error.value)


def test_file_that_is_not_a_checkpoint_names_file(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.pth"
    path.write_text("not a torch file")
    with pytest.raises(DataError, match="not a readable torch checkpoint") as error:
        IclevrEvaluator.from_checkpoint(path)
    assert str(path) in str(error.value)


def test_object_errors_come_with_the_accuracy_when_asked_for() -> None:
    network = nn.Sequential(nn.Flatten(), nn.LazyLinear(24), nn.Sigmoid())
    torch.manual_seed(0)
    images, conditions = torch.rand(6, 3, 64, 64) * 2 - 1, torch.zeros(6, 24)
    conditions[torch.arange(6), torch.arange(6)] = 1
    plain = IclevrEvaluator(network).accuracy(images, conditions)
    report = IclevrEvaluator(network, object_errors=True).accuracy(images, conditions)
    assert isinstance(plain, float) and report["acc"] == plain
    shares = ("obj_swapped", "obj_wrong_shape", "obj_wrong_colour", "obj_other")
    assert set(report) == {"acc", *shares}
    assert plain + sum(report[key] for key in shares) == pytest.approx(1.0)
