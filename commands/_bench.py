"""`riskclass bench`: 1:N search throughput and recall of each matcher, measured here.

Galleries are random 128-d unit vectors (identities with no group structure, the
hardest case for approximate indexes); ``mated_share`` of the probes are
captures of a gallery identity (genuine score about 0.8), the rest strangers.
Every method searches the same probes; recall is measured against scoring every
identity in float32 (``exact-gemm``) in the same run.
"""

from __future__ import annotations

import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from riskclass import ConfigError, Matching, Progress, package_versions, report_progress
from riskclass.pipeline import ExactMatcher
from riskclass.pipeline.matching import Matcher, make_matcher

from ._bench_methods import DEFAULT_METHODS

DIMS = 128
# Genuine captures stand at this cosine from their identity.
_GENUINE_SCORE = 0.8
# face_recognition compares one probe at a time in float64: it gets a few probes only.
FACE_RECOGNITION_PROBES = 8
# The most rounds worth asking for: the median of 100 is as steady as it gets.
MAX_ROUNDS = 100
# Peak bytes of a run, for refusing one that cannot fit in memory. Per identity:
# the float32 gallery (512) and the largest method's own copy, a faiss index and
# the serialized copy `nbytes` measures (2 x 512, plus HNSW links of 8 m bytes:
# 2,560 at m = 64). Per probe: the probe and the temporaries that make it. Per
# candidate: positions and scores of the method and the reference, and the Python
# sets that compare them. Plus the interpreter, libraries and score tiles.
_BYTES_PER_IDENTITY = 3 * 1024
_BYTES_PER_PROBE = 3 * 1024
_BYTES_PER_CANDIDATE = 200
_BYTES_FIXED = 512 * 1024**2
_METHOD_HELP = (
    "face_recognition, exact, exact-gemm, exact-f16, exact-mmap, faiss-flat, "
    "faiss-ivf[:nprobe=N,nlist=N], "
    "faiss-hnsw[:ef=N,m=N]"
)


@dataclass(frozen=True)
class BenchResult:
    """One method's measurement (the fields of the JSON output)."""

    method: str
    gallery: int
    probes: int
    k: int
    probes_per_s: float
    rounds_s: list[float]
    recall_at_1: float
    recall_at_k: float
    mated_found_at_1: float
    build_s: float
    bytes_per_identity: float


def run_bench(
    *,
    gallery: int,
    probes: int,
    k: int,
    methods: Sequence[str] = DEFAULT_METHODS,
    rounds: int = 3,
    mated_share: float = 0.5,
    seed: int = 0,
    progress: Progress | None = None,
) -> list[BenchResult]:
    """Measure every method on one synthetic gallery and probe set.

    Raises
    ------
    ConfigError
        For an unknown method or a bad setting, naming it.
    """
    problems = list(_argument_problems(gallery=gallery, probes=probes, k=k, rounds=rounds))
    if not methods:
        problems.append(("--methods", "no method given"))
    if seed < 0:
        problems.append(("--seed", f"must be >= 0, got {seed}"))
    if problems:
        raise ConfigError("bench", problems)
    builders = {method: _builder(method) for method in methods}
    rng = np.random.default_rng(seed)
    vectors = _unit(rng.standard_normal((gallery, DIMS), dtype=np.float32))
    queries, mates = _probes(vectors, probes, mated_share, rng)
    reference = ExactMatcher(vectors, bounded=False).search(queries, k)[0]
    results = []
    with tempfile.TemporaryDirectory(prefix="riskclass-bench-") as scratch:
        for step, (method, build) in enumerate(builders.items()):
            report_progress(progress, f"bench {method}", step, len(builders))
            results.append(
                _measure(
                    method, build, vectors, queries, mates, reference, k, rounds, Path(scratch)
                )
            )
    report_progress(progress, "bench", len(builders), len(builders))
    return results


def _argument_problems(
    *, gallery: int, probes: int, k: int, rounds: int
) -> Iterator[tuple[str, str]]:
    """``(argument, problem)`` for each bad size, and for a run that would not fit in memory."""
    counts = {"--gallery": gallery, "--probes": probes, "--k": k, "--rounds": rounds}
    small = [name for name, count in counts.items() if count < 1]
    if small:
        yield from ((name, f"must be >= 1, got {counts[name]}") for name in small)
        return
    if k > gallery:
        yield "--k", f"{k:,} candidates per probe from a gallery of {gallery:,}"
    if rounds > MAX_ROUNDS:
        yield "--rounds", f"at most {MAX_ROUNDS}, got {rounds:,}"
    needs = {
        "--gallery": gallery * _BYTES_PER_IDENTITY,
        "--probes": probes * _BYTES_PER_PROBE,
        "--k": probes * min(k, gallery) * _BYTES_PER_CANDIDATE,
    }
    total = _BYTES_FIXED + sum(needs.values())
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    if total > memory:
        yield (
            max(needs, key=lambda name: needs[name]),
            f"gallery {gallery:,}, {probes:,} probes and k={k:,} need about "
            f"{total / 1024**3:,.1f} GiB; this machine has {memory / 1024**3:,.1f} GiB",
        )


