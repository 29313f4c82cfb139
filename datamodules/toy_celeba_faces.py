"""Procedural cartoon human faces, 178×218 like CelebA's aligned images, with visible attributes.

``sample_celeba_face`` draws the random layout of one face (attributes, colours, position, size,
tilt, background) and ``draw_celeba_face`` renders it with antialiased OpenCV shapes. Each
attribute changes a known part of the picture, strongly enough to be read at 64×64:

- ``male``: short hair ending above the ears, a wide square jaw and thick brows; otherwise long
  hair falling past the shoulders on both sides, a narrow pointed chin and thin arched brows.
- ``smiling``: a wide open mouth curving up, showing white teeth; otherwise closed level lips.
- ``pale``: very light skin; otherwise a tone between light tan and dark brown.
- ``goatee``: a patch of dark facial hair on the chin; ``mustache``: a band above the lip.
- ``hair``: the colour of all hair: black, blond, brown, gray or red (red is in no CelebA column).
- ``young``: smooth skin; otherwise forehead lines, nose-to-mouth folds and bags under the eyes.
- ``eyeglasses``: dark round frames around both eyes.

The face is centred near CelebA's alignment (eyes at about row 112, 39 pixels apart) with jitter,
so a 178×178 centre crop holds it.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

RGB = tuple[int, int, int]

WIDTH, HEIGHT = 178, 218
SHIFT = 4  # fractional bits of the drawing coordinates (sub-pixel placement)
HAIR_COLOURS: dict[str, RGB] = {
    "black": (28, 24, 24),
    "blond": (228, 198, 118),
    "brown": (112, 68, 36),
    "gray": (162, 162, 168),
    "red": (172, 68, 34),
}
HAIR_WEIGHTS = (0.3, 0.25, 0.25, 0.1, 0.1)
PALE_SKIN: RGB = (250, 233, 224)
SKIN_LIGHT: RGB = (232, 190, 160)  # the non-pale tones run from here ...
SKIN_DARK: RGB = (118, 78, 56)  # ... to here
EYE_COLOURS: tuple[RGB, ...] = ((70, 45, 30), (40, 30, 25), (60, 100, 150), (70, 110, 70))
TEETH: RGB = (246, 244, 236)
MOUTH_INSIDE: RGB = (105, 28, 38)
LINE: RGB = (40, 28, 26)


@dataclass(frozen=True)
class CelebaFace:
    """The random layout of one face, in pixels of the 178×218 image (y down).

    ``center`` is the middle between the eyes and ``width`` the face's half-width; every part is
    placed relative to them. ``tilt`` is the head's rotation in degrees about ``center``.
    """

    male: bool
    smiling: bool
    pale: bool
    goatee: bool
    mustache: bool
    young: bool
    eyeglasses: bool
    hair: str
    hair_rgb: RGB
    skin: RGB
    eye_rgb: RGB
    clothes: RGB
    background: tuple[RGB, RGB]
    center: tuple[float, float]
    width: float
    hair_length: float
    tilt: float


def sample_celeba_face(rng: np.random.Generator) -> CelebaFace:
    """Draw one face: attributes (independent coin flips), colours and placement."""
    hair = list(HAIR_COLOURS)[rng.choice(len(HAIR_COLOURS), p=HAIR_WEIGHTS)]
    male = bool(rng.random() < 0.5)
    smiling = bool(rng.random() < 0.5)
    pale = bool(rng.random() < 0.4)
    goatee = bool(rng.random() < 0.35)
    mustache = bool(rng.random() < 0.25)
    young = bool(rng.random() < 0.6)
    eyeglasses = bool(rng.random() < 0.25)
    if pale:
        skin = np.array(PALE_SKIN) + rng.uniform(-6, 4, size=3)
    else:
        skin = _lerp(SKIN_LIGHT, SKIN_DARK, rng.uniform(0, 1)) + rng.uniform(-6, 6, size=3)
    low = rng.uniform(30, 235, size=3)
    high = np.clip(low + rng.uniform(-60, 60, size=3), 0, 255)
    return CelebaFace(
        male=male,
        smiling=smiling,
        pale=pale,
        goatee=goatee,
        mustache=mustache,
        young=young,
        eyeglasses=eyeglasses,
        hair=hair,
        hair_rgb=_rgb(np.array(HAIR_COLOURS[hair]) + rng.uniform(-12, 12, size=3)),
        skin=_rgb(skin),
        eye_rgb=EYE_COLOURS[rng.integers(len(EYE_COLOURS))],
        clothes=_rgb(rng.uniform(20, 235, size=3)),
        background=(_rgb(low), _rgb(high)),
        center=(89 + rng.uniform(-5, 5), 112 + rng.uniform(-5, 5)),
        width=rng.uniform(40, 47),
        hair_length=rng.uniform(0.0, 1.0),
        tilt=rng.uniform(-6, 6),
    )


def draw_celeba_face(face: CelebaFace) -> np.ndarray:
    """Render ``face`` as an RGB uint8 image ``(218, 178, 3)``."""
    ramp = np.linspace(0.0, 1.0, HEIGHT)[:, None, None]
    top, bottom = (np.array(c, dtype=np.float64) for c in face.background)
    column = (1 - ramp) * top + ramp * bottom
    image = np.ascontiguousarray(np.broadcast_to(column, (HEIGHT, WIDTH, 3)), np.uint8)
    paint = _Painter(image, face.center, face.width)
    skin, beard = face.skin, _shade(face.hair_rgb, 0.7)

    shoulders = _arc((0, 2.45), (2.1, 0.85), 180, 360)
    paint.polygon(np.concatenate([shoulders, [(2.1, 3.0), (-2.1, 3.0)]]), face.clothes)
    if not face.male:
        _draw_long_hair(paint, face)
    neck = 0.55 if face.male else 0.42
    paint.polygon([(-neck, 0.6), (neck, 0.6), (neck, 1.75), (-neck, 1.75)], _shade(skin, 0.82))
    for side in (-1, 1):
        paint.ellipse((side * 0.98, 0.2), (0.14, 0.26), _shade(skin, 0.9))
    outline = _face_outline(face.male)
    paint.polygon(outline, skin)
    paint.polyline(outline, _shade(skin, 0.7), 1, closed=True)
    _draw_hair_cap(paint, face)
    if not face.young:
        _draw_wrinkles(paint, _shade(skin, 0.62))
    _draw_eyes(paint, face)
    paint.polyline([(0.02, 0.1), (-0.1, 0.5), (0.06, 0.55)], _shade(skin, 0.7), 2)
    _draw_mouth(paint, face)
    if face.mustache:
        paint.polygon([(-0.34, 0.72), (-0.2, 0.6), (0.2, 0.6), (0.34, 0.72), (0, 0.68)], beard)
    if face.goatee:
        chin = _chin(face.male)
        goatee = [
            (-0.26, 1.0),
            (0.26, 1.0),
            (0.22, chin - 0.02),
            (0, chin + 0.1),
            (-0.22, chin - 0.02),
        ]
        paint.polygon(goatee, beard)
    if face.eyeglasses:
        frame = (25, 25, 30)
        for side in (-1, 1):
            paint.ellipse((side * 0.42, 0.0), (0.25, 0.2), frame, thickness=3)
        paint.polyline([(-0.17, -0.03), (0.17, -0.03)], frame, 3)
    matrix = cv2.getRotationMatrix2D(face.center, face.tilt, 1.0)
    return cv2.warpAffine(image, matrix, (WIDTH, HEIGHT), borderMode=cv2.BORDER_REPLICATE)


class _Painter:
    """Antialiased OpenCV shapes on ``image``, placed in face units.

    ``(x, y)`` is the pixel ``center + width * (x, y)``: ``(0, 0)`` lies between the eyes and
    ``x = ±1`` at the cheeks.
    """

    def __init__(self, image: np.ndarray, center: tuple[float, float], width: float) -> None:
        self.image = image
        self.center = np.asarray(center, dtype=np.float64)
        self.width = width

    def _fixed(self, points, offset: bool = True) -> np.ndarray:
        pixels = np.asarray(points, dtype=np.float64) * self.width + (self.center if offset else 0)
        return np.round(pixels * (1 << SHIFT)).astype(np.int32)

    def polygon(self, points, colour: RGB) -> None:
        cv2.fillPoly(self.image, [self._fixed(points)], colour, cv2.LINE_AA, SHIFT)

    def polyline(self, points, colour: RGB, thickness: int, closed: bool = False) -> None:
        fixed = [self._fixed(points)]
        cv2.polylines(self.image, fixed, closed, colour, thickness, cv2.LINE_AA, SHIFT)

    def ellipse(self, center, axes, colour: RGB, thickness: int = -1) -> None:
        c = tuple(self._fixed(center).tolist())
        a = tuple(self._fixed(axes, offset=False).tolist())
        cv2.ellipse(self.image, c, a, 0, 0, 360, colour, thickness, cv2.LINE_AA, SHIFT)


def _chin(male: bool) -> float:
    """How far below the eyes the chin ends, in face units."""
    return 1.22 if male else 1.15


def _face_outline(male: bool) -> np.ndarray:
    """Rounded cranium; a wide square jaw (male) or a narrow pointed chin."""
    if male:
        right = [(1.0, -0.1), (0.99, 0.45), (0.9, 0.9), (0.62, 1.12), (0.3, _chin(male))]
    else:
        right = [(1.0, -0.1), (0.92, 0.45), (0.75, 0.85), (0.38, 1.07), (0.12, _chin(male))]
    left = [(-x, y) for x, y in reversed(right)]
    return np.concatenate([_arc((0, -0.1), (1.0, 1.2), 180, 360), right, [(0, _chin(male))], left])


def _draw_long_hair(paint: _Painter, face: CelebaFace) -> None:
    """Hair behind the head falling past the shoulders, with a few lighter strands."""
    bottom = 1.9 + 0.6 * face.hair_length
    sides = [(1.45, 0.6), (1.5, bottom), (-1.5, bottom), (-1.45, 0.6)]
    paint.polygon(np.concatenate([_arc((0, -0.2), (1.3, 1.3), 180, 360), sides]), face.hair_rgb)
    light = _shade(face.hair_rgb, 1.25)
    for side in (-1, 1):
        for x in (1.15, 1.3):
            paint.polyline([(side * x, 0.0), (side * (x + 0.05), bottom - 0.2)], light, 1)


def _draw_hair_cap(paint: _Painter, face: CelebaFace) -> None:
    """Hair over the crown down to the hairline; short at the temples (male) or framing the face."""
    if face.male:
        right = [(1.04, 0.05), (0.9, -0.25), (0.7, -0.72)]
    else:
        right = [(1.08, 0.75), (0.9, 0.7), (0.82, -0.2), (0.45, -0.8), (0.1, -0.85)]
    edge = np.array(right + [(-x, y) for x, y in reversed(right)])
    paint.polygon(np.concatenate([_arc((0, -0.12), (1.06, 1.3), 180, 360), edge]), face.hair_rgb)
    paint.polyline(edge, _shade(face.hair_rgb, 0.75), 1)


def _draw_wrinkles(paint: _Painter, colour: RGB) -> None:
    """Forehead lines, nose-to-mouth folds and bags under the eyes."""
    for k, y in enumerate((-0.28, -0.38, -0.48)):
        paint.polyline(_arc((0, y), (0.5 - 0.06 * k, 0.12), 210, 330), colour, 2)
    for side in (-1, 1):
        paint.polyline([(side * 0.2, 0.42), (side * 0.36, 0.62), (side * 0.42, 0.88)], colour, 2)
        paint.polyline(_arc((side * 0.42, 0.1), (0.17, 0.1), 20, 160), colour, 2)


def _draw_eyes(paint: _Painter, face: CelebaFace) -> None:
    """White, iris, pupil and upper lid; thick straight brows (male) or thin arched ones."""
    brow = _shade(face.hair_rgb, 0.6) if face.hair != "gray" else (90, 90, 95)
    for side in (-1, 1):
        x = side * 0.42
        paint.ellipse((x, 0.0), (0.19, 0.085), (240, 238, 232))
        paint.ellipse((x, 0.0), (0.085, 0.085), face.eye_rgb)
        paint.ellipse((x, 0.0), (0.035, 0.035), (15, 12, 12))
        paint.polyline(_arc((x, 0.02), (0.2, 0.11), 195, 345), LINE, 2)
        if face.male:
            paint.polyline([(x - side * 0.22, -0.25), (x + side * 0.24, -0.27)], brow, 5)
        else:
            paint.polyline(_arc((x, -0.12), (0.22, 0.16), 200, 340), brow, 2)


def _draw_mouth(paint: _Painter, face: CelebaFace) -> None:
    """A wide open smile showing teeth, or closed level lips."""
    lips = _rgb(_lerp(face.skin, (170, 60, 70), 0.45))
    if face.smiling:
        top = _arc((0, 0.68), (0.44, 0.07), 190, 350)
        opening = np.concatenate([top, _arc((0, 0.68), (0.44, 0.32), 10, 170)[::-1]])
        paint.polygon(opening, MOUTH_INSIDE)
        upper = _arc((0, 0.68), (0.38, 0.05), 190, 350)
        paint.polygon(np.concatenate([upper, _arc((0, 0.68), (0.36, 0.14), 20, 160)[::-1]]), TEETH)
        paint.polyline(opening, lips, 3, closed=True)
    else:
        paint.ellipse((0, 0.77), (0.22, 0.045), lips)
        paint.ellipse((0, 0.845), (0.2, 0.06), lips)
        paint.polyline([(-0.23, 0.81), (0.23, 0.81)], LINE, 1)


def _arc(center, axes, start: float, end: float) -> np.ndarray:
    """Points ``(24, 2)`` along an elliptic arc from ``start`` to ``end`` degrees (y down)."""
    angles = np.radians(np.linspace(start, end, 24))
    return np.stack(
        [center[0] + axes[0] * np.cos(angles), center[1] + axes[1] * np.sin(angles)], axis=1
    )


def _lerp(a, b, t: float) -> np.ndarray:
    return (1 - t) * np.asarray(a, dtype=np.float64) + t * np.asarray(b, dtype=np.float64)


def _shade(colour: RGB, factor: float) -> RGB:
    return _rgb(np.asarray(colour, dtype=np.float64) * factor)


def _rgb(values) -> RGB:
    r, g, b = np.clip(np.round(values), 0, 255).astype(int).tolist()
    return (r, g, b)
