"""Int8 score bounds that let exact search skip most of a gallery.

With a per-probe scale ``a`` and a per-tile gallery scale ``b``, a probe is
``q = a·q̂ + e`` and a gallery vector ``g = b·ĝ + f`` for int8 codes ``q̂, ĝ``,
so the product of the codes bounds the score from both sides::

    |<q, g> - a·b·<q̂, ĝ>| = |<e, g> + <a·q̂, f>| <= ‖e‖·‖g‖ + ‖a·q̂‖·‖f‖.

The code products come from one int8 matrix product (onnxruntime's
``MatMulInteger``, which runs on the CPU's int8 dot-product instructions,
about three times the float32 rate here). Without those instructions (x86
CPUs before VNNI), onnxruntime multiplies with an instruction that saturates
16-bit pair sums; probe codes then use 7 bits, which keeps every pair sum in
range. For each probe and each slice of `SLICE` consecutive gallery vectors,
the largest code product gives an upper bound on the slice's best score and a
lower bound on it (the vector that attains it scores at least that).
`riskclass.pipeline.ExactMatcher` scores in float32 only the slices that can
hold a probe's best candidates, so its results stay exact.

Codes are taken of rotated vectors (probes and gallery by one fixed random
rotation, in float64, which leaves every inner product as it is): a vector's
code step follows its largest coordinate, and the synthetic embeddings keep a
few large coordinates (their group centres) that would make every step, and
every bound, coarser. Rotated, the coordinates are spread evenly.
"""

from __future__ import annotations

import platform
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

# Gallery vectors per bounded slice: small enough that the slices holding a
# probe's best candidates are a few per cent of a large gallery, large enough
# that scoring one in float32 is a real matrix product.
SLICE = 1_024
# Gallery vectors per int8 product (a multiple of SLICE).
_CODE_TILE = 4 * SLICE
_LEVELS = 127
# 7-bit probe codes: 127 x 127 x 2 fits the 16-bit pair sums of VPMADDUBSW.
_NARROW_LEVELS = 63
# Float32 scores, which the bounds are compared with, are off by at most
# dims x 2**-24 of |q|·|g|; the margin allows four times that.
_ROUNDING_PER_DIM = 4 * 2.0**-24


