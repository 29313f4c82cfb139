"""Anime face detection: the MLDS 2018 HW3 protocol with nagadomi's ``lbpcascade_animeface``.

The course scored a generator by tiling 25 of its 64x64 faces into one 5x5 grid image and running
OpenCV's anime-face LBP cascade on it; a model passes when at least 20 faces are found. We report
that grid count and, because 25 samples are a noisy estimate, the fraction of many samples in which
the cascade finds a face on its own.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from metrics.resize import resize_square

DEFAULT_CASCADE = Path(__file__).parent / "data" / "lbpcascade_animeface.xml"

# MLDS 2018 HW3 protocol: BGR -> gray -> equalizeHist, then detectMultiScale(scaleFactor=1.1,
# minNeighbors=5, minSize=(24, 24)) (the settings of nagadomi's example detect.py) on one 5x5 grid
# of 25 generated faces; a model passes when >= 20 faces are detected.
SCALE_FACTOR = 1.1
MIN_NEIGHBORS = 5
MIN_SIZE = (24, 24)
GRID_SIDE = 5
GRID_SIZE = GRID_SIDE * GRID_SIDE
GRID_PASS_FACES = 20
# The protocol scores 64x64 faces; other sizes are resized (bilinear) to it first, so a 32x32
# model is scored on the same footing (real 32x32 toy faces upsampled score like 64x64 ones).
PROTOCOL_SIZE = 64


def to_bgr_uint8(images: torch.Tensor) -> np.ndarray:
    """Turn generator output into the images OpenCV reads from disk.

    Args:
        images: float ``(N, 3, H, W)`` RGB in [0, 1], on any device.

    Returns:
        uint8 ``(N, H, W, 3)`` BGR, values ``round(255 * x)`` (clamped), C-contiguous.
    """
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"expected RGB images of shape (N, 3, H, W), got {tuple(images.shape)}")
    pixels = images.detach().float().clamp(0.0, 1.0).mul(255.0).round().to(torch.uint8)
    return np.ascontiguousarray(pixels.permute(0, 2, 3, 1).flip(-1).cpu().numpy())


def tile_grid(images: np.ndarray, side: int = GRID_SIDE) -> np.ndarray:
    """Tile ``side * side`` images into one grid image, without padding.

    Args:
        images: ``(side * side, H, W, C)``; image ``k`` lands at row ``k // side``, column
            ``k % side``.

    Returns:
        ``(side * H, side * W, C)``.
    """
    n, height, width, channels = images.shape
    if n != side * side:
        raise ValueError(f"a {side}x{side} grid needs {side * side} images, got {n}")
    rows = images.reshape(side, side, height, width, channels).transpose(0, 2, 1, 3, 4)
    return np.ascontiguousarray(rows.reshape(side * height, side * width, channels))


class AnimeFaceDetector:
    """OpenCV's anime-face LBP cascade, applied exactly as in the MLDS 2018 HW3 protocol.

    Args:
        cascade_path: the cascade XML; ``None`` means the copy vendored in ``metrics/data``.
    """

    def __init__(self, cascade_path: str | Path | None = None) -> None:
        path = Path(cascade_path) if cascade_path is not None else DEFAULT_CASCADE
        if not path.is_file():
            raise FileNotFoundError(f"anime face cascade not found: {path}")
        self.cascade = cv2.CascadeClassifier()
        try:
            loaded = self.cascade.load(str(path))
        except cv2.error as error:
            raise ValueError(f"cannot load anime face cascade {path}: {error}") from error
        if not loaded or self.cascade.empty():
            raise ValueError(f"cannot load anime face cascade {path}: not an OpenCV cascade XML")
        self.path = path

    def __reduce__(self) -> tuple[type[AnimeFaceDetector], tuple[Path]]:
        """Pickle by path (OpenCV's classifier cannot be pickled), so callbacks can be copied."""
        return AnimeFaceDetector, (self.path,)

    def count_faces(self, image_bgr: np.ndarray) -> int:
        """Number of faces found in one uint8 BGR image ``(H, W, 3)``."""
        gray = cv2.equalizeHist(cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY))
        faces = self.cascade.detectMultiScale(
            gray, scaleFactor=SCALE_FACTOR, minNeighbors=MIN_NEIGHBORS, minSize=MIN_SIZE
        )
        return len(faces)

    def has_face(self, images: torch.Tensor) -> torch.Tensor:
        """Whether each image, scored on its own, holds at least one face.

        Args:
            images: float ``(N, 3, H, W)`` RGB in [0, 1].

        Returns:
            bool ``(N,)`` on the CPU.
        """
        found = [
            self.count_faces(image) > 0
            for image in to_bgr_uint8(resize_square(images, PROTOCOL_SIZE))
        ]
        return torch.tensor(found, dtype=torch.bool)

    def detection_rate(self, images: torch.Tensor) -> float:
        """Fraction of images ``(N, 3, H, W)`` (RGB in [0, 1]) in which a face is found."""
        if images.shape[0] == 0:
            raise ValueError("the detection rate needs at least one image")
        return self.has_face(images).float().mean().item()

    def grid_pass(self, images: torch.Tensor) -> tuple[int, bool]:
        """The MLDS test: faces found on the 5x5 grid of the first 25 images, and whether >= 20.

        Args:
            images: float ``(N, 3, H, W)`` RGB in [0, 1], ``N >= 25``; 64x64 in the protocol.

        Returns:
            ``(faces found on the grid image, passed)``.
        """
        if images.shape[0] < GRID_SIZE:
            raise ValueError(f"the grid test needs {GRID_SIZE} images, got {images.shape[0]}")
        count = self.count_faces(
            tile_grid(to_bgr_uint8(resize_square(images[:GRID_SIZE], PROTOCOL_SIZE)))
        )
        return count, count >= GRID_PASS_FACES
