"""Time the streaming stage of a run stage by stage, optionally against another checkout.

Usage: uv run python benchmarks/bench_stream.py [--rounds N] [--config FILE]
       [--set PATH=VALUE ...] [--baseline PYTHON] [--threads N] [--profile N]

The streaming stage generates each chunk of camera events, detects, encodes and
matches its faces, decides, and writes events, decisions and hits; its events per
second are what `riskclass run` prints ("pipeline ran at N events/s end to end").
Each round runs `riskclass.commands.run` on the scenario in a fresh process (with
the calibration cache as the CLI uses it, so calibrate once beforehand) and times,
inside the streaming stage:

- generate: producing the chunks of events (`EventGenerator.chunks`);
- encode: `EmbeddingModel.observe` on the captures;
- match: `ExactMatcher.search_hits`, the 1:N searches;
- detect and decide: the rest of `Pipeline.process` (capture conditions, detection,
  1:1 verification, per-person tallies, building the decision and hit tables);
- write: `ParquetWriter.write_table` of events, decisions and hits in the main
  thread (a writer that writes in a thread of its own is timed apart: that time
  overlaps the other stages, and waiting for it counts as other);
- other: the rest of the stage.

Each stage's CPU seconds are the whole process's (every thread's) while the
stage ran, so work in other threads at the time counts toward it.

``--threads N`` runs every round's search and encoding on N threads
(``RISKCLASS_THREADS``): on one, every step but the Parquet writers' runs in the
main thread, so each step's CPU seconds are its own, whatever else the machine runs.
``--profile N`` runs the stage once on one thread under `cProfile`, timed by the
main thread's CPU clock, and prints its N functions of most own time instead:
numpy's work is named by the Python line that calls it (a matrix product in
``_tiles``, the capture noise's draws in ``_observe_block``).

With ``--baseline`` (the interpreter of another checkout's environment, such as
``/work/main/.venv/bin/python``) every round also runs that checkout's code on the
same scenario, interleaved, so that ratios come from the same machine load. Prints
the median events per second, the stage's wall and CPU seconds (user + system,
all threads), each step's median wall and CPU seconds, and the ratio of events per second to
the baseline's. The machine is shared: the load average is printed with the results.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from _machine import interleaved, machine_line, scenario_parser

from riskclass import THREADS_VARIABLE

STAGES = ("generate", "encode", "match", "detect and decide", "write", "other")


def _child(config: str, overrides: list[str], profile: int = 0) -> None:
    """One run in this process, with stage timers; prints its timings as JSON, or
    with ``profile`` the stage's ``profile`` functions of most own time."""
    import pyarrow.parquet as pq

    from riskclass import load_config
    from riskclass.commands import RunOptions, run
    from riskclass.pipeline import ExactMatcher, Pipeline
    from riskclass.synthetic import EmbeddingModel, EventGenerator

    seconds: dict[str, float] = defaultdict(float)
    cpu: dict[str, float] = defaultdict(float)
    # Where the main thread is: timers count only inside the streaming stage, and
    # encode and match only inside `Pipeline.process` (enrollment also encodes).
    inside = {"stream": False, "process": False}

    def timer(name: str, method: Callable[..., Any], *, within: str = "stream") -> Any:
        @functools.wraps(method)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started, started_cpu = time.perf_counter(), time.process_time()
            try:
                return method(*args, **kwargs)
            finally:
                if threading.current_thread() is not threading.main_thread():
                    seconds[f"{name}, in the background"] += time.perf_counter() - started
                elif inside[within]:
                    seconds[name] += time.perf_counter() - started
                    cpu[name] += time.process_time() - started_cpu

        return timed

    process = timer("process", Pipeline.process)

    @functools.wraps(process)
    def in_process(*args: Any, **kwargs: Any) -> Any:
        inside["process"] = True
        try:
            return process(*args, **kwargs)
        finally:
            inside["process"] = False

    chunks = EventGenerator.chunks
    next_chunk = timer("generate", next)

    profiler = cProfile.Profile(time.thread_time)

    @functools.wraps(chunks)
    def timed_chunks(self: Any) -> Iterator[Any]:
        inside["stream"] = True
        if profile:
            profiler.enable()
        started = time.process_time()
        produced = chunks(self)
        while (chunk := next_chunk(produced, None)) is not None:
            yield chunk
        cpu["stream"] = time.process_time() - started
        profiler.disable()
        inside["stream"] = False

    Pipeline.process = in_process
    EventGenerator.chunks = timed_chunks
    EmbeddingModel.observe = timer("encode", EmbeddingModel.observe, within="process")
    ExactMatcher.search_hits = timer("match", ExactMatcher.search_hits, within="process")
    pq.ParquetWriter.write_table = timer("write", pq.ParquetWriter.write_table)

    scenario = load_config(config, overrides)
    with tempfile.TemporaryDirectory() as scratch:
        summary = run(scenario, Path(scratch) / "run", RunOptions(force=True))
    if profile:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(profile)
        return
    total = summary.seconds["events"]
    for spent in (seconds, cpu):
        spent["detect and decide"] = spent.pop("process") - spent["encode"] - spent["match"]
    seconds["other"] = total - sum(seconds[s] for s in STAGES if s != "other")
    cpu["other"] = cpu["stream"] - sum(cpu[s] for s in STAGES if s != "other")
    print(
        json.dumps(
            {
                "events": summary.rows["events"],
                "stream": total,
                "stream_cpu": cpu["stream"],
                "stages": {stage: seconds[stage] for stage in STAGES},
                "stages_cpu": {stage: cpu[stage] for stage in STAGES},
                "write_background": seconds["write, in the background"],
            }
        )
    )


