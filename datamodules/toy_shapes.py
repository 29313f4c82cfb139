"""Procedural CLEVR-like scenes: coloured cubes, spheres and cylinders with exactly known names.

``sample_scene`` places objects on a ground plane without overlap (nearer objects, lower in the
image, are larger), and ``draw_scene`` renders them with antialiased OpenCV shapes at the ICLEVR
image size, 320×240, lit from the upper left: a cube is a front square with a lighter top and a
darker right side, a sphere a disc with a darker lower-right rim and a highlight, a cylinder a
body with a darker right side under a lighter elliptic top. Each object's front is filled with its
flat named colour around ``center``, so a pixel there shows the true colour (``probe_radius``).

The eight colours are saturated and far apart (any two differ by more than 100 RGB units; the
closest are gray / brown and red / brown) so that they stay distinct at 64×64 and 32×32.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

RGB = tuple[int, int, int]

COLOURS: dict[str, RGB] = {
    "gray": (118, 118, 118),
    "red": (220, 30, 30),
    "blue": (30, 70, 235),
    "green": (35, 170, 45),
    "brown": (120, 70, 25),
    "purple": (140, 40, 205),
    "cyan": (25, 215, 225),
    "yellow": (245, 215, 25),
}
SHAPES = ("cube", "sphere", "cylinder")
WIDTH, HEIGHT = 320, 240
GROUND_TOP: RGB = (222, 216, 204)
GROUND_BOTTOM: RGB = (188, 182, 170)
HORIZON = 0.3  # objects stand between this height and the bottom edge (fraction of HEIGHT)
SIZE_RANGE = (24.0, 42.0)  # half-size in pixels at the horizon and at the bottom edge
GAP = 6.0  # minimum distance between the boxes of two objects, in pixels
SHIFT = 4  # fractional bits of the drawing coordinates (sub-pixel placement)
MAX_TRIES = 50


@dataclass(frozen=True)
class SceneObject:
    """One object: its colour and shape names, front-face ``center`` (x, y) and half-size, px."""

    colour: str
    shape: str
    center: tuple[float, float]
    size: float

    @property
    def name(self) -> str:
        """The ICLEVR name, e.g. ``"red cube"``."""
        return f"{self.colour} {self.shape}"

    @property
    def probe_radius(self) -> float:
        """Pixels closer than this to ``center`` have exactly the named colour (before resizing)."""
        return 0.3 * self.size

    def box(self) -> tuple[float, float, float, float]:
        """``(left, top, right, bottom)`` bounds of everything drawn for the object."""
        x, y = self.center
        s = self.size
        return x - 1.05 * s, y - 1.5 * s, x + 1.55 * s, y + 1.3 * s


def sample_scene(rng: np.random.Generator, names: list[str]) -> tuple[SceneObject, ...]:
    """Place one object per ``"<colour> <shape>"`` name so that no two boxes come within ``GAP``.

    Objects are placed one by one at free random places; when one finds no free place in
    ``MAX_TRIES`` draws the scene starts over (for three objects, about once per scene).
    """
    for _ in range(MAX_TRIES):
        placed: list[SceneObject] = []
        for name in names:
            colour, shape = name.split(" ")
            candidates = (_random_object(rng, colour, shape) for _ in range(MAX_TRIES))
            free = (c for c in candidates if not any(_close(c.box(), o.box()) for o in placed))
            obj = next(free, None)
            if obj is None:
                break
            placed.append(obj)
        else:
            return tuple(placed)
    raise RuntimeError(f"found no room for {names} in {MAX_TRIES} attempts")


def draw_scene(objects: tuple[SceneObject, ...] | list[SceneObject]) -> np.ndarray:
    """Render the objects on the ground: RGB uint8 ``(HEIGHT, WIDTH, 3)``, far objects first."""
    ramp = np.linspace(0.0, 1.0, HEIGHT)[:, None, None]
    column = (1 - ramp) * np.array(GROUND_TOP) + ramp * np.array(GROUND_BOTTOM)
    image = np.ascontiguousarray(np.broadcast_to(column, (HEIGHT, WIDTH, 3)), dtype=np.uint8)
    ordered = sorted(objects, key=lambda o: o.center[1])
    for obj in ordered:
        _shadow(image, obj)
    for obj in ordered:
        {"cube": _cube, "sphere": _sphere, "cylinder": _cylinder}[obj.shape](image, obj)
    return image


def _random_object(rng: np.random.Generator, colour: str, shape: str) -> SceneObject:
    depth = rng.uniform(0.0, 1.0)  # 0 at the horizon, 1 at the bottom edge
    size = (SIZE_RANGE[0] + depth * (SIZE_RANGE[1] - SIZE_RANGE[0])) * rng.uniform(0.9, 1.1)
    low_y, high_y = HORIZON * HEIGHT + 1.5 * size, HEIGHT - 1.3 * size
    y = low_y + depth * (high_y - low_y)
    x = rng.uniform(1.05 * size, WIDTH - 1.55 * size)
    return SceneObject(colour, shape, (float(x), float(y)), float(size))


def _close(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[2] + GAP and b[0] < a[2] + GAP and a[1] < b[3] + GAP and b[1] < a[3] + GAP


def _cube(image: np.ndarray, obj: SceneObject) -> None:
    """Front square, then a lighter top and a darker right side receding up and to the right."""
    x, y = obj.center
    s, dx, dy = obj.size, 0.5 * obj.size, -0.45 * obj.size
    colour = COLOURS[obj.colour]
    top = [(x - s, y - s), (x + s, y - s), (x + s + dx, y - s + dy), (x - s + dx, y - s + dy)]
    side = [(x + s, y - s), (x + s + dx, y - s + dy), (x + s + dx, y + s + dy), (x + s, y + s)]
    front = [(x - s, y - s), (x + s, y - s), (x + s, y + s), (x - s, y + s)]
    _polygon(image, top, _mix(colour, (255, 255, 255), 0.35))
    _polygon(image, side, _mix(colour, (0, 0, 0), 0.35))
    _polygon(image, front, colour)


def _sphere(image: np.ndarray, obj: SceneObject) -> None:
    """Dark disc, the colour's disc nudged to the upper left over it, and a small highlight."""
    x, y = obj.center
    r = 1.05 * obj.size
    colour = COLOURS[obj.colour]
    _ellipse(image, (x, y), (r, r), _mix(colour, (0, 0, 0), 0.35))
    _ellipse(image, (x - 0.12 * r, y - 0.12 * r), (0.86 * r, 0.86 * r), colour)
    _ellipse(image, (x - 0.4 * r, y - 0.4 * r), (0.16 * r, 0.16 * r), _mix(colour, (255,) * 3, 0.6))


