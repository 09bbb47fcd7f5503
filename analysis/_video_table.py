"""Per-group detection and matching rates measured on rendered video."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from riskclass import ALL, Scenario

from ._bootstrap import CLUSTER_REPLICATES, CONFIDENCE, wilson_interval
from ._cells import group_cells
from ._metrics import DISPARITY_COLUMNS, Metric, rates_by_group
from ._significance import RatioEvidence, adjust_ratios, reference_groups

# A group's rate with its Wilson interval, as `_group_rates` yields it.
_RATE_COLUMNS = ("attribute", "value", "n", "count", "rate", "ci_low", "ci_high")
VIDEO_COLUMNS = ("stage", "lighting", *_RATE_COLUMNS)
# Detector columns of the per-face table, as `riskclass.pipeline.run_on_video` names them.
DETECTORS = ("hog", "cnn", "haar")


def video_per_group(
    detections: pd.DataFrame,
    tracks: pd.DataFrame,
    enrollment: pd.DataFrame,
    *,
    attributes: Sequence[str],
    tolerance: float,
) -> pd.DataFrame:
    """Detection rates (per detector) and matching rates per lighting and group.

    Stages: ``hog_detection`` (or ``cnn_detection``) and ``haar_detection``: share
    of ground-truth faces a detector found, per face and frame; ``fnmr``: tracks
    of an enrolled person whose encoding lies farther than ``tolerance`` from
    their own enrollment; ``false_match``: tracks whose nearest enrollment within
    ``tolerance`` is someone else; ``failure_to_enroll``: portraits (lighting
    ``portrait``) without exactly one detected face. Groups are ``all``, every attribute value, and
    ``skin_reflectance``. Intervals are Wilson; frames of one face are correlated,
    so detection intervals are optimistic.
    """
    groupings = [*attributes, "skin_reflectance"]
    known = tracks[(tracks["person_id"] >= 0) & tracks["encoded"]]
    genuine = known[known["own_distance"].notna()]
    detectors = [c for c in DETECTORS if c in detections.columns]
    stages = {
        **{f"{d}_detection": (detections, detections[d]) for d in detectors},
        "fnmr": (genuine, genuine["own_distance"] > tolerance),
        "false_match": (known, known["outcome"] == "false_match"),
        "failure_to_enroll": (enrollment.assign(lighting="portrait"), ~enrollment["enrolled"]),
    }
    rows = []
    for stage, (frame, hit) in stages.items():
        frame = frame.assign(hit=hit.to_numpy())
        for lighting, by_light in [(ALL, frame), *frame.groupby("lighting", sort=False)]:
            rows += [(stage, lighting, *row) for row in _group_rates(by_light, "hit", groupings)]
    return pd.DataFrame(rows, columns=list(VIDEO_COLUMNS))


def _group_rates(
    frame: pd.DataFrame, hit: str, groupings: Sequence[str], by: Sequence[str] = ()
) -> Iterator[tuple[Any, ...]]:
    """The share of true ``hit`` in everyone (attribute ``all``), then in each value
    of each of ``groupings``, per level of the ``by`` columns: rows of the ``by``
    levels and `_RATE_COLUMNS`, attribute by attribute, levels and values sorted."""
    frame = frame.assign(everyone=ALL)
    for attribute in ["everyone", *groupings]:
        label = ALL if attribute == "everyone" else attribute
        for key, hits in frame.groupby([*by, attribute], sort=True)[hit]:
            n, count = len(hits), int(hits.sum())
            low, high = wilson_interval(count, n)
            rate = count / n if n else np.nan
            yield (*key[:-1], label, str(key[-1]), n, count, rate, low, high)


@dataclass(frozen=True)
class VideoGroups:
    """The groups the video report's tables compare.

    ``attributes``: the scenario's (``skin_reflectance`` is added); ``reference``:
    the configured reference values (``report.reference``), else the value with
    the most faces; ``listed``: each attribute's values in config order, which
    break ties (see `reference_groups`).
    """

    attributes: Sequence[str]
    reference: Mapping[str, str]
    listed: Mapping[str, Sequence[str]] | None = None

    @classmethod
    def of(cls, scenario: Scenario) -> VideoGroups:
        """The groups as ``scenario`` configures them."""
        population = scenario.population
        return cls(
            list(population.attributes), scenario.report.reference, population.values_by_attribute
        )

    @property
    def groupings(self) -> list[str]:
        """The attributes, then ``skin_reflectance``."""
        return [*self.attributes, "skin_reflectance"]


def video_group_metrics(
    detections: pd.DataFrame, groups: VideoGroups, *, rng: np.random.Generator
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Missed detections per detector, lighting and group, in the report's tables.

    One "deployment" per detector; metric ``missed_detection``, over all light
    (``lighting`` empty) and per ``lighting``. Each face (one person in one scene)
    is a bootstrap cluster, since its frames share a face, a size and a light.
    Returns what `rates_by_group` does.
    """
    detections = detections.assign(face=detections.groupby(["video", "person_id"]).ngroup())
    faces = detections.drop_duplicates("face").sort_values("face")
    cells = group_cells(faces, groups.groupings)
    lightings = list(dict.fromkeys(detections["lighting"]))
    tables, disparities = [], []
    for detector in [c for c in DETECTORS if c in detections.columns]:
        metrics = []
        for lighting in [ALL, *lightings]:
            mine = detections if lighting == ALL else detections[detections["lighting"] == lighting]
            frames = np.bincount(mine["face"], minlength=len(faces)).astype(np.float64)
            missed = np.bincount(
                mine["face"], weights=~mine[detector].astype(bool), minlength=len(faces)
            ).astype(np.float64)
            light = None if lighting == ALL else lighting
            metrics.append(Metric("missed_detection", missed, frames, lighting=light))
        table, disparity = rates_by_group(
            detector, metrics, cells, reference=groups.reference, rng=rng, listed=groups.listed
        )
        tables.append(table.drop(columns=["threshold", "gallery_fraction"]))
        disparities.append(disparity.drop(columns=["threshold"]))
    return pd.concat(tables, ignore_index=True), pd.concat(disparities, ignore_index=True)


