"""Rendered video: detection falls with light and skin reflectance, measured not configured."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from riskclass import DataError, validate_config
from riskclass.commands import EXIT_USAGE, build_report, main, render, run_video

from .conftest import load_yaml

# Dusk is dimmer than the camera's longest exposure makes up for: it raises its gain.
LIGHT = {"day": 1.0, "dusk": 0.05}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = load_yaml("video_lighting.yaml")
    data["video"].update(
        persons=30,
        lighting=LIGHT,
        scenes_per_lighting=10,
        # 6 walkers of 6 frames a scene, not 4 of 4: more faces, and each head turns
        # through more of the yaw test's pose bands; with 4 of 4, one draw of walkers
        # left 11 turned faces to compare, 6 frames alone 13.
        frames=6,
        lanes=6,
        face_px=[70, 110],
        skin_reflectance={"default": 0.3, "skin_tone=light": 0.45, "skin_tone=dark": 0.12},
    )
    out = tmp_path_factory.mktemp("video") / "scenes"
    render(validate_config(data), out)
    run_video(out)
    return out


def _per_face(rendered: Path) -> pd.DataFrame:
    """Detection rate of each face (one person in one scene): frames of a face are correlated,
    so faces, not frames, are the independent units of the trend tests."""
    detections = pd.read_csv(rendered / "results" / "detections.csv")
    return detections.groupby(["video", "person_id", "lighting", "skin_tone"], as_index=False)[
        "hog"
    ].mean()


def _separated(high: pd.Series, low: pd.Series, z: float = 4.0) -> bool:
    """Mean of ``high`` exceeds that of ``low`` by ``z`` standard errors (Welch)."""
    error = np.sqrt(high.var(ddof=1) / len(high) + low.var(ddof=1) / len(low))
    return bool(high.mean() - low.mean() > z * max(error, 1e-9))


def test_detection_rate_falls_with_light(rendered: Path) -> None:
    faces = _per_face(rendered)
    day, dusk = faces[faces["lighting"] == "day"], faces[faces["lighting"] == "dusk"]
    assert len(day) >= 30 and len(dusk) >= 30
    assert _separated(day["hog"], dusk["hog"]), faces.groupby("lighting")["hog"].describe()


def test_detection_rate_falls_as_faces_turn_away(rendered: Path) -> None:
    # A face's yaw changes from frame to frame: the units are a face's frames within
    # one pose band (frontal: under 20 degrees; turned: 35 or more). Daylight only,
    # where pose rather than noise decides.
    detections = pd.read_csv(rendered / "results" / "detections.csv")
    day = detections[detections["lighting"] == "day"]
    yaw = day["yaw_deg"].abs()
    band = np.select([yaw < 20, yaw >= 35], ["frontal", "turned"], "between")
    units = day.assign(band=band).groupby(["video", "person_id", "band"], as_index=False)["hog"]
    rates = units.mean()
    frontal, turned = rates[rates["band"] == "frontal"], rates[rates["band"] == "turned"]
    assert len(frontal) >= 15 and len(turned) >= 15
    assert _separated(frontal["hog"], turned["hog"], z=3.0), rates.groupby("band")["hog"].describe()


def test_ground_truth_and_portraits_are_complete(rendered: Path) -> None:
    truth = pd.read_csv(rendered / "ground_truth.csv")
    persons = pd.read_csv(rendered / "persons.csv")
    assert set(truth["person_id"]) <= set(persons["person_id"])
    assert ((truth["top"] >= 0) & (truth["bottom"] < 480) & (truth["left"] >= 0)).all()
    assert all((rendered / "enroll" / f"{pid}.png").is_file() for pid in persons["person_id"])
    per_group = pd.read_csv(rendered / "results" / "video_per_group.csv")
    hog = per_group[(per_group["stage"] == "hog_detection") & (per_group["attribute"] == "all")]
    assert set(hog["lighting"]) == {"all", *LIGHT}
    assert (hog["n"] > 0).all()
    tracks = pd.read_csv(rendered / "results" / "tracks.csv")
    genuine = tracks[(tracks["person_id"] >= 0) & tracks["own_distance"].notna()]
    fnmr = per_group[
        (per_group["stage"] == "fnmr")
        & (per_group["attribute"] == "all")
        & (per_group["lighting"] == "all")
    ]
    assert fnmr["n"].iloc[0] == len(genuine) > 0
    assert fnmr["count"].iloc[0] == (genuine["own_distance"] > 0.6).sum()
    enrollment = pd.read_csv(rendered / "results" / "enrollment.csv")
    assert len(enrollment) == len(persons)
    assert (enrollment["enrolled"] == (enrollment["faces_found"] == 1)).all()
    fte = per_group[
        (per_group["stage"] == "failure_to_enroll")
        & (per_group["attribute"] == "all")
        & (per_group["lighting"] == "all")
    ]
    assert fte["count"].iloc[0] == (~enrollment["enrolled"]).sum()


@pytest.mark.parametrize(
    ("damage", "named"),
    [
        (lambda d: (d / "scenes" / "000_day.mp4").unlink(), "scenes/000_day.mp4: missing"),
        (lambda d: (d / "ground_truth.csv").write_bytes(bytes(range(256))), "ground_truth.csv"),
    ],
    ids=["missing-scene", "garbage-ground-truth"],
)
def test_a_damaged_rendering_is_named_not_skipped(
    rendered: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    damage: Callable[[Path], object],
    named: str,
) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(rendered, broken)
    damage(broken)
    assert main(["video", "run", str(broken)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert f"{broken}/{named}" in err and "Traceback" not in err


def test_unreadable_video_is_named(
    rendered: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(rendered, broken)
    (broken / "scenes" / "000_day.mp4").write_bytes(b"not a video at all" * 100)
    with pytest.raises(DataError, match=r"000_day\.mp4"):
        run_video(broken)
    assert main(["video", "run", str(broken)]) == EXIT_USAGE
    message = capsys.readouterr().err
    assert "000_day.mp4" in message and "Traceback" not in message


def test_video_run_of_a_plain_directory_says_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["video", "run", str(tmp_path)]) == EXIT_USAGE
    assert "riskclass video render" in capsys.readouterr().err


def test_skin_reflectance_keys_are_checked(
    write_config: Callable[..., Path],
    small_default: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    small_default["video"] = {"skin_reflectance": {"default": 0.5, "tone=dark": 0.3}}
    assert main(["validate", str(write_config(small_default))]) == EXIT_USAGE
    assert "video.skin_reflectance.tone=dark" in capsys.readouterr().err


def test_video_results_feed_the_same_report(rendered: Path) -> None:
    summary = build_report(rendered)
    metrics = pd.read_csv(summary.out / "metrics.csv")
    detections = pd.read_csv(rendered / "results" / "detections.csv")
    for lighting in LIGHT:
        mine = detections[detections["lighting"] == lighting]
        row = metrics[
            (metrics["deployment"] == "hog")
            & (metrics["attribute"] == "all")
            & (metrics["metric"] == "missed_detection")
            & (metrics["lighting"] == lighting)
        ]
        assert row["n"].iloc[0] == len(mine)
        assert row["count"].iloc[0] == (~mine["hog"]).sum()
        assert row["ci_low"].iloc[0] <= row["rate"].iloc[0] <= row["ci_high"].iloc[0]
    html = (summary.out / "index.html").read_text()
    assert "Rendered video" in html and html.count("data:image/png;base64,") == 2
