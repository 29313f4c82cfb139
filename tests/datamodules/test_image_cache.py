"""ImageCache: same pixels as direct decoding, reuse, invalidation, bad files, atomic writes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from datamodules.cache import ImageCache
from datamodules.decode import read_rgb
from datamodules.errors import DataError


def faces(root: Path) -> list[Path]:
    return sorted((root / "faces").glob("*.jpg"))


def make_cache(root: Path, **kwargs) -> ImageCache:
    return ImageCache(faces(root), root, "faces", 64, num_threads=2, **kwargs)


def test_cache_holds_the_decoded_resized_files_in_order(anime_root: Path) -> None:
    cached = make_cache(anime_root).load()

    expected = np.stack([read_rgb(path, 64) for path in faces(anime_root)])
    np.testing.assert_array_equal(cached.images, expected)
    np.testing.assert_array_equal(cached.kept, np.arange(len(expected)))
    assert cached.bad == ()
    assert (anime_root / ".litgen_cache" / "faces_64.npy").is_file()
    manifest = json.loads((anime_root / ".litgen_cache" / "faces_64.json").read_text())
    assert manifest["shape"] == [len(expected), 3, 64, 64]


def test_second_load_reuses_the_cache(anime_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = np.array(make_cache(anime_root).load().images)
    path = anime_root / ".litgen_cache" / "faces_64.npy"
    stamp = path.stat().st_mtime_ns

    def no_rebuild(self: ImageCache) -> Path:
        raise AssertionError("the cache was rebuilt although no file changed")

    monkeypatch.setattr(ImageCache, "build", no_rebuild)
    second = make_cache(anime_root).load()
    np.testing.assert_array_equal(second.images, first)
    assert path.stat().st_mtime_ns == stamp


def test_changed_file_rebuilds_the_cache(anime_root: Path) -> None:
    make_cache(anime_root).load()
    files = faces(anime_root)
    files[5].write_bytes(files[7].read_bytes())

    cache = make_cache(anime_root)
    assert cache.find() is None
    np.testing.assert_array_equal(cache.load().images[5], read_rgb(files[7], 64))


def test_removed_file_rebuilds_the_cache(anime_root: Path) -> None:
    make_cache(anime_root).load()
    faces(anime_root)[0].unlink()
    assert len(make_cache(anime_root).load().images) == len(faces(anime_root))


def test_unwritable_root_falls_back_to_cache_dir(anime_root: Path, tmp_path: Path) -> None:
    (anime_root / ".litgen_cache").write_text("a file where the cache folder would go")
    cache = make_cache(anime_root, cache_dir=tmp_path / "user_cache")

    images = cache.load().images

    assert len(images) == len(faces(anime_root))
    [location] = (tmp_path / "user_cache").glob("anime-*/faces_64.npy")
    assert cache.find() == location


def test_corrupt_files_are_skipped_and_named(anime_root: Path) -> None:
    files = faces(anime_root)
    files[3].write_bytes(files[3].read_bytes()[:500])
    files[9].write_bytes(b"")

    names = rf"faces/{files[3].stem}\.jpg \(truncated.*faces/{files[9].stem}\.jpg"
    with pytest.warns(UserWarning, match=rf"Skipped 2 of 40 images under .*: {names}"):
        cached = make_cache(anime_root, max_bad_fraction=0.1).load()

    expected_kept = np.delete(np.arange(40), [3, 9])
    np.testing.assert_array_equal(cached.kept, expected_kept)
    np.testing.assert_array_equal(cached.images, [read_rgb(files[i], 64) for i in expected_kept])
    assert sorted(cached.bad) == sorted([f"faces/{files[3].name}", f"faces/{files[9].name}"])
    reloaded = make_cache(anime_root, max_bad_fraction=0.1).load()
    np.testing.assert_array_equal(reloaded.kept, expected_kept)


def test_too_many_corrupt_files_abort_naming_them(anime_root: Path) -> None:
    bad = faces(anime_root)[0]
    bad.write_bytes(b"not a jpeg")

    with pytest.raises(DataError, match=rf"1 of 40 images under {anime_root}.*faces/{bad.name}"):
        make_cache(anime_root).load()
    leftovers = [p.name for p in (anime_root / ".litgen_cache").iterdir()]
    assert leftovers == [], "a failed build must leave no cache or temporary file"


def test_build_leaves_no_temporary_files(anime_root: Path) -> None:
    make_cache(anime_root).load()
    names = sorted(os.listdir(anime_root / ".litgen_cache"))
    assert names == ["faces_64.json", "faces_64.npy"]
