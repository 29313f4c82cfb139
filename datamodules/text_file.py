"""Read a label file (tags.csv, train.json, list_attr_celeba.txt, ...) as UTF-8 text.

``Path.read_text`` decodes with the locale's encoding and raises ``UnicodeDecodeError`` on a
stray byte; a label file in another encoding, or a binary file under the expected name, should
instead fail with a ``DataError`` naming the file and line. A leading byte-order mark is dropped
(spreadsheet programs write one). ``FileNotFoundError`` passes through: the callers name the
layout they expect.
"""

from __future__ import annotations

from pathlib import Path

from datamodules.errors import DataError


def read_text(path: Path) -> str:
    """The whole of ``path`` as UTF-8 text."""
    return _decode(path, path.read_bytes())


def read_head(path: Path, n_lines: int) -> list[str]:
    """The first ``n_lines`` lines of ``path`` as UTF-8 text (line ends kept; fewer at the end
    of the file), without reading the rest of it."""
    with path.open("rb") as file:
        data = b"".join(file.readline() for _ in range(n_lines))
    return _decode(path, data).splitlines(keepends=True)


def _decode(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise DataError(
            f"{path}:{line}: not UTF-8 text (byte {data[error.start]:#04x} at offset"
            f" {error.start}). Restore the file from the data set's download, or save it as UTF-8."
        ) from None
