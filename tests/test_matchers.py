"""Matchers: every method finds what exact search finds; the bench reports it."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from riskclass import THREADS_VARIABLE, ConfigError, in_threads, load_config, validate_config
from riskclass.commands import EXIT_USAGE, main, run, run_bench
from riskclass.pipeline import ExactMatcher, FaissMatcher

# Share of mated probes whose mate an approximate index returns at rank 1, on
# 20,000 random identities (the README states the same floors).
MATED_RECALL_FLOORS = {
    "faiss-ivf:nprobe=32": 0.9,
    "faiss-hnsw:ef=128": 0.98,
}


def _unit(rng: np.random.Generator, n: int, dims: int = 128) -> np.ndarray:
    vectors = rng.standard_normal((n, dims)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.mark.parametrize("threads", [1, 2])
def test_exact_top_k_and_hits_match_brute_force(threads: int) -> None:
    rng = np.random.default_rng(5)
    gallery, probes = _unit(rng, 30_000), _unit(rng, 2_500)
    scores = probes @ gallery.T
    expected = np.argsort(-scores, axis=1, kind="stable")[:, :10]
    matcher = ExactMatcher(gallery, threads=threads)
    positions, found = matcher.search(probes, k=10)
    np.testing.assert_array_equal(positions, expected)
    np.testing.assert_allclose(found, np.take_along_axis(scores, expected, 1), atol=1e-5)
    hits = matcher.search_hits(probes, 0.28, limit=4)
    np.testing.assert_array_equal(hits.best, expected[:, 0])
    wanted = [(i, j) for i in range(len(probes)) for j in expected[i, :4] if scores[i, j] >= 0.28]
    assert list(zip(hits.probe.tolist(), hits.position.tolist(), strict=True)) == wanted
    assert len(wanted) > 100, "the floor must leave hits to compare"


def test_a_thread_cap_runs_the_same_blocks_on_one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    # Local Dask workers cap their threads at 1; their runs must equal runs made alone.
    rng = np.random.default_rng(6)
    gallery, probes = _unit(rng, 5_000), _unit(rng, 3_001)
    matcher = ExactMatcher(gallery, threads=4)
    uncapped = matcher.search_hits(probes, 0.2, limit=3)
    monkeypatch.setenv(THREADS_VARIABLE, "1")
    capped = matcher.search_hits(probes, 0.2, limit=3)
    assert (
        in_threads(lambda _: threading.get_ident(), range(4), threads=4)
        == [threading.get_ident()] * 4
    )
    for field in ("best", "best_score", "probe", "position", "score"):
        assert getattr(capped, field).tobytes() == getattr(uncapped, field).tobytes(), field
    assert len(uncapped.score) > 1000, "the floor must leave hits to compare"


def test_scores_are_the_same_bytes_whatever_the_thread_count() -> None:
    # OpenBLAS rounds a row by where it falls in its block: blocks sized by the
    # thread count gave 2% of these best scores other last bits on 2 or 4 threads.
    rng = np.random.default_rng(7)
    gallery, probes = _unit(rng, 2_000), _unit(rng, 5_000)
    found = [
        ExactMatcher(gallery, threads=threads).search_hits(probes, 0.25, limit=3)
        for threads in (1, 2, 3, 4, 8)
    ]
    for hits in found[1:]:
        for field in ("best", "best_score", "probe", "position", "score"):
            assert getattr(hits, field).tobytes() == getattr(found[0], field).tobytes(), field
    assert len(found[0].score) > 1000, "the floor must leave hits to compare"


def test_bench_methods_agree_with_exact_search(tmp_path: Path) -> None:
    methods = [
        "face_recognition",
        "exact",
        "exact-gemm",
        "exact-f16",
        "exact-mmap",
        "faiss-flat",
        *MATED_RECALL_FLOORS,
    ]
    results = {
        r.method: r for r in run_bench(gallery=20_000, probes=600, k=5, methods=methods, rounds=1)
    }
    for method in ("face_recognition", "exact", "exact-gemm", "exact-mmap", "faiss-flat"):
        assert results[method].recall_at_1 == 1.0 and results[method].recall_at_k == 1.0, method
    assert results["exact-f16"].recall_at_1 >= 0.995
    # float32 or float16 vectors, plus 128 bytes of int8 codes for the bounds.
    assert results["exact-gemm"].bytes_per_identity == 512
    assert results["exact"].bytes_per_identity == 640
    assert results["exact-f16"].bytes_per_identity == 384
    for method, floor in MATED_RECALL_FLOORS.items():
        assert results[method].mated_found_at_1 >= floor, (method, results[method])
    assert results["exact"].mated_found_at_1 == 1.0


def test_bench_cli_writes_json_and_rejects_unknown_methods(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bench.json"
    command = ["bench", "--gallery", "3000", "--probes", "200", "--rounds", "2"]
    assert main([*command, "--methods", "exact faiss-flat", "--json", str(out)]) == 0
    document = json.loads(out.read_text())
    assert document["environment"]["openblas_coretype"]
    rows = {row["method"]: row for row in document["results"]}
    assert set(rows) == {"exact", "faiss-flat"}
    for row in rows.values():
        assert {
            "method",
            "gallery",
            "probes_per_s",
            "recall_at_1",
            "build_s",
            "bytes_per_identity",
        } <= set(row)
        assert row["gallery"] == 3000 and row["probes_per_s"] > 0 and len(row["rounds_s"]) == 2
    capsys.readouterr()
    assert main([*command, "--methods", "exact faiss-ivf:nprobes=3"]) == EXIT_USAGE
    assert "faiss-ivf:nprobes=3" in capsys.readouterr().err


def test_faiss_flat_pipeline_decides_like_exact(
    tmp_path: Path, small_default: dict[str, Any]
) -> None:
    decisions = {}
    for method in ("exact", "faiss-flat"):
        data = {**small_default, "matching": {"method": method}}
        data["algorithm"] = {"threshold": 0.6}
        run(validate_config(data), tmp_path / method)
        decisions[method] = pd.read_parquet(tmp_path / method / "decisions.parquet")
    exact, flat = decisions["exact"], decisions["faiss-flat"]
    assert len(exact) == len(flat) > 1000
    for column in ("event_id", "candidate_id", "alert", "outcome"):
        assert exact[column].equals(flat[column]), column
    np.testing.assert_allclose(exact["score"], flat["score"], atol=1e-5)


def test_precision_applies_to_the_exact_matcher_only(
    write_config: Callable[..., Path], small_default: dict[str, Any]
) -> None:
    small_default["matching"] = {"method": "faiss-ivf", "precision": "float16"}
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(small_default))
    assert caught.value.problems[0][0] == "matching"


def test_faiss_matcher_returns_what_it_holds() -> None:
    rng = np.random.default_rng(9)
    gallery = _unit(rng, 500)
    positions, scores = FaissMatcher(gallery, kind="flat").search(gallery[:20], k=1)
    np.testing.assert_array_equal(positions[:, 0], np.arange(20))
    np.testing.assert_allclose(scores[:, 0], 1.0, atol=1e-5)
