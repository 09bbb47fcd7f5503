"""Why the 1:N searches of the streaming stage cost what they cost: their floor.

Usage: uv run python benchmarks/bench_search_floor.py [--chunks N] [--probes M]

Takes the street watchlist's real probes (the faces of the default scenario's
first ``--chunks`` chunks) and its 2,000-identity gallery, and measures on one
thread, for ``--probes`` of them:

- the exact matcher (`ExactMatcher.search_hits`, as the pipeline calls it), and
  its matrix products alone, in GFLOP/s, beside one square 2,048 product (what
  this CPU's float32 products reach at best);
- pruning by principal directions: the gallery and probes projected on the
  gallery's top 16 or 32 principal directions, the rest of each score bounded
  by Cauchy-Schwarz: the share of (probe, identity) pairs whose bound still
  reaches the hit floor, or the probe's best score (those must be scored);
- an int8 screen (onnxruntime's integer product, 7-bit probe codes as this CPU
  needs without VNNI) with exact rescoring of every identity whose guaranteed
  interval reaches the probe's best: its time, and the candidates per probe; and
  the same screen if only the hits at or above the floor were wanted.

Every search must return each probe's best candidate whatever its score, so a
screen pays only if it leaves few candidates to rescore.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from _machine import machine_line

Array = npt.NDArray[np.float32]


def _faces(chunks: int) -> tuple[Array, Array, float]:
    """The street watchlist's gallery and the probes searched against it."""
    from riskclass import load_config
    from riskclass.commands import calibrate_and_check
    from riskclass.pipeline import ExactMatcher, Pipeline
    from riskclass.synthetic import EventGenerator, generate_population, place_cameras

    scenario = load_config("configs/default.yaml", []).with_mechanisms_applied()
    model, _ = calibrate_and_check(scenario)
    persons = generate_population(scenario)
    cameras = place_cameras(scenario, persons)
    pipeline = Pipeline(scenario=scenario, model=model, persons=persons, cameras=cameras)
    gallery = pipeline.members[scenario.deployments[0].gallery]
    searched: list[Array] = []
    search = ExactMatcher.search_hits

    def keep(self: ExactMatcher, probes: Array, floor: float, *, limit: int) -> object:
        if self.size == len(gallery):
            searched.append(np.array(probes))
        return search(self, probes, floor, limit=limit)

    ExactMatcher.search_hits = keep  # type: ignore[method-assign]
    generator = EventGenerator(scenario=scenario, persons=persons, cameras=cameras)
    for index, chunk in zip(range(chunks), generator.chunks(), strict=False):
        pipeline.process(chunk, index)
    ExactMatcher.search_hits = search  # type: ignore[method-assign]
    templates = pipeline._matchers[scenario.deployments[0].gallery]._gallery  # type: ignore[attr-defined]
    return np.asarray(templates, np.float32), np.concatenate(searched), scenario.hit_floor


def _cpu(work: Callable[[], object], repeats: int = 3) -> float:
    """Median CPU seconds of ``work``."""
    spent = []
    for _ in range(repeats):
        started = time.process_time()
        work()
        spent.append(time.process_time() - started)
    return float(np.median(spent))


def _principal_bounds(gallery: Array, probes: Array, floor: float, best: Array) -> None:
    directions = np.linalg.eigh(gallery.T @ gallery)[1][:, ::-1]
    for k in (16, 32):
        head_g, head_p = gallery @ directions[:, :k], probes @ directions[:, :k]
        rest_g = np.sqrt(np.maximum(0.0, 1.0 - np.einsum("ij,ij->i", head_g, head_g)))
        rest_p = np.sqrt(np.maximum(0.0, 1.0 - np.einsum("ij,ij->i", head_p, head_p)))
        upper = head_p @ head_g.T + rest_p[:, None] * rest_g[None, :]
        print(
            f"  top {k} principal directions: rest norms {rest_p.mean():.2f} (probes), "
            f"{rest_g.mean():.2f} (gallery); pairs left to score: "
            f"{(upper >= floor).mean():.4f} for the hit floor, "
            f"{(upper >= best[:, None]).mean():.4f} for the best candidate"
        )


