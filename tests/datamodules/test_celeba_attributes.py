"""The Attributes vocabulary: CelebA attribute names ⇄ 0/1 vectors, and the DataSpec holding it."""

from __future__ import annotations

import dataclasses
import io

import pytest
import torch
from omegaconf import OmegaConf
from torch.testing import assert_close

from datamodules.conditions import Attributes
from datamodules.errors import DataError
from datamodules.spec import VOCABULARIES, DataSpec

VOCAB = Attributes(("Male", "Smiling", "Pale_Skin", "Goatee"))


def test_encodes_the_present_attributes() -> None:
    assert VOCAB.kind == "attributes" and VOCABULARIES["attributes"] is Attributes
    assert VOCAB.dim == 4 and VOCAB.names == ("Male", "Smiling", "Pale_Skin", "Goatee")
    vector = VOCAB.encode(["Male", "Smiling"])
    assert vector.dtype == torch.float32
    assert_close(vector, torch.tensor([1.0, 1.0, 0.0, 0.0]))
    for text in ("Male Smiling", "Smiling, Male", " Male,Smiling ", "Male Male Smiling"):
        assert_close(VOCAB.encode(text), vector)
    assert_close(VOCAB.encode([]), torch.zeros(4))
    assert_close(VOCAB.encode(""), torch.zeros(4))
    many = VOCAB.encode_many([["Goatee"], "Pale_Skin Male", []])
    assert_close(many, torch.tensor([[0.0, 0, 0, 1], [1, 0, 1, 0], [0, 0, 0, 0]]))
    assert VOCAB.encode_many([]).shape == (0, 4)


def test_decode_round_trips_every_combination() -> None:
    lists = [
        [name for bit, name in zip(f"{code:04b}", VOCAB.names, strict=True) if bit == "1"]
        for code in range(16)
    ]
    assert [VOCAB.decode(vector) for vector in VOCAB.encode_many(lists)] == lists
    assert VOCAB.decode(torch.tensor([0.9, 0.2, 0.51, 0.5])) == ["Male", "Pale_Skin"]


def test_unknown_name_lists_the_vocabulary() -> None:
    with pytest.raises(DataError, match=r"'Beard' is not an attribute; choose from \['Male',"):
        VOCAB.encode(["Male", "Beard"])
    with pytest.raises(DataError, match=r"'male' is not an attribute.*'Goatee'\]"):
        VOCAB.encode("male")
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        VOCAB.decode(torch.zeros(40))


@pytest.mark.parametrize("names", [(), ("Male", "Male"), ("Pale Skin",), ("Male,Young",)])
def test_rejects_bad_vocabularies(names: tuple[str, ...]) -> None:
    with pytest.raises(DataError, match="non-empty, distinct"):
        Attributes(names)


def test_is_hashable_and_equal_by_names() -> None:
    same = Attributes(["Male", "Smiling", "Pale_Skin", "Goatee"])  # a Hydra list becomes a tuple
    assert same == VOCAB and hash(same) == hash(VOCAB)
    assert Attributes(("Smiling", "Male", "Pale_Skin", "Goatee")) != VOCAB


def test_spec_takes_kind_and_names_from_the_vocabulary() -> None:
    spec = DataSpec(image_size=64, name="celeba", vocab=VOCAB)
    assert spec.condition_kind == "attributes" and spec.conditional
    assert spec.condition_names == VOCAB.names and spec.condition_dim == 4
    assert hash(spec) == hash(DataSpec(image_size=64, name="celeba", vocab=VOCAB))
    with pytest.raises(DataError, match="disagree"):
        DataSpec(image_size=64, condition_kind="multi_hot", vocab=VOCAB)


def test_spec_survives_a_checkpoint_round_trip() -> None:
    spec = DataSpec(image_size=128, value_range=(0.0, 1.0), name="celeba", vocab=VOCAB)
    stored = dataclasses.asdict(spec)
    assert stored["vocab"] == {"names": VOCAB.names}
    buffer = io.BytesIO()
    torch.save({"data_spec": stored}, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=True)["data_spec"]
    assert DataSpec.from_dict(loaded) == spec
    as_json = OmegaConf.to_container(OmegaConf.create(loaded))  # lists, as JSON or YAML give
    rebuilt = DataSpec.from_dict(as_json)
    assert rebuilt == spec and isinstance(rebuilt.vocab, Attributes)
    assert_close(rebuilt.vocab.encode("Goatee"), torch.tensor([0.0, 0.0, 0.0, 1.0]))
