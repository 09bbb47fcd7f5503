"""Rendered camera scenes: people walking towards a camera, with ground truth per frame.

`render_video` writes, into a directory, one MP4 per scene, ``ground_truth.csv``
(one row per visible face and frame: its box, height in pixels, the head's yaw,
pitch and roll as the camera sees it, distance, the share of the face not hidden
by someone nearer, and the scene's light), ``persons.csv`` (who was rendered,
their attributes, skin reflectance and what they wear), ``faces.json`` (each
identity's head parameters) and one enrollment portrait per person (frontal,
even light, no cap or mask).
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from riskclass import (
    DataError,
    Scenario,
    Stream,
    VideoLight,
    VideoSettings,
    resolve_by_group,
    rng_for,
)

from ._camera import F32, Camera
from ._faces import FaceParams, Light, draw_head, rotation
from ._population import generate_population
from ._scene import (
    Body,
    Layer,
    Sensor,
    background,
    body_outline,
    composite,
    draw_walker,
    exposure,
    face_metered_level,
    make_light,
    motion_blur,
)

GROUND_TRUTH = "ground_truth.csv"
PERSONS = "persons.csv"
FACES = "faces.json"
ENROLL_DIR = "enroll"
SCENES_DIR = "scenes"
TRUTH_COLUMNS = (
    "video",
    "scene",
    "lighting",
    "light",
    "frame",
    "person_id",
    "top",
    "right",
    "bottom",
    "left",
    "face_px",
    "yaw_deg",
    "pitch_deg",
    "roll_deg",
    "distance_m",
    "visible",
)
_DEFAULT_REFLECTANCE = 0.3
_PORTRAIT_PX = 400
_PORTRAIT_FACE_PX = 170
_PORTRAIT_NOISE = 1.0
# The backdrop's reflectance: 18% grey, as NIST's Best Practice Recommendation for
# the Capture of Mugshots (1997) and ANSI/NIST-ITL 1-2011 Annex E ask. A brighter
# one (it was 0.55) clips to white behind a dark face once the camera exposes for
# the face, and its outline then dominates the detector's gradient features.
_PORTRAIT_BACKDROP = 0.18
_PORTRAIT_QUALITY = 95
_FOURCC = "mp4v"
# Walkers: head-centre height (metres, mean and sd), speed (m/s), how long a
# head turn lasts (seconds) and steps per second (the head bobs with each).
_HEAD_HEIGHT = (1.58, 0.07)
_SPEED = (1.0, 1.5)
_TURN_SECONDS = 0.6
_STEP_HZ = 1.8
# A face counts as present when at least this share of it is not hidden.
_MIN_VISIBLE = 0.5


@dataclasses.dataclass(frozen=True)
class VideoSummary:
    """What `render_video` wrote."""

    scenes: int
    frames: int
    faces: int
    persons: int
    seconds: float


def render_video(
    scenario: Scenario,
    out: Path,
    *,
    progress: Callable[[str, int, int], None] | None = None,
) -> VideoSummary:
    """Render the scenes of ``scenario.video`` into the (empty, staged) directory ``out``."""
    started = time.perf_counter()
    settings = scenario.video
    population = generate_population(scenario)
    rng = rng_for(scenario.seed, Stream.VIDEO, 0)
    chosen = np.sort(
        rng.choice(len(population), size=min(settings.persons, len(population)), replace=False)
    )
    persons = population.iloc[chosen].reset_index(drop=True)
    reflectance = resolve_by_group(settings.skin_reflectance, persons, default=_DEFAULT_REFLECTANCE)
    wear = {
        name: resolve_by_group(getattr(settings, name), persons, default=0.0)
        for name in ("cap", "mask", "glasses")
    }
    faces = {
        int(pid): FaceParams.sample(
            rng_for(scenario.seed, Stream.VIDEO, 1, int(pid)),
            float(reflectance[i]),
            cap=wear["cap"][i],
            mask=wear["mask"][i],
            glasses=wear["glasses"][i],
        )
        for i, pid in enumerate(persons["person_id"])
    }
    attributes = list(scenario.population.attributes)
    table = persons[["person_id", *attributes]].assign(
        skin_reflectance=reflectance,
        **{name: [getattr(faces[int(p)], name) for p in persons["person_id"]] for name in wear},
    )
    table.to_csv(out / PERSONS, index=False)
    (out / FACES).write_text(
        json.dumps({str(k): v.as_dict() for k, v in faces.items()}, indent=1), encoding="utf-8"
    )
    (out / ENROLL_DIR).mkdir()
    for pid, face in faces.items():
        write_portrait(
            out / ENROLL_DIR / f"{pid}.png", face, rng_for(scenario.seed, Stream.VIDEO, 2, pid)
        )
    (out / SCENES_DIR).mkdir()
    camera = Camera.looking(
        settings.width,
        settings.height,
        settings.fov_deg,
        settings.camera_height_m,
        settings.camera_tilt_deg,
    )
    # One sensor for every scene: its noise fields are drawn once per render.
    sensor = Sensor((settings.height, settings.width), rng_for(scenario.seed, Stream.VIDEO, 4))
    rows: list[tuple[object, ...]] = []
    total = len(settings.lighting) * settings.scenes_per_lighting
    ids = np.array(sorted(faces))
    scene_index = 0
    for lighting, light in settings.lighting.items():
        for _ in range(settings.scenes_per_lighting):
            scene_rng = rng_for(scenario.seed, Stream.VIDEO, 3, scene_index)
            kind = settings.scene_types[scene_index % len(settings.scene_types)]
            name = f"{scene_index:03d}_{lighting}.mp4"
            walkers = scene_rng.choice(ids, size=min(settings.lanes, len(ids)), replace=False)
            rows += _render_scene(
                out / SCENES_DIR / name,
                settings,
                camera,
                (lighting, light),
                kind,
                [(int(w), faces[int(w)]) for w in walkers],
                sensor,
                scene_rng,
            )
            scene_index += 1
            if progress is not None:
                progress("render", scene_index, total)
    truth = pd.DataFrame(rows, columns=list(TRUTH_COLUMNS))
    truth.to_csv(out / GROUND_TRUTH, index=False)
    return VideoSummary(
        total, total * settings.frames, len(truth), len(faces), time.perf_counter() - started
    )


def scene_light(light: VideoLight) -> Light:
    """The renderer's light for a configured lighting condition."""
    return make_light(
        light.level, light.elevation_deg, light.azimuth_deg, light.temperature_k, light.ambient
    )