def _measure(
    method: str,
    build: Callable[[npt.NDArray[np.float32], Path], Matcher],
    vectors: npt.NDArray[np.float32],
    queries: npt.NDArray[np.float32],
    mates: npt.NDArray[np.intp],
    reference: npt.NDArray[np.intp],
    k: int,
    rounds: int,
    scratch: Path,
) -> BenchResult:
    started = time.perf_counter()
    matcher = build(vectors, scratch)
    build_s = time.perf_counter() - started
    used = slice(0, FACE_RECOGNITION_PROBES) if method == "face_recognition" else slice(None)
    # One probe first, so that no round pays for first-touch costs (page faults,
    # thread start-up, lazily built kernels).
    matcher.search(queries[:1], k)
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        positions, _ = matcher.search(queries[used], k)
        times.append(time.perf_counter() - started)
    expected = reference[used]
    mated = mates[used] >= 0
    hits_at_k = [
        len(set(a) & set(b)) for a, b in zip(positions.tolist(), expected.tolist(), strict=True)
    ]
    return BenchResult(
        method=method,
        gallery=len(vectors),
        probes=len(expected),
        k=positions.shape[1],
        probes_per_s=len(expected) / statistics.median(times),
        rounds_s=[round(t, 4) for t in times],
        recall_at_1=float(np.mean(positions[:, 0] == expected[:, 0])),
        recall_at_k=float(np.sum(hits_at_k) / expected.size),
        mated_found_at_1=float(np.mean(positions[mated, 0] == mates[used][mated]))
        if mated.any()
        else float("nan"),
        build_s=build_s,
        bytes_per_identity=matcher.nbytes / len(vectors),
    )


def _unit(vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def _probes(
    vectors: npt.NDArray[np.float32], count: int, mated_share: float, rng: np.random.Generator
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.intp]]:
    """Probes, and the gallery position of each probe's mate (-1 for strangers)."""
    mated = rng.random(count) < mated_share
    mates = np.where(mated, rng.integers(0, len(vectors), count), -1)
    noise = rng.standard_normal((count, vectors.shape[1]), dtype=np.float32)
    strangers = _unit(noise.copy())
    identity = vectors[np.maximum(mates, 0)]
    noise -= np.sum(noise * identity, axis=1, keepdims=True) * identity
    noise = _unit(noise)
    genuine = _GENUINE_SCORE * identity + np.sqrt(1 - _GENUINE_SCORE**2) * noise
    return np.where(mated[:, None], genuine, strangers).astype(np.float32), mates


# Bench method name -> the scenario's `matching:` settings it stands for, and the
# settings its ``:key=value`` options may set.
_METHODS: dict[str, tuple[dict[str, Any], dict[str, str]]] = {
    "face_recognition": ({"method": "face_recognition"}, {}),
    "exact": ({"method": "exact"}, {}),
    "exact-gemm": ({"method": "exact", "bounded": False}, {}),
    "exact-f16": ({"method": "exact", "precision": "float16"}, {}),
    "exact-mmap": ({"method": "exact"}, {}),
    "faiss-flat": ({"method": "faiss-flat"}, {}),
    "faiss-ivf": ({"method": "faiss-ivf"}, {"nprobe": "nprobe", "nlist": "nlist"}),
    "faiss-hnsw": ({"method": "faiss-hnsw"}, {"ef": "ef_search", "m": "hnsw_m"}),
}


def _builder(method: str) -> Callable[[npt.NDArray[np.float32], Path], Matcher]:
    name, _, options = method.partition(":")
    if name not in _METHODS:
        raise ConfigError(
            "bench", [("--methods", f"unknown method {method!r}; methods are {_METHOD_HELP}")]
        )
    fixed, allowed = _METHODS[name]
    settings = _options(method, options)
    _allowed(method, settings, set(allowed))
    matching = Matching.model_validate(
        {**fixed, **{allowed[key]: value for key, value in settings.items()}}
    )
    if name == "exact-mmap":
        return lambda vectors, scratch: make_matcher(
            _memory_mapped(vectors, scratch), matching, seed=0
        )
    return lambda vectors, _: make_matcher(vectors, matching, seed=0)


def _options(method: str, text: str) -> dict[str, int]:
    settings = {}
    for item in filter(None, text.split(",")):
        key, sep, value = item.partition("=")
        if not sep or not value.isdigit() or int(value) < 1:
            raise ConfigError(
                "bench", [("--methods", f"{method!r}: expected key=positive integer, got {item!r}")]
            )
        settings[key] = int(value)
    return settings


def _allowed(method: str, settings: dict[str, int], allowed: set[str]) -> None:
    unknown = set(settings) - allowed
    if unknown:
        raise ConfigError(
            "bench",
            [
                (
                    "--methods",
                    f"{method!r}: unknown settings {sorted(unknown)}; allowed {sorted(allowed)}",
                )
            ],
        )


def _memory_mapped(vectors: npt.NDArray[np.float32], scratch: Path) -> npt.NDArray[np.float32]:
    """The gallery as a file read one tile at a time, as a gallery larger than memory is."""
    path = scratch / f"gallery-{os.getpid()}.npy"
    np.save(path, vectors)
    return np.load(path, mmap_mode="r")


def results_json(results: Sequence[BenchResult], *, environment: dict[str, Any]) -> dict[str, Any]:
    """The JSON document `riskclass bench --json` writes."""
    return {"environment": environment, "results": [asdict(result) for result in results]}


def bench_environment() -> dict[str, Any]:
    """The machine facts a throughput figure depends on."""
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    model = next(
        (line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")),
        platform.processor(),
    )
    return {
        "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", "unset"),
        "cpus": len(os.sched_getaffinity(0)),
        "cpu": model,
        "versions": package_versions(),
    }
