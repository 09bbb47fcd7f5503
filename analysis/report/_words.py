"""What the report calls each metric, what it counts over, and which way is worse.

One table, so that the first screen, the tables, the figures and the glossary name
a metric the same way.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MetricWords:
    """``name``: a table heading; ``short``: an axis label; ``denominator``: what the
    rate is counted over; ``meaning``: the glossary's sentence."""

    name: str
    short: str
    denominator: str
    meaning: str


METRICS: dict[str, MetricWords] = {
    "fta": MetricWords(
        "missed detections (FTA)",
        "FTA",
        "camera sightings (captures) of the group's residents",
        "failure to acquire: the camera saw the person but no usable face was found, so no "
        "search ran. At a gate this locks the resident out.",
    ),
    "fpir": MetricWords(
        "false alert rate (FPIR)",
        "FPIR",
        "searches of residents who are not on the list (non-mated searches)",
        "false positive identification rate: the share of searches of an unlisted person "
        "that return a candidate at or above the threshold. At a gate: the share of "
        "impostor presentations let in.",
    ),
    "fnir": MetricWords(
        "missed match rate (FNIR)",
        "FNIR",
        "searches of listed residents (mated searches); at a gate, genuine entry attempts",
        "false negative identification rate: the share of searches of a listed person whose "
        "own entry is not returned at rank 1 at or above the threshold. At a gate: the share "
        "of genuine entry attempts refused (false rejects).",
    ),
    "fmr": MetricWords(
        "false match rate per comparison (FMR)",
        "FMR",
        "impostor comparisons: each search of a probe times each list member not the probe",
        "the share of comparisons between two different people that score at or above the "
        "threshold. Against a gallery of N people, FPIR is about N x FMR.",
    ),
    "fnmr": MetricWords(
        "false non-match rate per comparison (FNMR)",
        "FNMR",
        "genuine comparisons: a capture against the same person's enrolled photo",
        "the share of comparisons of a person with their own enrolled photo that score "
        "below the threshold.",
    ),
    "alert_precision": MetricWords(
        "alert precision",
        "precision",
        "alerts on the group's residents",
        "true alerts over all alerts: the share of alerts that point at the right person. "
        "Higher is better, so its disparity ratio is the reference's precision over the "
        "group's (worse over better, like every other ratio here).",
    ),
    "false_alerts_per_1000_per_day": MetricWords(
        "false alerts per 1,000 residents per day",
        "false alerts / 1,000 / day",
        "residents of the group whom the deployment's cameras can sight at all (their "
        "expected sightings there are above 0), per day simulated",
        "false alerts on the group's residents, per 1,000 of them that the deployment's "
        "cameras can sight and per day: what exposure (how often a person is sighted) and "
        "FPIR produce together. Residents the cameras never reach (who live, work and go "
        "only where they are not) bear none of its errors and are not counted.",
    ),
    "missed_detection": MetricWords(
        "missed detections",
        "missed",
        "ground-truth face-frames of the group",
        "faces in a frame that the detector did not find (box overlap under 0.3).",
    ),
}


def metric_name(metric: str) -> str:
    """The heading of ``metric`` in tables (its raw name where it has none)."""
    words = METRICS.get(metric)
    return words.name if words else metric


def metric_short(metric: str) -> str:
    """The axis label of ``metric``."""
    words = METRICS.get(metric)
    return words.short if words else metric


def one_in(rate: float) -> str:
    """A small rate as "1 in N" (N rounded to two significant digits).

    Examples
    --------
    >>> one_in(0.000149), one_in(0.5), one_in(0.0)
    ('1 in 6,700', '1 in 2', 'none')
    """
    if not rate > 0:
        return "none"
    n = 1.0 / rate
    digits = len(str(int(n))) - 2
    return f"1 in {int(round(n, -digits) if digits > 0 else round(n)):,}"
