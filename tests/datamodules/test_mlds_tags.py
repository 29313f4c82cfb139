"""read_tags on the real MLDS tags format."""

from __future__ import annotations

from pathlib import Path

import pytest

from datamodules.errors import DataError
from datamodules.mlds_tags import Tag, read_tags
from datamodules.toy_faces import EYE_COLOURS, HAIR_COLOURS

HAIR = list(HAIR_COLOURS)
EYES = list(EYE_COLOURS)


def test_reads_the_mlds_sample(shared_fixtures: Path) -> None:
    path = shared_fixtures / "anime" / "tags_sample.csv"
    tags = read_tags(path, HAIR, EYES)
    assert len(tags) == len(path.read_text().splitlines())
    assert tags[0] == Tag("0", "aqua", "aqua")
    assert tags[1] == Tag("166", "aqua", "black")
    assert {tag.eye for tag in tags} == set(EYES)
    assert {tag.hair for tag in tags} == set(HAIR)


def test_malformed_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "tags.csv"
    path.write_text("0,aqua hair aqua eyes\n1,aqua hair\n")
    with pytest.raises(DataError, match=rf"{path}:2: expected"):
        read_tags(path, HAIR, EYES)


def test_unknown_colour_names_file_line_and_colour(tmp_path: Path) -> None:
    path = tmp_path / "tags.csv"
    path.write_text("0,aqua hair aqua eyes\n1,aqua hair aqua eyes\n2,teal hair red eyes\n")
    with pytest.raises(DataError, match=rf"{path}:3: hair colour 'teal'"):
        read_tags(path, HAIR, EYES)