def write_portrait(
    path: Path,
    face: FaceParams,
    rng: np.random.Generator,
    *,
    yaw_deg: float = 0.0,
    light_azimuth_deg: float = 0.0,
) -> None:
    """An ID photo: frontal, large, evenly lit, on a plain 18% grey backdrop, no cap
    or mask, exposed for the face (as ID-photo standards ask: neither under- nor
    over-exposed, whatever the skin). ``yaw_deg`` turns the head and
    ``light_azimuth_deg`` moves the light, for another capture of the same person
    (enrollment portraits use neither)."""
    face = dataclasses.replace(face, cap=False, mask=False)
    camera = Camera.looking(_PORTRAIT_PX, _PORTRAIT_PX, 30.0, _HEAD_HEIGHT[0], 0.0)
    distance = camera.focal * face.box_height_m / _PORTRAIT_FACE_PX
    light = make_light(1.0, 20.0, light_azimuth_deg, 5500.0, 0.5)
    head = np.array([0.0, _HEAD_HEIGHT[0], distance], np.float32)
    frame = np.empty((_PORTRAIT_PX, _PORTRAIT_PX, 3), np.float32)
    frame[:] = _PORTRAIT_BACKDROP * light.colour
    turn = rotation(math.pi + math.radians(yaw_deg), 0.0, 0.0)
    _, face_pixels, _ = _draw_walker(
        frame, face, Body(head, math.pi, turn), camera, light, (0.0, 0.0)
    )
    image = Sensor((_PORTRAIT_PX, _PORTRAIT_PX), rng, fields=1).record(
        frame,
        1.0,
        rng,
        read_noise=_PORTRAIT_NOISE,
        max_gain=1.0,
        quality=_PORTRAIT_QUALITY,
        metered=face_metered_level(frame, face_pixels, 1.0),
    )
    if not cv2.imwrite(str(path), image):
        raise DataError(f"{path}: could not write the enrollment portrait")


