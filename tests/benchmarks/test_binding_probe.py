"""The binding probe: its pairwise scores, its negatives and a tiny end-to-end run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from benchmarks.binding_probe import (
    held_out_scores,
    main,
    negatives,
    pairwise_accuracy,
    shape_negatives,
)
from datamodules.toy_iclevr import ICLEVR_OBJECTS
from gans.conditioning import BindingTable


def test_pairwise_accuracy_counts_wins_among_valid_rows() -> None:
    right = torch.tensor([2.0, 0.0, 1.0, -1.0])
    wrong = torch.tensor([1.0, 1.0, 1.0, -3.0])
    assert pairwise_accuracy(right, wrong) == 0.5  # ties are not wins
    valid = torch.tensor([True, True, False, True])
    assert pairwise_accuracy(right, wrong, valid) == pytest.approx(2 / 3)
    assert math.isnan(pairwise_accuracy(right, wrong, torch.zeros(4, dtype=torch.bool)))


def test_negatives_mark_only_rows_with_a_real_rebinding() -> None:
    names = list(ICLEVR_OBJECTS)
    table = BindingTable(names)
    conditions = torch.zeros(3, len(names))
    conditions[0, [names.index("red cube"), names.index("blue sphere")]] = 1
    conditions[1, names.index("gray cube")] = 1  # one object: nothing to rebind
    conditions[2, [names.index("red cube"), names.index("blue cube")]] = 1  # one shape
    bound, other, valid = negatives(conditions, table)
    assert valid.tolist() == [True, False, False]
    assert bound[0, names.index("red sphere")] == 1 and bound[0, names.index("blue cube")] == 1
    assert bound[0].sum() == 2
    assert torch.equal(other, conditions.roll(1, dims=0))


def test_shape_negatives_change_one_shape_and_mark_rows_that_have_one() -> None:
    names = list(ICLEVR_OBJECTS)
    table = BindingTable(names)
    conditions = torch.zeros(2, len(names))
    conditions[0, names.index("red cube")] = 1
    conditions[1, [names.index(f"red {shape}") for shape in ("cube", "sphere", "cylinder")]] = 1
    changed, valid = shape_negatives(conditions, table)
    assert valid.tolist() == [True, False]  # every red shape present: nothing to reshape
    (index,) = changed[0].nonzero().flatten().tolist()
    assert names[index] in ("red sphere", "red cylinder")


def test_tiny_probe_writes_a_curve_for_each_discriminator(tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = [
        f"root={tmp_path / 'data'}",
        f"out={out}",
        "steps=3",
        "every=2",
        "n_scenes=8",
        "batch_size=8",
        "val_fraction=0.25",
        "val_batches=1",
        "width=8",
    ]
    assert main(args) == 0
    report = json.loads((out / "binding_probe.json").read_text())
    models = {r["model"]: r for r in report["models"]}
    assert models["cdcgan_iclevr"]["discriminator"].endswith("ConditionMapDiscriminator")
    assert models["projection_gan"]["discriminator"].endswith("ProjectionDiscriminator")
    for result in models.values():
        assert [p["step"] for p in result["curve"]] == [0, 2, 3]
        for point in result["curve"]:
            for key in ("content", "content_batch"):
                assert 0.0 <= point[key] <= 1.0
            assert "shape" in point and "shape_batch" in point
        assert result["steps"] == 3 and result["steps_per_s"] > 0
    assert (out / "binding_probe.png").stat().st_size > 0


def _tiny_run(tmp_path: Path, model: str, *extra: str) -> dict | None:
    """A two-step probe of ``model`` with ``extra`` arguments: its result, or None when the
    arguments are refused."""
    out = tmp_path / "out"
    args = [f"root={tmp_path / 'data'}", f"out={out}", "n_scenes=8", "batch_size=8"]
    args += ["val_fraction=0.25", "steps=2", "every=1", "width=8", f"models={model}", *extra]
    if main(args) != 0:
        return None
    return json.loads((out / "binding_probe.json").read_text())["models"][0]


def test_probe_trained_on_reshaped_negatives_learns_otherwise(tmp_path: Path) -> None:
    reshape = _tiny_run(tmp_path, "projection_gan", "mismatch_kind=reshape")
    rebind = _tiny_run(tmp_path, "projection_gan")
    assert (reshape["mismatch_kind"], rebind["mismatch_kind"]) == ("reshape", "rebind")
    assert reshape["curve"][0] == rebind["curve"][0]
    assert reshape["curve"][1:] != rebind["curve"][1:]
    # Another image's conditions are always among the negatives: roll alone is refused.
    assert _tiny_run(tmp_path, "projection_gan", "mismatch_kind=roll") is None


def test_joint_probe_trains_on_one_batch_of_all_pairings(tmp_path: Path) -> None:
    joint = _tiny_run(tmp_path, "cdcgan_iclevr", "joint=true")
    separate = _tiny_run(tmp_path, "cdcgan_iclevr", "joint=false")
    assert joint["joint"] and not separate["joint"]
    # Same seed and data, different batches through BatchNorm: different Ds after one step.
    assert joint["curve"][0] == separate["curve"][0]
    assert joint["curve"][1:] != separate["curve"][1:]


def test_a_probe_without_held_out_images_says_which_key_to_raise(tmp_path: Path) -> None:
    args = [f"root={tmp_path}", f"out={tmp_path / 'out'}", "n_scenes=8", "batch_size=8"]
    with pytest.raises(ValueError, match="val_fraction"):
        main([*args, "val_fraction=0.0", "steps=1", "models=cdcgan_iclevr"])


# Modes the recorder was called in; a module-level list, so the copies of D that the probe
# judges with record into it too.
MODES: list[bool] = []


class _ModeRecorder(nn.Module):
    """A D that scores every row 0 and records whether it was called in training mode."""

    def forward(self, images: Tensor, conditions: Tensor) -> Tensor:
        MODES.append(self.training)
        return torch.zeros(len(images))


def test_per_image_scores_use_eval_mode_and_per_batch_scores_training_mode() -> None:
    names = list(ICLEVR_OBJECTS)
    batch = [(torch.zeros(2, 3, 8, 8), torch.eye(len(names))[:2])]
    d = _ModeRecorder()
    MODES.clear()
    per_image = held_out_scores(d, batch, BindingTable(names), per_batch=False)
    assert MODES == [False] * 4 and d.training
    per_batch = held_out_scores(d, batch, BindingTable(names), per_batch=True)
    assert MODES[4:] == [True] * 4
    assert set(per_image) == {"binding", "shape", "content"}
    assert set(per_batch) == {"binding_batch", "shape_batch", "content_batch"}
    assert per_batch["content_batch"] == 0.0  # ties are not wins


def test_scoring_leaves_batchnorm_spectral_norm_and_random_state_alone() -> None:
    names = list(ICLEVR_OBJECTS)
    batch = [(torch.randn(4, 3, 8, 8), torch.eye(len(names))[:4])]

    class Tiny(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.utils.spectral_norm(nn.Conv2d(3, 4, 3))
            self.bn = nn.BatchNorm2d(4)
            self.head = nn.Linear(4 + len(names), 1)

        def forward(self, images: Tensor, conditions: Tensor) -> Tensor:
            features = self.bn(self.conv(images)).mean(dim=(2, 3))
            return self.head(torch.cat([features, conditions], dim=1)).squeeze(1)

    torch.manual_seed(0)
    d = Tiny()
    before = {k: v.clone() for k, v in d.state_dict().items()}
    rng = torch.get_rng_state()
    for per_batch in (False, True):
        held_out_scores(d, batch, BindingTable(names), per_batch=per_batch)
    after = d.state_dict()
    assert d.training
    assert torch.equal(torch.get_rng_state(), rng)  # training's random draws are not shifted
    for key, value in before.items():
        assert torch.equal(value, after[key]), key
