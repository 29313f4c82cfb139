"""Condition vocabularies: turn a dataset's own words into condition vectors and back.

``OneHotGroups`` is the anime study's tags, one colour per group (``"blue hair red eyes"`` → hair
one-hot then eye one-hot); ``MultiHot`` is ICLEVR's object names (``["red cube", "blue sphere"]``
→ a 24-dim 0/1 vector); ``Attributes`` is CelebA's binary attributes (``["Male", "Smiling"]`` or
``"Male Smiling"`` → 1 for each attribute present, 0 for the rest). All are frozen dataclasses of
tuples, so a ``DataSpec`` holding one stays hashable and ``dataclasses.asdict`` writes it into
checkpoints as plain lists and strings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

import torch

from datamodules.errors import DataError

SEPARATORS = re.compile(r"[\s,]+")


@dataclass(frozen=True)
class OneHotGroups:
    """One value from each group, concatenated one-hots: ``dim = sum(len(values))``.

    ``groups`` is ``((group, values), ...)`` in vector order, e.g. ``(("hair", 12 colours),
    ("eyes", 10 colours))`` → 22 dims. The group name is the noun written after a value in text
    (``"blue hair red eyes"``, also ``"red eyes, blue hair"``); reading accepts it with or without a
    plural ``s``, so ``"eye"`` and ``"eyes"`` name the same group either way.
    """

    groups: tuple[tuple[str, tuple[str, ...]], ...]
    kind: ClassVar[str] = "onehot_groups"

    def __post_init__(self) -> None:
        groups = tuple((str(name), tuple(str(v) for v in values)) for name, values in self.groups)
        object.__setattr__(self, "groups", groups)
        nouns = [_singular(name) for name, _ in groups]
        if not groups or len(set(nouns)) != len(nouns):
            raise DataError(f"condition groups must be non-empty and distinct, got {list(nouns)}")
        for name, values in groups:
            if not values or len(set(values)) != len(values):
                raise DataError(f"the {name} vocabulary must be non-empty and distinct: {values}")

    @classmethod
    def from_config(cls, groups: Mapping[str, Sequence[str]]) -> OneHotGroups:
        """From a config mapping ``{"hair": [...], "eyes": [...]}`` (Hydra passes DictConfigs)."""
        return cls(tuple((name, tuple(values)) for name, values in groups.items()))

    @property
    def dim(self) -> int:
        return sum(len(values) for _, values in self.groups)

    @property
    def names(self) -> tuple[str, ...]:
        """One name per vector entry: ``("aqua hair", ..., "yellow eyes")``."""
        return tuple(f"{value} {name}" for name, values in self.groups for value in values)

    def encode(self, text: str) -> torch.Tensor:
        """``"blue hair red eyes"`` → float ``(dim,)`` with one 1 per group.

        Raises ``DataError`` for a value outside its group's vocabulary (listing it), a missing or
        repeated group, or words that name no group.
        """
        chosen = self._parse(text)
        vector = torch.zeros(self.dim)
        offset = 0
        for name, values in self.groups:
            vector[offset + values.index(chosen[name])] = 1.0
            offset += len(values)
        return vector

    def encode_many(self, texts: Sequence[str]) -> torch.Tensor:
        """Encode each text: float ``(N, dim)``."""
        return _stack([self.encode(text) for text in texts], self.dim)

    def decode(self, vector: torch.Tensor) -> str:
        """Float ``(dim,)`` → ``"blue hair red eyes"``, taking the largest entry of each group."""
        _check_vector(vector, self.dim)
        words, offset = [], 0
        for name, values in self.groups:
            index = int(vector[offset : offset + len(values)].argmax())
            words.append(f"{values[index]} {name}")
            offset += len(values)
        return " ".join(words)

    def _parse(self, text: str) -> dict[str, str]:
        """Map each group name to its value: the words before that group's noun."""
        by_noun = {_singular(name): (name, values) for name, values in self.groups}
        pattern = " ".join(f"<{name}> {name}" for name, _ in self.groups)
        chosen: dict[str, str] = {}
        phrase: list[str] = []
        for word in filter(None, SEPARATORS.split(text)):
            if _singular(word) not in by_noun:
                phrase.append(word)
                continue
            name, values = by_noun[_singular(word)]
            value = " ".join(phrase)
            if not phrase or name in chosen:
                problem = f"names the {name} twice" if phrase else f"gives no value before {word!r}"
                raise DataError(f"{text!r} {problem}; write it as '{pattern}'.")
            if value not in values:
                raise DataError(
                    f"Unknown {name} {value!r} in {text!r}; the {name} values are {list(values)}."
                )
            chosen[name], phrase = value, []
        missing = [name for name, _ in self.groups if name not in chosen]
        if phrase or missing:
            example = self.decode(torch.ones(self.dim))
            problem = f"no {' or '.join(missing)} given" if missing else f"{phrase} names no group"
            raise DataError(f"Cannot read {text!r} as '{pattern}' (e.g. '{example}'): {problem}.")
        return chosen