def stratified_disparities(
    detections: pd.DataFrame,
    groups: VideoGroups,
    *,
    rng: np.random.Generator,
    replicates: int = CLUSTER_REPLICATES,
) -> pd.DataFrame:
    """Missed-detection disparities compared within light levels (Mantel-Haenszel).

    Light drives detection, and groups can meet the camera in different light: a
    crude ratio then measures the lighting mix. Per pair of values, the pooled
    ratio is ``sum_L(a_L n0_L / N_L) / sum_L(c_L n1_L / N_L)`` over light levels
    ``L`` (``a``, ``c``: missed face-frames of the group and of the reference;
    ``n1``, ``n0``: their face-frames; ``N = n1 + n0``), so a light level where
    either group is absent adds nothing. ``rate`` and ``reference_rate`` are the
    two groups' rates under the same weights (their ratio is the pooled ratio).
    The reference is that of `reference_groups` (configured, else the value with
    the most faces). Intervals: a bootstrap over faces (Poisson weights, as
    `rates_by_group`), tested as `adjust_ratios` says, one family per detector.
    Columns: ``DISPARITY_COLUMNS`` with ``lighting`` empty.
    """
    # Light levels numbered as they first appear: the pooled sums add them in that
    # order, and their last digits depend on it.
    light = pd.factorize(detections["lighting"])[0]
    rows: list[tuple[object, ...]] = []
    evidence: list[RatioEvidence] = []
    for counts in _face_frames(detections, light, groups, rng, replicates):
        found = _pooled_rows(
            counts.detector, counts.attribute, counts.values, counts.reference, counts.n, counts.a
        )
        rows += [row for row, _ in found]
        evidence += [tested for _, tested in found]
    table = pd.DataFrame(rows, columns=list(DISPARITY_COLUMNS[: DISPARITY_COLUMNS.index("ci_low")]))
    return adjust_ratios(table, evidence)[list(DISPARITY_COLUMNS)]


@dataclass(frozen=True)
class _FaceFrames:
    """Face-frames ``n`` and missed ones ``a`` of each value of one attribute per
    stratum, as one detector saw them: ``(replicates + 1, values, strata)``, the
    point estimate first, each replicate weighting faces by Poisson(1)."""

    detector: str
    attribute: str
    values: list[str]
    reference: str
    n: npt.NDArray[np.float64]
    a: npt.NDArray[np.float64]


