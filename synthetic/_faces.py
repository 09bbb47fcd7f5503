"""Rendered heads: identity parameters, a 3D head, its shading and its rasterisation.

A head is a star-shaped surface around its centre: an ellipsoid skull whose
radius the identity's features push in and out (brow ridge, eye sockets, nose,
cheeks, lips, chin, jaw, ears, hair volume, a cap's brim). The surface is a grid
over azimuth and elevation, so each vertex has a position, a normal, an albedo
(skin from the group's reflectance, lips, eyes, brows, hair, beard, cap, mask,
glasses) and a specular strength. Each frame rotates it to the person's pose,
shades it from the scene's light (Lambert, Blinn-Phong highlights, shadows cast
by the brow, nose and brim found by marching from each point towards the light
through the head's radius map) and splats it through the camera's perspective
with a depth buffer. Whether a detector finds the face is left to the detector.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, fields

import cv2
import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]

# Colours are linear RGB reflectances (0..1).
_HAIR = np.array(
    [
        [0.03, 0.025, 0.02],
        [0.08, 0.05, 0.03],
        [0.16, 0.1, 0.06],
        [0.55, 0.42, 0.24],
        [0.5, 0.5, 0.5],
    ]
)
# Skin hue at unit luminance: a warm tone, tinted per identity.
_SKIN_HUE = np.array([1.0, 0.8, 0.66])
_LUMA = np.array([0.299, 0.587, 0.114])
_IRIS = np.array([[0.1, 0.06, 0.03], [0.25, 0.16, 0.08], [0.2, 0.3, 0.42], [0.2, 0.3, 0.18]])
_SCLERA = np.array([0.7, 0.68, 0.66])
_CLOTHES = np.array(
    [
        [0.05, 0.05, 0.06],
        [0.6, 0.6, 0.62],
        [0.1, 0.15, 0.35],
        [0.45, 0.1, 0.08],
        [0.15, 0.3, 0.15],
        [0.5, 0.42, 0.3],
        [0.3, 0.3, 0.32],
    ]
)
_MASKS = np.array([[0.75, 0.8, 0.85], [0.3, 0.5, 0.75], [0.05, 0.05, 0.06]])
# Facial hair: none, moustache, full beard, stubble; and how often each occurs.
_FACIAL_HAIR_SHARES = (0.55, 0.15, 0.15, 0.15)
_BALD_SHARE = 0.1
# The grid spans the face and sides of the head; the back is always hair and
# never faces a camera that sees the face.
_AZIMUTH = 0.8 * math.pi
_ELEVATION = (-0.4 * math.pi, 0.5 * math.pi)
# Vertices about this many pixels apart on the image: the hole filling closes the
# one-pixel gaps that foreshortened parts (the sides of the nose) leave.
_SPACING_PX = 1.0
# The head's shape and colours are computed once per identity at this step (about
# 1.6 mm on the face), then resampled to each image size.
_TEXTURE_STEP = 0.016
_COARSE = (32, 48)  # radius map for shadow rays (elevation, azimuth)
_SHADOW_STEPS = np.linspace(0.004, 0.12, 8, dtype=np.float32)
_SHININESS = 24.0
# Normalised face coordinates (v up, 1 = crown) of the face box's top and bottom:
# brow line to chin, cheek to cheek, roughly the box dlib's HOG detector draws.
_BOX_TOP, _BOX_BOTTOM, _BOX_SIDE = 0.3, -0.88, 0.8


@dataclass(frozen=True)
class FaceParams:
    """One identity's head: half-axes in metres, features in face units (the skull's
    half width or height), colours, and what it wears."""

    half_width: float
    half_height: float
    half_depth: float
    eye_spacing: float
    eye_y: float
    eye_width: float
    eye_height: float
    socket_depth: float  # metres
    brow_ridge: float  # metres
    brow_gap: float  # above the eye
    brow_thickness: float
    nose_length: float
    nose_height: float  # metres the tip stands out
    nose_width: float
    cheek: float  # metres
    mouth_y: float
    mouth_width: float
    lip: float  # metres
    chin: float  # metres
    jaw: float  # how much the lower face narrows
    hairline: float
    hair_volume: float  # metres
    hair_colour: int
    iris_colour: int
    facial_hair: int  # index into _FACIAL_HAIR_SHARES
    tint: float  # skin hue: -1 more yellow .. 1 more red
    clothing: int
    skin_reflectance: float
    cap: bool
    mask: bool
    glasses: bool
    mask_colour: int
    cap_colour: int

    @classmethod
    def sample(
        cls,
        rng: np.random.Generator,
        skin_reflectance: float,
        *,
        cap: float = 0.0,
        mask: float = 0.0,
        glasses: float = 0.0,
    ) -> FaceParams:
        """A random identity with the given skin reflectance; ``cap``, ``mask`` and
        ``glasses`` are the chances that it wears each."""
        bald = rng.random() < _BALD_SHARE
        return cls(
            half_width=rng.uniform(0.07, 0.082),
            half_height=rng.uniform(0.112, 0.126),
            half_depth=rng.uniform(0.09, 0.102),
            eye_spacing=rng.uniform(0.36, 0.44),
            eye_y=rng.uniform(0.02, 0.1),
            eye_width=rng.uniform(0.13, 0.17),
            eye_height=rng.uniform(0.045, 0.06),
            socket_depth=rng.uniform(0.006, 0.012),
            brow_ridge=rng.uniform(0.003, 0.009),
            brow_gap=rng.uniform(0.1, 0.15),
            brow_thickness=rng.uniform(0.035, 0.055),
            nose_length=rng.uniform(0.3, 0.4),
            nose_height=rng.uniform(0.014, 0.024),
            nose_width=rng.uniform(0.1, 0.15),
            cheek=rng.uniform(0.002, 0.008),
            mouth_y=rng.uniform(-0.58, -0.5),
            mouth_width=rng.uniform(0.24, 0.34),
            lip=rng.uniform(0.003, 0.007),
            chin=rng.uniform(0.003, 0.01),
            jaw=rng.uniform(0.05, 0.25),
            hairline=rng.uniform(0.72, 0.8) if bald else rng.uniform(0.42, 0.56),
            hair_volume=0.0 if bald else rng.uniform(0.004, 0.02),
            hair_colour=int(rng.integers(0, len(_HAIR))),
            iris_colour=int(rng.integers(0, len(_IRIS))),
            facial_hair=int(rng.choice(len(_FACIAL_HAIR_SHARES), p=_FACIAL_HAIR_SHARES)),
            tint=rng.uniform(-1.0, 1.0),
            clothing=int(rng.integers(0, len(_CLOTHES))),
            skin_reflectance=skin_reflectance,
            cap=bool(rng.random() < cap),
            mask=bool(rng.random() < mask),
            glasses=bool(rng.random() < glasses),
            mask_colour=int(rng.integers(0, len(_MASKS))),
            cap_colour=int(rng.integers(0, len(_CLOTHES))),
        )

    def as_dict(self) -> dict[str, float | int | bool]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @property
    def clothing_colour(self) -> npt.NDArray[np.float64]:
        return _CLOTHES[self.clothing]

    @property
    def skin_colour(self) -> npt.NDArray[np.float64]:
        """Linear RGB albedo whose luminance is the skin reflectance."""
        hue = _SKIN_HUE * np.array([1.0 + 0.05 * self.tint, 1.0, 1.0 - 0.08 * self.tint])
        return np.clip(self.skin_reflectance * hue / float(hue @ _LUMA), 0.0, 1.0)

    @property
    def box_height_m(self) -> float:
        """Height of the face box (brow line to chin) in metres, frontal."""
        return (_BOX_TOP - _BOX_BOTTOM) * self.half_height


@dataclass(frozen=True)
class HeadModel:
    """A head's surface on an (azimuth, elevation) grid, in the head's frame (metres;
    x to the head's left as seen facing it, y up, z out of the face).

    ``vertices`` is ``(columns, rows, 11)``: position, normal, albedo, specular
    strength and 1 inside the face box; a column per azimuth, so that the half of
    the head facing a camera is one contiguous slice.
    """

    azimuth: F32  # (columns,)
    rows: int
    vertices: F32
    coarse_radius: F32  # _COARSE radius map (elevation, azimuth) for shadow rays


@dataclass(frozen=True)
class Light:
    """A scene's light as the renderer uses it: ``direction`` a unit world vector
    towards the light, ``colour`` linear RGB with unit luminance, ``ambient`` the
    share of light that comes from everywhere, ``level`` 1 for daylight."""

    direction: F32
    colour: F32
    ambient: float
    level: float


@dataclass(frozen=True)
class HeadImage:
    """A splatted head: premultiplied RGBA with its corner at ``(top, left)`` of the
    frame, and the face box ``(top, right, bottom, left)`` in frame pixels, or
    ``None`` when no part of the face is visible."""

    top: int
    left: int
    rgba: F32  # (h, w, 4)
    face_mask: npt.NDArray[np.bool_]  # (h, w): pixels of the face box region
    box: tuple[int, int, int, int] | None


def spacing_step(pixels_per_metre: float) -> float:
    """The grid step (radians) that keeps vertices ``_SPACING_PX`` apart on the
    image (on the face, about 0.1 m from the head's centre), rounded down to a
    power of 2^(1/3) so that heads of similar size share one model."""
    needed = _SPACING_PX / (pixels_per_metre * 0.1)
    level = math.ceil(3.0 * math.log2(0.1 / needed))
    return 0.1 / 2.0 ** (max(level, 0) / 3.0)


@functools.lru_cache(maxsize=64)
def _master(face: FaceParams) -> tuple[tuple[F32, ...], F32]:
    """``face``'s surface sampled every `_TEXTURE_STEP` radians as in `HeadModel`
    (azimuth first), split into parts of at most 4 channels (what OpenCV resizes
    at once), and its coarse radius map."""
    azimuth = _grid_angles(-_AZIMUTH, _AZIMUTH)
    elevation = _grid_angles(*_ELEVATION)
    radius, albedo, specular, face_region = _surface(face, elevation, azimuth)
    points = radius[:, :, None] * _directions(elevation, azimuth)
    # Normals from the grid's tangents (central differences), outward.
    normals = np.cross(np.gradient(points, axis=1), np.gradient(points, axis=0))
    packed = np.concatenate(
        [points, normals, albedo, specular[..., None], face_region[..., None]], axis=-1
    ).transpose(1, 0, 2)
    parts = tuple(np.ascontiguousarray(packed[..., i : i + 4], np.float32) for i in (0, 4, 8))
    coarse = cv2.resize(radius, _COARSE[::-1], interpolation=cv2.INTER_AREA)
    return parts, np.asarray(coarse, np.float32)


def _grid_angles(low: float, high: float) -> F32:
    return np.arange(low, high + _TEXTURE_STEP / 2, _TEXTURE_STEP, dtype=np.float32)


@functools.lru_cache(maxsize=64)
def head_model(face: FaceParams, step: float) -> HeadModel:
    """``face``'s surface on a grid of ``step`` radians (cached: a scene reuses it),
    resampled from its `_TEXTURE_STEP` master."""
    parts, coarse = _master(face)
    columns, rows = parts[0].shape[:2]
    # cv2 sizes are (width, height): here (elevation rows, azimuth columns).
    size = (
        max(2, round(rows * _TEXTURE_STEP / step)),
        max(2, round(columns * _TEXTURE_STEP / step)),
    )
    method = cv2.INTER_AREA if size[1] < columns else cv2.INTER_LINEAR
    vertices = np.concatenate(
        [cv2.resize(part, size, interpolation=method) for part in parts], axis=-1
    )
    normals = vertices[..., 3:6]
    normals /= np.sqrt(np.einsum("...i,...i->...", normals, normals))[..., None] + 1e-12
    # Where cv2.resize samples the master: at (j + 0.5) * scale - 0.5 of its columns.
    scale = columns / size[1]
    azimuth = -_AZIMUTH + ((np.arange(size[1]) + 0.5) * scale - 0.5) * _TEXTURE_STEP
    return HeadModel(azimuth.astype(np.float32), size[0], vertices, coarse)


def _directions(elevation: F32, azimuth: F32) -> F32:
    el, az = np.meshgrid(elevation, azimuth, indexing="ij")
    return np.stack([np.cos(el) * np.sin(az), np.sin(el), np.cos(el) * np.cos(az)], axis=-1).astype(
        np.float32
    )


def _bump(u: F32, v: F32, u0: float, v0: float, su: float, sv: float) -> F32:
    return np.exp(-0.5 * (((u - u0) / su) ** 2 + ((v - v0) / sv) ** 2))


def _smooth(x: F32, lo: float, hi: float) -> F32:
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _surface(
    face: FaceParams, elevation: F32, azimuth: F32
) -> tuple[F32, F32, F32, npt.NDArray[np.bool_]]:
    """Radius (metres), albedo, specular strength and face-box region on the grid."""
    d = _directions(elevation, azimuth)
    a, b, c = (np.float32(x) for x in (face.half_width, face.half_height, face.half_depth))
    r0 = 1.0 / np.sqrt((d[..., 0] / a) ** 2 + (d[..., 1] / b) ** 2 + (d[..., 2] / c) ** 2)
    # Normalised face coordinates on the skull: u across, v up, w out of the face.
    u, v, w = (r0 * d[..., 0]) / a, (r0 * d[..., 1]) / b, (r0 * d[..., 2]) / c
    front = _smooth(w, 0.15, 0.55)
    au = np.abs(u)
    eye_y = face.eye_y
    brow_y = eye_y + face.brow_gap
    tip_y = eye_y - face.nose_length
    chin_y = -0.86
    # Nose: a ridge that stands out more towards its tip and ends under it.
    along = np.clip((eye_y - v) / face.nose_length, 0.0, 1.0)
    below_tip = np.exp(-0.5 * (np.minimum(v - tip_y, 0.0) / 0.035) ** 2)
    nose_width = face.nose_width * (0.45 + 0.7 * along)
    nose = (
        face.nose_height
        * along**0.9
        * below_tip
        * np.exp(-0.5 * (u / nose_width) ** 2)
        * (v < eye_y + 0.02)
    )
    alae = 0.004 * (
        _bump(u, v, -0.12, tip_y + 0.02, 0.05, 0.04) + _bump(u, v, 0.12, tip_y + 0.02, 0.05, 0.04)
    )
    sockets = face.socket_depth * (
        _bump(u, v, -face.eye_spacing, eye_y + 0.02, 0.17, 0.11)
        + _bump(u, v, face.eye_spacing, eye_y + 0.02, 0.17, 0.11)
    )
    brow = face.brow_ridge * np.exp(-0.5 * ((v - brow_y) / 0.06) ** 2) * _smooth(0.8 - au, 0, 0.3)
    cheeks = face.cheek * (
        _bump(u, v, -0.45, tip_y, 0.2, 0.18) + _bump(u, v, 0.45, tip_y, 0.2, 0.18)
    )
    lips = face.lip * _bump(u, v, 0.0, face.mouth_y, face.mouth_width * 0.9, 0.07)
    mouth_line = -0.002 * _bump(u, v, 0.0, face.mouth_y, face.mouth_width, 0.012)
    chin = face.chin * _bump(u, v, 0.0, chin_y + 0.1, 0.28, 0.12)
    jaw = -face.jaw * a * _smooth(-v, 0.3, 1.0) * au**2
    features = nose + alae - sockets + brow + cheeks + lips + mouth_line + chin
    if face.mask:  # cloth over nose and mouth: the features under it are smoothed away
        covered = _smooth(tip_y + 0.15 - v, 0.0, 0.05) * _smooth(0.85 - au, 0.0, 0.1)
        features = features * (1 - covered) + covered * (0.6 * nose + 0.012 * (1 - u**2))
    displacement = front * features + jaw
    # Ears on the sides of the head, level with the nose.
    side = np.abs(np.abs(azimuth)[None, :] - math.pi / 2)
    ears = 0.012 * np.exp(-0.5 * ((side / 0.12) ** 2 + ((v - tip_y - 0.1) / 0.18) ** 2))
    hairline = face.hairline - 0.25 * u**2 + 0.35 * _smooth(-w, -0.2, 0.4)
    hair = _smooth(v - hairline, 0.0, 0.06)
    radius = r0 + displacement + ears + face.hair_volume * hair

    skin = face.skin_colour.astype(np.float32)
    albedo = np.broadcast_to(skin, (*u.shape, 3)).astype(np.float32)
    specular = np.full(u.shape, 0.12, np.float32) + 0.1 * _bump(u, v, 0, tip_y + 0.1, 0.15, 0.2)
    hair_rgb = _HAIR[face.hair_colour]
    lips_mask = front * _bump(u, v, 0.0, face.mouth_y, face.mouth_width * 0.8, 0.05) ** 2
    albedo = _mix(albedo, skin * np.array([0.7, 0.42, 0.45]), lips_mask)
    # The parting of the lips and the nostrils stay dark under any light.
    parting = (np.abs(v - face.mouth_y) < 0.012) & (au < face.mouth_width * 0.95)
    albedo = _mix(albedo, skin * 0.25, front * parting)
    nostrils = _bump(np.abs(u), v, 0.07, tip_y - 0.01, 0.035, 0.02) > 0.5
    albedo = _mix(albedo, skin * 0.2, front * nostrils)
    if face.facial_hair in (2, 3):  # beard (or stubble, sparser) over the jaw and chin
        density = 0.85 if face.facial_hair == 2 else 0.35
        chin_and_jaw = _smooth(face.mouth_y - 0.06 - v, 0.0, 0.05)
        sides = _smooth(au - 0.35, 0.0, 0.1) * _smooth(tip_y - v, 0.0, 0.1)
        jaw_region = np.maximum(chin_and_jaw, sides)
        albedo = _mix(albedo, hair_rgb, density * jaw_region * _smooth(w, -0.2, 0.2))
    if face.facial_hair in (1, 2):
        moustache = _bump(u, v, 0.0, (tip_y + face.mouth_y) / 2, face.mouth_width, 0.04) > 0.5
        albedo = _mix(albedo, hair_rgb, 0.9 * front * moustache)
    for side_u in (-face.eye_spacing, face.eye_spacing):
        eye = ((u - side_u) / face.eye_width) ** 2 + ((v - eye_y) / face.eye_height) ** 2
        # Lids, lashes and the crease darken a rim around the eye.
        albedo = _mix(albedo, skin * 0.3, front * (eye < 2.6) * _smooth(v - eye_y, -0.06, 0.02))
        albedo = _mix(albedo, _SCLERA, front * (eye < 1.0))
        iris = ((u - side_u) ** 2 + (v - eye_y) ** 2) < (1.1 * face.eye_height) ** 2
        albedo = _mix(albedo, _IRIS[face.iris_colour], front * iris * (eye < 1.0))
        pupil = ((u - side_u) ** 2 + (v - eye_y) ** 2) < (0.5 * face.eye_height) ** 2
        albedo = _mix(albedo, np.array([0.02, 0.02, 0.02]), front * pupil)
        lashes = (eye < 1.4) & (eye > 0.8) & (v > eye_y)
        albedo = _mix(albedo, hair_rgb * 0.3, front * lashes)
        specular = np.where(front * (eye < 1.0) > 0.5, 0.6, specular)
        brow_band = (np.abs(v - brow_y + 0.3 * (u - side_u) ** 2) < face.brow_thickness) & (
            np.abs(u - side_u) < 0.26
        )
        albedo = _mix(albedo, np.minimum(hair_rgb, skin * 0.35), front * brow_band)
        if face.glasses:
            ring = np.sqrt(((u - side_u) / 0.24) ** 2 + ((v - eye_y) / 0.14) ** 2)
            albedo = _mix(albedo, np.array([0.03, 0.03, 0.03]), front * (np.abs(ring - 1) < 0.1))
            specular = np.where(front * (ring < 1) > 0.5, 0.5, specular)
    if face.glasses:
        bridge = (np.abs(u) < face.eye_spacing - 0.22) & (np.abs(v - eye_y - 0.04) < 0.015)
        albedo = _mix(albedo, np.array([0.03, 0.03, 0.03]), front * bridge)
    albedo = _mix(albedo, hair_rgb, hair)
    specular = specular * (1 - hair) + 0.05 * hair
    if face.mask:
        albedo = _mix(albedo, _MASKS[face.mask_colour], front * covered)
        specular = specular * (1 - front * covered) + 0.03 * front * covered
    if face.cap:  # a crown over the hair and a brim that shades the eyes
        crown = _smooth(v - (brow_y + 0.2), 0.0, 0.04)
        brim = (
            _smooth(v - (brow_y + 0.14), 0.0, 0.02)
            * _smooth(brow_y + 0.3 - v, 0.0, 0.04)
            * _smooth(w, 0.3, 0.6)
        )
        radius = radius + 0.012 * crown + 0.05 * brim
        cap_rgb = _CLOTHES[face.cap_colour]
        albedo = _mix(albedo, cap_rgb, np.maximum(crown, brim))
        specular = specular * (1 - crown) + 0.05 * crown
    in_box = (v < _BOX_TOP) & (v > _BOX_BOTTOM) & (au < _BOX_SIDE) & (w > 0.0)
    return radius.astype(np.float32), albedo, specular, in_box


def _mix(base: F32, colour: npt.ArrayLike, weight: npt.ArrayLike) -> F32:
    """``base`` blended towards ``colour`` by ``weight``, only where the weight is not 0."""
    weight = np.asarray(weight, np.float32)
    where = weight > 0
    if where.any():
        w = weight[where][:, None]
        base[where] = base[where] * (1 - w) + np.asarray(colour, np.float32) * w
    return base


def rotation(yaw: float, pitch: float, roll: float) -> F32:
    """Head-to-world rotation: turn ``yaw`` about the vertical (0 faces +z, away
    from the camera), then nod ``pitch`` (positive looks down) and tilt ``roll``."""
    cy, sy = math.cos(yaw), math.sin(yaw)
    cp, sp = math.cos(pitch), math.sin(pitch)
    cr, sr = math.cos(roll), math.sin(roll)
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    return (ry @ rx @ rz).astype(np.float32)


def shadow_map(model: HeadModel, light_in_head: F32) -> F32:
    """1 where the light reaches the surface, 0 where the head itself blocks it.

    From each point of the coarse radius map, march towards the light: the point
    is shadowed where a step lands inside the head (nearer the centre than the
    surface in that direction). Bilinear upsampling softens the edge.
    """
    rows, cols = _COARSE
    elevation = np.linspace(_ELEVATION[0], _ELEVATION[1], rows, dtype=np.float32)
    azimuth = np.linspace(-_AZIMUTH, _AZIMUTH, cols, dtype=np.float32)
    start = (model.coarse_radius[:, :, None] + 0.002) * _directions(elevation, azimuth)
    march = start[:, :, None, :] + _SHADOW_STEPS[:, None] * light_in_head  # (r, c, s, 3)
    distance = np.sqrt(np.einsum("...i,...i->...", march, march))
    az = np.arctan2(march[..., 0], march[..., 2])
    el = np.arcsin(np.clip(march[..., 1] / distance, -1.0, 1.0))
    map_x = ((az + _AZIMUTH) / (2 * _AZIMUTH) * (cols - 1)).reshape(rows, -1)
    map_y = ((el - _ELEVATION[0]) / (_ELEVATION[1] - _ELEVATION[0]) * (rows - 1)).reshape(rows, -1)
    surface = cv2.remap(
        model.coarse_radius,
        map_x.astype(np.float32),
        map_y.astype(np.float32),
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0.0,
    ).reshape(distance.shape)
    lit = (~(distance < surface).any(axis=-1)).astype(np.float32)
    # (columns, rows), as the vertices.
    return cv2.resize(lit.T, (model.rows, len(model.azimuth)), interpolation=cv2.INTER_LINEAR)


def render_head(
    model: HeadModel,
    turn: F32,
    centre: F32,
    light: Light,
    project: Callable[[F32], tuple[F32, F32, F32]],
    eye: F32,
    frame_shape: tuple[int, int],
) -> HeadImage | None:
    """Shade ``model`` turned by ``turn`` (head to world) at world ``centre`` and splat it.

    ``project`` maps world points ``(n, 3)`` to image ``x``, ``y`` and depth;
    ``eye`` is the camera's world position. Returns ``None`` when the head is off
    the image or behind the camera.
    """
    to_eye = turn.T @ (eye - centre)  # the camera, in the head's frame
    view_azimuth = math.atan2(float(to_eye[0]), float(to_eye[2]))
    # Only the half of the grid that faces the camera can be seen: a run of columns.
    first, last = np.searchsorted(model.azimuth, [view_azimuth - 1.75, view_azimuth + 1.75])
    window = model.vertices[first:last].reshape(-1, model.vertices.shape[-1])
    facing = np.einsum("ij,ij->i", window[:, 3:6], to_eye - window[:, :3]) > 0.0
    if not facing.any():
        return None
    window = window[facing]
    x, y, depth = project(window[:, :3] @ turn.T + centre)
    if (depth <= 0.05).any():
        return None
    height, width = frame_shape
    left, top = math.floor(float(x.min())) - 1, math.floor(float(y.min())) - 1
    right, bottom = math.ceil(float(x.max())) + 2, math.ceil(float(y.max())) + 2
    if right <= 0 or bottom <= 0 or left >= width or top >= height:
        return None
    h, w = bottom - top, right - left
    pixel = (y - top).astype(np.intp) * w + (x - left).astype(np.intp)
    nearest = np.full(h * w, np.inf, np.float32)
    np.minimum.at(nearest, pixel, depth)
    # Points within a centimetre of the nearest are the visible surface there.
    visible = depth <= nearest[pixel] + 0.01
    pixel, x, y = pixel[visible], x[visible], y[visible]
    light_head = turn.T @ light.direction
    shadow = shadow_map(model, light_head)[first:last].reshape(-1)[facing][visible]
    window = window[visible]
    normals = window[:, 3:6]
    view = to_eye - window[:, :3]
    view /= np.sqrt(np.einsum("ij,ij->i", view, view))[:, None]
    lambert = np.clip(normals @ light_head, 0.0, None) * shadow
    halfway = light_head + view
    halfway /= np.sqrt(np.einsum("ij,ij->i", halfway, halfway))[:, None]
    highlight = np.clip(np.einsum("ij,ij->i", normals, halfway), 0.0, None) ** _SHININESS
    spec = window[:, 9] * highlight * shadow
    irradiance = light.ambient + (1.0 - light.ambient) * lambert
    radiance = (window[:, 6:9] * irradiance[:, None] + ((1.0 - light.ambient) * spec)[:, None]) * (
        light.colour
    )
    in_face = window[:, 10] > 0.5

    colour = np.zeros((h * w, 3), np.float32)
    coverage = np.zeros(h * w, np.float32)
    colour[pixel] = radiance
    coverage[pixel] = 1.0
    face_mask = np.zeros((h, w), bool)
    face_mask.reshape(-1)[pixel[in_face]] = True
    rgba = _fill_holes(colour.reshape(h, w, 3), coverage.reshape(h, w))
    box = None
    if in_face.any():
        fx, fy = x[in_face], y[in_face]
        box = (
            int(fy.min()),
            math.ceil(float(fx.max())),
            math.ceil(float(fy.max())),
            int(fx.min()),
        )
    return HeadImage(top, left, rgba, face_mask, box)


def _fill_holes(colour: F32, coverage: F32) -> F32:
    """Close the gaps between splatted points, then soften the outline by a pixel.

    Returns premultiplied RGBA.
    """
    kernel = np.ones((3, 3), np.uint8)
    closed = cv2.morphologyEx(coverage, cv2.MORPH_CLOSE, kernel)
    sums = cv2.blur(colour * coverage[:, :, None], (3, 3))
    weights = cv2.blur(coverage, (3, 3))[:, :, None]
    filled = np.where(coverage[:, :, None] > 0, colour, sums / np.maximum(weights, 1e-6))
    alpha = cv2.GaussianBlur(closed, (3, 3), 0.6)
    return np.concatenate([filled * alpha[:, :, None], alpha[:, :, None]], axis=-1).astype(
        np.float32
    )
