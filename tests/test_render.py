"""The video renderer's physics and contract: reflectance, shadows, perspective,
determinism and its configuration."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from riskclass import VideoLight, validate_config
from riskclass.commands import EXIT_USAGE, main, render
from riskclass.synthetic import (
    Camera,
    FaceParams,
    draw_head,
    head_model,
    make_light,
    render_head,
    rotation,
    shadow_map,
)

from .conftest import load_yaml


def _frontal_head(face: FaceParams, light_elevation: float) -> tuple[Any, Any]:
    camera = Camera.looking(200, 200, 30.0, 1.6, 0.0)
    centre = np.array([0.0, 1.6, 1.5], np.float32)
    light = make_light(1.0, light_elevation, 0.0, 6500.0, 0.3)
    model = head_model(face, 0.012)
    head = render_head(model, rotation(math.pi, 0.0, 0.0), centre, light, camera)
    assert head is not None and head.box is not None
    return head, model


def test_face_radiance_is_proportional_to_skin_reflectance() -> None:
    face = FaceParams.sample(np.random.default_rng(5), 0.2)
    dark, _ = _frontal_head(face, 30.0)
    light, _ = _frontal_head(dataclasses.replace(face, skin_reflectance=0.4), 30.0)
    solid = dark.face_mask & (dark.rgba[..., 3] > 0.999) & (light.rgba[..., 3] > 0.999)
    ratio = light.rgba[solid, :3].mean() / dark.rgba[solid, :3].mean()
    # Skin doubles; eyes, brows and lips change less, so the face falls a little short.
    assert 1.7 < ratio < 2.0, ratio


def test_brow_and_nose_cast_shadows_under_a_high_light() -> None:
    face = FaceParams.sample(np.random.default_rng(6), 0.3)
    model = head_model(face, 0.012)
    in_face = model.channels[10] > 0.5
    from_front = shadow_map(model, np.array([0.0, 0.0, 1.0], np.float32))
    from_above = shadow_map(model, np.array([0.0, 0.8, 0.6], np.float32))
    assert (from_front[in_face] < 0.5).mean() < 0.01
    assert (from_above[in_face] < 0.5).mean() > 0.03


def test_a_near_head_is_drawn_at_the_finest_grid_and_enlarged() -> None:
    # 0.5 m from a 640 x 480 camera the face is about 400 px tall: finer than the
    # finest grid, so it is drawn through a smaller camera and enlarged. It must
    # land where, and look as, the head splatted from a grid fine enough for it.
    camera = Camera.looking(640, 480, 30.0, 1.7, 2.0)
    face = FaceParams.sample(np.random.default_rng(3), 0.3)
    centre = np.array([0.05, 1.66, 0.5], np.float32)
    turn = rotation(math.pi + 0.3, 0.05, 0.0)
    light = make_light(1.0, 40.0, 20.0, 5500.0, 0.45)
    enlarged = draw_head(face, turn, centre, light, camera)
    direct = render_head(head_model(face, 0.005), turn, centre, light, camera)
    assert enlarged is not None and direct is not None
    assert enlarged.box is not None and direct.box is not None
    assert np.abs(np.subtract(enlarged.box, direct.box)).max() <= 2, (enlarged.box, direct.box)

    def on_frame(head: Any) -> Any:
        # The head reaches past the image's edges: a canvas with 300 px around it.
        frame = np.zeros((camera.height + 600, camera.width + 600, 3), np.float32)
        h, w = head.rgba.shape[:2]
        frame[head.top + 300 : head.top + 300 + h, head.left + 300 : head.left + 300 + w] = (
            head.rgba[..., :3]
        )
        return frame

    difference = np.abs(on_frame(enlarged) - on_frame(direct)).mean()
    assert difference < 0.05 * on_frame(direct).mean(), difference


def test_hair_is_no_lighter_than_the_skin_and_greys_alike_for_every_skin() -> None:
    draws = 400
    greys: list[float] = []
    for reflectance in (0.12, 0.3, 0.45):
        faces = [
            FaceParams.sample(np.random.default_rng(seed), reflectance) for seed in range(draws)
        ]
        # Black, dark brown or brown: blond (index 3) only with fair skin.
        pigments = {face.hair_colour for face in faces}
        assert pigments == ({0, 1, 2, 3} if reflectance == 0.45 else {0, 1, 2}), pigments
        greys.append(sum(face.grey for face in faces) / draws)
    # Grey comes with age, not skin: every skin's share within 3 SE of the same 15%.
    tolerance = 3 * math.sqrt(0.15 * 0.85 / draws)
    assert all(abs(share - 0.15) < tolerance for share in greys), greys


def test_perspective_face_size_falls_with_distance() -> None:
    camera = Camera.looking(640, 480, 30.0, 1.6, 0.0)
    x, y, depth = camera.project(np.array([[0.0, 1.6, 5.0], [0.0, 1.7, 5.0]], np.float32))
    assert (float(x[0]), float(y[0]), float(depth[0])) == pytest.approx((320.0, 240.0, 5.0))
    assert float(y[0] - y[1]) == pytest.approx(camera.focal * 0.1 / 5.0, rel=1e-5)


def _tiny() -> dict[str, Any]:
    data = load_yaml("video_lighting.yaml")
    data["population"]["size"] = 300
    data["video"].update(
        persons=2,
        lighting={"day": 1.0},
        scenes_per_lighting=1,
        frames=2,
        lanes=2,
        width=160,
        height=120,
        face_px=[20, 30],
    )
    return data


def _frames(path: Path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames


def test_same_config_and_seed_render_the_same(tmp_path: Path) -> None:
    scenario = validate_config(_tiny())
    render(scenario, tmp_path / "a")
    render(scenario, tmp_path / "b")
    for name in ("ground_truth.csv", "persons.csv", "faces.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    for portrait in (tmp_path / "a" / "enroll").iterdir():
        assert portrait.read_bytes() == (tmp_path / "b" / "enroll" / portrait.name).read_bytes()
    first = _frames(tmp_path / "a" / "scenes" / "000_day.mp4")
    second = _frames(tmp_path / "b" / "scenes" / "000_day.mp4")
    assert len(first) == 2 and all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))


def test_lighting_levels_and_wear_shares_are_validated(
    write_config: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    data = _tiny()
    scenario = validate_config(data)
    assert scenario.video.lighting["day"] == VideoLight(level=1.0)
    data["video"]["cap"] = {"default": 0.1, "tone=dark": 0.3}
    assert main(["validate", str(write_config(data))]) == EXIT_USAGE
    assert "video.cap.tone=dark" in capsys.readouterr().err
    data["video"]["cap"] = {"default": 0.1}
    data["video"]["face_px"] = [60, 30]
    assert main(["validate", str(write_config(data))]) == EXIT_USAGE
    assert "video: face_px is (low, high)" in capsys.readouterr().err


def _detections(miss: dict[tuple[str, int], float], faces_at: dict[tuple[str, int], int]) -> Any:
    """Face-frames of groups ``a`` and ``b`` at yaw 0 or 50 degrees: ``faces_at``
    faces of 10 frames per (group, yaw), each missing ``miss`` of its frames."""
    import pandas as pd

    rows = []
    face = 0
    for (group, yaw), count in faces_at.items():
        for _ in range(count):
            face += 1
            missed = round(10 * miss[(group, yaw)])
            rows += [
                ("v", "day", 1.0, frame, face, 80, float(yaw), group, 0.3, frame >= missed, True)
                for frame in range(10)
            ]
    columns = ["video", "lighting", "light", "frame", "person_id", "face_px", "yaw_deg"]
    return pd.DataFrame(rows, columns=[*columns, "tone", "skin_reflectance", "hog", "haar"])


def test_standardising_pose_removes_a_gap_that_pose_explains() -> None:
    from riskclass.analysis import VideoGroups, detection_by_condition, standardised_disparities

    same_rates = {("a", 0): 0.2, ("a", 50): 0.8, ("b", 0): 0.2, ("b", 50): 0.8}
    # Group b meets the camera turned away more often: its crude miss rate is higher.
    detections = _detections(same_rates, {("a", 0): 30, ("a", 50): 10, ("b", 0): 10, ("b", 50): 30})
    rows = standardised_disparities(
        detections, VideoGroups(["tone"], {}), rng=np.random.default_rng(1), replicates=50
    )
    row = rows[(rows["detector"] == "hog") & (rows["attribute"] == "tone")].iloc[0]
    assert (row["value"], row["reference"]) == ("b", "a")
    assert row["crude_rate"] == pytest.approx(0.65) and row["reference_crude_rate"] == 0.35
    assert row["share_remaining"] == pytest.approx(0.0, abs=1e-12)
    # The same mix with b worse at every pose: the whole gap remains.
    worse = {**same_rates, ("b", 0): 0.4, ("b", 50): 1.0}
    detections = _detections(worse, {("a", 0): 20, ("a", 50): 20, ("b", 0): 20, ("b", 50): 20})
    rows = standardised_disparities(
        detections, VideoGroups(["tone"], {}), rng=np.random.default_rng(1), replicates=50
    )
    row = rows[(rows["detector"] == "hog") & (rows["attribute"] == "tone")].iloc[0]
    assert row["share_remaining"] == pytest.approx(1.0)
    by_yaw = detection_by_condition(detections, attributes=["tone"])
    turned = by_yaw[
        (by_yaw["detector"] == "hog") & (by_yaw["factor"] == "yaw") & (by_yaw["value"] == "b")
    ].set_index("bin")
    assert turned.loc["0-15", "rate"] == pytest.approx(0.6) and turned.loc["45-60", "rate"] == 0.0
    assert turned.loc["0-15", "ci_low"] < 0.6 < turned.loc["0-15", "ci_high"]


def test_a_cap_brim_leaves_no_holes_between_cap_and_forehead() -> None:
    camera = Camera.looking(400, 400, 30.0, 1.6, 0.0)
    light = make_light(1.0, 30.0, 0.0, 5500.0, 0.4)
    centre = np.array([0.0, 1.6, 1.0], np.float32)
    for seed in range(3):
        face = dataclasses.replace(FaceParams.sample(np.random.default_rng(seed), 0.3), cap=True)
        for pitch in (0.0, -0.25, 0.25):
            head = draw_head(face, rotation(math.pi, pitch, 0.0), centre, light, camera)
            assert head is not None
            covered = head.rgba[..., 3] > 0.5
            width = covered.shape[1]
            band = covered[:, width // 2 - width // 5 : width // 2 + width // 5]
            # In each column of the head's middle, the uncovered pixels between its
            # first and last covered one. A brim drawn as a step of the radius map
            # left 470 to 1,900 here (a band between cap and forehead); now 0 to 17.
            rows = np.arange(len(band))[:, None]
            first = np.argmax(band, axis=0)
            last = len(band) - 1 - np.argmax(band[::-1], axis=0)
            holes = int((~band & (rows > first) & (rows < last)).sum())
            assert holes < 100, (seed, pitch, holes)


def test_skin_has_a_pattern_of_its_own_per_identity() -> None:
    face = FaceParams.sample(np.random.default_rng(8), 0.3)
    other = dataclasses.replace(face, texture_seed=face.texture_seed + 1)
    albedo = [head_model(f, 0.012).channels[6:9].mean(axis=0) for f in (face, other)]
    # Cheeks: in the face box, away from the features' own colours.
    position = head_model(face, 0.012).channels[0:3]
    cheek = (np.abs(np.abs(position[0]) - 0.04) < 0.01) & (np.abs(position[1] + 0.03) < 0.01)
    cheek &= position[2] > 0
    first, second = (a[cheek] for a in albedo)
    assert cheek.sum() > 100
    # The same skin and shape: only the pattern differs, by a few percent a point.
    relative = np.std(first / second - 1.0)
    # Two independent patterns of 5% blotches and 3% grain: 6% apart here (8% on the
    # master grid; resampling smooths the grain).
    assert 0.02 < relative < 0.15, relative
    assert abs(first.mean() / second.mean() - 1.0) < 0.05
