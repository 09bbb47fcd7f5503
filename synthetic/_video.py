"""Rendered camera scenes: people walking past a camera, with ground truth per frame.

`render_video` writes, into a directory, one MP4 per scene, ``ground_truth.csv``
(one row per visible face and frame), ``persons.csv`` (who was rendered, their
attributes and skin reflectance), ``faces.json`` (each identity's face
parameters) and one enrollment portrait per person under good light.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from riskclass import DataError, Scenario, Stream, VideoSettings, resolve_by_group, rng_for

from ._faces import FaceParams, background, draw_face, expose
from ._population import generate_population

GROUND_TRUTH = "ground_truth.csv"
PERSONS = "persons.csv"
FACES = "faces.json"
ENROLL_DIR = "enroll"
SCENES_DIR = "scenes"
_PORTRAIT_PX = 400
_DEFAULT_REFLECTANCE = 0.6
_PORTRAIT_FACE_PX = 170
_PORTRAIT_NOISE = 1.0
_FOURCC = "mp4v"
# Motion blur in pixels per pixel of motion per frame, at full light; exposure
# time (and so blur) grows as light falls.
_BLUR_PER_MOTION = 0.04


@dataclass(frozen=True)
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
    reflectance = np.array(
        resolve_by_group(settings.skin_reflectance, persons, default=_DEFAULT_REFLECTANCE)
    )
    faces = {
        int(pid): FaceParams.sample(rng_for(scenario.seed, Stream.VIDEO, 1, int(pid)), float(r))
        for pid, r in zip(persons["person_id"], reflectance, strict=True)
    }
    attributes = list(scenario.population.attributes)
    table = persons[["person_id", *attributes]].assign(skin_reflectance=reflectance)
    table.to_csv(out / PERSONS, index=False)
    (out / FACES).write_text(
        json.dumps({str(k): v.as_dict() for k, v in faces.items()}, indent=1), encoding="utf-8"
    )
    (out / ENROLL_DIR).mkdir()
    for pid, face in faces.items():
        _write_portrait(
            out / ENROLL_DIR / f"{pid}.png", face, rng_for(scenario.seed, Stream.VIDEO, 2, pid)
        )
    (out / SCENES_DIR).mkdir()
    rows: list[tuple[object, ...]] = []
    total = len(settings.lighting) * settings.scenes_per_lighting
    ids = np.array(sorted(faces))
    scene_index = 0
    for lighting, light in settings.lighting.items():
        for _ in range(settings.scenes_per_lighting):
            scene_rng = rng_for(scenario.seed, Stream.VIDEO, 3, scene_index)
            name = f"{scene_index:03d}_{lighting}.mp4"
            walkers = scene_rng.choice(ids, size=min(settings.lanes, len(ids)), replace=False)
            rows += _render_scene(
                out / SCENES_DIR / name,
                settings,
                light,
                lighting,
                [faces[int(w)] for w in walkers],
                walkers,
                scene_rng,
            )
            scene_index += 1
            if progress is not None:
                progress("render", scene_index, total)
    truth = pd.DataFrame(
        rows,
        columns=[
            "video",
            "lighting",
            "light",
            "frame",
            "person_id",
            "top",
            "right",
            "bottom",
            "left",
            "face_px",
        ],
    )
    truth.to_csv(out / GROUND_TRUTH, index=False)
    return VideoSummary(
        total, total * settings.frames, len(truth), len(faces), time.perf_counter() - started
    )


def _write_portrait(path: Path, face: FaceParams, rng: np.random.Generator) -> None:
    """An ID photo: frontal, large, evenly lit, on a plain light background."""
    scene = np.full((_PORTRAIT_PX, _PORTRAIT_PX, 3), 215.0, np.float32)
    draw_face(scene, face, (_PORTRAIT_PX // 2, _PORTRAIT_PX // 2), _PORTRAIT_FACE_PX)
    if not cv2.imwrite(str(path), expose(scene, 1.0, rng, noise=_PORTRAIT_NOISE)):
        raise DataError(f"{path}: could not write the enrollment portrait")


def _render_scene(
    path: Path,
    settings: VideoSettings,
    light: float,
    lighting: str,
    faces: list[FaceParams],
    person_ids: np.ndarray,
    rng: np.random.Generator,
) -> list[tuple[object, ...]]:
    width, height = settings.width, settings.height
    fourcc = cv2.VideoWriter_fourcc(*_FOURCC)  # type: ignore[attr-defined]
    writer = cv2.VideoWriter(str(path), fourcc, settings.fps, (width, height))
    if not writer.isOpened():
        raise DataError(f"{path}: OpenCV cannot write {_FOURCC} video here")
    wall = background(height, width, rng)
    lanes = len(faces)
    size = rng.uniform(settings.face_px[0], settings.face_px[1], lanes)
    direction = rng.choice([-1.0, 1.0], lanes)
    speed = rng.uniform(0.6, 1.0, lanes) * width / settings.frames
    start = np.where(
        direction > 0,
        rng.uniform(0, 0.3, lanes) * width,
        width - rng.uniform(0, 0.3, lanes) * width,
    )
    lane_y = (np.arange(lanes) + 0.5) / lanes * height * 0.8 + height * 0.05
    blur = _BLUR_PER_MOTION * float(speed.mean()) / light
    rows: list[tuple[object, ...]] = []
    try:
        for frame in range(settings.frames):
            scene = wall.copy()
            boxes = []
            for lane in range(lanes):
                x = start[lane] + direction[lane] * speed[lane] * frame
                box = draw_face(
                    scene, faces[lane], (round(x), round(lane_y[lane])), round(size[lane])
                )
                boxes.append(box)
            writer.write(expose(scene, light, rng, noise=settings.sensor_noise, blur_px=blur))
            for lane, (top, right, bottom, left) in enumerate(boxes):
                if top >= 0 and left >= 0 and bottom < height and right < width:
                    rows.append(
                        (
                            path.name,
                            lighting,
                            light,
                            frame,
                            int(person_ids[lane]),
                            top,
                            right,
                            bottom,
                            left,
                            round(size[lane]),
                        )
                    )
    finally:
        writer.release()
    return rows
