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
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import yaml
from check_video import portraits

from riskclass import validate_config
from riskclass.synthetic import render_video

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
        portraits(out)


if __name__ == "__main__":
    main()