def _draw_walker(
    frame: F32,
    face: FaceParams,
    body: Body,
    camera: Camera,
    light: Light,
    motion: tuple[float, float],
) -> tuple[tuple[int, int, int, int] | None, np.ndarray, tuple[int, int, np.ndarray]]:
    """Body and head, smeared by ``motion``, over ``frame``: the face box (or
    ``None``), the flat frame indices of the face's pixels, and where the walker
    covers the frame (as `composite` returns it)."""
    height, width = frame.shape[:2]
    head = draw_head(face, body.turn, body.head, light, camera)
    box, face_pixels = None, np.zeros(0, np.intp)
    if head is not None:
        box = head.box
        ys, xs = np.nonzero(head.face_mask)
        ys, xs = ys + head.top, xs + head.left
        inside = (ys >= 0) & (ys < height) & (xs >= 0) & (xs < width)
        face_pixels = ys[inside] * width + xs[inside]
    walker = draw_walker(
        body_outline(face, body, camera, light),
        None if head is None else Layer(head.top, head.left, head.rgba),
        camera,
    )
    if walker is None:
        return None, face_pixels, (0, 0, np.zeros((0, 0), bool))
    walker = motion_blur(walker, motion)
    return box, face_pixels, composite(frame, walker.top, walker.left, walker.rgba)


@dataclasses.dataclass(frozen=True)
class _Walk:
    """One walker's path through a scene."""

    person_id: int
    face: FaceParams
    middle: F32  # ground position (x, z) halfway through the clip
    velocity: F32  # (x, z) metres per second
    head_height: float
    step_phase: float
    turns: F32  # (frames, 3): head yaw, pitch, roll around the body's (radians)


def _walks(
    settings: VideoSettings,
    camera: Camera,
    walkers: list[tuple[int, FaceParams]],
    rng: np.random.Generator,
) -> list[_Walk]:
    """Paths towards the camera, placed so that faces span ``settings.face_px``
    around the middle of the clip, with heads turning as people look around."""
    memory = math.exp(-1.0 / (settings.fps * _TURN_SECONDS))
    spread = math.radians(settings.head_turn_deg) * np.array([1.0, 0.3, 0.2])
    walks = []
    for person_id, face in walkers:
        near = camera.focal * face.box_height_m / settings.face_px[1]
        far = camera.focal * face.box_height_m / settings.face_px[0]
        depth = rng.uniform(near, far)
        half_view = depth * settings.width / 2 / camera.focal
        heading = math.radians(rng.uniform(-settings.max_heading_deg, settings.max_heading_deg))
        speed = rng.uniform(*_SPEED)
        turns = np.empty((settings.frames, 3), np.float32)
        turns[0] = rng.normal(0.0, spread)
        for frame in range(1, settings.frames):
            step = rng.normal(0.0, spread * math.sqrt(1 - memory**2))
            turns[frame] = memory * turns[frame - 1] + step
        walks.append(
            _Walk(
                person_id,
                face,
                np.array([rng.uniform(-0.7, 0.7) * half_view, depth], np.float32),
                speed * np.array([math.sin(heading), -math.cos(heading)], np.float32),
                rng.normal(*_HEAD_HEIGHT),
                rng.uniform(0, 2 * math.pi),
                turns,
            )
        )
    return walks


