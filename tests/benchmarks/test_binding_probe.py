"""The binding probe: its pairwise scores, its negatives and a tiny end-to-end run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from benchmarks.binding_probe import main, negatives, pairwise_accuracy
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
            assert 0.0 <= point["content"] <= 1.0
        assert result["steps"] == 3 and result["steps_per_s"] > 0
    assert (out / "binding_probe.png").stat().st_size > 0


def test_a_probe_without_held_out_images_says_which_key_to_raise(tmp_path: Path) -> None:
    args = [f"root={tmp_path}", f"out={tmp_path / 'out'}", "n_scenes=8", "batch_size=8"]
    with pytest.raises(ValueError, match="val_fraction"):
        main([*args, "val_fraction=0.0", "steps=1", "models=cdcgan_iclevr"])
