"""The shared behaviour of datamodules whose data is drawn on first use (the toy sets)."""

from __future__ import annotations

import dataclasses

from datamodules.spec import DataSpec


class ProceduralData:
    """Mixin, listed before a real datamodule class: the same loading code, on a procedural set
    written into ``root`` by ``prepare_data``/``setup`` (never by ``__init__``).

    Subclasses set ``toy_name`` (the spec's name) and give two hooks: ``ensure_written()``
    draws the set unless ``root`` already holds it, and ``check_root()`` raises for a folder with
    other content and tells whether a set is there.
    """

    toy_name: str

    def ensure_written(self) -> None:
        raise NotImplementedError

    def check_root(self) -> bool:
        raise NotImplementedError

    @property
    def spec(self) -> DataSpec:
        return dataclasses.replace(super().spec, name=self.toy_name)

    def check(self) -> None:
        """Fail early only if ``root`` holds something that is not a toy set."""
        if self.check_root():
            super().check()

    def prepare_data(self) -> None:
        self.ensure_written()
        super().prepare_data()

    def setup(self, stage: str | None = None) -> None:
        self.ensure_written()
        super().setup(stage)
