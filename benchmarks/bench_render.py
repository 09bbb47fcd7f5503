"""Rendering speed of `riskclass video render` at 640 x 480: frames per second.

Usage: uv run python benchmarks/bench_render.py [--scenes N] [--frames N] [--profile]

Renders the shipped scenario (configs/video_lighting.yaml) with N scenes per
lighting of N frames each, in this process, and prints two rates: end to end
(enrollment portraits, backgrounds, heads, bodies, camera, JPEG and MP4 writing)
and steady state (scenes after the first, timed between progress callbacks, so
without portraits), each by the clock and by the process's CPU time: on a
machine that others share, CPU time says what the renderer costs and the clock
what it got. ``--profile`` adds the functions that take the most CPU time.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import tempfile
import time
from pathlib import Path

import yaml

from riskclass import validate_config
from riskclass.synthetic import render_video

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenes", type=int, default=2, help="scenes per lighting")
    parser.add_argument("--frames", type=int, default=16, help="frames per scene")
    parser.add_argument("--profile", action="store_true", help="print the top functions")
    args = parser.parse_args()
    data = yaml.safe_load((REPO / "configs/video_lighting.yaml").read_text())
    data["video"].update(scenes_per_lighting=args.scenes, frames=args.frames, width=640, height=480)
    scenario = validate_config(data)
    stamps: list[tuple[float, float]] = []

    def progress(stage: str, done: int, total: int) -> None:
        stamps.append((time.perf_counter(), time.process_time()))

    profiler = cProfile.Profile(time.process_time)
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "video"
        out.mkdir()
        if args.profile:
            profiler.enable()
        started = (time.perf_counter(), time.process_time())
        summary = render_video(scenario, out, progress=progress)
        seconds, cpu = (time.perf_counter() - started[0], time.process_time() - started[1])
        profiler.disable()
    steady = [0.0, 0.0]
    if len(stamps) > 1:
        steady = [(len(stamps) - 1) * args.frames / (stamps[-1][i] - stamps[0][i]) for i in (0, 1)]
    print(
        f"cores={os.cpu_count()}, load average {os.getloadavg()[0]:.2f}; "
        f"{summary.scenes} scenes x {args.frames} frames at 640 x 480, "
        f"{summary.persons} persons, {summary.faces} visible faces"
    )
    print(
        f"end to end: {seconds:.1f} s, {summary.frames / seconds:.1f} frames/s "
        f"({cpu:.1f} CPU s, {summary.frames / cpu:.1f} frames per CPU second)"
    )
    print(
        f"steady state (scenes 2..{summary.scenes}): {steady[0]:.1f} frames/s "
        f"({steady[1]:.1f} frames per CPU second)"
    )
    if args.profile:
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(25)
        print(text.getvalue())


if __name__ == "__main__":
    main()