def _render_scene(
    path: Path,
    settings: VideoSettings,
    camera: Camera,
    lighting: tuple[str, VideoLight],
    kind: str,
    walkers: list[tuple[int, FaceParams]],
    sensor: Sensor,
    rng: np.random.Generator,
) -> list[tuple[object, ...]]:
    name, configured = lighting
    light = scene_light(configured)
    width, height = settings.width, settings.height
    fourcc = cv2.VideoWriter_fourcc(*_FOURCC)  # type: ignore[attr-defined]
    writer = cv2.VideoWriter(str(path), fourcc, settings.fps, (width, height))
    if not writer.isOpened():
        raise DataError(f"{path}: OpenCV cannot write {_FOURCC} video here")
    backdrop = background(kind, camera, light, rng)
    frame = np.empty_like(backdrop)
    walks = _walks(settings, camera, walkers, rng)
    seconds, _ = exposure(light.level, settings.max_gain)
    middle_time = (settings.frames - 1) / 2 / settings.fps
    rows: list[tuple[object, ...]] = []
    try:
        for frame_index in range(settings.frames):
            clock = frame_index / settings.fps
            np.copyto(frame, backdrop)
            placed = []
            for walk in walks:
                ground = walk.middle + walk.velocity * (clock - middle_time)
                bob = 0.015 * abs(math.sin(math.pi * _STEP_HZ * clock + walk.step_phase))
                head = np.array([ground[0], walk.head_height + bob, ground[1]], np.float32)
                body_yaw = math.atan2(float(walk.velocity[0]), float(walk.velocity[1]))
                yaw, pitch, roll = (float(a) for a in walk.turns[frame_index])
                placed.append((walk, Body(head, body_yaw, rotation(body_yaw + yaw, pitch, roll))))
            placed.sort(key=lambda item: -float(item[1].head[2]))  # far to near
            owner = np.full((height, width), -1, np.intp)
            drawn = []
            for index, (walk, body) in enumerate(placed):
                moved = body.head + np.array([walk.velocity[0], 0.0, walk.velocity[1]]) * seconds
                xs, ys, _ = camera.project(np.stack([body.head, moved]).astype(np.float32))
                motion = (float(xs[1] - xs[0]), float(ys[1] - ys[0]))
                box, face_pixels, covered = _draw_walker(
                    frame, walk.face, body, camera, light, motion
                )
                top, left, opaque = covered
                owner[top : top + opaque.shape[0], left : left + opaque.shape[1]][opaque] = index
                drawn.append((walk, body, box, face_pixels))
            writer.write(
                sensor.record(
                    frame,
                    light.level,
                    rng,
                    read_noise=settings.sensor_noise,
                    max_gain=settings.max_gain,
                    quality=settings.jpeg_quality,
                )
            )
            for index, (walk, body, box, face_pixels) in enumerate(drawn):
                if box is None or len(face_pixels) == 0:
                    continue
                top, right, bottom, left = box
                if top < 0 or left < 0 or bottom >= height or right >= width:
                    continue
                visible = float(np.mean(owner.reshape(-1)[face_pixels] == index))
                if visible < _MIN_VISIBLE:
                    continue
                yaw, pitch, distance = _view(body, camera)
                rows.append(
                    (
                        path.name,
                        kind,
                        name,
                        configured.level,
                        frame_index,
                        walk.person_id,
                        top,
                        right,
                        bottom,
                        left,
                        bottom - top,
                        round(yaw, 2),
                        round(pitch, 2),
                        round(math.degrees(float(walk.turns[frame_index, 2])), 2),
                        round(distance, 3),
                        round(visible, 3),
                    )
                )
    finally:
        writer.release()
    return rows


def _view(body: Body, camera: Camera) -> tuple[float, float, float]:
    """How the camera sees a head: yaw (degrees the face turns away from the camera,
    signed), pitch (degrees the camera sits above the way the face points) and
    distance (metres)."""
    forward = body.turn[:, 2]
    to_camera = camera.eye - body.head
    distance = float(np.linalg.norm(to_camera))
    cross = float(forward[0] * to_camera[2] - forward[2] * to_camera[0])
    dot = float(forward[0] * to_camera[0] + forward[2] * to_camera[2])
    yaw = math.degrees(math.atan2(cross, dot))
    pitch = math.degrees(
        math.asin(float(to_camera[1]) / distance) - math.asin(float(np.clip(forward[1], -1, 1)))
    )
    return yaw, pitch, distance
