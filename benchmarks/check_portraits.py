"""Detector confidence on rendered enrollment portraits against real ones (issue 20).

Usage: uv run python benchmarks/check_portraits.py [--persons N]

Renders the enrollment portraits of N persons of the shipped scenario
(configs/video_lighting.yaml, about a third per skin reflectance; one
one-frame scene per lighting, since `video render` always renders scenes) and
prints, as `check_video.py` does for the shipped 30: dlib's HOG best score on
the real portraits in ../shared/faces and, per skin reflectance, on the
rendered ones, and dlib's encoding distances between rendered identities. The
shipped scenario's 12, 6 and 12 portraits per reflectance leave medians that
move by a few tenths from one set of identities to the next; this uses more.

Then genuine distances: each identity photographed again (head turned 15
degrees, light 30 degrees to the side, fresh sensor noise) against its
enrollment portrait, and how many impostor pairs sit closer than the genuine
median.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import yaml
from check_video import portraits

from riskclass import validate_config
from riskclass.pipeline import load_face_recognition, read_image
from riskclass.synthetic import FaceParams, render_video, write_portrait

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--persons", type=int, default=120, help="portraits to render")
    args = parser.parse_args()
    data = yaml.safe_load((REPO / "configs/video_lighting.yaml").read_text())
    data["video"].update(persons=args.persons, scenes_per_lighting=1, frames=1)
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "video"
        out.mkdir()
        render_video(validate_config(data), out)
        encodings, impostor = portraits(out)
        faces = json.loads((out / "faces.json").read_text(encoding="utf-8"))
        face_recognition = load_face_recognition()
        second = Path(scratch) / "second.png"
        genuine = []
        for pid, encoding in encodings.items():
            face = FaceParams(**faces[str(pid)])
            rng = np.random.default_rng([data["seed"], pid])
            write_portrait(second, face, rng, yaw_deg=15.0, light_azimuth_deg=30.0)
            found = face_recognition.face_encodings(read_image(second))
            if len(found) == 1:
                genuine.append(float(np.linalg.norm(found[0] - encoding)))
        low, high = np.quantile(genuine, [0.05, 0.95])
        middle = float(np.median(genuine))
        print(
            f"rendered genuine distances ({len(genuine)} identities, second capture): "
            f"median {middle:.3f}, 5%-95% {low:.3f}-{high:.3f}; impostor pairs closer "
            f"than the genuine median: {np.mean(impostor < middle):.3f}"
        )


if __name__ == "__main__":
    main()
