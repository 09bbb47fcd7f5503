"""The camera and its world: perspective, light, backgrounds, bodies, exposure.

The world has x to the right, y up and z away from a camera mounted ``mount``
metres above the ground and tilted down by ``tilt``. Backgrounds are a wall
behind a floor, textured per scene type in world metres (so the texture shrinks
with distance as it should) with clutter standing on the floor. The camera
records radiance x light level: in dim light its exposure time grows (up to
`_MAX_EXPOSURE_S`, lengthening motion blur), then its gain (up to ``max_gain``,
amplifying read and shot noise); it encodes with a gamma curve and compresses
each frame as a JPEG of the configured quality before the video codec.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt
from scipy import constants

from ._camera import F32, Camera
from ._faces import FaceParams, Light

SCENE_TYPES = ("street", "station", "gate")
# Daylight exposure and the longest the camera will expose (seconds).
_DAY_EXPOSURE_S = 1 / 250
_MAX_EXPOSURE_S = 1 / 60
# Grey level of a white surface (reflectance 1) in full light, in linear units.
_WHITE_DN = 220.0
# Grey levels per photo-electron: shot noise variance is this times the signal.
_DN_PER_ELECTRON = 0.03
_GAMMA = 1 / 2.2
# Middle grey, photography's 18%: where a camera metering on a face places the
# face's mean luminance, as a share of full scale (grey level 117 after the gamma).
_FACE_GREY = 0.18
_LUMA = np.array([0.299, 0.587, 0.114])
_WAVELENGTHS_NM = np.array([610.0, 550.0, 465.0])  # R, G, B
_WHITE_K = 6500.0
# Pixels kept beyond the image's edge, so that motion blur smears in what lies there.
_MARGIN = 24


def colour_of_temperature(kelvin: float) -> F32:
    """Linear RGB of black-body light at ``kelvin`` relative to 6500 K, unit luminance.

    Examples
    --------
    >>> rgb = colour_of_temperature(3000.0)
    >>> bool(rgb[0] > rgb[1] > rgb[2]), round(float(rgb @ _LUMA), 6)
    (True, 1.0)
    """
    hc_k = constants.h * constants.c / constants.k
    metres = _WAVELENGTHS_NM * 1e-9

    def planck(t: float) -> npt.NDArray[np.float64]:
        return 1.0 / (metres**5 * np.expm1(hc_k / (metres * t)))

    rgb = planck(kelvin) / planck(_WHITE_K)
    return (rgb / (rgb @ _LUMA)).astype(np.float32)


def make_light(
    level: float, elevation_deg: float, azimuth_deg: float, temperature_k: float, ambient: float
) -> Light:
    """The light of a scene. Azimuth 0 is a light behind the camera (faces walking
    towards it are lit from the front); positive azimuths move it to the right."""
    el, az = math.radians(elevation_deg), math.radians(azimuth_deg)
    direction = np.array(
        [math.sin(az) * math.cos(el), math.sin(el), -math.cos(az) * math.cos(el)], np.float32
    )
    return Light(direction, colour_of_temperature(temperature_k), ambient, level)


_WALL_Z = {"street": 11.0, "station": 8.0, "gate": 10.0}


@functools.lru_cache(maxsize=len(SCENE_TYPES))
def _surfaces(kind: str, camera: Camera) -> tuple[npt.NDArray[np.bool_], F32, F32, F32, F32]:
    """Where each pixel's ray meets the scene of type ``kind``: whether on the wall,
    and the wall's (x, y) or the floor's (x, z) there, in metres (0 for the other).
    The same for every scene of a kind, so computed once."""
    rays = camera.rays()
    mount = camera.mount
    with np.errstate(divide="ignore", invalid="ignore"):
        t_wall = _WALL_Z[kind] / rays[..., 2]
        wall_y = mount + t_wall * rays[..., 1]
        on_wall = (rays[..., 2] > 0) & (wall_y >= 0.0)
        t_floor = mount / -rays[..., 1]
    wall_x = np.where(on_wall, t_wall * rays[..., 0], 0.0).astype(np.float32)
    wall_y = np.where(on_wall, wall_y, 0.0).astype(np.float32)
    floor_x = np.where(on_wall, 0.0, t_floor * rays[..., 0]).astype(np.float32)
    floor_z = np.where(on_wall, 0.0, t_floor * rays[..., 2]).astype(np.float32)
    for array in (on_wall, wall_x, wall_y, floor_x, floor_z):
        array.flags.writeable = False
    return on_wall, wall_x, wall_y, floor_x, floor_z


def background(kind: str, camera: Camera, light: Light, rng: np.random.Generator) -> F32:
    """A lit background of scene type ``kind`` (radiance at daylight level, linear RGB)."""
    on_wall, wall_x, wall_y, floor_x, floor_z = _surfaces(kind, camera)
    wall_z = _WALL_Z[kind]
    palette = rng.uniform(0.0, 1.0, (64, 3)).astype(np.float32)
    wall = _WALLS[kind](wall_x, wall_y, palette, rng)
    floor = _FLOORS[kind](floor_x, floor_z, palette, rng)
    albedo = np.where(on_wall[..., None], wall, floor)
    # Fine grain and slow shading variation: no surface is perfectly uniform.
    height, width = albedo.shape[:2]
    grain = rng.standard_normal((height, width), dtype=np.float32) * np.float32(0.04)
    # White noise (sd 0.5) blurred over 25 pixels, made on a grid 8 times coarser (a
    # field that smooth loses nothing): there a cell is the mean of 8 x 8 pixels'
    # noise, whose standard deviation is 8 times smaller, and the blur's sigma is too.
    small = rng.standard_normal((height // 8, width // 8), dtype=np.float32) * np.float32(0.5 / 8)
    slow = cv2.resize(
        cv2.GaussianBlur(small, (0, 0), 25 / 8, borderType=cv2.BORDER_REFLECT),
        (width, height),
        interpolation=cv2.INTER_LINEAR,
    )
    albedo = albedo * (1.0 + grain + slow)[..., None]
    _clutter(albedo, kind, camera, wall_z, palette, rng)
    up = light.ambient + (1 - light.ambient) * max(0.0, float(light.direction[1]))
    facing = light.ambient + (1 - light.ambient) * max(0.0, float(-light.direction[2]))
    irradiance = np.where(on_wall, facing, up).astype(np.float32)
    return np.clip(albedo, 0.0, 1.0) * irradiance[..., None] * light.colour


_Texture = Callable[[F32, F32, F32, np.random.Generator], F32]


def _grid(x: F32, size: float, joint: float) -> tuple[F32, npt.NDArray[np.bool_]]:
    """Cell index and whether a point lies on a joint line of a grid of ``size``."""
    cell = np.floor(x / size)
    return cell, (x / size - cell) < joint / size


def _street_wall(x: F32, y: F32, palette: F32, rng: np.random.Generator) -> F32:
    row, mortar_row = _grid(y, 0.075, 0.01)
    col, mortar_col = _grid(x + (row % 2) * 0.11, 0.22, 0.012)
    shade = 0.85 + 0.3 * np.sin(row * 12.9898 + col * 78.233) ** 2
    brick = np.array([0.45, 0.22, 0.15], np.float32) * shade[..., None]
    albedo = np.where((mortar_row | mortar_col)[..., None], np.float32(0.55), brick)
    bay, within = _grid(x, 3.2, 1.6)
    window = (~within) & (y > 1.0) & (y < 2.6) | (~within) & (y > 3.6) & (y < 5.0)
    frame = window & ((np.abs((x / 3.2 - bay) * 3.2 - 2.4) > 0.75) | (np.abs(y - 1.8) > 0.75))
    glass = palette[(bay.astype(np.intp) % 64)] * 0.15
    albedo = np.where(window[..., None], glass, albedo)
    return np.where(
        (frame & window & ~(np.abs(y - 4.3) < 0.65))[..., None], np.float32(0.8), albedo
    )


def _station_wall(x: F32, y: F32, palette: F32, rng: np.random.Generator) -> F32:
    _, grout_y = _grid(y, 0.15, 0.008)
    _, grout_x = _grid(x, 0.15, 0.008)
    albedo = np.where((grout_x | grout_y)[..., None], np.float32(0.45), np.float32(0.78))
    albedo = np.broadcast_to(albedo, (*x.shape, 3)).copy()
    band = (y > 1.1) & (y < 1.35)
    albedo[band] = palette[0] * 0.6
    poster, within = _grid(x, 4.0, 1.6)
    board = within & (y > 1.6) & (y < 3.0)
    stripes = (np.sin(y * 40 + poster) > 0.3) & (y > 2.4)
    colour = palette[(poster.astype(np.intp) % 63) + 1]
    albedo = np.where(board[..., None], np.where(stripes[..., None], 0.9, colour), albedo)
    return albedo


def _gate_wall(x: F32, y: F32, palette: F32, rng: np.random.Generator) -> F32:
    sky = np.float32(0.9) - 0.04 * y[..., None]
    building = (y < 6.0) & (np.sin(x * 0.7) > -0.3)
    albedo = np.where(building[..., None], np.array([0.5, 0.5, 0.52], np.float32), sky)
    _, bar = _grid(x, 0.14, 0.035)
    fence = (bar & (y < 2.4)) | (np.abs(y - 2.3) < 0.04) | (np.abs(y - 0.2) < 0.04)
    return np.where(fence[..., None], np.float32(0.08), albedo)


def _slab_floor(size: float, light: float, dark: float) -> _Texture:
    def floor(x: F32, z: F32, palette: F32, rng: np.random.Generator) -> F32:
        cx, joint_x = _grid(x, size, 0.012)
        cz, joint_z = _grid(z, size, 0.012)
        shade = np.where((cx + cz) % 2 == 0, light, dark)
        shade = np.where(joint_x | joint_z, 0.25, shade)
        return np.repeat(shade[..., None], 3, axis=-1).astype(np.float32)

    return floor


def _gate_floor(x: F32, z: F32, palette: F32, rng: np.random.Generator) -> F32:
    albedo = np.full((*x.shape, 3), 0.42, np.float32)
    lines = (np.abs(np.abs(x) - 1.5) < 0.05) | (np.abs(z - 7.0) < 0.06)
    albedo[lines] = np.array([0.75, 0.6, 0.05], np.float32)
    return albedo


_WALLS = {"street": _street_wall, "station": _station_wall, "gate": _gate_wall}
_FLOORS = {
    "street": _slab_floor(0.6, 0.4, 0.36),
    "station": _slab_floor(0.5, 0.62, 0.48),
    "gate": _gate_floor,
}


def _clutter(
    albedo: F32, kind: str, camera: Camera, wall_z: float, palette: F32, rng: np.random.Generator
) -> None:
    """Objects standing on the floor (posts, bins, benches, pillars, turnstiles),
    drawn far to near as boxes in perspective."""
    count = {"street": 6, "station": 5, "gate": 4}[kind]
    depth = np.sort(rng.uniform(wall_z * 0.55, wall_z - 0.3, count))[::-1]
    for z in depth:
        half_view = z * camera.width / 2 / camera.focal
        x = rng.uniform(-half_view, half_view)
        width, height = {
            "street": (0.12, 3.5) if rng.random() < 0.5 else (0.6, 1.0),
            "station": (0.7, 4.0) if rng.random() < 0.5 else (1.8, 0.5),
            "gate": (0.3, 1.1),
        }[kind]
        corners = np.array(
            [
                [x - width / 2, 0, z],
                [x + width / 2, 0, z],
                [x + width / 2, height, z],
                [x - width / 2, height, z],
            ],
            np.float32,
        )
        px, py, d = camera.project(corners)
        if (d <= 0).any():
            continue
        polygon = np.stack([px, py], axis=1).round().astype(np.int32)
        colour = palette[int(rng.integers(0, 64))] * 0.5 + 0.1
        cv2.fillConvexPoly(albedo, polygon, colour.tolist())


@dataclass(frozen=True)
class Body:
    """Where a walker is and how they hold their head, in one frame."""

    head: F32  # head centre, world metres
    body_yaw: float  # the way the torso faces (radians; 0 = away from the camera)
    turn: F32  # head to world rotation


def body_outline(
    face: FaceParams, body: Body, camera: Camera, light: Light
) -> list[tuple[F32, F32]] | None:
    """Legs, torso, arms and neck of a walker as boxes in perspective, shaded by how
    the torso faces the light: each part's corners on the image and its radiance,
    far parts first; ``None`` when the body reaches behind the camera."""
    c, s = math.cos(body.body_yaw), math.sin(body.body_yaw)
    turn = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]], np.float32)
    standing = float(body.head[1])
    skin = face.skin_colour
    cloth = face.clothing_colour
    parts = [  # box corners below the head centre in the body's frame, and albedo
        (((-0.14, -0.85, -0.08), (0.14, -standing, 0.08)), cloth * 0.4 + 0.05),
        (((-0.17, -0.9, -0.1), (0.17, -0.22, 0.1)), cloth),
        (((-0.23, -0.9, -0.05), (-0.16, -0.24, 0.05)), cloth * 0.9),
        (((0.16, -0.9, -0.05), (0.23, -0.24, 0.05)), cloth * 0.9),
        (((-0.045, -0.23, -0.05), (0.045, -0.08, 0.03)), skin * 0.8),
    ]
    facing = float(turn[:, 2] @ light.direction)
    shade = light.ambient + (1 - light.ambient) * (0.15 + 0.7 * max(0.0, facing))
    corners = np.array(
        [
            [x, y, z]
            for (low, high), _ in parts
            for x in (low[0], high[0])
            for y in (low[1], high[1])
            for z in (low[2], high[2])
        ],
        np.float32,
    )
    px, py, depth = camera.project(corners @ turn.T + body.head)
    if (depth <= 0.05).any():
        return None
    points = np.stack([px, py], axis=1).reshape(len(parts), 8, 2)
    return [
        (part, (albedo * shade * light.colour).astype(np.float32))
        for part, (_, albedo) in zip(points, parts, strict=True)
    ]


def draw_walker(
    outline: list[tuple[F32, F32]] | None, head: Layer | None, camera: Camera
) -> Layer | None:
    """A walker's body (from `body_outline`) with the head laid over it, on one
    layer cut to the image and a margin for motion blur; ``None`` when nothing of
    it lies there."""
    extents = []
    if head is not None:
        height, width = head.rgba.shape[:2]
        extents.append((head.left, head.top, head.left + width, head.top + height))
    if outline is not None:
        every = np.concatenate([points for points, _ in outline])
        low, high = np.floor(every.min(axis=0)) - 1, np.ceil(every.max(axis=0)) + 2
        extents.append((int(low[0]), int(low[1]), int(high[0]), int(high[1])))
    if not extents:
        return None
    left = max(min(e[0] for e in extents), -_MARGIN)
    top = max(min(e[1] for e in extents), -_MARGIN)
    right = min(max(e[2] for e in extents), camera.width + _MARGIN)
    bottom = min(max(e[3] for e in extents), camera.height + _MARGIN)
    if right <= left or bottom <= top:
        return None
    rgba = np.zeros((bottom - top, right - left, 4), np.float32)
    if outline is not None:
        # Parts are drawn in order, nearer ones over farther, in colour with alpha 1
        # throughout; the outline is smoothed on a coverage mask that then scales
        # all four channels (premultiplying the colour).
        rgba[..., 3] = 1.0
        cover = np.zeros((bottom - top, right - left), np.uint8)
        for points, radiance in outline:
            hull = cv2.convexHull((points - [left, top]).round().astype(np.int32))
            cv2.fillConvexPoly(rgba, hull, [*radiance.tolist(), 1.0])
            cv2.fillConvexPoly(cover, hull, 255, cv2.LINE_AA)
        alpha = cover.astype(np.float32) / np.float32(255.0)
        cv2.multiply(rgba, cv2.merge([alpha] * 4), dst=rgba)
    if head is not None:
        composite(rgba, head.top - top, head.left - left, head.rgba)
    return Layer(top, left, rgba)


@dataclass(frozen=True)
class Layer:
    """Premultiplied RGBA ``(h, w, 4)`` placed with its corner at ``(top, left)``."""

    top: int
    left: int
    rgba: F32


def motion_blur(layer: Layer, motion: tuple[float, float]) -> Layer:
    """Smear a layer along ``motion`` (pixels moved during the exposure)."""
    length = math.hypot(*motion)
    if length < 1.0:
        return layer
    # The kernel spans the motion's own extent on each axis (not a square around it):
    # OpenCV switches to a far slower DFT for kernels of about 12 x 12 and more.
    width, height = (math.ceil(abs(m)) | 1 for m in motion)
    kernel = np.zeros((height, width), np.float32)
    cx, cy = width // 2, height // 2
    start = (round(cx - motion[0] / 2), round(cy - motion[1] / 2))
    end = (round(cx + motion[0] / 2), round(cy + motion[1] / 2))
    cv2.line(kernel, start, end, 1.0, 1)
    kernel /= kernel.sum()
    padded = cv2.copyMakeBorder(layer.rgba, cy, cy, cx, cx, cv2.BORDER_CONSTANT, value=0)
    blurred = np.asarray(cv2.filter2D(padded, -1, kernel), np.float32)
    return Layer(layer.top - cy, layer.left - cx, blurred)


def composite(dest: F32, top: int, left: int, rgba: F32) -> tuple[int, int, npt.NDArray[np.bool_]]:
    """Lay premultiplied ``rgba`` over ``dest`` (3 or 4 channels) in place, clipped
    to it; returns where the layer is mostly opaque: the row and column of ``dest``
    where the region it covers begins, and a mask over that region."""
    height, width, channels = dest.shape
    h, w = rgba.shape[:2]
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + h, height), min(left + w, width)
    if y1 <= y0 or x1 <= x0:
        return 0, 0, np.zeros((0, 0), bool)
    source = rgba[y0 - top : y1 - top, x0 - left : x1 - left]
    region = dest[y0:y1, x0:x1]
    # OpenCV's per-element arithmetic works in place on the view, several times
    # faster than numpy broadcasting the alpha over the channels; its channel
    # extraction gives contiguous planes, which it would otherwise copy slowly.
    alpha = cv2.extractChannel(source, 3)
    colour = source if channels == 4 else cv2.cvtColor(source, cv2.COLOR_RGBA2RGB)
    cv2.multiply(region, cv2.merge([1.0 - alpha] * channels), dst=region)
    cv2.add(region, colour, dst=region)
    return y0, x0, alpha > 0.5


def exposure(level: float, max_gain: float) -> tuple[float, float]:
    """Exposure time (seconds) and gain the camera picks for light ``level``: it
    lengthens the exposure first, then raises the gain, each up to its limit."""
    need = 1.0 / level
    stretch = min(need, _MAX_EXPOSURE_S / _DAY_EXPOSURE_S)
    return _DAY_EXPOSURE_S * stretch, min(need / stretch, max_gain)


def face_metered_level(radiance: F32, face_pixels: npt.NDArray[np.intp], level: float) -> float:
    """The light level a camera that meters on the face (a portrait camera's face
    priority, or a photographer's spot meter) sets its exposure for: the one at
    which the face's mean luminance records as middle grey, `_FACE_GREY` of full
    scale. ``face_pixels`` are flat indices into ``radiance`` (linear RGB at
    daylight), lit at ``level``."""
    luminance = float((radiance.reshape(-1, 3)[face_pixels] @ _LUMA).mean())
    return level * luminance * _WHITE_DN / (_FACE_GREY * 255.0)


class Sensor:
    """The camera's sensor and encoder for the frames of one render (or one photo).

    Sensor noise: drawing a fresh normal field per frame is the slowest step of a
    frame, so a sensor draws ``fields`` standard normal fields a little larger than
    the frame, and each frame takes one of them at a random offset, with a random
    sign: within a frame the noise is independent per pixel and channel; successive
    frames share shifted copies, which no per-frame detector can see. The working
    arrays are kept from frame to frame rather than allocated anew.
    """

    def __init__(
        self, shape: tuple[int, int], rng: np.random.Generator, *, fields: int = 4, margin: int = 32
    ) -> None:
        height, width = shape
        self._shape = shape
        self._margin = margin
        self._fields = rng.standard_normal(
            (fields, height + margin, width + margin, 3), dtype=np.float32
        )
        self._signal = np.empty((height, width, 3), np.float32)
        self._sigma = np.empty((height, width, 3), np.float32)
        self._codes = np.empty((height, width, 3), np.uint16)
        self._encoded = np.empty((height, width, 3), np.uint8)

    def record(
        self,
        radiance: F32,
        level: float,
        rng: np.random.Generator,
        *,
        read_noise: float,
        max_gain: float,
        quality: int,
        metered: float | None = None,
    ) -> npt.NDArray[np.uint8]:
        """What the camera writes for scene ``radiance`` (linear RGB at daylight)
        under light ``level``: exposure, shot and read noise (a field drawn with
        ``rng``), gain, gamma, 8 bits, JPEG (BGR). The exposure is set for light
        ``metered`` (by default ``level``: the camera meters the whole scene)."""
        seconds, gain = exposure(level if metered is None else metered, max_gain)
        signal, sigma = self._signal, self._sigma
        electrons = level * seconds / _DAY_EXPOSURE_S * _WHITE_DN  # grey levels per radiance
        to_codes = gain / 255.0 * 4095.0
        # Shot noise variance grows with the signal; read noise is the floor. OpenCV
        # does each step in one pass, with its scalars folded in.
        cv2.addWeighted(radiance, electrons * _DN_PER_ELECTRON, radiance, 0.0, read_noise**2, sigma)
        cv2.sqrt(sigma, sigma)
        field, dy, dx = (
            int(v) for v in rng.integers(0, [len(self._fields), self._margin, self._margin])
        )
        height, width = self._shape
        sign = 1.0 if rng.random() < 0.5 else -1.0
        noise = self._fields[field, dy : dy + height, dx : dx + width]
        cv2.multiply(sigma, noise, sigma, scale=sign * to_codes)
        cv2.scaleAdd(radiance, electrons * to_codes, sigma, signal)
        np.clip(signal, 0.0, 4095.0, out=signal)
        # Gamma encoding through a 12-bit table, as a camera's image processor does.
        np.copyto(self._codes, signal, casting="unsafe")
        np.take(_ENCODE_TABLE, self._codes, out=self._encoded)
        bgr = cv2.cvtColor(self._encoded, cv2.COLOR_RGB2BGR)
        ok, jpeg = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise RuntimeError("OpenCV could not encode a JPEG")
        decoded = cv2.imdecode(jpeg, cv2.IMREAD_COLOR)
        if decoded is None:
            raise RuntimeError("OpenCV could not decode its own JPEG")
        return np.asarray(decoded, np.uint8)


_ENCODE_TABLE = np.round(255.0 * np.linspace(0.0, 1.0, 4096) ** _GAMMA).astype(np.uint8)