@dataclass(frozen=True)
class MultiHot:
    """Any subset of ``names``, as a 0/1 vector ``(dim,)`` in ``names`` order (ICLEVR: 24)."""

    names: tuple[str, ...]
    kind: ClassVar[str] = "multi_hot"

    def __post_init__(self) -> None:
        names = tuple(str(name) for name in self.names)
        object.__setattr__(self, "names", names)
        if not names or len(set(names)) != len(names):
            raise DataError(f"condition names must be non-empty and distinct, got {list(names)}")

    @classmethod
    def from_index(cls, index: Mapping[str, int]) -> MultiHot:
        """From ``{name: position}`` with positions ``0..n-1`` (ICLEVR's ``objects.json``)."""
        if sorted(index.values()) != list(range(len(index))):
            raise DataError(
                f"condition indices must be 0..{len(index) - 1}, each once; got {dict(index)}"
            )
        return cls(tuple(sorted(index, key=index.__getitem__)))

    @property
    def dim(self) -> int:
        return len(self.names)

    def encode(self, names: Sequence[str] | str) -> torch.Tensor:
        """``["red cube", "blue sphere"]`` (or ``"red cube, blue sphere"``) → float ``(dim,)``.

        A repeated name sets its entry once. Raises ``DataError`` for a name outside ``names``,
        listing them.
        """
        if isinstance(names, str):
            names = [name.strip() for name in names.split(",") if name.strip()]
        vector = torch.zeros(self.dim)
        for name in names:
            if name not in self.names:
                raise DataError(
                    f"{name!r} is not a condition name; choose from {list(self.names)}."
                )
            vector[self.names.index(name)] = 1.0
        return vector

    def encode_many(self, lists: Sequence[Sequence[str] | str]) -> torch.Tensor:
        """Encode each list: float ``(N, dim)``."""
        return _stack([self.encode(names) for names in lists], self.dim)

    def decode(self, vector: torch.Tensor, k: int | None = None) -> list[str]:
        """Float ``(dim,)`` → the names whose entry is above 0.5, in ``names`` order.

        With ``k``, the ``k`` names with the largest entries instead, largest first (the ICLEVR
        evaluator's top-k rule, for scores that are probabilities).
        """
        _check_vector(vector, self.dim)
        if k is None:
            return [
                name for name, value in zip(self.names, vector.tolist(), strict=True) if value > 0.5
            ]
        return [self.names[i] for i in vector.topk(k).indices.tolist()]


@dataclass(frozen=True)
class Attributes:
    """Binary attributes (CelebA's ``Male``, ``Smiling``, ...): 0/1 ``(dim,)`` in ``names`` order.

    Every entry is a yes/no question about the image, so a vector with no 1 is valid too (e.g. not
    male, not smiling). Words are the attribute names that are present.
    """

    names: tuple[str, ...]
    kind: ClassVar[str] = "attributes"

    def __post_init__(self) -> None:
        names = tuple(str(name) for name in self.names)
        object.__setattr__(self, "names", names)
        if not names or len(set(names)) != len(names) or any(SEPARATORS.search(n) for n in names):
            raise DataError(
                f"attribute names must be non-empty, distinct and free of spaces and commas, got"
                f" {list(names)}"
            )

    @property
    def dim(self) -> int:
        return len(self.names)

    def encode(self, present: Sequence[str] | str) -> torch.Tensor:
        """``["Male", "Smiling"]`` (or ``"Male Smiling"``, ``"Male, Smiling"``) → float ``(dim,)``.

        Raises ``DataError`` for a name outside ``names``, listing them.
        """
        if isinstance(present, str):
            present = [name for name in SEPARATORS.split(present) if name]
        vector = torch.zeros(self.dim)
        for name in present:
            if name not in self.names:
                raise DataError(f"{name!r} is not an attribute; choose from {list(self.names)}.")
            vector[self.names.index(name)] = 1.0
        return vector

    def encode_many(self, lists: Sequence[Sequence[str] | str]) -> torch.Tensor:
        """Encode each list: float ``(N, dim)``."""
        return _stack([self.encode(present) for present in lists], self.dim)

    def decode(self, vector: torch.Tensor) -> list[str]:
        """Float ``(dim,)`` → the attributes whose entry is above 0.5, in ``names`` order."""
        _check_vector(vector, self.dim)
        return [
            name for name, value in zip(self.names, vector.tolist(), strict=True) if value > 0.5
        ]


def _singular(word: str) -> str:
    return word.removesuffix("s")


def _check_vector(vector: torch.Tensor, dim: int) -> None:
    if vector.shape != (dim,):
        raise ValueError(
            f"expected a condition vector of shape ({dim},), got {tuple(vector.shape)}"
        )


def _stack(vectors: list[torch.Tensor], dim: int) -> torch.Tensor:
    return torch.stack(vectors) if vectors else torch.zeros(0, dim)
