"""conf/data/*.yaml: every constructor argument is spelled out, and the config instantiates."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra.utils import get_class, instantiate
from omegaconf import OmegaConf

from tests.run_helpers import constructor_arguments

CONF = Path(__file__).resolve().parents[2] / "conf" / "data"


@pytest.mark.parametrize("name", ["anime", "toy_anime"])
def test_config_lists_every_constructor_argument(name: str) -> None:
    config = OmegaConf.load(CONF / f"{name}.yaml")
    parameters = constructor_arguments(get_class(config._target_))
    assert set(config) - {"_target_", "defaults"} == parameters


@pytest.mark.parametrize("name", ["anime", "toy_anime"])
def test_config_instantiates_with_list_value_range(name: str, anime_root: Path) -> None:
    config = OmegaConf.load(CONF / f"{name}.yaml")
    del config.defaults
    config.root = str(anime_root if name == "anime" else anime_root.parent / "toy")
    config.value_range = [0, 1]
    module = instantiate(config)
    assert module.spec.value_range == (0.0, 1.0)
    assert module.spec.image_size == config.image_size
