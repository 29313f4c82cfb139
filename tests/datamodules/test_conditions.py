"""Condition vocabularies: words ⇄ vectors both ways, errors that list the vocabulary, DataSpec."""

from __future__ import annotations

import dataclasses
import io

import pytest
import torch
from omegaconf import OmegaConf
from torch.testing import assert_close

from datamodules.conditions import MultiHot, OneHotGroups
from datamodules.errors import DataError
from datamodules.spec import DataSpec

HAIR = ("aqua", "black", "blonde", "blue", "brown", "gray", "green", "orange", "pink", "purple",
        "red", "white")  # fmt: skip
EYES = ("aqua", "black", "blue", "brown", "green", "orange", "pink", "purple", "red", "yellow")
TAGS = OneHotGroups((("hair", HAIR), ("eyes", EYES)))
OBJECTS = MultiHot(("gray cube", "red cube", "blue cube", "gray sphere", "blue sphere"))


def test_one_hot_groups_concatenate_the_groups() -> None:
    assert TAGS.dim == 22 and len(TAGS.names) == 22
    assert TAGS.names[0] == "aqua hair" and TAGS.names[11] == "white hair"
    assert TAGS.names[12] == "aqua eyes" and TAGS.names[-1] == "yellow eyes"
    vector = TAGS.encode("blue hair red eyes")
    assert vector.dtype == torch.float32 and vector.shape == (22,)
    assert vector.nonzero().flatten().tolist() == [HAIR.index("blue"), 12 + EYES.index("red")]


@pytest.mark.parametrize(
    "text",
    ["blue hair red eyes", "blue hair, red eyes", "red eyes blue hair", " blue hair red eye "],
)
def test_one_hot_groups_read_order_free_text(text: str) -> None:
    assert_close(TAGS.encode(text), TAGS.encode("blue hair red eyes"))


def test_one_hot_groups_round_trip_every_pair() -> None:
    texts = [f"{hair} hair {eye} eyes" for hair in HAIR for eye in EYES]
    vectors = TAGS.encode_many(texts)
    assert vectors.shape == (120, 22)
    assert_close(vectors.sum(1), torch.full((120,), 2.0))
    assert [TAGS.decode(vector) for vector in vectors] == texts


def test_one_hot_groups_decode_takes_the_largest_entry_of_each_group() -> None:
    scores = torch.rand(22)
    scores[HAIR.index("pink")] = 5.0
    scores[12 + EYES.index("green")] = 5.0
    assert TAGS.decode(scores) == "pink hair green eyes"


def test_group_noun_may_be_singular_or_plural() -> None:
    singular = OneHotGroups((("hair", HAIR), ("eye", EYES)))
    assert_close(singular.encode("blue hair red eyes"), TAGS.encode("blue hair red eyes"))
    assert singular.decode(TAGS.encode("blue hair red eyes")) == "blue hair red eye"


def test_one_hot_groups_from_a_hydra_mapping() -> None:
    config = OmegaConf.create({"hair": list(HAIR), "eyes": list(EYES)})
    vocab = OneHotGroups.from_config(config)
    assert vocab == TAGS and hash(vocab) == hash(TAGS)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("teal hair red eyes", r"Unknown hair 'teal'.*\['aqua', 'black', 'blonde'.*'white'\]"),
        ("blue hair teal eyes", r"Unknown eyes 'teal'.*\['aqua', 'black', 'blue'.*'yellow'\]"),
        ("blue hair", r"no eyes given"),
        ("", r"no hair or eyes given"),
        ("blue hair red eyes green hair", r"names the hair twice"),
        ("hair red eyes", r"no value before 'hair'"),
        ("blue hair red eyes smile", r"\['smile'\] names no group"),
    ],
)
def test_one_hot_groups_reject_bad_text(text: str, message: str) -> None:
    with pytest.raises(DataError, match=message):
        TAGS.encode(text)


