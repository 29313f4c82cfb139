"""Read the MLDS 2018 HW3 ``extra_data/tags.csv``: lines ``<id>,<hair> hair <eye> eyes``."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from datamodules.errors import DataError
from datamodules.text_file import read_text

LINE = re.compile(r"(?P<id>\w+),(?P<hair>\S+) hair (?P<eye>\S+) eyes")


class Tag(NamedTuple):
    """One tagged image: ``extra_data/images/<id>.jpg`` with its hair and eye colour names."""

    id: str
    hair: str
    eye: str


def read_tags(
    path: Path | str, hair_colours: Sequence[str], eye_colours: Sequence[str]
) -> list[Tag]:
    """Parse every line of ``path`` (no header; blank lines skipped) in file order.

    A malformed line, or a colour outside ``hair_colours`` / ``eye_colours`` (the vocabularies of
    the data config, which fix the one-hot indices), is a ``DataError`` naming the file and line.
    """
    path = Path(path)
    tags = []
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        match = LINE.fullmatch(line.strip())
        if match is None:
            raise DataError(
                f"{path}:{number}: expected '<id>,<hair> hair <eye> eyes' (e.g."
                f" '0,aqua hair aqua eyes'), got {line!r}. Fix or delete that line."
            )
        tag = Tag(match["id"], match["hair"], match["eye"])
        for kind, name, vocabulary in (
            ("hair", tag.hair, hair_colours),
            ("eye", tag.eye, eye_colours),
        ):
            if name not in vocabulary:
                raise DataError(
                    f"{path}:{number}: {kind} colour {name!r} is not one of {list(vocabulary)}."
                    f" Fix the line, or add the colour to data.{kind}_colours."
                )
        tags.append(tag)
    return tags
