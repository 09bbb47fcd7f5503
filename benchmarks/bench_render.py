"""Rendering speed of `riskclass video render` at 640 x 480: frames per second.

Usage: uv run python benchmarks/bench_render.py [--scenes N] [--frames N] [--profile]
       [--baseline PYTHON [--rounds N]]

Renders the shipped scenario (configs/video_lighting.yaml) with N scenes per
lighting of N frames each, in this process, and prints two rates: end to end
(enrollment portraits, backgrounds, heads, bodies, camera, JPEG and MP4 writing)
and steady state (scenes after the first, timed between progress callbacks, so
without portraits), each by the clock and by the process's CPU time: on a
machine that others share, CPU time says what the renderer costs and the clock
what it got. ``--profile`` adds the functions that take the most CPU time.

``--baseline PYTHON`` also runs this script under another interpreter (say
``/work/main/.venv/bin/python``, whose installed riskclass is another checkout),
alternating with this one for ``--rounds`` rounds: on a shared machine the two
then meet the same load, and their CPU times per frame compare.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import subprocess
import sys
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
    parser.add_argument("--baseline", help="another Python to compare with, run alternately")
    parser.add_argument("--rounds", type=int, default=2, help="rounds with --baseline")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.json:
        print(json.dumps(measure(args.scenes, args.frames, profile=False)))
        return
    if args.baseline is None:
        report("this tree", measure(args.scenes, args.frames, profile=args.profile))
        return
    command = [args.baseline, __file__, "--json", f"--scenes={args.scenes}"]
    for round_ in range(1, args.rounds + 1):
        # From the filesystem root, so the baseline imports its own riskclass.
        done = subprocess.run(
            [*command, f"--frames={args.frames}"], capture_output=True, text=True, cwd="/"
        )
        if done.returncode != 0:
            sys.exit(f"the baseline failed:\n{done.stderr}")
        report(f"round {round_}, baseline", json.loads(done.stdout.splitlines()[-1]))
        report(f"round {round_}, this tree", measure(args.scenes, args.frames, profile=False))


def measure(scenes: int, frames: int, *, profile: bool) -> dict[str, float | str]:
    """Render the shipped scenario at 640 x 480; the rates, and a profile if asked."""
    data = yaml.safe_load((REPO / "configs/video_lighting.yaml").read_text())
    data["video"].update(scenes_per_lighting=scenes, frames=frames, width=640, height=480)
    scenario = validate_config(data)
    stamps: list[tuple[float, float]] = []

    def progress(stage: str, done: int, total: int) -> None:
        stamps.append((time.perf_counter(), time.process_time()))

    profiler = cProfile.Profile(time.process_time)
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "video"
        out.mkdir()
        if profile:
            profiler.enable()
        started = (time.perf_counter(), time.process_time())
        summary = render_video(scenario, out, progress=progress)
        seconds, cpu = (time.perf_counter() - started[0], time.process_time() - started[1])
        profiler.disable()
    steady = [0.0, 0.0]
    if len(stamps) > 1:
        steady = [(len(stamps) - 1) * frames / (stamps[-1][i] - stamps[0][i]) for i in (0, 1)]
    text = io.StringIO()
    if profile:
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(25)
    return {
        "load": os.getloadavg()[0],
        "what": f"{summary.scenes} scenes x {frames} frames at 640 x 480, "
        f"{summary.persons} persons, {summary.faces} visible faces",
        "seconds": seconds,
        "cpu": cpu,
        "rate": summary.frames / seconds,
        "cpu_rate": summary.frames / cpu,
        "steady": steady[0],
        "steady_cpu": steady[1],
        "scenes": summary.scenes,
        "profile": text.getvalue(),
    }


def report(label: str, result: dict[str, float | str]) -> None:
    print(f"{label}: cores={os.cpu_count()}, load average {result['load']:.2f}; {result['what']}")
    print(
        f"{label}: end to end: {result['seconds']:.1f} s, {result['rate']:.1f} frames/s "
        f"({result['cpu']:.1f} CPU s, {result['cpu_rate']:.1f} frames per CPU second)"
    )
    print(
        f"{label}: steady state (scenes 2..{result['scenes']}): {result['steady']:.1f} frames/s "
        f"({result['steady_cpu']:.1f} frames per CPU second)"
    )
    if result["profile"]:
        print(result["profile"])


if __name__ == "__main__":
    main()