def _child_run(
    python: str, config: str, overrides: list[str], threads: int | None, *extra: str
) -> subprocess.CompletedProcess[str]:
    """`_child` in a process of ``python``, with search and encoding on ``threads``."""
    settings = [item for override in overrides for item in ("--set", override)]
    return subprocess.run(
        [python, str(Path(__file__).resolve()), "--child", "--config", config, *settings, *extra],
        check=True,
        capture_output=not extra,
        text=True,
        env={**os.environ, THREADS_VARIABLE: str(threads)} if threads else None,
    )


def _round(python: str, config: str, overrides: list[str], threads: int | None) -> dict[str, Any]:
    output = _child_run(python, config, overrides, threads).stdout
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = scenario_parser(__doc__, rounds=3)
    parser.add_argument("--baseline", metavar="PYTHON", help="another checkout's interpreter")
    parser.add_argument("--threads", type=int, help="threads for search and encoding")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="top N functions")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.config, args.overrides, args.profile)
        return
    print(machine_line() + (f"; {args.threads} thread(s)" if args.threads else ""))
    if args.profile:
        _child_run(sys.executable, args.config, args.overrides, 1, "--profile", str(args.profile))
        return
    results = interleaved(
        args.rounds,
        args.baseline,
        lambda python: _round(python, args.config, args.overrides, args.threads),
    )
    rates = {}
    for label, runs in results.items():
        rates[label] = statistics.median(r["events"] / r["stream"] for r in runs)
        print(
            f"{label}: {runs[0]['events']:,} events, median {rates[label]:,.0f} events/s; "
            f"stream {statistics.median(r['stream'] for r in runs):.2f} s wall, "
            f"{statistics.median(r['stream_cpu'] for r in runs):.2f} s CPU"
        )
        for stage in STAGES:
            wall = statistics.median(r["stages"][stage] for r in runs)
            spent = statistics.median(r["stages_cpu"][stage] for r in runs)
            print(f"  {stage:<18} {wall:7.2f} s wall {spent:7.2f} s CPU")
        background = statistics.median(r.get("write_background", 0.0) for r in runs)
        if background:
            print(f"  (writing in a thread of its own, overlapping the above: {background:.2f} s)")
    if args.baseline:
        ratios = [
            (mine["events"] / mine["stream"]) / (base["events"] / base["stream"])
            for mine, base in zip(results["this checkout"], results["baseline"], strict=True)
        ]
        shown = ", ".join(f"{r:.2f}" for r in ratios)
        print(
            "events/s, this checkout / baseline (same round): "
            f"median {statistics.median(ratios):.2f} (rounds: {shown})"
        )
    print(f"load average {os.getloadavg()[0]:.1f} after; {args.rounds} round(s)")


if __name__ == "__main__":
    main()
