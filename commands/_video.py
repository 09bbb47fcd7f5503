"""`riskclass video render` and `riskclass video run`: staged outputs around the video stages."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from riskclass import (
    MANIFEST,
    VIDEO_RESULTS_DIR,
    DataError,
    Progress,
    Scenario,
    atomic_output_dir,
    manifest_scenario,
    package_versions,
    provenance,
    read_manifest,
    write_manifest,
)
from riskclass.analysis import video_per_group
from riskclass.pipeline import run_on_video
from riskclass.synthetic import VideoSummary, render_video

from ._options import RunOptions


@dataclass(frozen=True)
class VideoRunSummary:
    """What `run_video` measured and wrote."""

    out: Path
    per_group: pd.DataFrame
    frames: int
    faces: int
    tracks: int
    seconds: float


def render(
    scenario: Scenario,
    out: str | Path,
    options: RunOptions = RunOptions(),
) -> VideoSummary:
    """Render ``scenario.video`` into ``out`` (see `riskclass.synthetic.render_video`)."""
    with options.staging(out) as staging:
        summary = render_video(scenario, staging, progress=options.progress)
        write_manifest(
            {
                **provenance(scenario, options.config_path),
                "rendered": {
                    "scenes": summary.scenes,
                    "frames": summary.frames,
                    "faces": summary.faces,
                    "persons": summary.persons,
                    "seconds": round(summary.seconds, 3),
                    "frames_per_s": round(summary.frames / summary.seconds, 2),
                },
            },
            staging,
        )
    return summary


def run_video(directory: str | Path, *, progress: Progress | None = None) -> VideoRunSummary:
    """Detect, track, encode and match the rendered scenes; write ``DIR/results/``."""
    directory = Path(directory)
    scenario = _rendered_scenario(directory)
    started = time.perf_counter()
    results = run_on_video(
        directory,
        tolerance=scenario.video.tolerance,
        detector=scenario.video.detector,
        progress=progress,
    )
    seconds = time.perf_counter() - started
    per_group = video_per_group(
        results.detections,
        results.tracks,
        results.enrollment,
        attributes=list(scenario.population.attributes),
        tolerance=scenario.video.tolerance,
    )
    frames = int(results.detections.groupby("video")["frame"].nunique().sum())
    with atomic_output_dir(directory / VIDEO_RESULTS_DIR, force=True) as staging:
        results.detections.to_csv(staging / "detections.csv", index=False)
        results.tracks.to_csv(staging / "tracks.csv", index=False)
        results.enrollment.to_csv(staging / "enrollment.csv", index=False)
        per_group.to_csv(staging / "video_per_group.csv", index=False)
        write_manifest(
            {
                "frames": frames,
                "seconds": round(seconds, 3),
                "frames_per_s": round(frames / seconds, 2),
                "versions": package_versions(),
            },
            staging,
        )
    return VideoRunSummary(
        directory / VIDEO_RESULTS_DIR,
        per_group,
        frames,
        len(results.detections),
        len(results.tracks),
        seconds,
    )


def _rendered_scenario(directory: Path) -> Scenario:
    manifest = read_manifest(
        directory,
        what="rendered video directory",
        hint="run `riskclass video render CONFIG --out DIR` first",
    )
    manifest_path = directory / MANIFEST
    if "rendered" not in manifest:
        raise DataError(f"{manifest_path}: not written by `riskclass video render`")
    return manifest_scenario(directory, manifest)
