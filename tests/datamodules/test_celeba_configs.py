"""conf/data/{celeba,toy_celeba}.yaml: every constructor argument is spelled out, and both build."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra.utils import get_class, instantiate

from datamodules.toy_celeba import write_toy_celeba
from tests.run_helpers import compose_train, constructor_arguments


@pytest.mark.parametrize("name", ["celeba", "toy_celeba"])
def test_config_lists_every_constructor_argument(name: str, tmp_path: Path) -> None:
    config = compose_train(tmp_path, [f"data={name}", f"paths.data_dir={tmp_path}"]).data
    parameters = constructor_arguments(get_class(config._target_))
    assert set(config) - {"_target_"} == parameters
    assert list(config.attributes) == ["Male", "Smiling", "Pale_Skin", "Goatee"]
    assert (config.image_size, config.crop_size) == (64, 178)


@pytest.mark.parametrize("name", ["celeba", "toy_celeba"])
def test_config_instantiates_with_an_attribute_spec(name: str, tmp_path: Path) -> None:
    overrides = [f"data={name}", f"paths.data_dir={tmp_path}", "data.value_range=[0,1]"]
    if name == "celeba":
        write_toy_celeba(tmp_path / "celeba", n_images=4)
        overrides.append(f"data.root={tmp_path / 'celeba'}")
    overrides.append("data.attributes=[Black_Hair,Blond_Hair,Brown_Hair,Male,Young]")
    config = compose_train(tmp_path / "run", overrides).data
    module = instantiate(config, _convert_="all")
    spec = module.spec
    assert spec.value_range == (0.0, 1.0) and spec.image_size == 64
    assert spec.condition_kind == "attributes" and spec.condition_dim == 5
    assert spec.name == name