def _int8_screen(gallery: Array, probes: Array, floor: float | None = None) -> tuple[float, float]:
    """CPU seconds of screening and rescoring, and candidates per probe: those that
    can be the probe's best or, with ``floor``, only those that can reach it."""
    from riskclass.pipeline.matching._bounds import _int8_product

    levels = 63
    session = _int8_product(levels + 1)
    step = float(np.abs(gallery).max()) / 127
    codes = np.clip(np.rint(gallery / step), -127, 127).astype(np.int8)
    columns = np.ascontiguousarray(codes.T)
    residual = float(np.linalg.norm(gallery - step * codes, axis=1).max())
    candidates = 0

    def screen() -> None:
        nonlocal candidates
        candidates = 0
        for start in range(0, len(probes), 1024):
            block = probes[start : start + 1024]
            scale = np.abs(block).max(axis=1) / levels
            quantized = np.rint(block / scale[:, None])
            error = np.linalg.norm(block - quantized * scale[:, None], axis=1)
            size = np.linalg.norm(quantized * scale[:, None], axis=1)
            shifted = (quantized + levels + 1).astype(np.uint8)
            (products,) = session.run(None, {"probes": shifted, "gallery": columns})
            # |score - scale·step·product| <= |e|·|g| + |q'|·|f| (+ float32 rounding).
            margin = (error + size * residual + 1e-5) / (scale * step)
            if floor is None:
                bar = products.max(axis=1) - 2 * margin
            else:
                bar = (floor - margin * scale * step) / (scale * step)
            row, column = np.nonzero(products >= bar[:, None])
            exact = np.einsum("ij,ij->i", block[row], gallery[column])
            order = np.lexsort((column, -exact, row))
            np.searchsorted(row[order], np.arange(len(block)))
            candidates += len(row)

    spent = _cpu(screen)
    return spent, candidates / len(probes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chunks", type=int, default=2)
    parser.add_argument("--probes", type=int, default=50_000)
    args = parser.parse_args()
    print(machine_line())

    from riskclass import one_blas_thread
    from riskclass.pipeline import ExactMatcher

    gallery, probes, floor = _faces(args.chunks)
    probes = probes[: args.probes]
    flop = 2.0 * len(probes) * len(gallery) * gallery.shape[1]
    with one_blas_thread():
        matcher = ExactMatcher(gallery, threads=1)
        search = _cpu(lambda: matcher.search_hits(probes, floor, limit=16))
        # Into one buffer, as the matcher does: a new 16 MB result each time costs
        # its page faults too.
        scores = np.empty((2048, len(gallery)), np.float32)
        products = _cpu(
            lambda: [
                np.matmul(probes[s : s + 2048], gallery.T, out=scores[: len(probes[s : s + 2048])])
                for s in range(0, len(probes), 2048)
            ]
        )
        square = np.ones((2048, 2048), np.float32)
        peak = 2.0 * 2048**3 / _cpu(lambda: square @ square)
        best = matcher.search(probes, k=1)[1][:, 0]
        screened, per_probe = _int8_screen(gallery, probes)
        floored, per_probe_floored = _int8_screen(gallery, probes, floor)
    print(f"{len(probes):,} probes against {len(gallery):,} identities, one thread, CPU:")
    print(
        f"  exact search {search:.3f} s; its products alone {products:.3f} s "
        f"({flop / products / 1e9:.0f} GFLOP/s; a square 2,048 product: {peak / 1e9:.0f})"
    )
    reach = (best >= floor).mean()
    print(f"  best scores: median {np.median(best):.3f}; {reach:.4f} reach the floor")
    _principal_bounds(gallery, probes, floor, best)
    print(f"  int8 screen and rescoring: {screened:.3f} s, {per_probe:.1f} candidates per probe")
    print(
        f"  the same for the hits alone (no best candidate below the floor): {floored:.3f} s, "
        f"{per_probe_floored:.3f} candidates per probe"
    )


if __name__ == "__main__":
    main()
