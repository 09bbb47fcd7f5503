"""Rendered heads: identity parameters, a 3D head, its shading and its rasterisation.

A head is a star-shaped surface around its centre: an ellipsoid skull whose
radius the identity's features push in and out (brow ridge, eye sockets and the
eyeballs behind the lids, nose, cheeks, lips, chin, jaw, ears, hair volume, a
cap's crown). The surface is a grid over azimuth and elevation, so each vertex
has a position, a normal, an albedo (skin from the group's reflectance with a
texture of its own, lips, eyes, brows, hair, beard, cap, mask, glasses) and a
specular strength; a cap's brim, which overhangs, is a plate of points beside
the grid. Each frame rotates it to the person's pose,
shades it from the scene's light (Lambert, Blinn-Phong highlights, shadows cast
by the brow, nose and brim found by marching from each point towards the light
through the head's radius map) and splats it through the camera's perspective
with a depth buffer. Whether a detector finds the face is left to the detector.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import cv2
import numpy as np
import numpy.typing as npt

from ._camera import F32, Camera

# Colours are linear RGB reflectances (0..1).
# Hair pigment: black, dark brown, brown, blond.
_HAIR = np.array(
    [
        [0.03, 0.025, 0.02],
        [0.08, 0.05, 0.03],
        [0.16, 0.1, 0.06],
        [0.55, 0.42, 0.24],
    ]
)
# Grey hair comes with age, whatever the skin: the share of identities whose scalp
# hair and beard have greyed (the population has no ages; a chosen share, the same
# for every group). Brows and lashes grey decades later, so they keep the pigment.
_GREY = np.array([0.5, 0.5, 0.5])
_GREY_SHARE = 0.15
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
# Vertices at most this many pixels apart on the image 0.1 m from the head's centre
# (1.9 pixels at the crown, 0.14 m): gaps between splatted points are then at most
# a pixel wide, which the hole filling closes.
_SPACING_PX = 1.35
# The head's shape and colours are computed once per identity at this step (about
# 1.6 mm on the face), then resampled to each image size.
_TEXTURE_STEP = 0.016
# The finest grid a head is splatted at (the enrollment portraits' level). A head
# nearer the camera than this grid serves is drawn at fewer pixels and enlarged:
# the texture holds no finer detail, and a finer grid would cost time and memory
# in the square of the face's size.
_FINEST_STEP = _TEXTURE_STEP * 2.0 ** (-2 / 3)
_COARSE = (32, 48)  # radius map for shadow rays (elevation, azimuth)
# The coarse shadow map is upsampled bilinearly to this grid once per frame; each
# point then reads its cell (an index it carries), so no per-point interpolation.
_SHADOW_FINE = 4
_SHADOW_STEPS = np.linspace(0.004, 0.12, 8, dtype=np.float32)
# Ambient occlusion: the surface within this radius (metres) is what a point's
# depth is measured against, and a point this much deeper reflects 1/e as much.
_OCCLUSION_RADIUS = 0.01
_OCCLUSION_DEPTH = 0.004
# The eyeball: radius (an adult's is about 12 mm) and how far its front lies
# behind the lid margins (metres).
_EYEBALL_RADIUS = 0.012
_LID_MARGIN = 0.0015
# Skin texture: standard deviations of the albedo's relative variation in blotches
# and in grain.
_BLOTCHES = 0.05
_GRAIN = 0.03
# A cap: its crown's lower edge (face units above the brows), and its brim's reach
# forward (metres), half-span round the head (radians of azimuth), downward dip
# (radians) and thickness (metres).
_CAP_EDGE = 0.2
_BRIM_REACH = 0.05
_BRIM_SPAN = 1.1
_BRIM_DIP = 0.15
_BRIM_THICKNESS = 0.004
# Normalised face coordinates (v up, 1 = crown) of the face box's top and bottom:
# brow line to chin, cheek to cheek, roughly the box dlib's HOG detector draws.
_BOX_TOP, _BOX_BOTTOM, _BOX_SIDE = 0.3, -0.88, 0.8


@dataclasses.dataclass(frozen=True)
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
    hair_colour: int  # pigment, an index into _HAIR
    grey: bool
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
    texture_seed: int

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
            hair_colour=_hair_colour(rng, skin_reflectance),
            grey=bool(rng.random() < _GREY_SHARE),
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
            texture_seed=int(rng.integers(0, 2**31)),
        )

    def as_dict(self) -> dict[str, float | int | bool]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

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


# Channels of a `HeadModel`.
_POSITION, _NORMAL, _ALBEDO, _SPECULAR, _FACE, _REACH, _SHADOW_CELL = (
    slice(0, 3),
    slice(3, 6),
    slice(6, 9),
    9,
    10,
    11,
    12,
)


@dataclasses.dataclass(frozen=True)
class HeadModel:
    """A head's surface on an (azimuth, elevation) grid, in the head's frame (metres;
    x to the head's left as seen facing it, y up, z out of the face).

    ``channels`` is ``(13, columns, rows)``: position, normal, albedo, specular
    strength, 1 inside the face box, normal . position (a point faces an eye
    where normal . eye exceeds it) and its cell of the upsampled shadow map; a
    column per azimuth and channels first, so that the half of the head facing a
    camera is one contiguous run of each channel.
    """

    azimuth: F32  # (columns,)
    channels: F32
    coarse_radius: F32  # _COARSE radius map (elevation, azimuth) for shadow rays
    coarse_start: F32  # (3, *_COARSE): where shadow rays start, just off the surface
    # Points off the grid, ``(13, n)`` in the same channels: a cap's brim, which
    # overhangs the forehead, so no radius per direction can describe it.
    extra: F32

    @property
    def rows(self) -> int:
        return int(self.channels.shape[2])


@dataclasses.dataclass(frozen=True)
class Light:
    """A scene's light as the renderer uses it: ``direction`` a unit world vector
    towards the light, ``colour`` linear RGB with unit luminance, ``ambient`` the
    share of light that comes from everywhere, ``level`` 1 for daylight."""

    direction: F32
    colour: F32
    ambient: float
    level: float


@dataclasses.dataclass(frozen=True)
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
    """The grid step (radians) that keeps vertices at most ``_SPACING_PX`` apart on
    the image (on the face, about 0.1 m from the head's centre), rounded down to
    `_TEXTURE_STEP` times a power of 2^(1/3), so that heads of similar size share
    one model; never finer than `_FINEST_STEP`."""
    needed = _SPACING_PX / (pixels_per_metre * 0.1)
    level = max(math.floor(3.0 * math.log2(needed / _TEXTURE_STEP)), -2)
    return _TEXTURE_STEP * 2.0 ** (level / 3.0)


@functools.lru_cache(maxsize=32)
def _master(face: FaceParams) -> HeadModel:
    """``face``'s surface sampled every `_TEXTURE_STEP` radians."""
    azimuth = _grid_angles(-_AZIMUTH, _AZIMUTH)
    elevation = _grid_angles(*_ELEVATION)
    radius, albedo, specular, face_region, brim = _surface(face, elevation, azimuth)
    # Ambient occlusion, approximated: a point below the mean surface around it (eye
    # sockets, the sides of the nose, the parting of the lips) sees less of the sky
    # and of the light, so it reflects less of both.
    around = cv2.GaussianBlur(radius, (0, 0), _OCCLUSION_RADIUS / (0.1 * _TEXTURE_STEP))
    occlusion = np.exp(-np.maximum(around - radius, 0.0) / _OCCLUSION_DEPTH)
    albedo *= occlusion[..., None]
    specular *= occlusion
    points = radius[:, :, None] * _directions(elevation, azimuth)
    # Normals from the grid's tangents (central differences), outward.
    normals = np.cross(np.gradient(points, axis=1), np.gradient(points, axis=0))
    channels = np.empty((13, len(azimuth), len(elevation)), np.float32)
    channels[:11] = np.concatenate(
        [points, normals, albedo, specular[..., None], face_region[..., None]], axis=-1
    ).transpose(2, 1, 0)
    _finish(channels, azimuth, elevation)
    # The brim is drawn as its own plate (`_brim`), but it shades the eyes: shadow
    # rays see it as a band standing out of the forehead.
    coarse: F32 = np.asarray(
        cv2.resize(radius + brim, _COARSE[::-1], interpolation=cv2.INTER_AREA), np.float32
    )
    coarse_elevation, coarse_azimuth = (
        np.linspace(low, high, count, dtype=np.float32)
        for low, high, count in ((*_ELEVATION, _COARSE[0]), (-_AZIMUTH, _AZIMUTH, _COARSE[1]))
    )
    start = (coarse[:, :, None] + 0.002) * _directions(coarse_elevation, coarse_azimuth)
    return HeadModel(
        azimuth,
        channels,
        coarse,
        np.ascontiguousarray(np.moveaxis(start, -1, 0)),
        _brim(face, _TEXTURE_STEP),
    )


def _hair_colour(rng: np.random.Generator, skin_reflectance: float) -> int:
    """An index into `_HAIR`, uniform over the pigments that go with this skin. Hair
    and skin take their colour from the same melanin, so hair is no lighter than the
    skin (fair hair comes only with fair skin; black, the darkest, goes with any).
    Drawn independently of the skin, 5 of 25 dark-skinned (0.12) identities had
    blond hair, and dlib's face score on their portraits was about half the others'
    (median 0.58 against 1.08)."""
    allowed = np.flatnonzero((skin_reflectance >= _HAIR @ _LUMA) | (np.arange(len(_HAIR)) == 0))
    return int(allowed[rng.integers(0, len(allowed))])


def _grid_angles(low: float, high: float) -> F32:
    return np.arange(low, high + _TEXTURE_STEP / 2, _TEXTURE_STEP, dtype=np.float32)


@functools.lru_cache(maxsize=32)
def head_model(face: FaceParams, step: float) -> HeadModel:
    """``face``'s surface on a grid of ``step`` radians (cached: a scene reuses it),
    resampled from its `_TEXTURE_STEP` master: bilinearly, or averaged over areas
    when more than halved (bilinear is several times faster, and a model is built
    each time a walker's face crosses a size level)."""
    master = _master(face)
    columns, rows = master.channels.shape[1:]
    # cv2 sizes are (width, height): here (elevation rows, azimuth columns).
    size = (round(rows * _TEXTURE_STEP / step), round(columns * _TEXTURE_STEP / step))
    if size == (rows, columns):
        return master
    method = cv2.INTER_AREA if 2 * size[1] < columns else cv2.INTER_LINEAR
    channels = np.empty((13, size[1], size[0]), np.float32)
    for channel in range(11):
        cv2.resize(master.channels[channel], size, dst=channels[channel], interpolation=method)
    # Where cv2.resize samples the master: at (j + 0.5) * scale - 0.5 of its cells.
    azimuth, elevation = (
        low + ((np.arange(new) + 0.5) * old / new - 0.5) * _TEXTURE_STEP
        for low, old, new in ((-_AZIMUTH, columns, size[1]), (_ELEVATION[0], rows, size[0]))
    )
    _finish(channels, azimuth, elevation)
    return dataclasses.replace(
        master, azimuth=azimuth.astype(np.float32), channels=channels, extra=_brim(face, step)
    )


def _finish(
    channels: F32, azimuth: npt.NDArray[np.floating], elevation: npt.NDArray[np.floating]
) -> None:
    """Complete a `HeadModel`'s channels from the first 11: make the normals unit,
    and fill in their reach and each point's shadow cell."""
    position, normal = channels[_POSITION], channels[_NORMAL]
    normal /= np.sqrt(normal[0] ** 2 + normal[1] ** 2 + normal[2] ** 2) + 1e-12
    channels[_REACH] = normal[0] * position[0] + normal[1] * position[1] + normal[2] * position[2]
    cell_row = _fine_cell(elevation, *_ELEVATION, _COARSE[0])
    cell_column = _fine_cell(azimuth, -_AZIMUTH, _AZIMUTH, _COARSE[1])
    channels[_SHADOW_CELL] = cell_column[:, None] * (_COARSE[0] * _SHADOW_FINE) + cell_row


def _fine_cell(angle: npt.NDArray[np.floating], low: float, high: float, count: int) -> F32:
    """The cell of the upsampled shadow map nearest each ``angle``: the coarse map's
    samples lie at ``linspace(low, high, count)``, and cv2.resize puts fine cell
    ``j`` at coarse position ``(j + 0.5) / _SHADOW_FINE - 0.5``."""
    coarse = (angle - low) / (high - low) * (count - 1)
    fine = np.rint((coarse + 0.5) * _SHADOW_FINE - 0.5)
    return np.clip(fine, 0, count * _SHADOW_FINE - 1).astype(np.float32)


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
) -> tuple[F32, F32, F32, npt.NDArray[np.bool_], F32]:
    """Radius (metres), albedo, specular strength and face-box region on the grid,
    and how far a cap's brim stands out of it (metres; 0 without a cap)."""
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
    features = features - _eyeballs(face, u, v, a, b)
    if face.mask:  # cloth over nose and mouth: the features under it are smoothed away
        covered = _smooth(tip_y + 0.15 - v, 0.0, 0.05) * _smooth(0.85 - au, 0.0, 0.1)
        features = features * (1 - covered) + covered * (0.6 * nose + 0.012 * (1 - u**2))
    displacement = front * features + jaw
    # Ears on the sides of the head, level with the nose.
    side = np.abs(np.abs(azimuth)[None, :] - math.pi / 2)
    ears = 0.012 * np.exp(-0.5 * ((side / 0.12) ** 2 + ((v - tip_y - 0.1) / 0.18) ** 2))
    hairline = face.hairline - 0.25 * u**2 + 0.35 * _smooth(-w, -0.2, 0.4)
    hair = _smooth(v - hairline, 0.0, 0.06)
    # The hair's volume builds up over a wider band than its colour: risen as
    # steeply (2 cm within 7 mm of scalp), it left the splats gaps along the hairline.
    volume = face.hair_volume * _smooth(v - hairline, 0.0, 0.25)
    radius = r0 + displacement + ears + volume

    skin = face.skin_colour.astype(np.float32)
    albedo = skin * _skin_texture(face.texture_seed, u.shape)[..., None]
    specular = np.full(u.shape, 0.12, np.float32) + 0.1 * _bump(u, v, 0, tip_y + 0.1, 0.15, 0.2)
    pigment = _HAIR[face.hair_colour]
    hair_rgb = _GREY if face.grey else pigment
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
        albedo = _mix(albedo, pigment * 0.3, front * lashes)
        specular = np.where(front * (eye < 1.0) > 0.5, 0.6, specular)
        brow_band = (np.abs(v - brow_y + 0.3 * (u - side_u) ** 2) < face.brow_thickness) & (
            np.abs(u - side_u) < 0.26
        )
        albedo = _mix(albedo, pigment, 0.85 * front * brow_band)
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
    brim = np.zeros_like(radius)
    if face.cap:  # a crown over the hair; the brim is a plate of its own (`_brim`)
        crown = _smooth(v - (brow_y + _CAP_EDGE), 0.0, 0.04)
        brim = (
            _BRIM_REACH
            * _smooth(v - (brow_y + _CAP_EDGE - 0.06), 0.0, 0.02)
            * _smooth(brow_y + _CAP_EDGE + 0.1 - v, 0.0, 0.04)
            * _smooth(w, 0.3, 0.6)
        )
        radius = radius + 0.012 * crown
        albedo = _mix(albedo, _CLOTHES[face.cap_colour], crown)
        specular = specular * (1 - crown) + 0.05 * crown
    in_box = (v < _BOX_TOP) & (v > _BOX_BOTTOM) & (au < _BOX_SIDE) & (w > 0.0)
    return radius.astype(np.float32), albedo, specular, in_box, brim.astype(np.float32)


def _brim(face: FaceParams, step: float) -> F32:
    """A cap's brim as points in `HeadModel` channels (none without a cap): a plate
    `_BRIM_THICKNESS` thick that leaves the crown's lower edge and reaches
    `_BRIM_REACH` forward, less at the sides, dipping `_BRIM_DIP` radians. Its top
    faces up and its underside down; points lie about ``step`` radians apart, as
    seen from the head's centre, like the grid's. Drawn as a steep step of the
    radius map (as it was), the brim's front left a band of holes between the cap
    and the forehead that the splats could not cover."""
    if not face.cap:
        return np.zeros((13, 0), np.float32)
    a, b, c = face.half_width, face.half_height, face.half_depth
    edge_v = face.eye_y + face.brow_gap + _CAP_EDGE
    height = edge_v * b
    # Where the crown's edge meets the skull (the ellipsoid's horizontal section at
    # that height) plus the hair under the cap.
    section = math.sqrt(max(1.0 - edge_v**2, 0.0))
    spacing = 0.1 * step
    azimuth = np.arange(-_BRIM_SPAN, _BRIM_SPAN, step, dtype=np.float32)
    base = section / np.sqrt((np.sin(azimuth) / a) ** 2 + (np.cos(azimuth) / c) ** 2)
    base = base + face.hair_volume + 0.012
    reach = _BRIM_REACH * np.sqrt(np.maximum(np.cos(azimuth / _BRIM_SPAN * (math.pi / 2)), 0.0))
    out = np.arange(0.0, _BRIM_REACH + spacing / 2, spacing, dtype=np.float32)
    # (azimuth, out) grid, the out-distance scaled to each azimuth's reach.
    t = out[None, :] / _BRIM_REACH * reach[:, None]
    radial = base[:, None] + t * math.cos(_BRIM_DIP)
    x = radial * np.sin(azimuth)[:, None]
    z = radial * np.cos(azimuth)[:, None]
    y = height - t * math.sin(_BRIM_DIP)
    points = []
    # Top and underside, each facing away from the other.
    for offset, sign in ((0.0, 1.0), (-_BRIM_THICKNESS, -1.0)):
        position = np.stack([x, y + offset, z], axis=0).reshape(3, -1)
        up = np.array([0.0, math.cos(_BRIM_DIP), 0.0], np.float32)
        outward = math.sin(_BRIM_DIP) * np.stack([np.sin(azimuth), np.cos(azimuth)])
        normal = np.empty_like(position)
        normal[0] = np.repeat(outward[0], len(out))
        normal[1] = up[1]
        normal[2] = np.repeat(outward[1], len(out))
        points.append(np.concatenate([position, sign * normal]))
    geometry = np.concatenate(points, axis=1)
    n = geometry.shape[1]
    channels = np.empty((13, n), np.float32)
    channels[:6] = geometry
    channels[_ALBEDO] = _CLOTHES[face.cap_colour][:, None]
    # The underside sees little of the sky: the head and the brim's own shade.
    underside = np.arange(n) >= n // 2
    channels[_ALBEDO][:, underside] *= 0.5
    channels[_SPECULAR] = 0.05
    channels[_FACE] = 0.0
    px, py, pz = channels[0], channels[1], channels[2]
    channels[_REACH] = channels[3] * px + channels[4] * py + channels[5] * pz
    elevation = np.arctan2(py, np.hypot(px, pz))
    cell_row = _fine_cell(elevation, *_ELEVATION, _COARSE[0])
    cell_column = _fine_cell(np.arctan2(px, pz), -_AZIMUTH, _AZIMUTH, _COARSE[1])
    channels[_SHADOW_CELL] = cell_column * (_COARSE[0] * _SHADOW_FINE) + cell_row
    return channels


def _skin_texture(seed: int, shape: tuple[int, ...]) -> F32:
    """A skin's own pattern, a factor around 1 on the albedo: blotches of uneven
    pigment some millimetres across and a fine grain of pores, from ``seed``."""
    rng = np.random.default_rng(seed)
    blotches = cv2.GaussianBlur(rng.standard_normal(shape, dtype=np.float32), (0, 0), 4.0)
    grain = cv2.GaussianBlur(rng.standard_normal(shape, dtype=np.float32), (0, 0), 0.7)
    # Blurring white noise over sigma cells leaves a standard deviation of about
    # 1 / (2 sqrt(pi) sigma): rescale each to its own amplitude.
    return np.asarray(
        1.0
        + _BLOTCHES * blotches * (2 * math.sqrt(math.pi) * 4.0)
        + _GRAIN * grain * (2 * math.sqrt(math.pi) * 0.7),
        np.float32,
    )


def _eyeballs(face: FaceParams, u: F32, v: F32, a: np.float32, b: np.float32) -> F32:
    """How far (metres) the surface inside each eye's opening lies behind the lids:
    the eyeball, a sphere of `_EYEBALL_RADIUS`, shows through the opening with its
    front `_LID_MARGIN` behind the lid margins and curves away towards the corners,
    so the sclera there faces sideways and sees less of the light and the sky."""
    depth = np.zeros_like(u)
    for side_u in (-face.eye_spacing, face.eye_spacing):
        x, y = (u - side_u) * a, (v - face.eye_y) * b
        opening = ((u - side_u) / face.eye_width) ** 2 + ((v - face.eye_y) / face.eye_height) ** 2
        inside = _smooth(np.asarray(1.0 - opening, np.float32), 0.0, 0.15)
        off_axis = np.minimum(x * x + y * y, _EYEBALL_RADIUS**2)
        depth += inside * (_LID_MARGIN + _EYEBALL_RADIUS - np.sqrt(_EYEBALL_RADIUS**2 - off_axis))
    return depth


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
    """Per point of ``model`` (columns, rows), how much of the light reaches it: 1
    lit, 0 where the head itself blocks the light, between on a shadow's edge."""
    return _shadow_cells(model, light_in_head)[model.channels[_SHADOW_CELL].astype(np.intp)]


def _coarse_shadow(model: HeadModel, light_in_head: F32) -> F32:
    """Over the coarse (elevation, azimuth) grid, 1 where the light reaches the
    surface, 0 where the head itself blocks it.

    From each point of the coarse radius map, march towards the light: the point
    is shadowed where a step lands inside the head (nearer the centre than the
    surface in that direction).
    """
    rows, cols = _COARSE
    steps = _SHADOW_STEPS[:, None, None, None]
    x, y, z = (
        (model.coarse_start[i][None] + steps * np.float32(light_in_head[i])).reshape(-1, cols)
        for i in range(3)
    )  # each (steps x rows, cols)
    # Azimuth atan2(x, z) and elevation atan2(y, horizontal) by OpenCV's polar
    # conversion (accurate to a fraction of a degree, a few percent of a cell), which
    # returns angles in [0, 2 pi): those past pi are negative ones.
    horizontal, azimuth = cv2.cartToPolar(z, x)
    distance, elevation = cv2.cartToPolar(horizontal, y)
    for angle in (azimuth, elevation):
        angle -= np.float32(2 * math.pi) * (angle > math.pi)
    map_x = (azimuth + np.float32(_AZIMUTH)) * np.float32((cols - 1) / (2 * _AZIMUTH))
    map_y = (elevation - np.float32(_ELEVATION[0])) * np.float32(
        (rows - 1) / (_ELEVATION[1] - _ELEVATION[0])
    )
    surface = cv2.remap(
        model.coarse_radius,
        map_x,
        map_y,
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0.0,
    )
    inside = np.asarray(distance < surface).reshape(len(_SHADOW_STEPS), rows, cols)
    return np.logical_not(inside.any(axis=0)).astype(np.float32)


def _shadow_cells(model: HeadModel, light_in_head: F32) -> F32:
    """`_coarse_shadow` upsampled bilinearly (which softens its edge), flattened in
    the order of the `_SHADOW_CELL` channel: azimuth-major."""
    rows, cols = _COARSE
    lit = _coarse_shadow(model, light_in_head)
    fine = cv2.resize(lit.T, (rows * _SHADOW_FINE, cols * _SHADOW_FINE))
    return np.asarray(fine, np.float32).reshape(-1)


def render_head(
    model: HeadModel, turn: F32, centre: F32, light: Light, camera: Camera
) -> HeadImage | None:
    """Shade ``model`` turned by ``turn`` (head to world) at world ``centre`` and splat
    it through ``camera``. Returns ``None`` when the head is off the image or
    reaches behind the camera.

    Deferred shading: the grid's points are projected and depth-tested first, and
    only the point nearest the camera at each pixel is shaded.
    """
    to_eye = turn.T @ (camera.eye - centre)  # the camera, in the head's frame
    view_azimuth = math.atan2(float(to_eye[0]), float(to_eye[2]))
    # Only the half of the grid that faces the camera can be seen: a run of columns.
    first, last = np.searchsorted(model.azimuth, [view_azimuth - 1.75, view_azimuth + 1.75])
    window = model.channels[:, first:last].reshape(len(model.channels), -1)
    if model.extra.shape[1]:
        window = np.concatenate([window, model.extra], axis=1)
    ex, ey, ez = (np.float32(v) for v in to_eye)
    normal = window[_NORMAL]
    facing = np.flatnonzero(normal[0] * ex + normal[1] * ey + normal[2] * ez > window[_REACH])
    if len(facing) == 0:
        return None
    px, py, pz = window[0, facing], window[1, facing], window[2, facing]
    matrix, offset = camera.head_to_camera(turn, centre)
    # Camera coordinates, one row of the matrix at a time: no (n, 3) temporaries.
    depth = matrix[2, 0] * px + matrix[2, 1] * py + matrix[2, 2] * pz + offset[2]
    if float(depth.min()) <= 0.05:
        return None
    scale = np.float32(camera.focal) / depth
    x = (matrix[0, 0] * px + matrix[0, 1] * py + matrix[0, 2] * pz + offset[0]) * scale
    y = (matrix[1, 0] * px + matrix[1, 1] * py + matrix[1, 2] * pz + offset[1]) * scale
    x += np.float32(camera.width / 2)
    y += np.float32(camera.height / 2)
    left, top = math.floor(float(x.min())) - 1, math.floor(float(y.min())) - 1
    right, bottom = math.ceil(float(x.max())) + 2, math.ceil(float(y.max())) + 2
    if right <= 0 or bottom <= 0 or left >= camera.width or top >= camera.height:
        return None
    h, w = bottom - top, right - left
    pixel = (y - top).astype(np.intp) * w + (x - left).astype(np.intp)
    nearest = np.full(h * w, np.inf, np.float32)
    np.minimum.at(nearest, pixel, depth)
    seen = np.flatnonzero(depth <= nearest[pixel])
    pixel, x, y = pixel[seen], x[seen], y[seen]
    point = window[:, facing[seen]]
    light_head = (turn.T @ light.direction).astype(np.float32)
    shadow = _shadow_cells(model, light_head)[point[_SHADOW_CELL].astype(np.intp)]
    normal = point[_NORMAL]
    lambert = np.maximum(light_head @ normal, 0.0) * shadow
    # One view direction for the whole head, so one half-way vector: the head spans
    # a few degrees seen from the camera (15 at a portrait's distance), little
    # against the highlight's width (it halves 14 degrees off the half-way vector).
    halfway = light_head + to_eye.astype(np.float32) / np.float32(np.linalg.norm(to_eye))
    halfway /= np.linalg.norm(halfway)
    highlight = _shine(np.maximum(halfway @ normal, 0.0))
    spec = point[_SPECULAR] * highlight * shadow * np.float32(1.0 - light.ambient)
    irradiance = light.ambient + (1.0 - light.ambient) * lambert
    radiance = (point[_ALBEDO] * irradiance + spec) * light.colour[:, None]
    in_face = point[_FACE] > 0.5

    colour = np.zeros((h * w, 3), np.float32)
    coverage = np.zeros(h * w, np.float32)
    colour[pixel] = radiance.T
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


def _shine(cosine: F32) -> F32:
    """``cosine ** 24`` (the Blinn-Phong exponent of skin here) by squaring a cube
    three times: a float power is a transcendental call per point, the slowest step
    of shading."""
    power = cosine * cosine * cosine
    for _ in range(3):
        power *= power
    return power


def draw_head(
    face: FaceParams, turn: F32, centre: F32, light: Light, camera: Camera
) -> HeadImage | None:
    """`render_head` of ``face`` on the grid its size on the image calls for. A head
    too near for the finest grid is rendered through a camera with proportionally
    fewer pixels (at the finest grid's own density), then enlarged bilinearly."""
    depth = float(camera.project(centre[None])[2][0])
    pixels_per_metre = camera.focal / max(depth, 0.1)
    model = head_model(face, spacing_step(pixels_per_metre))
    scale = _SPACING_PX / (pixels_per_metre * 0.1) / _FINEST_STEP
    if scale >= 1.0:
        return render_head(model, turn, centre, light, camera)
    small = dataclasses.replace(
        camera,
        width=max(round(camera.width * scale), 1),
        height=max(round(camera.height * scale), 1),
        focal=camera.focal * scale,
    )
    head = render_head(model, turn, centre, light, small)
    return None if head is None else _enlarge(head, small, camera)


def _enlarge(head: HeadImage, small: Camera, camera: Camera) -> HeadImage:
    """``head`` as rendered through ``small`` (``camera`` with a shorter focal length),
    resampled onto ``camera``'s pixels. A point at ``u`` on ``camera``'s image lies
    at ``k (u - W/2) + w/2`` on ``small``'s (``k`` the ratio of focal lengths, ``W``
    and ``w`` the widths; likewise for rows)."""
    k = small.focal / camera.focal

    def full(coordinate: float, axis: int) -> float:
        return (coordinate - (small.width, small.height)[axis] / 2) / k + (
            camera.width,
            camera.height,
        )[axis] / 2

    h, w = head.rgba.shape[:2]
    top, left = math.floor(full(head.top, 1)), math.floor(full(head.left, 0))
    bottom, right = math.ceil(full(head.top + h, 1)), math.ceil(full(head.left + w, 0))
    # Inverse map: full-image pixel centre (left + x + 0.5) to small-image pixel index.
    offset_x = k * (left + 0.5 - camera.width / 2) + small.width / 2 - head.left - 0.5
    offset_y = k * (top + 0.5 - camera.height / 2) + small.height / 2 - head.top - 0.5
    matrix = np.array([[k, 0.0, offset_x], [0.0, k, offset_y]])
    size = (right - left, bottom - top)
    flags = cv2.WARP_INVERSE_MAP
    rgba = cv2.warpAffine(head.rgba, matrix, size, flags=flags | cv2.INTER_LINEAR)
    mask = cv2.warpAffine(
        head.face_mask.view(np.uint8), matrix, size, flags=flags | cv2.INTER_NEAREST
    )
    box = None
    if head.box is not None:
        box_top, box_right, box_bottom, box_left = head.box
        box = (
            int(full(box_top, 1)),
            math.ceil(full(box_right, 0)),
            math.ceil(full(box_bottom, 1)),
            int(full(box_left, 0)),
        )
    return HeadImage(top, left, np.asarray(rgba, np.float32), mask.astype(bool), box)


def _fill_holes(colour: F32, coverage: F32) -> F32:
    """Close the gaps between splatted points (``colour`` is 0 there), then soften
    the outline by a pixel.

    Steep parts of the surface (a hairline, a cap's brim) can leave gaps two
    pixels wide: the outline is closed over 5 x 5 pixels, and an uncovered pixel
    takes the mean colour of its covered 3 x 3 neighbours, twice over.

    Returns premultiplied RGBA.
    """
    closed = cv2.morphologyEx(coverage, cv2.MORPH_CLOSE, _CLOSING)
    for _ in range(2):
        # Colour sums and covered-neighbour counts; a hole with neighbours takes the
        # sum over their count (colour is 0 there, so adding it in fills it).
        sums = np.asarray(cv2.blur(colour, (3, 3)), np.float32)
        count = np.asarray(cv2.blur(coverage, (3, 3)), np.float32)
        fill = (coverage == 0) & (count > 0)
        weight = np.divide(fill, count, out=np.zeros_like(count), where=fill)
        colour += sums * weight[..., None]
        coverage += fill
    alpha = cv2.GaussianBlur(closed, (3, 3), 0.6)
    return np.asarray(cv2.merge([*cv2.split(colour * alpha[..., None]), alpha]), np.float32)


_CLOSING = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