def _face_frames(
    detections: pd.DataFrame,
    stratum: npt.NDArray[np.integer[Any]],
    groups: VideoGroups,
    rng: np.random.Generator,
    replicates: int,
) -> Iterator[_FaceFrames]:
    """`_FaceFrames` of each detector and attribute that has a reference value.

    A face is one person in one video: its frames are correlated, so the bootstrap
    resamples faces. ``stratum``: each face-frame's stratum, numbered from 0.
    """
    face = detections.groupby(["video", "person_id"]).ngroup().to_numpy()
    n_faces, n_strata = int(face.max()) + 1, int(stratum.max()) + 1
    faces = detections.assign(face=face).drop_duplicates("face").sort_values("face")
    cell = face * n_strata + stratum
    frames = np.bincount(cell, minlength=n_faces * n_strata).reshape(n_faces, n_strata)
    weights = _face_weights(n_faces, rng, replicates)
    groupings = groups.groupings
    references = reference_groups(
        group_cells(faces, groupings), groups.reference, listed=groups.listed
    )
    for detector in [c for c in DETECTORS if c in detections.columns]:
        missed = np.bincount(
            cell, weights=~detections[detector].astype(bool), minlength=n_faces * n_strata
        ).reshape(n_faces, n_strata)
        for attribute in groupings:
            if attribute not in references:
                continue
            labels = faces[attribute].astype(str).to_numpy()
            values = sorted(set(labels))
            member = (labels[:, None] == np.array(values)[None, :]).astype(np.float64)
            n = np.einsum("bf,fs,fv->bvs", weights, frames, member)
            a = np.einsum("bf,fs,fv->bvs", weights, missed, member)
            yield _FaceFrames(detector, attribute, values, references[attribute], n, a)


def _face_weights(faces: int, rng: np.random.Generator, replicates: int) -> npt.NDArray[np.float64]:
    """Bootstrap weights of faces: ones (the point estimate), then Poisson(1) per replicate."""
    return np.vstack([np.ones(faces), rng.poisson(1.0, (replicates, faces)).astype(np.float64)])


