"""conf/data/{iclevr,toy_iclevr}.yaml: every constructor argument is spelled out, and both build."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra.utils import get_class, instantiate
from omegaconf import OmegaConf

from datamodules.toy_iclevr import write_toy_iclevr
from tests.run_helpers import constructor_arguments

CONF = Path(__file__).resolve().parents[2] / "conf" / "data"


@pytest.mark.parametrize("name", ["iclevr", "toy_iclevr"])
def test_config_lists_every_constructor_argument(name: str) -> None:
    config = OmegaConf.load(CONF / f"{name}.yaml")
    parameters = constructor_arguments(get_class(config._target_))
    assert set(config) - {"_target_"} == parameters


@pytest.mark.parametrize("name", ["iclevr", "toy_iclevr"])
def test_config_instantiates_with_a_multi_hot_spec(name: str, tmp_path: Path) -> None:
    config = OmegaConf.load(CONF / f"{name}.yaml")
    config.root = str(tmp_path / name)
    config.value_range = [0, 1]
    if name == "iclevr":
        write_toy_iclevr(config.root, n_scenes=2)
    module = instantiate(config)
    assert module.spec.value_range == (0.0, 1.0) and module.spec.image_size == config.image_size
    assert module.spec.condition_kind == "multi_hot" and module.spec.condition_dim == 24
