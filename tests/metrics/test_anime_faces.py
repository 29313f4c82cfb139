"""Tests for the MLDS anime-face protocol: conversion, tiling, and detection on drawn faces."""

import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from metrics.anime_faces import (
    DEFAULT_CASCADE,
    GRID_PASS_FACES,
    AnimeFaceDetector,
    tile_grid,
    to_bgr_uint8,
)
from metrics.resize import resize_square

BACKGROUND = (187, 128, 164)
HAIR = (72, 0, 179)
SKIN = (200, 225, 250)
IRIS = (147, 84, 70)
WHITE = (255, 255, 255)


def draw_anime_face(size: int = 64) -> np.ndarray:
    """A flat cartoon face (bob hair, fringe, big eyes) that the cascade detects.

    Proportions and colours were found by a random search and hill climb against the cascade; it is
    found alone at 64-256 px and 24/25 times in a 5x5 grid of 64 px copies.

    Returns:
        uint8 BGR ``(size, size, 3)``.
    """
    image = np.full((size, size, 3), BACKGROUND, np.uint8)

    def px(x: float, y: float) -> tuple[int, int]:
        return round(size * x), round(size * y)

    cv2.ellipse(image, px(0.5, 0.49), px(0.35, 0.31), 0, 0, 360, HAIR, -1)
    cv2.ellipse(image, px(0.5, 0.54), px(0.22, 0.25), 0, 0, 360, SKIN, -1)
    cv2.ellipse(image, px(0.5, 0.28), px(0.32, 0.10), 0, 0, 360, HAIR, -1)
    for k in range(-3, 4):
        x = 0.5 + 0.07 * k
        fringe = np.array([px(x - 0.05, 0.28), px(x + 0.05, 0.28), px(x, 0.36)])
        cv2.fillPoly(image, [fringe], HAIR)
    for side in (-1, 1):
        x = 0.5 + 0.14 * side
        cv2.ellipse(image, px(x, 0.5), px(0.07, 0.1), 0, 0, 360, WHITE, -1)
        cv2.ellipse(image, px(x, 0.51), px(0.056, 0.09), 0, 0, 360, IRIS, -1)
        cv2.ellipse(image, px(x, 0.51), px(0.028, 0.05), 0, 0, 360, (20, 10, 5), -1)
        cv2.circle(image, px(x - 0.02, 0.47), max(1, round(size * 0.02)), WHITE, -1)
        cv2.line(image, px(x - 0.084, 0.4), px(x + 0.084, 0.39), (20, 20, 20), max(1, size // 40))
    cv2.line(image, px(0.47, 0.69), px(0.53, 0.69), (60, 60, 160), max(1, size // 64))
    return image


def as_unit_rgb(image_bgr: np.ndarray) -> torch.Tensor:
    """uint8 BGR ``(H, W, 3)`` -> float RGB ``(1, 3, H, W)`` in [0, 1], like generator output."""
    rgb = torch.from_numpy(np.ascontiguousarray(image_bgr[..., ::-1]))
    return rgb.permute(2, 0, 1).unsqueeze(0).float() / 255.0


@pytest.fixture(scope="module")
def detector() -> AnimeFaceDetector:
    return AnimeFaceDetector()


@pytest.fixture(scope="module")
def face() -> torch.Tensor:
    return as_unit_rgb(draw_anime_face(64))


def test_uniform_and_noise_images_have_no_face(detector: AnimeFaceDetector) -> None:
    noise = np.random.default_rng(0).integers(0, 256, (320, 320, 3), dtype=np.uint8)
    assert detector.count_faces(np.full((64, 64, 3), 128, np.uint8)) == 0
    assert detector.count_faces(np.full((320, 320, 3), 128, np.uint8)) == 0
    assert detector.count_faces(noise) == 0


def test_to_bgr_uint8_swaps_channels_and_rounds() -> None:
    images = torch.zeros(2, 3, 4, 5)
    images[0, 0] = 1.0  # red
    images[0, 1] = 0.6  # green: 153
    images[1, 2] = 0.2  # blue: 51
    images[1, 0] = 1.5  # red, out of range: clamped to 255
    out = to_bgr_uint8(images)
    assert out.dtype == np.uint8
    assert out.shape == (2, 4, 5, 3)
    assert out.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(out[0, 0, 0], [0, 153, 255])
    np.testing.assert_array_equal(out[1, 3, 4], [51, 0, 255])


def test_to_bgr_uint8_inverts_uint8_to_unit_mapping() -> None:
    bgr = np.random.default_rng(1).integers(0, 256, (3, 7, 9, 3), dtype=np.uint8)
    images = torch.cat([as_unit_rgb(image) for image in bgr])
    np.testing.assert_array_equal(to_bgr_uint8(images), bgr)


def test_to_bgr_uint8_rejects_non_rgb_batches() -> None:
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        to_bgr_uint8(torch.zeros(2, 1, 8, 8))


def test_tile_grid_puts_image_k_at_row_k_div_5_column_k_mod_5() -> None:
    height, width = 2, 3
    images = np.stack([np.full((height, width, 1), k, np.uint8) for k in range(25)])
    grid = tile_grid(images)
    assert grid.shape == (5 * height, 5 * width, 1)
    for k in range(25):
        row, col = k // 5, k % 5
        tile = grid[row * height : (row + 1) * height, col * width : (col + 1) * width]
        np.testing.assert_array_equal(tile, images[k])


def test_tile_grid_needs_a_square_count() -> None:
    with pytest.raises(ValueError, match="needs 25 images, got 24"):
        tile_grid(np.zeros((24, 2, 2, 3), np.uint8))


def test_detection_rate_of_blank_images_is_zero(detector: AnimeFaceDetector) -> None:
    assert detector.detection_rate(torch.full((4, 3, 64, 64), 0.5)) == 0.0


def test_drawn_face_is_detected_at_several_sizes(detector: AnimeFaceDetector) -> None:
    for size in (64, 96, 128, 256):
        assert detector.count_faces(draw_anime_face(size)) >= 1, size


def test_detection_rate_scores_each_image_on_its_own(
    detector: AnimeFaceDetector, face: torch.Tensor
) -> None:
    blank = torch.full_like(face, 0.5)
    images = torch.cat([face, blank, face, blank, face])
    assert detector.has_face(images).tolist() == [True, False, True, False, True]
    assert detector.detection_rate(images) == pytest.approx(3 / 5)


def test_grid_of_drawn_faces_passes(detector: AnimeFaceDetector, face: torch.Tensor) -> None:
    count, passed = detector.grid_pass(face.expand(25, -1, -1, -1))
    assert count >= GRID_PASS_FACES
    assert count <= 25
    assert passed


def test_grid_pass_uses_only_the_first_25_images(
    detector: AnimeFaceDetector, face: torch.Tensor
) -> None:
    blanks = torch.full((25, 3, 64, 64), 0.5)
    faces = face.expand(25, -1, -1, -1)
    assert detector.grid_pass(torch.cat([blanks, faces])) == (0, False)
    assert detector.grid_pass(torch.cat([faces, blanks]))[1]


def test_grid_pass_needs_25_images(detector: AnimeFaceDetector, face: torch.Tensor) -> None:
    with pytest.raises(ValueError, match="needs 25 images, got 24"):
        detector.grid_pass(face.expand(24, -1, -1, -1))


def test_missing_cascade_names_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "no_such_cascade.xml"
    with pytest.raises(FileNotFoundError, match="no_such_cascade.xml"):
        AnimeFaceDetector(missing)


def test_unloadable_cascade_names_the_file(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus_cascade.xml"
    bogus.write_text("not a cascade")
    with pytest.raises(ValueError, match="bogus_cascade.xml"):
        AnimeFaceDetector(bogus)


def test_detector_survives_pickling(detector: AnimeFaceDetector) -> None:
    copy = pickle.loads(pickle.dumps(detector))
    assert copy.path == detector.path
    assert copy.count_faces(draw_anime_face(64)) == detector.count_faces(draw_anime_face(64))


def test_vendored_cascade_is_the_shared_fixture(shared_fixtures: Path) -> None:
    shared = shared_fixtures / "lbpcascade_animeface.xml"
    if not shared.is_file():
        pytest.skip(f"{shared} is absent")
    assert DEFAULT_CASCADE.read_bytes() == shared.read_bytes()


def test_other_sizes_are_scored_at_the_protocol_size(
    detector: AnimeFaceDetector, face: torch.Tensor
) -> None:
    assert resize_square(face, 64) is face
    small = torch.nn.functional.interpolate(face, size=32, mode="area")
    assert resize_square(small, 64).shape == (1, 3, 64, 64)
    # A 32x32 face is below the cascade's minimum size unless it is scored at 64x64.
    assert detector.count_faces(to_bgr_uint8(small)[0]) == 0
    assert detector.has_face(small).tolist() == [True]
    count, passed = detector.grid_pass(small.expand(25, -1, -1, -1))
    assert passed and count >= GRID_PASS_FACES
