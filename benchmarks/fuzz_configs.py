"""Mutate the shipped configs and check that `validate` and `run` never crash, hang or bloat.

Usage: uv run python benchmarks/fuzz_configs.py [--count 1000] [--seed 0] [--no-run]
[--jobs 2] [--keep DIR]

A check, not a benchmark. Each of ``--count`` configs is a shipped config with one
to three seeded mutations: type swaps, deletions, huge, negative and non-finite
numbers, unknown keys, deep nesting, alias bombs, duplicate keys, strings in
numbers, wrong enum values and broken cross-references. Each goes through
``riskclass validate`` in a child process of its own (forked from one that has
imported riskclass, so a child costs milliseconds) under a 1 GiB address-space
limit and a time limit, and counts as a clean error (exit 2 naming the file), an
acceptance, a traceback, a hang, or another exit. Then every accepted config runs
at 2,000 persons and 2 days (``--set population.size=2000 --set days=2``); a run
counts as finished, as a clean error (exit 2 naming the config file) or as a
failure. Peak memory is each child's maximum resident set (``wait4``), which
includes the pages it shares with the parent.

Exit code 0 when there is no traceback, hang or failure and validate's peak stays
under 1 GiB; the counts and every problem case (with its mutations) are printed.
``--keep DIR`` keeps the mutated configs of the problem cases there.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import resource
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# One BLAS thread: each thread reserves address space that the limit would count.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import yaml

REPO = Path(__file__).resolve().parent.parent
CONFIGS = sorted((REPO / "configs").glob("*.yaml"))
VALIDATE_MEMORY = 1 << 30
RUN_MEMORY = 4 << 30
VALIDATE_TIMEOUT_S = 30.0
RUN_TIMEOUT_S = 300.0
RUN_SETTINGS = ["--set", "population.size=2000", "--set", "days=2"]

Path_ = tuple[str | int, ...]
_MAX_WALK_DEPTH = 12


# --- mutations -------------------------------------------------------------------------


def _paths(node: Any, prefix: Path_ = (), seen: set[int] | None = None) -> list[Path_]:
    """Every path to a node below the root (mapping keys and list indices).

    A container met twice (an alias bomb's) is walked once, not once per reference,
    and what an earlier mutation nested deeper than any config goes is not walked.
    """
    seen = set() if seen is None else seen
    if id(node) in seen or len(prefix) >= _MAX_WALK_DEPTH:
        return []
    seen.add(id(node))
    found: list[Path_] = []
    items: list[tuple[str | int, Any]] = []
    if isinstance(node, dict):
        items = list(node.items())
    elif isinstance(node, list):
        items = list(enumerate(node))
    for key, child in items:
        path = (*prefix, key)
        found.append(path)
        found.extend(_paths(child, path, seen))
    return found


def _get(data: Any, path: Path_) -> Any:
    for key in path:
        data = data[key]
    return data


def _set(data: Any, path: Path_, value: Any) -> None:
    _get(data, path[:-1])[path[-1]] = value


def _leaves(data: Any, kind: type | tuple[type, ...]) -> list[Path_]:
    return [
        p
        for p in _paths(data)
        if isinstance(_get(data, p), kind) and not isinstance(_get(data, p), bool)
    ]


def _pick(rng: random.Random, paths: list[Path_]) -> Path_ | None:
    return rng.choice(paths) if paths else None


def _replacing(
    name: str, candidates: Callable[[Any], list[Path_]], values: list[Any]
) -> Callable[[random.Random, Any], str]:
    """A mutation that sets one of ``candidates(data)`` to one of ``values``."""

    def mutation(rng: random.Random, data: Any) -> str:
        path = _pick(rng, candidates(data))
        if path is None:
            return f"{name}: nothing"
        value = rng.choice(values)
        _set(data, path, value)
        return f"{name} {_name(path)} = {repr(value)[:30]}"

    mutation.__name__ = name
    return mutation


def _numbers(data: Any) -> list[Path_]:
    return _leaves(data, (int, float))


def _strings(data: Any) -> list[Path_]:
    return _leaves(data, str)


type_swap = _replacing(
    "type_swap", _paths, ["text", 7, 0.5, True, None, [1, "a"], {"k": 1}, [], {}]
)
huge_number = _replacing(
    "huge_number", _numbers, [10**12, 10**30, 1e300, 2**63, 10**19 + 1, 1e-300]
)
negative = _replacing("negative", _numbers, [-1, -1e-9, 0, -1000, -(10**12)])
non_finite = _replacing(
    "non_finite", _numbers, [float("inf"), float("-inf"), float("nan"), "1e99999", "-1e99999"]
)
string_in_number = _replacing(
    "string_in_number", _numbers, ["12abc", "ten", "", "0x10", "1_000", "9" * 5000, "1e5"]
)
wrong_enum = _replacing(
    "wrong_enum", _strings, ["bogus", "", "watchlist", "x" * 10_000, "ethnicity=nobody", "a=b&c=d"]
)


def delete(rng: random.Random, data: Any) -> str:
    path = _pick(rng, _paths(data))
    if path is None:
        return "delete: nothing"
    del _get(data, path[:-1])[path[-1]]
    return f"delete {_name(path)}"


def unknown_key(rng: random.Random, data: Any) -> str:
    mappings = [p for p in _paths(data) if isinstance(_get(data, p), dict)]
    target = _get(data, rng.choice(mappings)) if mappings and rng.random() < 0.8 else data
    count = rng.choice([1, 1, 1, 1000, 100_000])
    for i in range(count):
        target[f"unknown_{rng.randrange(10**6)}_{i}"] = i
    return f"unknown_key x{count}"


def _place(rng: random.Random, data: Any, value: Any) -> str:
    """Put ``value`` at a random place (a new key if there is none); say where."""
    path = _pick(rng, _paths(data)) or ("added",)
    _get(data, path[:-1])[path[-1]] = value
    return _name(path)


def deep_nesting(rng: random.Random, data: Any) -> str:
    depth = rng.choice([10, 49, 60, 500, 5000])
    value: Any = 1
    for _ in range(depth):
        value = [value] if rng.random() < 0.5 else {"k": value}
    return f"deep_nesting {_place(rng, data, value)} depth {depth}"


def alias_bomb(rng: random.Random, data: Any) -> str:
    """The same list object many times over: yaml.safe_dump writes anchors and aliases."""
    levels, width = rng.choice([(3, 5), (6, 8), (10, 10)])
    value: Any = ["lol"] * width
    for _ in range(levels):
        value = [value] * width
    return f"alias_bomb {_place(rng, data, value)} {width}^{levels + 1}"


def break_reference(rng: random.Random, data: Any) -> str:
    """Rename one side of a cross-reference: a gallery, district, kind, group or name."""
    names = [
        p
        for p in _leaves(data, str)
        if p[-1] in ("name", "gallery", "given", "kind") or (len(p) > 1 and p[-2] == "camera_kinds")
    ]
    keys = [p for p in _paths(data) if isinstance(p[-1], str) and "=" in p[-1]]
    choices = names + keys
    if not choices:
        return "break_reference: nothing"
    path = rng.choice(choices)
    if path in keys:
        parent = _get(data, path[:-1])
        parent[str(path[-1]).split("=")[0] + "=nobody"] = parent.pop(path[-1])
        return f"break_reference key {_name(path)}"
    _set(data, path, "nothing_by_this_name")
    return f"break_reference {_name(path)}"


MUTATIONS: list[Callable[[random.Random, Any], str]] = [
    type_swap,
    delete,
    huge_number,
    negative,
    non_finite,
    unknown_key,
    deep_nesting,
    alias_bomb,
    string_in_number,
    wrong_enum,
    break_reference,
]


def duplicate_key(rng: random.Random, text: str) -> tuple[str, str]:
    """A text mutation: a top-level key given twice (the YAML dump cannot write one)."""
    key = rng.choice(["name", "seed", "days", "population"])
    return f"{text}\n{key}: 3\n", f"duplicate_key {key}"


def _name(path: Path_) -> str:
    return ".".join(str(p) for p in path)


def mutate(rng: random.Random, base: dict[str, Any]) -> tuple[str, list[str]]:
    """One mutated config's YAML text and what was done to it."""
    data = copy.deepcopy(base)
    done = [
        mutation(rng, data) for mutation in rng.choices(MUTATIONS, k=rng.choice([1, 1, 1, 2, 2, 3]))
    ]
    try:
        text = yaml.safe_dump(data, sort_keys=False, width=10**9)
    except RecursionError:  # nesting beyond what the dumper writes: write a deep text instead
        text = yaml.safe_dump(base, sort_keys=False) + "nested: " + "[" * 5000 + "]" * 5000 + "\n"
        done.append("deep text")
    if rng.random() < 0.1:
        text, what = duplicate_key(rng, text)
        done.append(what)
    return text, done


# --- children --------------------------------------------------------------------------


@dataclass
class Outcome:
    code: int | None  # None: killed at the time limit
    err: str
    peak_bytes: int
    seconds: float


def _child(arguments: list[str], memory: int, out: Path) -> int:
    """Fork a child that runs the CLI with ``arguments``, stdout and stderr to ``out``.*."""
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        for number, suffix in ((1, "out"), (2, "err")):
            descriptor = os.open(
                out.with_suffix(f".{suffix}"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC
            )
            os.dup2(descriptor, number)
        from riskclass.commands import main

        code = main(arguments)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def run_child(arguments: list[str], memory: int, timeout: float, work: Path) -> Outcome:
    out = work / "child"
    for suffix in (".out", ".err"):
        out.with_suffix(suffix).unlink(missing_ok=True)
    started = time.perf_counter()
    pid = _child(arguments, memory, out)
    code: int | None = None
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(status)
            break
        if time.perf_counter() - started > timeout:
            os.kill(pid, signal.SIGKILL)
            _, status, usage = os.wait4(pid, 0)
            break
        time.sleep(0.005)
    err_path = out.with_suffix(".err")
    err = err_path.read_text(errors="replace") if err_path.exists() else ""
    # ru_maxrss is in KiB on Linux.
    return Outcome(code, err, usage.ru_maxrss * 1024, time.perf_counter() - started)


# --- the check -------------------------------------------------------------------------


@dataclass
class Tally:
    counts: Counter[str] = field(default_factory=Counter)
    problems: list[dict[str, Any]] = field(default_factory=list)
    peak_bytes: int = 0
    seconds: float = 0.0


def classify(outcome: Outcome, path: Path, *, success: str, clean: str) -> str:
    """``success`` on exit 0, ``clean`` on exit 2 naming ``path``; else what went wrong."""
    if outcome.code is None:
        return "hang"
    if "Traceback" in outcome.err or "MemoryError" in outcome.err:
        return "traceback"
    if outcome.code == 0:
        return success
    if outcome.code == 2 and f"{path}" in outcome.err:
        return clean
    return "other exit"


def check(count: int, seed: int, run: bool, keep: Path | None) -> tuple[Tally, Tally]:
    rng = random.Random(seed)
    bases = {p.name: yaml.safe_load(p.read_text()) for p in CONFIGS}
    validate, runs = Tally(), Tally()
    accepted: list[tuple[Path, list[str]]] = []
    import riskclass.commands  # imported once, before the children fork
    from riskclass import load_config  # noqa: F401  # pydantic and yaml, likewise

    with tempfile.TemporaryDirectory(prefix="riskclass-fuzz-") as temporary:
        work = Path(temporary)
        started = time.perf_counter()
        for index in range(count):
            base_name = rng.choice(sorted(bases))
            text, done = mutate(rng, bases[base_name])
            path = work / f"fuzz_{index:04d}.yaml"
            path.write_text(text)
            outcome = run_child(["validate", str(path)], VALIDATE_MEMORY, VALIDATE_TIMEOUT_S, work)
            kind = classify(outcome, path, success="accepted", clean="clean error")
            _record(validate, kind, outcome, [base_name, *done], path, keep)
            if (index + 1) % 100 == 0:
                print(f"validated {index + 1}/{count}: {dict(validate.counts)}", file=sys.stderr)
            if kind == "accepted":
                accepted.append((path, [base_name, *done]))
            else:
                path.unlink()
        validate.seconds = time.perf_counter() - started
        if run:
            import riskclass.commands._handlers  # noqa: F401  # the data stack, once

            started = time.perf_counter()
            for path, done in accepted:
                out = work / "run"
                arguments = ["run", str(path), *RUN_SETTINGS, "--out", str(out), "--force"]
                outcome = run_child(arguments, RUN_MEMORY, RUN_TIMEOUT_S, work)
                kind = classify(
                    outcome, path, success="finished", clean="clean error naming the file"
                )
                _record(runs, kind, outcome, done, path, keep)
                print(f"ran {path.name}: {kind}", file=sys.stderr)
            runs.seconds = time.perf_counter() - started
    return validate, runs


_PROBLEMS = ("hang", "traceback", "other exit")


def _record(
    tally: Tally, kind: str, outcome: Outcome, what: list[str], path: Path, keep: Path | None
) -> None:
    """Count ``kind``; keep a problem's config (``what``: base config and mutations)."""
    tally.counts[kind] += 1
    tally.peak_bytes = max(tally.peak_bytes, outcome.peak_bytes)
    if kind in _PROBLEMS:
        tally.problems.append({"kind": kind, "config": what, "stderr": outcome.err[-1500:]})
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            (keep / path.name).write_text(path.read_text())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="mutated configs (default 1000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-run", dest="run", action="store_false", help="validate only")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="keep the problem configs here")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the tallies")
    args = parser.parse_args()
    validate, runs = check(args.count, args.seed, args.run, args.keep)
    print(
        f"validate: {args.count} mutated configs (seed {args.seed}) in {validate.seconds:.0f} s: "
        + ", ".join(f"{n} {k}" for k, n in sorted(validate.counts.items()))
        + f"; peak memory {validate.peak_bytes / 2**20:.0f} MiB"
    )
    if args.run:
        print(
            f"run at 2,000 persons and 2 days: {sum(runs.counts.values())} accepted configs in "
            f"{runs.seconds:.0f} s: "
            + ", ".join(f"{n} {k}" for k, n in sorted(runs.counts.items()))
            + f"; peak memory {runs.peak_bytes / 2**20:.0f} MiB"
        )
    for problem in [*validate.problems, *runs.problems]:
        print(json.dumps(problem, indent=1))
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {
                    name: {"counts": t.counts, "peak_bytes": t.peak_bytes, "seconds": t.seconds}
                    for name, t in (("validate", validate), ("run", runs))
                },
                indent=1,
            )
        )
    healthy = not validate.problems and not runs.problems and validate.peak_bytes < VALIDATE_MEMORY
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
