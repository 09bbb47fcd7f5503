"""The real detector and encoder on the public-domain portraits in ../shared/faces."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from riskclass import load_config
from riskclass.commands import EXIT_USAGE, main
from riskclass.pipeline import encode_image

from .conftest import FACES

TOLERANCE = 0.6  # face_recognition's default
PORTRAITS = {
    "obama_1.jpg": "obama",
    "obama_2.jpg": "obama",
    "biden_1.jpg": "biden",
    "biden_2.jpg": "biden",
}
needs_faces = pytest.mark.skipif(
    not all((FACES / name).is_file() for name in PORTRAITS),
    reason=f"the test portraits are not at {FACES} (they ship beside the repo in shared/faces)",
)


@needs_faces
def test_portraits_match_within_and_not_across_people() -> None:
    encodings = {}
    for name in PORTRAITS:
        encoding, faces = encode_image(FACES / name)
        assert faces == 1 and encoding is not None, name
        encodings[name] = encoding
    for a, b in itertools.combinations(PORTRAITS, 2):
        distance = float(np.linalg.norm(encodings[a] - encodings[b]))
        same = PORTRAITS[a] == PORTRAITS[b]
        assert (distance <= TOLERANCE) == same, (a, b, distance)


@needs_faces
def test_enroll_fits_a_profile_that_configs_can_use(
    tmp_path: Path, write_config: Callable[..., Path], small_default: dict[str, Any]
) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "file,identity,age\n"
        + "".join(
            f"{name},{person},{'adult' if person == 'obama' else 'elderly'}\n"
            for name, person in PORTRAITS.items()
        )
    )
    profile_path = tmp_path / "profile.yaml"
    assert main(["enroll", str(FACES), "--labels", str(labels), "--out", str(profile_path)]) == 0
    profile = yaml.safe_load(profile_path.read_text())
    fit = profile["fit"]["default"]
    assert (fit["genuine_pairs"], fit["impostor_pairs"]) == (2, 4)
    assert fit["observed_fnmr"] == 0 and fit["observed_fmr"] == 0
    assert fit["genuine_mean"] < TOLERANCE < fit["impostor_mean"]
    rates = profile["error_rates"]["default"]
    small_default["algorithm"] = {"error_profile": "profile.yaml"}
    config = write_config(small_default)
    profile_path.rename(config.parent / "profile.yaml")
    scenario = load_config(config)
    assert scenario.algorithm.error_rates["default"].fnmr == pytest.approx(rates["fnmr"])
    assert scenario.algorithm.error_rates["default"].fmr == pytest.approx(rates["fmr"])


def test_enroll_names_a_corrupt_or_missing_image(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 this is not a jpeg")
    labels = tmp_path / "labels.csv"
    labels.write_text("file,identity\nbroken.jpg,someone\n")
    assert main(["enroll", str(tmp_path), "--labels", str(labels)]) == EXIT_USAGE
    assert "broken.jpg" in capsys.readouterr().err
    labels.write_text("file,identity\nbroken.jpg,someone\nmissing.jpg,someone\n")
    assert main(["enroll", str(tmp_path), "--labels", str(labels)]) == EXIT_USAGE
    message = capsys.readouterr().err
    assert "line 3" in message and "missing.jpg" in message and "Traceback" not in message
