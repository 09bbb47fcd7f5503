"""Drawn faces: identity parameters, skin reflectance, and a renderer with OpenCV.

A face is drawn from its identity's geometry (face shape, eye spacing and size,
brows, nose, mouth, hair) and its group's skin reflectance; the scene's light
then scales everything the camera receives, and sensor noise grows as light
falls (the camera's gain). Whether a detector finds the face is left to the
detector: nothing here decides it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

# Hair colours (BGR): black, dark brown, brown, blond, grey.
_HAIR = np.array([[25, 25, 30], [30, 45, 70], [45, 75, 115], [110, 170, 210], [160, 160, 165]])
# Hue of skin at reflectance 1 (BGR, before scaling): a warm tone.
_SKIN_HUE = np.array([0.62, 0.78, 1.0])
_SCLERA = np.array([235.0, 235.0, 235.0])
# Iris colours (BGR): dark brown, light brown, blue, green.
_IRIS = np.array([[25, 35, 45], [40, 75, 110], [150, 110, 60], [80, 120, 70]], dtype=np.float64)
# Facial hair: none, moustache, full beard, stubble; and how often each occurs.
_FACIAL_HAIR_SHARES = (0.55, 0.15, 0.15, 0.15)
_GLASSES_SHARE = 0.2
_MAX_MARKS = 3
_LIPS = np.array([80.0, 70.0, 150.0])
_MAX_GAIN = 4.0


@dataclass(frozen=True)
class FaceParams:
    """One identity's face geometry (fractions of face width or height) and colours."""

    aspect: float  # width / height
    eye_spacing: float
    eye_width: float
    eye_height: float
    brow_height: float
    brow_thickness: float
    brow_tilt: float
    nose_length: float
    nose_width: float
    mouth_width: float
    mouth_height: float
    mouth_y: float
    jaw: float  # how much the lower face narrows
    eye_y: float
    cheek: float  # width of the upper face relative to the lower
    hair_colour: int
    hair_volume: float
    iris_colour: int
    facial_hair: int  # index into _FACIAL_HAIR_SHARES
    glasses: int  # 0 or 1
    marks: int  # seed of moles and freckles
    skin_reflectance: float

    @classmethod
    def sample(cls, rng: np.random.Generator, skin_reflectance: float) -> FaceParams:
        """A random identity with the given skin reflectance."""
        return cls(
            aspect=rng.uniform(0.64, 0.88),
            eye_spacing=rng.uniform(0.17, 0.24),
            eye_width=rng.uniform(0.08, 0.12),
            eye_height=rng.uniform(0.025, 0.04),
            brow_height=rng.uniform(0.06, 0.1),
            brow_thickness=rng.uniform(0.015, 0.035),
            brow_tilt=rng.uniform(-0.03, 0.03),
            nose_length=rng.uniform(0.14, 0.22),
            nose_width=rng.uniform(0.07, 0.12),
            mouth_width=rng.uniform(0.15, 0.24),
            mouth_height=rng.uniform(0.025, 0.05),
            mouth_y=rng.uniform(0.22, 0.28),
            jaw=rng.uniform(0.0, 0.3),
            eye_y=rng.uniform(-0.12, -0.04),
            cheek=rng.uniform(0.92, 1.1),
            hair_colour=int(rng.integers(0, len(_HAIR))),
            hair_volume=rng.uniform(0.1, 0.3),
            iris_colour=int(rng.integers(0, len(_IRIS))),
            facial_hair=int(rng.choice(len(_FACIAL_HAIR_SHARES), p=_FACIAL_HAIR_SHARES)),
            glasses=int(rng.random() < _GLASSES_SHARE),
            marks=int(rng.integers(0, 2**31)),
            skin_reflectance=skin_reflectance,
        )

    def as_dict(self) -> dict[str, float | int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def draw_face(
    image: npt.NDArray[np.float32], face: FaceParams, centre: tuple[int, int], height: int
) -> tuple[int, int, int, int]:
    """Draw ``face`` (reflectances 0..255, before lighting) and return its box.

    The box is ``(top, right, bottom, left)`` as face_recognition reports boxes,
    from brow line to chin and cheek to cheek.
    """
    cx, cy = centre
    h = float(height)
    w = h * face.aspect
    skin = face.skin_reflectance * 255.0 * _SKIN_HUE
    hair = _HAIR[face.hair_colour].astype(np.float64)
    thick = max(1, round(h * 0.01))

    def pt(x: float, y: float) -> tuple[int, int]:
        return (round(cx + x * w), round(cy + y * h))

    def ellipse(
        x: float,
        y: float,
        ax: float,
        ay: float,
        colour: npt.NDArray[np.float64],
        start: int = 0,
        end: int = 360,
    ) -> None:
        axes = (max(1, round(ax * w)), max(1, round(ay * h)))
        cv2.ellipse(image, pt(x, y), axes, 0, start, end, colour.tolist(), -1, cv2.LINE_AA)

    # Hair behind the head, neck, then the face, shaded darker towards its rim.
    ellipse(0, -0.12, 0.56 + face.hair_volume * 0.3, 0.55 + face.hair_volume * 0.2, hair)
    cv2.rectangle(image, pt(-0.2, 0.3), pt(0.2, 0.8), (skin * 0.75).tolist(), -1)
    for step, scale in enumerate(np.linspace(1.0, 0.35, 8)):
        shade = skin * (0.8 + 0.2 * step / 7)
        ellipse(0, 0, 0.5 * scale * face.cheek, 0.5 * scale, shade, 180, 360)
        ellipse(0, 0, 0.5 * scale * (1 - face.jaw), 0.5 * scale, shade, 0, 180)
    ellipse(0, -0.33, 0.5 * face.cheek, 0.2 + face.hair_volume * 0.15, hair, 180, 360)
    if face.facial_hair == 2:  # a short beard: hair showing through skin on the jaw
        ellipse(0, 0.25, 0.46 * (1 - face.jaw), 0.24, 0.5 * hair + 0.5 * skin, 0, 180)
    elif face.facial_hair == 3:  # stubble darkens the jaw a little
        ellipse(0, 0.25, 0.44 * (1 - face.jaw), 0.22, skin * 0.88, 0, 180)
    eye_y = face.eye_y
    for side in (-1, 1):
        x = side * face.eye_spacing
        ellipse(x, eye_y, face.eye_width * 1.3, face.eye_height * 1.6, skin * 0.7)
        ellipse(x, eye_y, face.eye_width, face.eye_height, _SCLERA)
        cv2.circle(
            image,
            pt(x, eye_y),
            max(1, round(face.eye_height * h * 0.9)),
            _IRIS[face.iris_colour].tolist(),
            -1,
            cv2.LINE_AA,
        )
        cv2.circle(
            image,
            pt(x, eye_y),
            max(1, round(face.eye_height * h * 0.4)),
            (10, 10, 10),
            -1,
            cv2.LINE_AA,
        )
        brow_y = eye_y - face.brow_height
        inner = pt(side * 0.07, brow_y)
        outer = pt(side * (face.eye_spacing + 0.13), brow_y + side * face.brow_tilt)
        cv2.line(
            image,
            inner,
            outer,
            (hair * 0.8).tolist(),
            max(1, round(face.brow_thickness * h)),
            cv2.LINE_AA,
        )
    nose_top, nose_tip = eye_y + 0.03, eye_y + face.nose_length + 0.06
    triangle = np.array(
        [pt(0, nose_top), pt(-face.nose_width / 2, nose_tip), pt(face.nose_width / 2, nose_tip)],
        dtype=np.int32,
    )
    cv2.fillConvexPoly(image, triangle, (skin * 0.88).tolist(), cv2.LINE_AA)
    ellipse(0, nose_tip, face.nose_width * 0.55, 0.022, skin * 0.6, 0, 180)
    ellipse(
        0,
        face.mouth_y,
        face.mouth_width / 2,
        face.mouth_height / 2,
        _LIPS * (0.5 + 0.5 * face.skin_reflectance),
    )
    cv2.line(
        image,
        pt(-face.mouth_width / 2, face.mouth_y),
        pt(face.mouth_width / 2, face.mouth_y),
        (_LIPS * 0.45).tolist(),
        thick,
        cv2.LINE_AA,
    )
    if face.facial_hair in (1, 2):  # moustache
        ellipse(0, (nose_tip + face.mouth_y) / 2 + 0.01, face.mouth_width * 0.6, 0.03, hair * 0.85)
    if face.glasses:
        rim = max(1, round(h * 0.012))
        for side in (-1, 1):
            cv2.ellipse(
                image,
                pt(side * face.eye_spacing, eye_y),
                (round(face.eye_width * 1.7 * w), round(0.07 * h)),
                0,
                0,
                360,
                (30, 30, 30),
                rim,
                cv2.LINE_AA,
            )
        cv2.line(
            image,
            pt(-face.eye_spacing + face.eye_width * 1.7, eye_y),
            pt(face.eye_spacing - face.eye_width * 1.7, eye_y),
            (30, 30, 30),
            rim,
            cv2.LINE_AA,
        )
    marks = np.random.default_rng(face.marks)
    for _ in range(int(marks.integers(0, _MAX_MARKS + 1))):
        spot = pt(marks.uniform(-0.3, 0.3), marks.uniform(-0.1, 0.35))
        cv2.circle(image, spot, max(1, round(h * 0.012)), (skin * 0.45).tolist(), -1, cv2.LINE_AA)
    top, bottom = pt(0, -0.3)[1], pt(0, 0.5)[1]
    left, right = pt(-0.5, 0)[0], pt(0.5, 0)[0]
    return top, right, bottom, left


def expose(
    scene: npt.NDArray[np.float32],
    light: float,
    rng: np.random.Generator,
    *,
    noise: float,
    blur_px: float = 0.0,
) -> npt.NDArray[np.uint8]:
    """What the camera records: reflectance x light, motion blur, gain noise, 8 bits.

    The camera's auto gain brings a dim scene back up towards full scale (at most
    ``_MAX_GAIN`` times), amplifying the sensor's read noise by the same factor.
    """
    image: npt.NDArray[Any] = scene * light
    if blur_px >= 1.0:
        size = round(blur_px) | 1
        kernel = np.zeros((size, size), np.float32)
        kernel[size // 2, :] = 1.0 / size
        image = cv2.filter2D(image, -1, kernel)
    gain = min(1.0 / light, _MAX_GAIN)
    image = image * gain + rng.normal(0.0, noise * gain, image.shape)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def background(height: int, width: int, rng: np.random.Generator) -> npt.NDArray[np.float32]:
    """A wall and pavement with some texture, as reflectances 0..255."""
    base = np.empty((height, width, 3), np.float32)
    wall = rng.uniform(90, 170, 3)
    base[:] = wall
    base[int(height * 0.75) :] = wall * 0.6
    texture = cv2.GaussianBlur(rng.normal(0, 12, (height, width)).astype(np.float32), (0, 0), 3)
    return base + texture[:, :, None]