def _cylinder(image: np.ndarray, obj: SceneObject) -> None:
    """A dark body, its left three quarters overdrawn in the colour, and a light top ellipse."""
    x, y = obj.center
    w, h = 0.9 * obj.size, obj.size
    rim = 0.32 * w
    colour = COLOURS[obj.colour]
    for left, right, shade in ((x - w, x + w, 0.35), (x - w, x + 0.45 * w, 0.0)):
        half = (right - left) / 2
        tint = _mix(colour, (0, 0, 0), shade)
        _ellipse(image, (left + half, y + h), (half, rim * half / w), tint)
        _polygon(image, [(left, y - h), (right, y - h), (right, y + h), (left, y + h)], tint)
    _ellipse(image, (x, y - h), (w, rim), _mix(colour, (255, 255, 255), 0.35))


def _shadow(image: np.ndarray, obj: SceneObject) -> None:
    """A soft-edged darker patch of ground below and to the right of the object."""
    x, y = obj.center
    s = obj.size
    ground = image[min(int(y + s), HEIGHT - 1), min(int(x), WIDTH - 1)].tolist()
    _ellipse(image, (x + 0.45 * s, y + 1.0 * s), (1.3 * s, 0.22 * s), _mix(ground, (0, 0, 0), 0.12))


def _polygon(image: np.ndarray, points: list[tuple[float, float]], colour: RGB) -> None:
    cv2.fillPoly(image, [_fixed(points)], colour, cv2.LINE_AA, SHIFT)


def _ellipse(
    image: np.ndarray, center: tuple[float, float], axes: tuple[float, float], colour: RGB
) -> None:
    c, a = (tuple(_fixed(v).tolist()) for v in (center, axes))
    cv2.ellipse(image, c, a, 0, 0, 360, colour, -1, cv2.LINE_AA, SHIFT)


def _fixed(values: list | tuple) -> np.ndarray:
    return np.round(np.asarray(values) * (1 << SHIFT)).astype(np.int32)


def _mix(a: RGB | list[int], b: RGB | tuple[int, ...], t: float) -> RGB:
    r, g, bl = np.clip(np.round((1 - t) * np.array(a) + t * np.array(b)), 0, 255).astype(int)
    return (int(r), int(g), int(bl))
