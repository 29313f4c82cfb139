"""Decode one image file to a fixed-size RGB uint8 array: the unit of work of the image cache."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

JPEG_START = b"\xff\xd8"
JPEG_END = b"\xff\xd9"


def read_rgb(path: Path, image_size: int, center_crop: int | None = None) -> np.ndarray:
    """Read ``path`` as an RGB uint8 array ``(3, image_size, image_size)``: ``read_rgb_and_size``
    without the size."""
    return read_rgb_and_size(path, image_size, center_crop)[0]


def read_rgb_and_size(
    path: Path, image_size: int, center_crop: int | None = None
) -> tuple[np.ndarray, tuple[int, int]]:
    """Read ``path`` as an RGB uint8 array ``(3, image_size, image_size)``, with the file's own
    ``(height, width)`` (before any crop or resize; the image cache names files of odd sizes).

    Grayscale and RGBA files become RGB (alpha is dropped, as PIL's ``convert("RGB")`` does).
    With ``center_crop`` a centred square of that side is cut first (CelebA's 178×218 → 178×178);
    without it a non-square image is resized to a square, as the ICLEVR course code does. Resizing
    uses area interpolation, which averages the source pixels under each output pixel, so shrinking
    (MLDS faces 96 → 64) is antialiased. OpenCV decodes about 1.4× faster than torchvision here.

    Raises ``ValueError`` for a file that is not a decodable image or is a truncated JPEG (libjpeg
    would fill the missing part with grey and only print a warning).
    """
    data = np.fromfile(path, dtype=np.uint8)
    if data[:2].tobytes() == JPEG_START and JPEG_END not in data[-64:].tobytes():
        raise ValueError("truncated JPEG (no end-of-image marker)")
    try:
        image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    except cv2.error as error:
        raise ValueError("not a decodable image") from error
    if image is None:
        raise ValueError("not a decodable image")
    height, width = image.shape[:2]
    if center_crop is not None:
        top, left = max((height - center_crop) // 2, 0), max((width - center_crop) // 2, 0)
        image = image[top : top + center_crop, left : left + center_crop]
    if image.shape[:2] != (image_size, image_size):
        image = cv2.resize(image, (image_size, image_size), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB).transpose(2, 0, 1), (height, width)
