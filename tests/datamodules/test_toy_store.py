"""Writing a procedural set once: atomic, kill-safe, kept when drawn alike, replaced otherwise."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from datamodules.errors import DataError
from datamodules.toy_store import check_toy_root, read_marker, write_once

MARKER = ".toy.json"
WORDS = {"what": "toy set", "toy_data": "toy_x", "real": "X data", "real_data": "x"}


def fill_with(text: str):
    def fill(tmp: Path) -> None:
        (tmp / "sub").mkdir()
        (tmp / "sub" / "a.txt").write_text(text)

    return fill


def test_writes_the_filled_set_and_its_marker_and_leaves_no_temp(tmp_path: Path) -> None:
    root = tmp_path / "set"
    write_once(root, MARKER, {"n": 3}, fill_with("one"))
    assert (root / "sub" / "a.txt").read_text() == "one"
    assert read_marker(root, MARKER) == {"n": 3}
    assert json.loads((root / MARKER).read_text()) == {"n": 3}
    assert [path.name for path in tmp_path.iterdir()] == ["set"]


def test_fill_that_raises_leaves_no_root_and_no_temp_folder(tmp_path: Path) -> None:
    def fill(tmp: Path) -> None:
        (tmp / "half.txt").write_text("partial")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_once(tmp_path / "set", MARKER, {"n": 3}, fill)
    assert list(tmp_path.iterdir()) == []


def test_second_writer_with_the_same_marker_keeps_the_first(tmp_path: Path) -> None:
    root = tmp_path / "set"
    write_once(root, MARKER, {"n": 3}, fill_with("first"))
    write_once(root, MARKER, {"n": 3}, fill_with("second"))
    assert (root / "sub" / "a.txt").read_text() == "first"
    assert [path.name for path in tmp_path.iterdir()] == ["set"]


def test_writer_that_finds_its_set_written_meanwhile_keeps_it(tmp_path: Path) -> None:
    root = tmp_path / "set"

    def fill(tmp: Path) -> None:  # a concurrent run finishes while this one draws
        write_once(root, MARKER, {"n": 3}, fill_with("theirs"))
        fill_with("ours")(tmp)

    write_once(root, MARKER, {"n": 3}, fill)
    assert (root / "sub" / "a.txt").read_text() == "theirs"
    assert [path.name for path in tmp_path.iterdir()] == ["set"]


def test_different_marker_replaces_the_set(tmp_path: Path) -> None:
    root = tmp_path / "set"
    write_once(root, MARKER, {"n": 3}, fill_with("first"))
    write_once(root, MARKER, {"n": 4}, fill_with("second"))
    assert (root / "sub" / "a.txt").read_text() == "second"
    assert read_marker(root, MARKER) == {"n": 4}
    assert [path.name for path in tmp_path.iterdir()] == ["set"]


def test_empty_folder_is_filled(tmp_path: Path) -> None:
    root = tmp_path / "set"
    root.mkdir()
    write_once(root, MARKER, {"n": 3}, fill_with("one"))
    assert read_marker(root, MARKER) == {"n": 3}


def test_unmarked_content_is_never_replaced(tmp_path: Path) -> None:
    root = tmp_path / "set"
    root.mkdir()
    (root / "mine.txt").write_text("user data")
    with pytest.raises(OSError):
        write_once(root, MARKER, {"n": 3}, fill_with("one"))
    assert [path.name for path in root.iterdir()] == ["mine.txt"]
    assert [path.name for path in tmp_path.iterdir()] == ["set"]


def test_marker_that_is_missing_or_not_json_reads_as_none(tmp_path: Path) -> None:
    assert read_marker(tmp_path / "absent", MARKER) is None
    (tmp_path / MARKER).write_text("{not json")
    assert read_marker(tmp_path, MARKER) is None


def test_check_accepts_missing_empty_and_marked_folders(tmp_path: Path) -> None:
    check_toy_root(tmp_path / "absent", MARKER, **WORDS)
    check_toy_root(tmp_path, MARKER, **WORDS)
    write_once(tmp_path / "set", MARKER, {"n": 3}, fill_with("one"))
    check_toy_root(tmp_path / "set", MARKER, **WORDS)


@pytest.mark.parametrize("as_file", [False, True])
def test_check_refuses_other_content_naming_folder_and_data_options(
    tmp_path: Path, as_file: bool
) -> None:
    root = tmp_path / "set"
    if as_file:
        root.write_text("a file")
    else:
        root.mkdir()
        (root / "mine.txt").write_text("user data")
    with pytest.raises(DataError) as error:
        check_toy_root(root, MARKER, **WORDS)
    assert str(error.value) == (
        f"{root} is not empty and holds no toy set ({MARKER} is missing), so it is left alone."
        " Point data.root at a new or empty folder for data=toy_x, or read the folder as X data"
        " with data=x."
    )