def _pooled_rows(
    detector: str,
    attribute: str,
    values: list[str],
    reference: str,
    n: npt.NDArray[np.float64],
    a: npt.NDArray[np.float64],
) -> list[tuple[tuple[object, ...], RatioEvidence]]:
    """Disparity rows of one attribute (up to ``ratio``) and their evidence, from
    weighted face-frames ``n`` and misses ``a`` (``(replicates + 1, values, lights)``,
    the point estimate first)."""
    both = n[:, :, None, :] + n[:, None, :, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(both > 0, n[:, None, :, :] / both, 0.0)  # n_r / N, for [g, r]
        num = (a[:, :, None, :] * share).sum(axis=-1)  # sum a_g n_r / N
        weight = (n[:, :, None, :] * share).sum(axis=-1)  # sum n_g n_r / N
        den = num.transpose(0, 2, 1)  # sum a_r n_g / N
        ratio = num / den
    ref = values.index(reference)
    rows: list[tuple[tuple[object, ...], RatioEvidence]] = []
    for g, value in enumerate(values):
        if g == ref:
            continue
        point = ratio[0, g, ref]
        finite = bool(np.isfinite(point))
        replicated = ratio[1:, g, ref]
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = num[0, g, ref] / weight[0, g, ref]
            reference_rate = den[0, g, ref] / weight[0, g, ref]
        row = (
            detector,
            "missed_detection",
            np.nan,
            None,
            attribute,
            value,
            values[ref],
            rate,
            reference_rate,
            point if finite else np.nan,
        )
        evidence = RatioEvidence(
            point if finite else np.nan,
            replicated[~np.isnan(replicated)] if finite else np.empty(0),
        )
        rows.append((row, evidence))
    return rows


CONDITION_COLUMNS = ("detector", "factor", "bin", *_RATE_COLUMNS)
# Bins of the conditions that decide whether a detector finds a face: its height
# in pixels and how far it is turned from the camera (absolute yaw, degrees).
FACE_PX_BINS = (0, 40, 60, 80, 100, 10_000)
YAW_BINS = (0, 15, 30, 45, 60, 180)


def condition_bins(detections: pd.DataFrame) -> pd.DataFrame:
    """``face_px_bin`` and ``yaw_bin`` labels (such as ``40-60`` and ``60+``) of each
    face-frame of rendered video, as `detection_by_condition` cuts them."""

    def cut(values: pd.Series, edges: Sequence[int]) -> pd.Series:
        labels = [f"{lo}-{hi}" for lo, hi in itertools.pairwise(edges[:-1])]
        labels.append(f"{edges[-2]}+")
        return pd.cut(values, list(edges), labels=labels, right=False).astype(str)

    return detections.assign(
        face_px_bin=cut(detections["face_px"], FACE_PX_BINS),
        yaw_bin=cut(detections["yaw_deg"].abs(), YAW_BINS),
    )


def detection_by_condition(detections: pd.DataFrame, *, attributes: Sequence[str]) -> pd.DataFrame:
    """Detection rate per detector and group against face size, pose and light.

    Factors: ``face_px`` (face height, bins `FACE_PX_BINS`), ``yaw`` (absolute
    yaw, bins `YAW_BINS`) and ``lighting``; each cut by ``all``, every attribute
    value and ``skin_reflectance``. ``n`` face-frames, ``count`` found, Wilson
    intervals; frames of one face are correlated, so the intervals are optimistic.
    """
    binned = condition_bins(detections)
    factors = {"face_px": "face_px_bin", "yaw": "yaw_bin", "lighting": "lighting"}
    groupings = [*attributes, "skin_reflectance"]
    rows = []
    for detector in [c for c in DETECTORS if c in detections.columns]:
        for factor, column in factors.items():
            rates = _group_rates(binned, detector, groupings, by=[column])
            rows += [(detector, factor, *row) for row in rates]
    return pd.DataFrame(rows, columns=list(CONDITION_COLUMNS))


STANDARDISED_COLUMNS = (
    "detector",
    "attribute",
    "value",
    "reference",
    "n",
    "crude_rate",
    "reference_crude_rate",
    "standardised_rate",
    "reference_standardised_rate",
    "share_remaining",
    "ci_low",
    "ci_high",
)


def standardised_disparities(
    detections: pd.DataFrame,
    groups: VideoGroups,
    *,
    rng: np.random.Generator,
    replicates: int = CLUSTER_REPLICATES,
) -> pd.DataFrame:
    """How much of each group's excess miss rate remains once face size, pose and
    light are the same for every group (direct standardisation).

    Strata are lighting x face-size bin x yaw bin (`condition_bins`). A group's
    standardised miss rate weights its per-stratum miss rates by the share of all
    face-frames (every group together) in that stratum, over the strata where both
    it and the reference have faces. ``share_remaining`` = (standardised rate -
    reference's) / (crude rate - reference's): 1 when size, pose and light explain
    none of the gap, 0 when they explain all of it. The reference is that of
    `reference_groups` (configured, else the value with the most faces), as in
    `stratified_disparities`.
    Rates are missed face-frames per face-frame. Intervals: a bootstrap over faces
    (Poisson weights), as `stratified_disparities`.
    """
    binned = condition_bins(detections)
    stratum = binned.groupby(["lighting", "face_px_bin", "yaw_bin"]).ngroup().to_numpy()
    tail = (1.0 - CONFIDENCE) / 2.0
    rows = []
    for counts in _face_frames(binned, stratum, groups, rng, replicates):
        detector, values, n, a = counts.detector, counts.values, counts.n, counts.a
        with np.errstate(divide="ignore", invalid="ignore"):
            crude = a.sum(-1) / n.sum(-1)
            rate = a / n
        ref = values.index(counts.reference)
        pooled = n.sum(axis=1)  # (replicates + 1, strata)
        for g, value in enumerate(values):
            if g == ref:
                continue
            common = (n[:, g] > 0) & (n[:, ref] > 0)
            share = np.where(common, pooled, 0.0)
            with np.errstate(divide="ignore", invalid="ignore"):
                share /= share.sum(-1, keepdims=True)
                standard = np.nansum(share * np.nan_to_num(rate[:, g]), -1)
                standard_ref = np.nansum(share * np.nan_to_num(rate[:, ref]), -1)
                remaining = (standard - standard_ref) / (crude[:, g] - crude[:, ref])
            replicated = remaining[1:][np.isfinite(remaining[1:])]
            low, high = (
                np.quantile(replicated, [tail, 1.0 - tail], method="inverted_cdf")
                if np.isfinite(remaining[0]) and len(replicated)
                else (np.nan, np.nan)
            )
            rows.append(
                (
                    detector,
                    counts.attribute,
                    value,
                    values[ref],
                    int(n[0, g].sum()),
                    crude[0, g],
                    crude[0, ref],
                    standard[0],
                    standard_ref[0],
                    remaining[0],
                    low,
                    high,
                )
            )
    return pd.DataFrame(rows, columns=list(STANDARDISED_COLUMNS))