def test_one_hot_groups_reject_bad_vocabularies() -> None:
    with pytest.raises(DataError, match="distinct"):
        OneHotGroups((("hair", ("red", "red")),))
    with pytest.raises(DataError, match="distinct"):
        OneHotGroups((("eye", ("red",)), ("eyes", ("blue",))))


def test_multi_hot_encodes_any_subset() -> None:
    vector = OBJECTS.encode(["red cube", "blue sphere"])
    assert_close(vector, torch.tensor([0.0, 1.0, 0.0, 0.0, 1.0]))
    assert_close(OBJECTS.encode("red cube, blue sphere"), vector)
    assert_close(OBJECTS.encode(["red cube", "red cube"]), OBJECTS.encode(["red cube"]))
    many = OBJECTS.encode_many([["gray cube"], ["blue cube", "gray sphere"]])
    assert_close(many, torch.tensor([[1.0, 0, 0, 0, 0], [0, 0, 1, 1, 0]]))
    assert OBJECTS.encode_many([]).shape == (0, 5)


def test_multi_hot_decode_thresholds_or_takes_top_k() -> None:
    lists = [["gray cube"], ["red cube", "blue sphere"], ["gray cube", "blue cube", "gray sphere"]]
    assert [OBJECTS.decode(v) for v in OBJECTS.encode_many(lists)] == lists
    scores = torch.tensor([0.2, 0.9, 0.4, 0.45, 0.7])
    assert OBJECTS.decode(scores) == ["red cube", "blue sphere"]
    assert OBJECTS.decode(scores, k=3) == ["red cube", "blue sphere", "gray sphere"]


def test_multi_hot_unknown_name_lists_the_vocabulary() -> None:
    with pytest.raises(DataError, match=r"'pink cube' is not a condition name.*'gray cube'"):
        OBJECTS.encode(["red cube", "pink cube"])
    with pytest.raises(ValueError, match=r"shape \(5,\)"):
        OBJECTS.decode(torch.zeros(24))


def test_multi_hot_from_an_index_mapping() -> None:
    vocab = MultiHot.from_index({"b": 1, "a": 2, "c": 0})
    assert vocab.names == ("c", "b", "a")
    with pytest.raises(DataError, match="indices must be 0..1"):
        MultiHot.from_index({"a": 0, "b": 2})


@pytest.mark.parametrize("vocab", [TAGS, OBJECTS])
def test_spec_takes_kind_and_names_from_its_vocabulary(vocab: OneHotGroups | MultiHot) -> None:
    spec = DataSpec(image_size=64, name="x", vocab=vocab)
    assert spec.condition_kind == vocab.kind and spec.conditional
    assert spec.condition_names == vocab.names and spec.condition_dim == vocab.dim
    assert hash(spec) == hash(DataSpec(image_size=64, name="x", vocab=vocab))
    with pytest.raises(DataError, match="disagree"):
        DataSpec(image_size=64, condition_kind="attributes", vocab=vocab)


@pytest.mark.parametrize(
    "spec",
    [
        DataSpec(image_size=32, value_range=(0.0, 1.0), vocab=TAGS, name="tags"),
        DataSpec(image_size=64, vocab=OBJECTS, name="objects"),
        DataSpec(image_size=64, condition_kind="attributes", condition_names=("Male", "Smiling")),
        DataSpec(image_size=64),
    ],
)
def test_spec_survives_a_checkpoint_round_trip(spec: DataSpec) -> None:
    buffer = io.BytesIO()
    torch.save({"data_spec": dataclasses.asdict(spec)}, buffer)
    buffer.seek(0)
    stored = torch.load(buffer, weights_only=True)["data_spec"]
    assert DataSpec.from_dict(stored) == spec
    as_json = OmegaConf.to_container(OmegaConf.create(stored))  # lists, as JSON or YAML give
    assert DataSpec.from_dict(as_json) == spec
