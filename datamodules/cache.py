"""A uint8 image cache: decode a dataset's files once into a memory-mapped .npy beside the data.

Small GANs are bound by data loading (DESIGN §6), so every datamodule decodes and resizes its
images once, stores them as uint8 ``(N, 3, S, S)`` in ``<root>/.litgen_cache/<subset>_<S>.npy``
with a JSON manifest, and later runs only memory-map that file. The manifest holds a fingerprint of
the source files (names, sizes, mtimes) and of the decoding settings, so any change rebuilds it.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from datamodules.decode import read_rgb_and_size
from datamodules.errors import DataError
from datamodules.image_sizes import MISSING, odd_sizes

CACHE_FORMAT = 1
CHUNK = 256
DEFAULT_CACHE_DIR = "~/.cache/litgen"
SHOWN_BAD_FILES = 5
SHARED_FILE_MODE = 0o644  # readable by everyone who reads the data (mkstemp makes 0600)


@dataclass(frozen=True)
class CachedImages:
    """Decoded images and the source files they came from.

    ``images``: uint8 ``(N, 3, S, S)``, memory-mapped read-only. ``kept``: int64 ``(N,)``, the
    index of each row in the source file list (unreadable files are skipped, so labels must be
    selected with it). ``bad``: the skipped files, relative to the data root.
    """

    images: np.ndarray
    kept: np.ndarray
    bad: tuple[str, ...]


class ImageCache:
    """The cache of one list of image files, decoded to RGB at ``image_size``.

    ``files`` are read in the given order. The cache lives beside the data; where ``root`` is not
    writable it goes to ``cache_dir`` (default ``~/.cache/litgen``), in a folder named after the
    root. Files that cannot be decoded are skipped with a warning naming them; if more than
    ``max_bad_fraction`` of them are bad, building fails with a ``DataError``. Writes go to a
    temporary file that is renamed into place, so a killed build never leaves a truncated cache.
    """

    def __init__(
        self,
        files: Sequence[Path],
        root: Path | str,
        subset: str,
        image_size: int,
        *,
        cache_dir: Path | str | None = None,
        center_crop: int | None = None,
        max_bad_fraction: float = 0.01,
        num_threads: int | None = None,
    ) -> None:
        self.files = [Path(f) for f in files]
        self.root = Path(root)
        self.image_size = image_size
        self.center_crop = center_crop
        self.max_bad_fraction = max_bad_fraction
        self.num_threads = num_threads
        name = f"{subset}_{image_size}.npy"
        root_key = hashlib.sha1(str(self.root.resolve()).encode()).hexdigest()[:12]
        user_dir = (
            Path(cache_dir or DEFAULT_CACHE_DIR).expanduser() / f"{self.root.name}-{root_key}"
        )
        self.locations = (self.root / ".litgen_cache" / name, user_dir / name)

    @cached_property
    def fingerprint(self) -> str:
        """Hash of the decoding settings and every source file's name, size and mtime."""
        digest = hashlib.sha256(f"{CACHE_FORMAT} {self.image_size} {self.center_crop}\n".encode())
        for path in self.files:
            stat = path.stat()
            line = f"{os.path.relpath(path, self.root)}\t{stat.st_size}\t{stat.st_mtime_ns}\n"
            digest.update(line.encode())
        return digest.hexdigest()

    def find(self) -> Path | None:
        """The first location holding an up-to-date cache, or None."""
        for path in self.locations:
            if self._open(path) is not None:
                return path
        return None

    def load(self) -> CachedImages:
        """Open the up-to-date cache, building it first if there is none."""
        path = self.find() or self.build()
        cached = self._open(path)
        if cached is None:
            raise DataError(f"The image cache {path} changed while it was being opened; run again.")
        return cached

    def build(self) -> Path:
        """Decode every file into a new cache and return its path."""
        if not self.files:
            raise DataError(f"There are no image files to cache under {self.root}.")
        fingerprint = self.fingerprint  # of the files as they are before decoding starts
        path, tmp = self._create_temp()
        try:
            shape = (len(self.files), 3, self.image_size, self.image_size)
            images = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=shape)
            sizes = np.full((len(self.files), 2), MISSING, dtype=np.int64)
            bad = self._decode_into(images, sizes)
            self._check_bad(bad)
            images.flush()
            if bad:
                self._compact(images, bad, tmp)
            del images
            os.replace(tmp, path)
        finally:
            Path(tmp).unlink(missing_ok=True)
        manifest = {
            "format": CACHE_FORMAT,
            "fingerprint": fingerprint,
            "shape": [len(self.files) - len(bad), 3, self.image_size, self.image_size],
            "bad_indices": [index for index, _ in bad],
            "bad_files": [self._relative(index) for index, _ in bad],
        }
        _write_atomic(path.with_suffix(".json"), json.dumps(manifest, indent=1))
        if bad:
            warnings.warn(
                f"Skipped {len(bad)} of {len(self.files)} images under {self.root} that could not"
                f" be read: {self._describe(bad)}.",
                stacklevel=2,
            )
        self._warn_odd_sizes(sizes)
        return path

    def _open(self, path: Path) -> CachedImages | None:
        try:
            manifest = json.loads(path.with_suffix(".json").read_text())
            if (manifest["format"], manifest["fingerprint"]) != (CACHE_FORMAT, self.fingerprint):
                return None
            images = np.load(path, mmap_mode="r")
        except (OSError, ValueError, KeyError):
            return None
        if images.dtype != np.uint8 or list(images.shape) != manifest["shape"]:
            return None
        kept = np.delete(np.arange(len(self.files)), manifest["bad_indices"])
        return CachedImages(images, kept, tuple(manifest["bad_files"]))

    def _create_temp(self) -> tuple[Path, str]:
        """A temporary file in the first writable cache location, and that location's path."""
        errors = []
        for path in self.locations:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
            except OSError as error:
                errors.append(f"{path.parent}: {error}")
                continue
            os.close(fd)
            os.chmod(tmp, SHARED_FILE_MODE)
            return path, tmp
        raise DataError(
            "Cannot write the image cache anywhere: " + "; ".join(errors) + ". Make data.root"
            " writable or set data.cache_dir to a writable folder."
        )

    def _decode_into(self, images: np.ndarray, sizes: np.ndarray) -> list[tuple[int, str]]:
        """Fill row i of ``images`` from file i, and row i of ``sizes`` with its own (height,
        width), on a thread pool; return the unreadable ones."""

        def fill(start: int) -> list[tuple[int, str]]:
            bad = []
            for index in range(start, min(start + CHUNK, len(self.files))):
                try:
                    images[index], sizes[index] = read_rgb_and_size(
                        self.files[index], self.image_size, self.center_crop
                    )
                except (OSError, ValueError) as error:
                    bad.append((index, str(error).strip() or type(error).__name__))
            return bad

        with ThreadPoolExecutor(self.num_threads) as pool:
            chunks = pool.map(fill, range(0, len(self.files), CHUNK))
            return [item for chunk in chunks for item in chunk]

    def _check_bad(self, bad: list[tuple[int, str]]) -> None:
        if len(bad) > self.max_bad_fraction * len(self.files) or len(bad) == len(self.files):
            raise DataError(
                f"{len(bad)} of {len(self.files)} images under {self.root} could not be read"
                f" (more than max_bad_fraction={self.max_bad_fraction}): {self._describe(bad)}."
                " Replace or delete those files, or raise data.max_bad_fraction to skip them."
            )

    def _warn_odd_sizes(self, sizes: np.ndarray) -> None:
        """Warn, naming them, about files whose size is not the one most files have: they were
        resized like the rest, but may not belong to the data set."""
        found = odd_sizes(sizes)
        if found is None:
            return
        (height, width), odd = found
        shown = ", ".join(
            f"{self._relative(i)} ({sizes[i][1]}×{sizes[i][0]})" for i in odd[:SHOWN_BAD_FILES]
        )
        more = len(odd) - SHOWN_BAD_FILES
        warnings.warn(
            f"{len(odd)} of {len(self.files)} images under {self.root} are not {width}×{height}"
            f" (width×height) like the others: {shown}{f' and {more} more' if more > 0 else ''}."
            f" They were resized to {self.image_size}×{self.image_size} all the same; delete them"
            " if they do not belong to the data set.",
            stacklevel=3,
        )

    def _compact(self, images: np.ndarray, bad: list[tuple[int, str]], tmp: str) -> None:
        """Rewrite ``tmp`` without the rows of bad files."""
        good = np.delete(np.arange(len(images)), [index for index, _ in bad])
        fd, compact_tmp = tempfile.mkstemp(dir=Path(tmp).parent, suffix=".tmp")
        os.close(fd)
        os.chmod(compact_tmp, SHARED_FILE_MODE)
        try:
            compact = np.lib.format.open_memmap(
                compact_tmp, mode="w+", dtype=np.uint8, shape=(len(good), *images.shape[1:])
            )
            for start in range(0, len(good), 4096):
                compact[start : start + 4096] = images[good[start : start + 4096]]
            compact.flush()
            del compact
            os.replace(compact_tmp, tmp)
        finally:
            Path(compact_tmp).unlink(missing_ok=True)

    def _relative(self, index: int) -> str:
        return os.path.relpath(self.files[index], self.root)

    def _describe(self, bad: list[tuple[int, str]]) -> str:
        shown = ", ".join(f"{self._relative(i)} ({why})" for i, why in bad[:SHOWN_BAD_FILES])
        more = len(bad) - SHOWN_BAD_FILES
        return shown + (f" and {more} more" if more > 0 else "")


def _write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, SHARED_FILE_MODE)
        with os.fdopen(fd, "w") as file:
            file.write(text)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
