"""Property-based tests of the three label parsers: MLDS tags, ICLEVR JSON, CelebA attributes.

For each: valid files drawn at random parse to the right names and shapes, words and vectors
round-trip through the vocabulary, and any other content (random text, random bytes, random
JSON, one token spoiled) either parses or raises ``DataError``, never another exception.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datamodules.celeba import (
    CELEBA_ATTRIBUTES,
    read_attribute_header,
    read_attribute_table,
    read_partition,
)
from datamodules.conditions import Attributes, MultiHot, OneHotGroups
from datamodules.errors import DataError
from datamodules.iclevr import (
    ICLEVR_OBJECTS,
    read_condition_sets,
    read_objects,
    read_train_labels,
)
from datamodules.mlds_tags import Tag, read_tags
from datamodules.toy_faces import EYE_COLOURS, HAIR_COLOURS

HAIR, EYES = tuple(HAIR_COLOURS), tuple(EYE_COLOURS)
TAGS = OneHotGroups((("hair", HAIR), ("eyes", EYES)))
OBJECTS = MultiHot.from_index(ICLEVR_OBJECTS)
# tmp_path is shared by a test's examples (each rewrites the file); no example database on disk.
FAST = settings(
    max_examples=50,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

text_lines = st.text(st.characters(exclude_categories=("Cs",)), max_size=200)
line_ends = st.sampled_from(["\n", "\r\n"])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=20), children, max_size=4)
    ),
    max_leaves=12,
)


def parses_or_data_error(parse: Callable[[], Any]) -> Any:
    """``parse()``, or None when it raised ``DataError``; any other exception fails the test."""
    try:
        return parse()
    except DataError:
        return None


def _write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, str):
        path.write_bytes(content.encode())
    else:
        path.write_bytes(content)
    return path


# --- MLDS tags.csv ------------------------------------------------------------------------------

tag_rows = st.lists(
    st.tuples(
        st.from_regex(r"[0-9]{1,6}", fullmatch=True), st.sampled_from(HAIR), st.sampled_from(EYES)
    ),
    min_size=1,
    max_size=20,
)


@FAST
@given(rows=tag_rows, end=line_ends, final=st.booleans())
def test_tags_files_parse_to_their_rows(rows, end: str, final: bool, tmp_path: Path) -> None:
    lines = [f"{id_},{hair} hair {eye} eyes" for id_, hair, eye in rows]
    path = _write(tmp_path / "tags.csv", end.join(lines) + (end if final else ""))
    tags = read_tags(path, HAIR, EYES)
    assert tags == [Tag(*row) for row in rows]
    vectors = TAGS.encode_many([f"{tag.hair} hair {tag.eye} eyes" for tag in tags])
    assert vectors.shape == (len(rows), len(HAIR) + len(EYES))
    hair, eyes = vectors.split([len(HAIR), len(EYES)], dim=1)
    assert (hair.sum(1) == 1).all() and (eyes.sum(1) == 1).all()


@FAST
@given(hair=st.sampled_from(HAIR), eye=st.sampled_from(EYES), swapped=st.booleans())
def test_tag_words_and_vectors_round_trip(hair: str, eye: str, swapped: bool) -> None:
    text = f"{eye} eyes, {hair} hair" if swapped else f"{hair} hair {eye} eyes"
    vector = TAGS.encode(text)
    assert TAGS.decode(vector) == f"{hair} hair {eye} eyes"
    assert vector[HAIR.index(hair)] == 1 and vector[len(HAIR) + EYES.index(eye)] == 1


@FAST
@given(lines=st.lists(text_lines, max_size=5))
def test_any_tags_text_parses_or_raises_data_error(lines: list[str], tmp_path: Path) -> None:
    path = _write(tmp_path / "tags.csv", "\n".join(lines))
    tags = parses_or_data_error(lambda: read_tags(path, HAIR, EYES))
    assert tags is None or all(tag.hair in HAIR and tag.eye in EYES for tag in tags)


@FAST
@given(content=st.binary(max_size=200))
def test_any_tags_bytes_parse_or_raise_data_error(content: bytes, tmp_path: Path) -> None:
    path = _write(tmp_path / "tags.csv", content)
    parses_or_data_error(lambda: read_tags(path, HAIR, EYES))


@FAST
@given(text=text_lines)
def test_any_condition_text_encodes_or_raises_data_error(text: str) -> None:
    vector = parses_or_data_error(lambda: TAGS.encode(text))
    assert vector is None or (vector.sum() == 2 and TAGS.encode(TAGS.decode(vector)).equal(vector))


# --- ICLEVR objects.json, train.json, test.json -------------------------------------------------

object_lists = st.lists(st.sampled_from(OBJECTS.names), min_size=1, max_size=3)


@FAST
@given(labels=st.lists(object_lists, min_size=1, max_size=20))
def test_train_json_parses_to_its_labels(labels: list[list[str]], tmp_path: Path) -> None:
    content = {f"CLEVR_train_{i:06d}_{len(names) - 1}.png": names for i, names in enumerate(labels)}
    path = _write(tmp_path / "train.json", json.dumps(content, indent=2))
    assert read_train_labels(path, OBJECTS) == content
    vectors = OBJECTS.encode_many(list(content.values()))
    assert vectors.shape == (len(labels), 24)
    for names, vector in zip(labels, vectors, strict=True):
        assert OBJECTS.decode(vector) == sorted(set(names), key=OBJECTS.names.index)


@FAST
@given(order=st.permutations(list(ICLEVR_OBJECTS)))
def test_objects_json_gives_names_in_index_order(order: list[str], tmp_path: Path) -> None:
    path = _write(tmp_path / "objects.json", json.dumps({name: i for i, name in enumerate(order)}))
    vocab = read_objects(path)
    assert vocab.names == tuple(order) and vocab.dim == 24


@FAST
@given(sets=st.lists(object_lists, min_size=1, max_size=32))
def test_condition_sets_round_trip(sets: list[list[str]], tmp_path: Path) -> None:
    path = _write(tmp_path / "test.json", json.dumps(sets))
    assert read_condition_sets(path, OBJECTS) == sets
    assert OBJECTS.encode_many(sets).sum(1).tolist() == [len(set(names)) for names in sets]


@FAST
@given(
    value=json_values
    | st.dictionaries(
        st.text(max_size=20),
        st.lists(st.sampled_from(OBJECTS.names) | st.text(max_size=10) | st.integers(), max_size=3),
        max_size=4,
    )
)
def test_any_json_parses_or_raises_data_error(value: Any, tmp_path: Path) -> None:
    path = _write(tmp_path / "any.json", json.dumps(value))
    labels = parses_or_data_error(lambda: read_train_labels(path, OBJECTS))
    assert labels is None or all(set(names) <= set(OBJECTS.names) for names in labels.values())
    sets = parses_or_data_error(lambda: read_condition_sets(path, OBJECTS))
    assert sets is None or all(set(names) <= set(OBJECTS.names) for names in sets)
    vocab = parses_or_data_error(lambda: read_objects(path))
    assert vocab is None or vocab.dim == len(value)


@FAST
@given(content=st.binary(max_size=200) | text_lines)
def test_any_json_file_content_parses_or_raises_data_error(
    content: bytes | str, tmp_path: Path
) -> None:
    path = _write(tmp_path / "any.json", content)
    parses_or_data_error(lambda: read_train_labels(path, OBJECTS))
    parses_or_data_error(lambda: read_condition_sets(path, OBJECTS))
    parses_or_data_error(lambda: read_objects(path))


@FAST
@given(text=text_lines)
def test_any_object_names_encode_or_raise_data_error(text: str) -> None:
    vector = parses_or_data_error(lambda: OBJECTS.encode(text))
    assert vector is None or OBJECTS.encode(OBJECTS.decode(vector)).equal(vector)


# --- CelebA list_attr_celeba.txt, list_eval_partition.txt ---------------------------------------


@st.composite
def attribute_files(draw: st.DrawFn) -> tuple[str, tuple[str, ...], list[list[int]]]:
    """A valid attribute file (count, names, rows of -1/1 with runs of spaces, CRLF or LF, with
    or without a final line end) and its names and values."""
    names = tuple(draw(st.lists(st.sampled_from(CELEBA_ATTRIBUTES), min_size=1, unique=True)))
    rows = draw(
        st.lists(
            st.lists(st.sampled_from([-1, 1]), min_size=len(names), max_size=len(names)),
            min_size=1,
            max_size=12,
        )
    )
    gap = st.sampled_from([" ", "  ", "   "])
    end = draw(line_ends)
    lines = [str(len(rows)), " ".join(names) + draw(st.sampled_from(["", " "]))]
    for i, row in enumerate(rows, start=1):
        lines.append(f"{i:06d}.jpg" + "".join(draw(gap) + str(v) for v in row))
    return end.join(lines) + draw(st.sampled_from(["", end])), names, rows


@FAST
@given(drawn=attribute_files())
def test_attribute_files_parse_to_their_values(drawn, tmp_path: Path) -> None:
    content, names, rows = drawn
    path = _write(tmp_path / "list_attr_celeba.txt", content)
    table = read_attribute_table(path)
    assert table.names == names and len(table.files) == len(rows)
    assert table.values.shape == (len(rows), len(names)) and table.values.tolist() == rows
    assert read_attribute_header(path) == (len(rows), names)
    selected = table.select(names[::-1])
    assert torch.equal(torch.from_numpy(selected), (torch.tensor(rows) > 0).float().flip(1))


# Any word other than NumPy's spellings of -1 and 1 ("-1", "+1", "001", ...): other numbers
# (255 and 257 once wrapped round to -1 and 1 in int8), other digits ("١"), any other text.
spoiled_tokens = st.one_of(
    st.integers().filter(lambda value: value not in (-1, 1)).map(str),
    st.sampled_from(["255", "257", "-255", "١", "0_1", "1.0", "2**64"]),
    st.text(st.characters(exclude_categories=("Cs", "Z", "Cc")), min_size=1, max_size=6).filter(
        lambda token: token.split() == [token] and re.fullmatch(r"[+-]?0*1", token) is None
    ),
)


@FAST
@given(drawn=attribute_files(), data=st.data())
def test_one_spoiled_attribute_token_raises_data_error_naming_its_line(
    drawn, data: st.DataObject, tmp_path: Path
) -> None:
    content, names, rows = drawn
    end = "\r\n" if "\r\n" in content else "\n"
    lines = content.split(end)
    number = data.draw(st.integers(3, len(rows) + 2), label="line")
    tokens = lines[number - 1].split()
    column = data.draw(st.integers(1, len(tokens) - 1), label="column")
    bad = data.draw(spoiled_tokens, label="token")
    tokens[column] = bad
    lines[number - 1] = " ".join(tokens)
    path = _write(tmp_path / "list_attr_celeba.txt", end.join(lines))
    with pytest.raises(DataError, match=rf"{path}:{number}: "):
        read_attribute_table(path)


@FAST
@given(lines=st.lists(text_lines, max_size=6))
def test_any_attribute_text_parses_or_raises_data_error(lines: list[str], tmp_path: Path) -> None:
    path = _write(tmp_path / "list_attr_celeba.txt", "\r\n".join(lines))
    table = parses_or_data_error(lambda: read_attribute_table(path))
    assert table is None or set(table.values.flatten().tolist()) <= {-1, 1}
    parses_or_data_error(lambda: read_attribute_header(path))


@FAST
@given(content=st.binary(max_size=300))
def test_any_celeba_bytes_parse_or_raise_data_error(content: bytes, tmp_path: Path) -> None:
    path = _write(tmp_path / "celeba.txt", content)
    parses_or_data_error(lambda: read_attribute_table(path))
    parses_or_data_error(lambda: read_attribute_header(path))
    parses_or_data_error(lambda: read_partition(path))


@FAST
@given(
    splits=st.lists(st.sampled_from([0, 1, 2]), min_size=1, max_size=20),
    end=line_ends,
    final=st.booleans(),
)
def test_partition_files_parse_to_their_splits(
    splits: list[int], end: str, final: bool, tmp_path: Path
) -> None:
    lines = [f"{i:06d}.jpg {split}" for i, split in enumerate(splits, start=1)]
    path = _write(tmp_path / "list_eval_partition.txt", end.join(lines) + (end if final else ""))
    assert read_partition(path) == {f"{i:06d}.jpg": s for i, s in enumerate(splits, start=1)}


@FAST
@given(lines=st.lists(text_lines, max_size=6))
def test_any_partition_text_parses_or_raises_data_error(lines: list[str], tmp_path: Path) -> None:
    path = _write(tmp_path / "list_eval_partition.txt", "\n".join(lines))
    partition = parses_or_data_error(lambda: read_partition(path))
    assert partition is None or set(partition.values()) <= {0, 1, 2}


@FAST
@given(
    names=st.lists(st.sampled_from(CELEBA_ATTRIBUTES), min_size=1, unique=True),
    data=st.data(),
)
def test_attribute_words_and_vectors_round_trip(names: list[str], data: st.DataObject) -> None:
    vocab = Attributes(tuple(names))
    present = data.draw(st.lists(st.sampled_from(names), unique=True), label="present")
    vector = vocab.encode(present)
    assert vector.shape == (len(names),) and vector.sum() == len(present)
    assert vocab.decode(vector) == [name for name in names if name in present]
    assert vocab.encode(" ".join(present)).equal(vector)
    text = data.draw(text_lines, label="text")
    encoded = parses_or_data_error(lambda: vocab.encode(text))
    assert encoded is None or encoded.shape == (len(names),)