class Int8Bounds:
    """Upper and lower bounds on each probe's best score in each gallery slice.

    Parameters
    ----------
    gallery:
        ``(size, dims)`` vectors, any float dtype; a memory-mapped gallery is
        read once, a tile at a time.

    Examples
    --------
    >>> gallery = np.zeros((2048, 8), dtype=np.float32)
    >>> gallery[:1024, 0] = gallery[1024:, 1] = 1.0  # slice 1 alone holds the probe's mate
    >>> upper, lower = Int8Bounds(gallery).slice_bounds(gallery[[1024]])
    >>> upper.shape, bool(lower[0, 1] > upper[0, 0])
    ((1, 2), True)
    """

    def __init__(
        self, gallery: npt.NDArray[np.floating[Any]], *, probe_levels: int | None = None
    ) -> None:
        self._probe_levels = probe_levels or cpu_probe_levels()
        self._codes: list[npt.NDArray[np.int8]] = []
        scales, norm_max, residual_max = [], [], []
        self._rotation = _rotation(gallery.shape[1])
        for start in range(0, len(gallery), _CODE_TILE):
            tile = np.asarray(gallery[start : start + _CODE_TILE], dtype=np.float64)
            tile = tile @ self._rotation
            scale = _scale(tile.reshape(1, -1), _LEVELS)[0]
            codes = _codes(tile, scale, _LEVELS)
            slices = np.arange(0, len(tile), SLICE)
            norm = np.linalg.norm(tile, axis=1)
            residual = np.linalg.norm(tile - scale * codes, axis=1)
            self._codes.append(np.ascontiguousarray(codes.T))
            scales.append(np.full(len(slices), scale))
            norm_max.append(np.maximum.reduceat(norm, slices))
            residual_max.append(np.maximum.reduceat(residual, slices))
        self._tile_scale = np.concatenate(scales) if scales else np.empty(0)
        self._norm_max = np.concatenate(norm_max) if norm_max else np.empty(0)
        self._residual_max = np.concatenate(residual_max) if residual_max else np.empty(0)
        self._session = _int8_product(self._probe_levels + 1) if self._codes else None

    @property
    def slices(self) -> int:
        return len(self._norm_max)

    @property
    def nbytes(self) -> int:
        return sum(codes.nbytes for codes in self._codes)

    def slice_bounds(
        self, probes: npt.NDArray[np.float32]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """``(upper, lower)``, each ``(probes, slices)``: every score of a probe in a
        slice is at most ``upper``, and the slice's best score is at least ``lower``."""
        block = np.asarray(probes, dtype=np.float64) @ self._rotation
        levels = self._probe_levels
        scale = _scale(block, levels)
        codes = _codes(block, scale[:, None], levels)
        quantized = scale[:, None] * codes
        error = np.linalg.norm(block - quantized, axis=1)[:, None]
        rounding = _ROUNDING_PER_DIM * block.shape[1]
        margin = (
            error * self._norm_max
            + np.linalg.norm(quantized, axis=1)[:, None] * self._residual_max
            + rounding * np.linalg.norm(block, axis=1)[:, None] * self._norm_max
        )
        best = self._slice_maxima((codes.astype(np.int16) + levels + 1).astype(np.uint8))
        center = best * (scale[:, None] * self._tile_scale)
        return center + margin, center - margin

    def _slice_maxima(self, shifted: npt.NDArray[np.uint8]) -> npt.NDArray[np.int32]:
        """The largest code product of each probe in each slice."""
        assert self._session is not None
        maxima = np.empty((len(shifted), self.slices), dtype=np.int32)
        column = 0
        for codes in self._codes:
            (products,) = self._session.run(None, {"probes": shifted, "gallery": codes})
            found = np.maximum.reduceat(products, np.arange(0, codes.shape[1], SLICE), axis=1)
            maxima[:, column : column + found.shape[1]] = found
            column += found.shape[1]
        return maxima


def _scale(rows: npt.NDArray[np.float64], levels: int) -> npt.NDArray[np.float64]:
    """Per row, the step that maps its largest magnitude onto the top code level."""
    largest = np.abs(rows).max(axis=1) if rows.shape[1] else np.zeros(len(rows))
    return np.maximum(largest, np.finfo(np.float32).tiny) / levels


def _codes(rows: npt.NDArray[np.float64], scale: Any, levels: int) -> npt.NDArray[np.int8]:
    return np.clip(np.rint(rows / scale), -levels, levels).astype(np.int8)


@cache
def _rotation(dims: int) -> npt.NDArray[np.float64]:
    """A fixed random orthogonal ``(dims, dims)`` matrix (the same in every run:
    bounds are exact in any basis, so it need not follow a scenario's seed)."""
    gaussian = np.random.default_rng(dims).standard_normal((dims, dims))
    rotation: npt.NDArray[np.float64] = np.linalg.qr(gaussian)[0]
    return rotation


@cache
def cpu_probe_levels() -> int:
    """Probe code levels this CPU's int8 product handles exactly: full int8 with
    VNNI dot products (or on ARM), 7 bits otherwise."""
    if platform.machine().lower() not in ("x86_64", "amd64", "i386", "i686"):
        return _LEVELS
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return _NARROW_LEVELS
    return _LEVELS if {"avx512_vnni", "avx_vnni"} & set(flags) else _NARROW_LEVELS


def _int8_product(zero_point: int) -> Any:
    """An onnxruntime session computing ``(probes - zero_point) @ gallery`` in int32.

    Probe codes travel shifted into uint8 because the CPU's int8 dot product
    multiplies unsigned by signed bytes. One thread per session call: the
    matcher runs its probe blocks in parallel threads itself.
    """
    import onnx
    import onnxruntime
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["probes", "gallery", "zero"], ["products"])],
        "int8_scores",
        [
            helper.make_tensor_value_info("probes", TensorProto.UINT8, [None, None]),
            helper.make_tensor_value_info("gallery", TensorProto.INT8, [None, None]),
        ],
        [helper.make_tensor_value_info("products", TensorProto.INT32, [None, None])],
        initializer=[helper.make_tensor("zero", TensorProto.UINT8, [], [zero_point])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
