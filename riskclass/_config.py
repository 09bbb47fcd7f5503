"""The scenario schema: every section of a scenario config, validated with pydantic.

Reading files and applying overrides is `_loading`'s job; this module only says what
a valid scenario is.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ._errors import SCENARIO, ConfigError
from ._groups import DEFAULT_KEY, GroupKey, check_group_key

SHARE_SUM_TOLERANCE = 1e-6

# Upper bounds, so that no config that validates asks for more memory or time than
# a study on this project's 24 GiB machine can spend. Each is stated where it applies.
#
# A run holds two 128-d float32 vectors per person (identity and enrollment
# template, 1 KiB) besides the persons table and per-deployment tallies: about
# 12 GiB at 10 million persons, a large city.
MAX_POPULATION = 10_000_000
# A year. Events stream to disk a day at a time, so days cost time, not memory:
# a year of the default 100,000 persons is about 65 million events (10 minutes).
MAX_DAYS = 366
# Expected sightings per person per day (``passes_per_camera_density`` x
# ``activity`` x camera density). Each day's events come in chunks of 65,536
# persons whose captures (a 128-d float32 embedding and a dozen columns, about
# 1 KiB each) are held at once: 6.5 GB per chunk if all of them were seen 100
# times a day, over 50 times the default scenario's mean of 1.8.
MAX_SIGHTINGS_PER_DAY = 100
# Relative weights (biases, activity, over-representation, costs): far beyond any
# meaningful ratio, and finite sums of them stay far from overflow.
MAX_WEIGHT = 1e6
# Lists and tables whose length multiplies work: per-person district weights,
# per-deployment tallies and galleries, report tables per pair of attribute values.
MAX_DISTRICTS = 64
MAX_DEPLOYMENTS = 16
MAX_ATTRIBUTES = 12
MAX_ATTRIBUTE_VALUES = 50

Share = Annotated[float, Field(ge=0.0, le=1.0)]
Weight = Annotated[float, Field(ge=0.0, le=MAX_WEIGHT)]
Hourly = Annotated[list[Weight], Field(min_length=24, max_length=24)]
# Capture conditions: faces up to a 4K frame's height, any head turn, heavy blur.
FacePixels = Annotated[float, Field(gt=0.0, le=4096.0)]
Degrees = Annotated[float, Field(ge=0.0, le=180.0)]
BlurPixels = Annotated[float, Field(ge=0.0, le=100.0)]
# A condition effect per unit of deficit, of either sign: at 100 a rate has long
# saturated.
Shift = Annotated[float, Field(ge=-100.0, le=100.0)]

_SHARES_DO_NOT_SUM = "shares must sum to 1, they sum to {total:.6g}"


def _check_sums_to_one(shares: Mapping[str, float]) -> None:
    total = math.fsum(shares.values())
    if abs(total - 1.0) > SHARE_SUM_TOLERANCE:
        raise ValueError(_SHARES_DO_NOT_SUM.format(total=total))


class _Strict(BaseModel):
    # inf and nan (also written as strings such as "1e99999") are refused everywhere.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


Count = Annotated[int, Field(ge=0, le=MAX_POPULATION)]
ValueShares = Annotated[dict[str, Share], Field(max_length=MAX_ATTRIBUTE_VALUES)]
ValueCounts = Annotated[dict[str, Count], Field(max_length=MAX_ATTRIBUTE_VALUES)]


class Attribute(_Strict):
    """A categorical attribute of persons, with shares or exact counts.

    One of four forms: ``shares: {value: share}`` (each person's value drawn at
    random); ``counts: {value: persons}`` (exactly so many persons, summing to
    ``population.size``, assigned in random order); ``given: other_attribute`` with
    ``shares_given: {other_value: {value: share}}``; or ``given: other_attribute``
    with ``counts_given: {other_value: {value: persons}}``, each row summing to the
    number of persons with that ``other_value`` (so ``other_attribute`` must have
    exact counts too). ``other_attribute`` must be listed earlier. Counts are at
    most `MAX_POPULATION`.
    """

    shares: ValueShares | None = None
    counts: ValueCounts | None = None
    given: str | None = None
    shares_given: (
        Annotated[dict[str, ValueShares], Field(max_length=MAX_ATTRIBUTE_VALUES)] | None
    ) = None
    counts_given: (
        Annotated[dict[str, ValueCounts], Field(max_length=MAX_ATTRIBUTE_VALUES)] | None
    ) = None

    @model_validator(mode="after")
    def _one_form(self) -> Attribute:
        forms = [
            name
            for name in ("shares", "counts", "shares_given", "counts_given")
            if getattr(self, name) is not None
        ]
        if len(forms) != 1:
            raise ValueError(
                "give one of 'shares', 'counts', or 'given' with 'shares_given' or "
                f"'counts_given'; given: {forms or 'none'}"
            )
        form = forms[0]
        if (self.given is not None) != form.endswith("_given"):
            raise ValueError(f"'given' goes with 'shares_given' or 'counts_given', not {form!r}")
        if self.shares is not None or self.counts is not None:
            if not (self.shares or self.counts):
                raise ValueError(f"{form!r} needs at least one value")
            if self.shares is not None:
                _check_sums_to_one(self.shares)
            return self
        if len({tuple(row) for row in self.rows.values()}) != 1:
            raise ValueError(f"every row of {form!r} must list the same values in the same order")
        if self.shares_given is not None:
            for given_value, row in self.shares_given.items():
                try:
                    _check_sums_to_one(row)
                except ValueError as exc:
                    raise ValueError(f"shares_given.{given_value}: {exc}") from None
        return self

    @property
    def values(self) -> list[str]:
        return list(next(iter(self.rows.values())))

    @property
    def rows(self) -> Mapping[str, Mapping[str, float]]:
        """``{given_value: {value: share or count}}``; the one key ``""`` when unconditional."""
        for table in (self.shares, self.counts):
            if table is not None:
                return {"": table}
        for rows in (self.shares_given, self.counts_given):
            if rows is not None:
                return rows
        raise AssertionError("the validator requires one form")

    @property
    def counted(self) -> bool:
        """Exact counts, not shares."""
        return self.counts is not None or self.counts_given is not None


def largest_remainder(shares: Iterable[float], total: int) -> list[int]:
    """Whole numbers in proportion to ``shares`` that sum to ``total``.

    Each gets the floor of its quota; the units left go to the largest
    remainders (ties to the earlier). Shares need not be normalised.

    Examples
    --------
    >>> largest_remainder([0.2, 0.8], 535)
    [107, 428]
    >>> largest_remainder([1, 1, 1], 10)
    [4, 3, 3]
    """
    weights = list(shares)
    scale = math.fsum(weights)
    quotas = [total * w / scale if scale > 0 else 0.0 for w in weights]
    counts = [math.floor(q) for q in quotas]
    left = total - sum(counts)
    by_remainder = sorted(range(len(quotas)), key=lambda i: (-(quotas[i] - counts[i]), i))
    for i in by_remainder[:left]:
        counts[i] += 1
    return counts


# Exact counts per attribute: ``{given_value: [persons per value]}`` (key "" if unconditional).
ExactCounts = dict[str, dict[str, list[int]]]
# Enumerating group cells for the gallery check costs one pass per cell: beyond
# this many the check is left to the run, which sees the drawn persons.
_MAX_CELLS = 100_000
# A gallery whose eligible persons are drawn at random must fit below their
# expected number by this many standard deviations (fails about 1 run in 700).
_ELIGIBLE_MARGIN_SD = 3.0


class Population(_Strict):
    """Who lives in the city.

    ``size`` persons (at most `MAX_POPULATION`, 10 million) with categorical
    ``attributes`` (at most 12, of at most 50 values each; see `Attribute`).
    ``exact: true`` makes every attribute's shares exact counts (largest-remainder
    rounding of the shares times ``size``, or times the count of each value of
    the attribute it is ``given``), assigned to persons in random order.
    """

    size: Annotated[int, Field(gt=0, le=MAX_POPULATION)]
    attributes: Annotated[dict[str, Attribute], Field(min_length=1, max_length=MAX_ATTRIBUTES)]
    exact: bool = False

    @model_validator(mode="after")
    def _conditionals_refer_back(self) -> Population:
        seen: dict[str, list[str]] = {}
        for name, attribute in self.attributes.items():
            if "=" in name or "&" in name:
                raise ValueError(f"attribute name {name!r} may not contain '=' or '&'")
            if attribute.given is not None:
                if attribute.given not in seen:
                    raise ValueError(
                        f"attributes.{name}.given: {attribute.given!r} must be an attribute "
                        f"listed before {name!r}; listed before it: {list(seen)}"
                    )
                if sorted(attribute.rows) != sorted(seen[attribute.given]):
                    raise ValueError(
                        f"attributes.{name}: needs one row per value of "
                        f"{attribute.given!r}, i.e. {seen[attribute.given]}"
                    )
            seen[name] = attribute.values
        self.exact_counts()
        return self

    def exact_counts(self) -> ExactCounts:
        """Per attribute with exact counts, ``{given_value: [persons per value]}``.

        Raises
        ------
        ValueError
            If counts do not sum to ``size``, or a row of ``counts_given`` to the
            count of its value of the ``given`` attribute, or that attribute is
            drawn by shares.
        """
        exact: ExactCounts = {}
        for name, attribute in self.attributes.items():
            if not (attribute.counted or self.exact):
                continue
            if attribute.given is None:
                totals = {"": self.size}
                wanted = "population.size"
            elif attribute.given in exact:
                parent = self.attributes[attribute.given].values
                totals = {
                    value: sum(row[i] for row in exact[attribute.given].values())
                    for i, value in enumerate(parent)
                }
                wanted = f"the count of each value of {attribute.given!r}"
            else:
                raise ValueError(
                    f"attributes.{name}.counts_given: {attribute.given!r} is drawn by shares, so "
                    "how many persons have each of its values is not fixed; give it 'counts'"
                )
            exact[name] = {}
            for given_value, row in attribute.rows.items():
                numbers = [row[value] for value in attribute.values]
                if not attribute.counted:
                    exact[name][given_value] = largest_remainder(numbers, totals[given_value])
                    continue
                total = sum(int(n) for n in numbers)
                if total != totals[given_value]:
                    where = f".{given_value}" if given_value else ""
                    field = "counts_given" if given_value else "counts"
                    raise ValueError(
                        f"attributes.{name}.{field}{where}: counts must sum to {wanted} "
                        f"({totals[given_value]:,}), they sum to {total:,}"
                    )
                exact[name][given_value] = [int(n) for n in numbers]
        return exact

    def eligible(self, weights: Mapping[str, float]) -> tuple[float, float, bool] | None:
        """How many persons a group table of ``weights`` gives a positive weight.

        Persons no key matches weigh 1. Returns the expected number, its standard
        deviation (binomial, an upper bound where counts are exact) and whether
        exact counts fix the number (then the sd is 0); None when the groups the
        table names have more than `_MAX_CELLS` combinations of values.
        """
        keys = [(GroupKey.parse(key), weight) for key, weight in weights.items()]
        if all(weight > 0 for _, weight in keys):
            return float(self.size), 0.0, True
        named = {name for key, _ in keys for name, _ in key.terms}
        # A conditional attribute's shares depend on its parent's value: enumerate both.
        closure: set[str] = set()
        stack = list(named)
        while stack:
            name = stack.pop()
            if name not in closure:
                closure.add(name)
                given = self.attributes[name].given
                stack.extend([given] if given is not None else [])
        order = [name for name in self.attributes if name in closure]
        if math.prod(len(self.attributes[name].values) for name in order) > _MAX_CELLS:
            return None
        exact = self.exact_counts()
        # One attribute's counts, or a parent's and its child's, fix every cell's size.
        fixed = set(order) <= set(exact) and (
            len(order) == 1 or (len(order) == 2 and self.attributes[order[1]].given == order[0])
        )
        share = 0.0
        for cell in itertools.product(*(self.attributes[name].values for name in order)):
            values = dict(zip(order, cell, strict=True))
            probability = 1.0
            for name in order:
                probability *= self._share(name, values, exact)
            if probability > 0 and _cell_weight(keys, values) > 0:
                share += probability
        share = min(share, 1.0)
        if fixed:
            return float(round(share * self.size)), 0.0, True
        return share * self.size, math.sqrt(self.size * share * (1.0 - share)), False

    def _share(self, name: str, values: Mapping[str, str], exact: ExactCounts) -> float:
        """The chance that a person with the other ``values`` has ``name``'s value among them."""
        attribute = self.attributes[name]
        row = values[attribute.given] if attribute.given is not None else ""
        if name in exact:
            counts = exact[name][row]
            total = sum(counts)
            return counts[attribute.values.index(values[name])] / total if total else 0.0
        return float(attribute.rows[row][values[name]])

    @property
    def values_by_attribute(self) -> dict[str, list[str]]:
        return {name: attribute.values for name, attribute in self.attributes.items()}


def _cell_weight(keys: list[tuple[GroupKey, float]], values: Mapping[str, str]) -> float:
    """The weight of persons with ``values``: the most specific matching key, first listed."""
    matching = [
        (len(key.terms), -i, weight)
        for i, (key, weight) in enumerate(keys)
        if all(values[name] == value for name, value in key.terms)
    ]
    return max(matching)[2] if matching else 1.0


def _default_street_light() -> list[float]:
    # Daylight from 7:00 to 18:00, dusk either side, street lighting at night.
    return [0.25] * 6 + [0.5] + [1.0] * 11 + [0.6, 0.4] + [0.25] * 4


class CameraKind(_Strict):
    """Capture conditions of a kind of camera.

    Face size in pixels (inter-ocular box height) is log-normal with the given
    median and spread (sd of its log); head pose (yaw, degrees) is half-normal;
    motion blur (Gaussian sigma in pixels) is exponential with the given mean;
    illumination is a relative level in [0, 1] for each hour of the day. Bounds:
    face size up to 4,096 pixels (spread up to 3), pose up to 180 degrees, blur up
    to 100 pixels.
    """

    face_px_median: FacePixels = 64.0
    face_px_spread: Annotated[float, Field(ge=0.0, le=3.0)] = 0.35
    pose_sd_deg: Degrees = 15.0
    blur_mean_px: BlurPixels = 0.5
    illumination_by_hour: Annotated[list[Share], Field(min_length=24, max_length=24)] = Field(
        default_factory=_default_street_light
    )
    residents_only: bool = False


def _default_camera_kinds() -> dict[str, CameraKind]:
    return {
        "street": CameraKind(),
        "transit_checkpoint": CameraKind(
            face_px_median=96.0,
            face_px_spread=0.25,
            pose_sd_deg=8.0,
            blur_mean_px=0.3,
            illumination_by_hour=[0.9] * 24,
        ),
        "access_gate": CameraKind(
            face_px_median=128.0,
            face_px_spread=0.2,
            pose_sd_deg=6.0,
            blur_mean_px=0.2,
            illumination_by_hour=[0.6] * 6 + [0.9] * 13 + [0.6] * 5,
            residents_only=True,
        ),
    }


class District(_Strict):
    """A district of the city.

    A person's home district is drawn with probability proportional to
    ``population_share`` times the ``resident_bias`` entry for the person's group
    (most specific key wins, 1.0 by default). Shares are at most 1, biases at
    most 10^6, ``cameras_per_1000`` at most 1,000 (a camera per resident; see also
    `MAX_SIGHTINGS_PER_DAY`).
    """

    name: Annotated[str, Field(min_length=1)]
    population_share: Annotated[float, Field(gt=0.0, le=1.0)]
    resident_bias: dict[str, Weight] = Field(default_factory=dict)
    jobs_share: Share | None = None
    cameras_per_1000: Annotated[float, Field(ge=0.0, le=1000.0)]
    camera_mix: dict[str, Share]

    @field_validator("camera_mix")
    @classmethod
    def _mix_sums_to_one(cls, mix: dict[str, float]) -> dict[str, float]:
        _check_sums_to_one(mix)
        return mix


class TimeShare(_Strict):
    home: Share = 0.6
    work: Share = 0.3
    elsewhere: Share = 0.1

    @model_validator(mode="after")
    def _sums_to_one(self) -> TimeShare:
        _check_sums_to_one(self.model_dump())
        return self


def _default_hour_profile() -> list[float]:
    # Few sightings at night, peaks at the morning and evening commutes.
    return [
        0.2,
        0.1,
        0.1,
        0.1,
        0.2,
        0.5,
        1.5,
        3.0,
        3.5,
        2.0,
        1.5,
        1.5,
        2.0,
        1.5,
        1.5,
        1.5,
        2.0,
        3.0,
        3.5,
        2.5,
        1.5,
        1.0,
        0.6,
        0.3,
    ]


class Mobility(_Strict):
    """How often and where persons pass cameras.

    A person's expected sightings per day are ``passes_per_camera_density`` times
    ``activity`` (by group) times the camera density (cameras per 1,000 residents)
    of the districts they spend time in, weighted by ``time_share``. Time at work
    goes to the home district for persons who are not ``employed``; ``elsewhere``
    is spread over districts by population share. The expected sightings of the
    most active persons in the densest district may be at most
    `MAX_SIGHTINGS_PER_DAY` (100) a day; weights are at most 10^6.
    """

    passes_per_camera_density: Annotated[float, Field(gt=0.0, le=MAX_SIGHTINGS_PER_DAY)] = 1.0
    activity: dict[str, Weight] = Field(default_factory=dict)
    employed: dict[str, Share] = Field(default_factory=lambda: {DEFAULT_KEY: 0.7})
    work_in_home_district: Share = 0.3
    time_share: TimeShare = Field(default_factory=TimeShare)
    hour_profile: Hourly = Field(default_factory=_default_hour_profile)

    @field_validator("hour_profile")
    @classmethod
    def _some_hour(cls, profile: list[float]) -> list[float]:
        if not any(profile):
            raise ValueError("at least one hour needs a positive weight")
        return profile


Rate = Annotated[float, Field(gt=0.0, lt=0.5)]


class ErrorRates(_Strict):
    """The algorithm's behaviour for one group at the reference threshold and conditions.

    ``fmr``: share of same-group impostor comparisons that match, either at the
    algorithm's threshold (a number) or at two or more thresholds (a mapping
    ``{threshold: fmr}``, e.g. ``{0.56: 4.0e-6, 0.60: 1.7e-8, 0.64: 2.0e-10}``),
    which sets the shape of the group's impostor tail; ``fnmr``: share of genuine
    comparisons (enrollment vs capture) that do not match; ``fta``: share of
    presentations where no face is acquired.
    """

    fmr: float | dict[float, float]
    fnmr: Rate
    fta: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.02

    @field_validator("fmr", mode="before")
    @classmethod
    def _number_or_points(cls, value: object) -> object:
        # One message for a bad number, instead of one per member of the union.
        if isinstance(value, dict):
            return value
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ValueError("expected a number, or a mapping of thresholds to FMR") from None
        if not math.isfinite(number):
            raise ValueError("Input should be a finite number")
        return number

    @field_validator("fmr")
    @classmethod
    def _a_falling_tail(cls, fmr: float | dict[float, float]) -> float | dict[float, float]:
        points = sorted(fmr.items()) if isinstance(fmr, dict) else [(math.nan, fmr)]
        for threshold, rate in points:
            if not 0.0 < rate < 0.5:
                raise ValueError(f"FMR must be above 0 and below 0.5, got {rate:g}")
            if not math.isnan(threshold) and not 0.0 < threshold < 1.0:
                raise ValueError(f"thresholds must lie between 0 and 1, got {threshold:g}")
        if isinstance(fmr, float):
            return fmr
        if len(fmr) < 2:
            raise ValueError("give FMR at two or more thresholds, or one number at the threshold")
        for (low, at_low), (high, at_high) in itertools.pairwise(points):
            if at_high >= at_low:
                raise ValueError(
                    f"FMR must fall as the threshold rises: {at_high:g} at {high:g} is not "
                    f"below {at_low:g} at {low:g}"
                )
        return dict(points)

    @property
    def fmr_points(self) -> dict[float, float] | None:
        """The configured tail, ``{threshold: fmr}`` in rising threshold, or None for a number."""
        return None if isinstance(self.fmr, float) else self.fmr

    def fmr_by_threshold(self, threshold: float) -> dict[float, float]:
        """The configured FMR by threshold: the tail's points, or the number at ``threshold``."""
        return {threshold: self.fmr} if isinstance(self.fmr, float) else self.fmr


class ConditionShifts(_Strict):
    """A change per unit of each capture deficit, of either sign.

    Deficits against `ReferenceConditions`: ``face_size`` per halving of the face
    below the reference size, ``darkness`` per unit of illumination below the
    reference, ``pose`` per 10 degrees beyond the reference, ``blur`` per pixel of
    blur beyond the reference, ``years`` per year between enrollment and capture.
    Each is at most 100.
    """

    face_size: Shift = 0.0
    darkness: Shift = 0.0
    pose: Shift = 0.0
    blur: Shift = 0.0
    years: Shift = 0.0


class ConditionEffects(ConditionShifts):
    """How much each capture deficit worsens a rate, per unit of deficit (never negative)."""

    @model_validator(mode="after")
    def _worsen_only(self) -> ConditionEffects:
        negative = [name for name, value in self.model_dump().items() if value < 0]
        if negative:
            raise ValueError(f"effects must be 0 or more; negative: {negative}")
        return self


class ReferenceConditions(_Strict):
    """Capture conditions at which the configured error rates hold (bounds as in `CameraKind`)."""

    face_px: FacePixels = 64.0
    illumination: Share = 0.8
    pose_deg: Degrees = 15.0
    blur_px: BlurPixels = 1.0


def _default_error_rates() -> dict[str, ErrorRates]:
    return {DEFAULT_KEY: ErrorRates(fmr=1e-4, fnmr=0.01, fta=0.02)}


CROSS_GROUP_SEPARATOR = " vs "


class Algorithm(_Strict):
    """The face-recognition algorithm: threshold, per-group error rates, condition effects.

    Scores are cosine similarities of unit embeddings; a comparison matches when
    its score is at or above ``threshold``. ``error_rates`` is a group table
    (most specific key wins) and must have a ``default`` entry. Impostor pairs from
    different groups match ``cross_group_factor`` times as often as same-group
    impostors of the group with the lower FMR, unless ``cross_group_fmr`` gives
    their FMR at the threshold (keys ``"<group> vs <group>"``, two keys of
    ``error_rates``). ``noise_effects`` scale capture noise
    (``1 + sum of effect x deficit``), raising FNMR; ``fta_effects`` add to the
    log-odds of a failure to acquire; ``fmr_effects`` add to the log of the FMR of
    a capture against enrolled identities (0 by default: capture conditions leave
    FMR where it is configured, since published evaluations disagree on the sign).
    ``enrollment_years_max`` (at most 100): enrollment photos are up to this many
    years old.
    """

    threshold: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.6
    error_rates: dict[str, ErrorRates] = Field(default_factory=_default_error_rates)
    cross_group_factor: Annotated[float, Field(gt=0.0, le=1.0)] = 0.1
    cross_group_fmr: dict[str, Rate] = Field(default_factory=dict)
    reference_conditions: ReferenceConditions = Field(default_factory=ReferenceConditions)
    noise_effects: ConditionEffects = Field(
        default_factory=lambda: ConditionEffects(
            face_size=0.12, darkness=0.3, pose=0.05, blur=0.05, years=0.01
        )
    )
    fta_effects: ConditionEffects = Field(
        default_factory=lambda: ConditionEffects(face_size=1.5, darkness=3.0, pose=0.5, blur=0.6)
    )
    fmr_effects: ConditionShifts = Field(default_factory=ConditionShifts)
    enrollment_years_max: Annotated[float, Field(ge=0.0, le=100.0)] = 10.0

    @field_validator("error_rates")
    @classmethod
    def _has_default(cls, rates: dict[str, ErrorRates]) -> dict[str, ErrorRates]:
        if DEFAULT_KEY not in rates:
            raise ValueError("needs a 'default' entry for persons no other key matches")
        return rates

    @field_validator("cross_group_fmr")
    @classmethod
    def _pairs_name_groups(
        cls, overrides: dict[str, float], info: ValidationInfo
    ) -> dict[str, float]:
        groups = list(info.data.get("error_rates", {}))
        seen: set[frozenset[str]] = set()
        for key in overrides:
            pair = key.split(CROSS_GROUP_SEPARATOR)
            if len(pair) != 2 or pair[0] == pair[1] or not set(pair) <= set(groups):
                raise ValueError(
                    f"{key!r}: expected '<group> vs <group>' naming two different keys of "
                    f"error_rates: {groups}"
                )
            if frozenset(pair) in seen:
                raise ValueError(f"{key!r}: this pair is given twice")
            seen.add(frozenset(pair))
        return overrides

    def cross_group_override(self, first: str, second: str) -> tuple[str, float] | None:
        """``(key, fmr)`` of the entry of ``cross_group_fmr`` for this pair, if any."""
        for pair in (first, second), (second, first):
            key = CROSS_GROUP_SEPARATOR.join(pair)
            if key in self.cross_group_fmr:
                return key, self.cross_group_fmr[key]
        return None


class Gallery(_Strict):
    """A watchlist or blacklist: who is enrolled in it.

    Give ``size`` (persons) or ``share`` (of the population). Members are drawn
    without replacement with weights from ``over_representation`` (a group table,
    1.0 by default), so ``{residency=migrant: 3}`` lists migrants three times as
    often per capita as everyone else. ``size`` may not exceed the population's;
    weights are at most 10^6.
    """

    name: Annotated[str, Field(min_length=1)]
    size: Annotated[int, Field(gt=0, le=MAX_POPULATION)] | None = None
    share: Annotated[float, Field(gt=0.0, le=1.0)] | None = None
    over_representation: dict[str, Weight] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _size_or_share(self) -> Gallery:
        if (self.size is None) == (self.share is None):
            raise ValueError("give exactly one of 'size' or 'share'")
        return self

    def members_wanted(self, population: int) -> int:
        """How many persons of a population of ``population`` this gallery lists."""
        if self.size is not None:
            return self.size
        assert self.share is not None  # the validator requires one of them
        return round(self.share * population)


POPULATION_GALLERY = "population"

OUTCOMES = (
    "not_detected",
    "true_alert",
    "false_alert",
    "miss",
    "no_alert",
    "true_accept",
    "false_reject",
    "false_accept",
    "true_reject",
)


@dataclass(frozen=True)
class KindInfo:
    """What a deployment kind does, in the terms every stage and report uses.

    ``search``: what one decision compares: ``"gallery"`` (a capture searched 1:N
    against a watchlist or blacklist), ``"claim"`` (a capture verified 1:1 against
    the identity it claims) or ``"captures"`` (a target's photo searched against
    every capture, candidates ranked). ``consequences``: the default consequence of
    each outcome. ``key_metric``/``key_words``: the rate a summary line is about and
    how to say it (worded as a rate, so that a value never reads as a count).
    ``words``: what the kind does, for a reader. ``note``: what the generic
    per-group columns mean for this kind, where they mean something other than
    their names say; ``trials``: what one decision is, in words. ``batch``:
    searches come from a set of persons searched once each (see `BatchSearch`),
    not from camera sightings. ``self_excluded``: the probes are the gallery's own
    members, each searched against every other member with its own entry left
    out, as de-duplication of an enrollment database does; none of its searches
    is mated.
    """

    search: Literal["gallery", "claim", "captures"]
    consequences: Mapping[str, str]
    key_metric: str
    key_words: str
    words: str
    note: str = ""
    trials: str = "sightings"
    batch: bool = False
    self_excluded: bool = False

    @property
    def searches_gallery(self) -> bool:
        """Each capture is searched 1:N against a gallery of enrolled persons."""
        return self.search == "gallery"

    @property
    def sweeps_thresholds(self) -> bool:
        """Decisions rest on a score that a lower or higher threshold would change."""
        return self.search != "captures"


_FALSE_ALERTS = ("false_alerts_per_1000_per_day", "false alerts per 1,000 residents per day")

# One entry per deployment kind: adding a kind means adding it here and to the
# pipeline code that runs it.
KINDS: Mapping[str, KindInfo] = {
    "watchlist_screening": KindInfo(
        "gallery",
        {"true_alert": "police_stop", "false_alert": "police_stop"},
        *_FALSE_ALERTS,
        "live watchlist screening (1:N, every face a camera sees)",
    ),
    "blacklist_checkpoint": KindInfo(
        "gallery",
        {"true_alert": "travel_denied", "false_alert": "travel_denied"},
        *_FALSE_ALERTS,
        "blacklist checkpoint (1:N, travel denied on a match)",
    ),
    "access_gate": KindInfo(
        "claim",
        {"false_reject": "entry_denied", "not_detected": "entry_denied"},
        "fnir",
        "share of genuine entry attempts falsely rejected (FNIR)",
        "access gate (1:1 verification of each entry against the resident's ID photo)",
        note="1:1 verification: FPIR and FMR are false accepts of impostor presentations; "
        "FNIR and FNMR are genuine residents rejected",
    ),
    "investigation": KindInfo(
        "captures",
        {"true_alert": "located", "false_alert": "wrongly_placed"},
        *_FALSE_ALERTS,
        "investigation (a target's photo searched against every capture)",
        note="rows are candidate captures returned for a target; an alert is the reviewer's "
        "confirmation; false alerts are persons wrongly placed on a target's trail; FNIR is "
        "target captures not confirmed",
        trials="candidate captures reviewed",
    ),
    "batch_search": KindInfo(
        "gallery",
        {"true_alert": "identified", "false_alert": "wrongly_matched"},
        "fpir",
        "false matches per search (FPIR)",
        "retrospective batch search (1:N, each probe person's photo searched once)",
        note="one search per probe person, with one photo, whatever the cameras: events "
        "are probe photos, not sightings",
        trials="probe photos",
        batch=True,
    ),
    "enrollment_dedup": KindInfo(
        "gallery",
        {"false_alert": "enrollment_suspended"},
        "fpir",
        "enrolled persons falsely flagged as a duplicate, per search (FPIR)",
        "enrollment de-duplication (1:N, each enrolled person's new photo searched against "
        "every other enrolled person)",
        note="one search per enrolled person, with a new photo, against everyone else enrolled: "
        "nobody in the simulation is enrolled twice, so every flag is an innocent person "
        "flagged as someone else's duplicate, FPIR is the share of enrolled persons flagged, "
        "and FNIR does not apply",
        trials="enrollment photos",
        batch=True,
        self_excluded=True,
    ),
}


def _kinds_that(search: str) -> str:
    return " or ".join(kind for kind, info in KINDS.items() if info.search == search)


class Reviewer(_Strict):
    """A human who checks each candidate an investigation returns, and errs.

    ``confirms_target``: chance of confirming a candidate capture that shows the
    target; ``confirms_other``: chance of confirming one that shows someone else.
    Published studies find reviewers of candidate lists wrong over half the time;
    the defaults are kinder than that.
    """

    confirms_target: Share = 0.7
    confirms_other: Share = 0.02


class Investigation(_Strict):
    """Trajectory search: where has this face been?

    ``targets`` persons are drawn from the deployment's gallery; each target's ID
    photo is searched against every capture the deployment's cameras made during
    the run, and the ``candidates`` best-scoring captures (NIST's investigation
    mode returns 50) go to the ``reviewer``. Without a reviewer every candidate
    counts as confirmed. Captures of other people that are confirmed place those
    people on the target's trail. At most 1,000 targets and 1,000 candidates: each
    target keeps its candidates in memory and is scored against every capture.
    """

    targets: Annotated[int, Field(gt=0, le=1000)] = 20
    candidates: Annotated[int, Field(gt=0, le=1000)] = 50
    reviewer: Reviewer | None = Field(default_factory=Reviewer)


# A booking photo (mugshot): large, frontal, evenly lit and sharp, at or better than
# the reference conditions, so the configured error rates hold for it as they are.
BOOKING_PHOTO = CameraKind(
    face_px_median=128.0,
    face_px_spread=0.1,
    pose_sd_deg=3.0,
    blur_mean_px=0.1,
    illumination_by_hour=[0.95] * 24,
)


class BatchSearch(_Strict):
    """Who a retrospective batch search searches, and with what photos.

    ``probes``: a group key (e.g. ``role=congress``); each person of the group is
    searched once, with one photo, against the deployment's gallery (members
    among them make mated searches). Default: every person not on the gallery.
    ``camera_kind``: a key of ``camera_kinds`` whose capture conditions the
    photos have (taken at an hour drawn from ``mobility.hour_profile``); default
    a booking photo (`BOOKING_PHOTO`: 128-pixel faces, 3 degrees of pose, little
    blur, illumination 0.95).
    """

    probes: str | None = None
    camera_kind: str | None = None


class Deployment(_Strict):
    """Where a search runs, against which gallery, at which threshold, with what consequence.

    ``watchlist_screening`` and ``blacklist_checkpoint`` search every detected
    face 1:N against ``gallery`` and alert on a top candidate at or above the
    threshold; ``access_gate`` verifies each person 1:1 against their own
    enrollment in the population database, and ``impostor_share`` of gate
    presentations are someone presenting another resident's credential (a lent or
    stolen card, claimed by a person of the same error-rate group), which a false
    accept lets in. ``investigation`` searches target photos against every capture
    (see `Investigation`); its threshold, when set, drops candidates scoring below
    it, and when not set candidates are ranked only, as in NIST's investigation
    mode. ``batch_search`` searches one photo of each person of ``batch.probes``
    once against ``gallery``, whatever the cameras (see `BatchSearch`); it takes
    no ``camera_kinds`` or ``districts``. ``enrollment_dedup`` is the anti-fraud
    search of licensing and benefit agencies: a new photo of each member of
    ``gallery`` (of the ``batch.probes`` group, if given) is searched once against
    every other member, and a match flags a suspected duplicate identity. Nobody
    is enrolled twice in the simulation: every flag is false. ``threshold``
    defaults to the algorithm's; a 1:N deployment may instead give ``fpir``,
    NIST's threshold mode: the threshold is solved once the gallery exists, from
    the calibrated model, so that the false positive identification rate against
    this gallery, over non-mated searches by residents not on it (for
    ``enrollment_dedup``, by its members against the others; each person weighed
    equally), is ``fpir``; a run records the threshold it resolved to.
    ``camera_kinds`` and ``districts`` restrict the cameras (all by default).
    ``consequences`` maps outcomes to what happens to the person (defaults per
    kind); outcomes not listed have none.
    """

    name: Annotated[str, Field(min_length=1)]
    kind: str
    gallery: str = POPULATION_GALLERY
    camera_kinds: list[str] | None = None
    districts: list[str] | None = None
    threshold: Annotated[float, Field(gt=-1.0, lt=1.0)] | None = None
    fpir: Annotated[float, Field(gt=0.0, lt=1.0)] | None = None
    consequences: dict[str, str] | None = None
    impostor_share: Share = 0.0
    investigation: Investigation | None = None
    batch: BatchSearch | None = None

    @model_validator(mode="after")
    def _settings_fit_kind(self) -> Deployment:
        if self.fpir is not None:
            if self.threshold is not None:
                raise ValueError("give 'threshold' or 'fpir' (a threshold by target), not both")
            if not self.info.searches_gallery:
                raise ValueError("'fpir' applies to deployments that search a gallery 1:N")
        if self.impostor_share > 0 and self.info.search != "claim":
            raise ValueError(f"impostor_share applies to {_kinds_that('claim')} deployments only")
        if self.investigation is not None and self.info.search != "captures":
            raise ValueError(
                f"'investigation' settings apply to {_kinds_that('captures')} deployments only"
            )
        batch_kinds = " or ".join(kind for kind, info in KINDS.items() if info.batch)
        if self.batch is not None and not self.info.batch:
            raise ValueError(f"'batch' settings apply to {batch_kinds} deployments only")
        if self.info.batch and (self.camera_kinds is not None or self.districts is not None):
            raise ValueError(
                f"{self.kind} searches photos, not camera sightings: give 'batch.camera_kind' "
                "for their capture conditions instead of 'camera_kinds' or 'districts'"
            )
        return self

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, kind: str) -> str:
        if kind not in KINDS:
            raise ValueError(f"unknown deployment kind {kind!r}; kinds are {list(KINDS)}")
        return kind

    @property
    def info(self) -> KindInfo:
        """What this deployment's kind does (see `KINDS`)."""
        return KINDS[self.kind]

    @property
    def investigation_settings(self) -> Investigation:
        return self.investigation if self.investigation is not None else Investigation()

    @property
    def batch_settings(self) -> BatchSearch:
        return self.batch if self.batch is not None else BatchSearch()

    @field_validator("consequences")
    @classmethod
    def _known_outcomes(cls, consequences: dict[str, str] | None) -> dict[str, str] | None:
        for outcome in consequences or {}:
            if outcome not in OUTCOMES:
                raise ValueError(f"unknown outcome {outcome!r}; outcomes are {list(OUTCOMES)}")
        return consequences

    @property
    def outcome_consequences(self) -> dict[str, str]:
        if self.consequences is not None:
            return self.consequences
        return dict(KINDS[self.kind].consequences)


class Mechanisms(_Strict):
    """Switches that turn off one mechanism of disparity at a time.

    ``equal_error_rates``: every group gets the ``default`` error rates.
    ``equal_camera_density``: every district gets the mean density, weighted by
    population share. ``proportional_watchlists``: galleries ignore
    over-representation. For runs with ``dynamics``: ``feedback: false`` is the
    static baseline (records, scores and listings are still kept, but listings
    never enter the galleries and scores never change exposure); ``scrutiny:
    false`` drops the score-dependent exposure (``dynamics.scrutiny`` and
    ``dynamics.fast_lane``); ``escape: false`` drops ``dynamics.escape``.
    """

    equal_error_rates: bool = False
    equal_camera_density: bool = False
    proportional_watchlists: bool = False
    feedback: bool = True
    scrutiny: bool = True
    escape: bool = True


# Outcomes that can make a record in dynamics: alerts of 1:N searches, and the
# errors of 1:1 gates that deny entry.
RECORDABLE_OUTCOMES = ("true_alert", "false_alert", "false_reject", "not_detected")
# A period of at least a day; days per listing up to ten years.
MAX_LISTING_DAYS = 3650
Points = Annotated[float, Field(ge=0.0, le=10_000.0)]


class Score(_Strict):
    """A social-credit score: from ``low`` to ``high``, starting at ``start``.

    After each period the score falls by ``loss_per_record`` for each record made
    in it, or rises by ``gain_per_clean_period`` when there was none, and is
    clipped to the scale. Persons at or above ``creditworthy`` count as
    creditworthy (Sesame Credit: 350 to 950, above 600). Points up to 10,000.
    """

    low: Points = 350.0
    high: Points = 950.0
    start: Points = 700.0
    creditworthy: Points = 600.0
    gain_per_clean_period: Points = 5.0
    loss_per_record: Points = 50.0

    @model_validator(mode="after")
    def _ordered(self) -> Score:
        if not self.low <= self.start <= self.high:
            raise ValueError(
                f"need low <= start <= high, got {self.low}, {self.start}, {self.high}"
            )
        if not self.low <= self.creditworthy <= self.high:
            raise ValueError("creditworthy must lie between low and high")
        return self


class ListingRule(_Strict):
    """Puts a person on ``gallery`` for ``duration_days``.

    It fires after a period for a person not already on that gallery when their
    score is below ``score_below``, or when they have ``records_at_least`` records
    in the periods of the last ``within_days`` (give one of the two). The listing
    starts with the next period; a listed person is searched as a member of the
    gallery in every period that starts before the listing ends. At most 3,650
    days (ten years).
    """

    gallery: Annotated[str, Field(min_length=1)]
    duration_days: Annotated[int, Field(gt=0, le=MAX_LISTING_DAYS)]
    score_below: Points | None = None
    records_at_least: Annotated[int, Field(gt=0, le=10_000)] | None = None
    within_days: Annotated[int, Field(gt=0, le=MAX_DAYS)] = 28

    @model_validator(mode="after")
    def _one_trigger(self) -> ListingRule:
        if (self.score_below is None) == (self.records_at_least is None):
            raise ValueError("give exactly one of 'score_below' or 'records_at_least'")
        return self


class Scrutiny(_Strict):
    """More checks for a low score: persons whose score is below ``score_below``
    at the start of a period are sighted ``exposure_factor`` times as often in it
    (at most 100, within `MAX_SIGHTINGS_PER_DAY`)."""

    score_below: Points
    exposure_factor: Annotated[float, Field(ge=1.0, le=100.0)] = 2.0


class FastLane(_Strict):
    """Fewer checks for a high score: persons whose score is at or above
    ``score_at_least`` at the start of a period skip the screening of
    ``deployments`` in it; each skipped screening is a benefit worth
    ``value_per_use`` (at most 10^6)."""

    score_at_least: Points
    deployments: Annotated[list[str], Field(min_length=1, max_length=MAX_DEPLOYMENTS)]
    value_per_use: Weight = 1.0


class Escape(_Strict):
    """Private escape routes: a ``share`` of each group (a group table, 0 by
    default) has private transport and housing without gates, and is sighted
    ``exposure_factor`` times as often as otherwise in every period; each such
    period is a benefit worth ``value_per_period`` (at most 10^6)."""

    share: dict[str, Share]
    exposure_factor: Share = 0.2
    value_per_period: Weight = 1.0


class Dynamics(_Strict):
    """Risk positions over time: the run's days fall into periods of ``period_days``.

    Each period's sightings are drawn as in a run and decided from the calibrated
    model (see `riskclass.pipeline.DynamicsRun`); between periods, outcomes update
    each person's standing. ``records``: per deployment name,
    per outcome (``true_alert`` and ``false_alert`` of 1:N searches, ``false_reject``
    and ``not_detected`` of gates),
    the probability that one such outcome makes a record (none by default).
    ``score``: see `Score`. ``listings``: rules that put persons on a gallery
    (see `ListingRule`). ``scrutiny``, ``fast_lane`` and ``escape``: exposure that
    follows the score or the purse (see `Scrutiny`, `FastLane`, `Escape`).
    ``risk_classes``: how many classes to find in the per-person vectors (2 to 12).
    Outcome costs (``report.costs``) weigh damages.
    """

    period_days: Annotated[int, Field(gt=0, le=MAX_DAYS)] = 7
    records: dict[str, dict[str, Share]] = Field(default_factory=dict)
    score: Score = Field(default_factory=Score)
    listings: Annotated[list[ListingRule], Field(max_length=MAX_DEPLOYMENTS)] = Field(
        default_factory=list
    )
    scrutiny: Scrutiny | None = None
    fast_lane: FastLane | None = None
    escape: Escape | None = None
    risk_classes: Annotated[int, Field(ge=2, le=12)] = 4

    @field_validator("records")
    @classmethod
    def _recordable(cls, records: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        for deployment, outcomes in records.items():
            for outcome in outcomes:
                if outcome not in RECORDABLE_OUTCOMES:
                    raise ValueError(
                        f"{deployment}.{outcome}: outcomes that make records are "
                        f"{list(RECORDABLE_OUTCOMES)}"
                    )
        return records


MatchingMethod = Literal["exact", "faiss-flat", "faiss-ivf", "faiss-hnsw", "face_recognition"]


class Matching(_Strict):
    """How 1:N searches run.

    ``exact`` (default) is the project's tiled matrix-product search, which skips
    the parts of a large gallery that int8 bounds rule out; ``precision: float16``
    halves its gallery memory. ``faiss-flat`` is faiss's exact index;
    ``faiss-ivf`` (``nlist`` lists, default sqrt of the gallery size, ``nprobe``
    searched) and ``faiss-hnsw`` (``hnsw_m``, ``ef_search``) are approximate: they
    can miss a mate or a false match that exact search finds. ``threads``: search
    threads of the exact matcher (default: every CPU); ``bounded: false`` makes
    it score every identity in float32 (the same results, slower: the benchmark's
    reference). ``face_recognition`` is that library's own loop, one probe at a
    time in float64: exact, and about a thousand times slower. Bounds: ``nlist`` and
    ``nprobe`` 65,536, ``hnsw_m`` 256 (8 m bytes of links per identity),
    ``ef_search`` 4,096, ``threads`` 256.
    """

    method: MatchingMethod = "exact"
    precision: Literal["float32", "float16"] = "float32"
    nlist: Annotated[int, Field(gt=0, le=65_536)] | None = None
    nprobe: Annotated[int, Field(gt=0, le=65_536)] = 16
    hnsw_m: Annotated[int, Field(gt=1, le=256)] = 32
    ef_search: Annotated[int, Field(gt=0, le=4096)] = 64
    threads: Annotated[int, Field(gt=0, le=256)] | None = None
    bounded: bool = True

    @model_validator(mode="after")
    def _precision_is_exact_only(self) -> Matching:
        if self.method != "exact" and (self.precision != "float32" or not self.bounded):
            raise ValueError("precision and bounded apply to the exact matcher only")
        return self


class VideoLight(_Strict):
    """One lighting condition of rendered video.

    ``level``: light relative to daylight (1), which the camera's exposure and gain
    make up for as far as they can; ``elevation_deg`` and ``azimuth_deg``: where
    the main light is (azimuth 0: behind the camera, lighting faces that walk
    towards it; 90: from the right); ``temperature_k``: its colour temperature;
    ``ambient``: the share of light that comes from everywhere (sky, walls), which
    shadows keep. A bare number is a level with the other defaults.
    """

    level: Annotated[float, Field(gt=0.0, le=1.0)]
    elevation_deg: Annotated[float, Field(ge=-10.0, le=90.0)] = 45.0
    azimuth_deg: Annotated[float, Field(ge=-180.0, le=180.0)] = 0.0
    temperature_k: Annotated[float, Field(ge=1500.0, le=15000.0)] = 5500.0
    ambient: Annotated[float, Field(ge=0.0, le=1.0)] = 0.3

    @model_validator(mode="before")
    @classmethod
    def _level_alone(cls, data: Any) -> Any:
        if isinstance(data, int | float) and not isinstance(data, bool):
            return {"level": data}
        return data


SceneType = Literal["street", "station", "gate"]


def _every_scene_type() -> list[SceneType]:
    return ["street", "station", "gate"]


class VideoSettings(_Strict):
    """Rendered video for `riskclass video render` and `riskclass video run`.

    ``persons`` identities are drawn from the population and rendered with their
    group's ``skin_reflectance`` (a group table; the share of light the skin
    returns, as luminance) and, per group, the chance of wearing a ``cap``, a
    ``mask`` or ``glasses``. Each of ``lighting`` (name: a `VideoLight`, or just its
    level) gets ``scenes_per_lighting`` clips of ``frames`` frames, in scene types
    taken in turn from ``scene_types``, in which ``lanes`` people walk towards
    the camera, each in a direction up to ``max_heading_deg`` off straight at it
    and turning their head by ``head_turn_deg`` (standard deviation) around it;
    their faces are ``face_px`` (low, high) pixels tall over the range of
    distances they are placed at. The camera hangs ``camera_height_m`` up, tilted
    down by ``camera_tilt_deg``, with a horizontal field of view of ``fov_deg``;
    in dim light it exposes longer (more motion blur) and then raises its gain up
    to ``max_gain`` (more noise); ``sensor_noise`` is its read noise in grey
    levels; frames are compressed as JPEG at ``jpeg_quality`` before the MP4
    codec. ``tolerance`` is face_recognition's match distance; ``detector`` its
    face detector (``hog``, or ``cnn``: dlib's CNN, slow on a CPU). Bounds, for
    render and detection time: 1,000 persons, 10 lighting conditions, 100 scenes
    of 10,000 frames each, 120 fps, frames up to 3840 x 2160 (4K), faces up to
    2,160 pixels, noise up to 255 grey levels, tolerance up to 2 (the largest
    distance of unit encodings).
    """

    persons: Annotated[int, Field(gt=0, le=1000)] = 24
    lighting: Annotated[dict[str, VideoLight], Field(max_length=10)] = Field(
        default_factory=lambda: {
            "day": VideoLight(level=1.0),
            "dusk": VideoLight(level=0.1, elevation_deg=8.0, temperature_k=3500.0),
            "night": VideoLight(level=0.02, elevation_deg=70.0, temperature_k=2700.0, ambient=0.15),
        }
    )
    scenes_per_lighting: Annotated[int, Field(gt=0, le=100)] = 2
    scene_types: Annotated[list[SceneType], Field(min_length=1, max_length=12)] = Field(
        default_factory=_every_scene_type
    )
    frames: Annotated[int, Field(gt=0, le=10_000)] = 24
    fps: Annotated[int, Field(gt=0, le=120)] = 8
    width: Annotated[int, Field(ge=160, le=3840)] = 640
    height: Annotated[int, Field(ge=120, le=2160)] = 480
    lanes: Annotated[int, Field(gt=0, le=6)] = 3
    face_px: Annotated[
        list[Annotated[int, Field(ge=16, le=2160)]], Field(min_length=2, max_length=2)
    ] = Field(default_factory=lambda: [40, 110])
    max_heading_deg: Annotated[float, Field(ge=0.0, le=80.0)] = 45.0
    head_turn_deg: Annotated[float, Field(ge=0.0, le=45.0)] = 10.0
    camera_height_m: Annotated[float, Field(ge=1.0, le=10.0)] = 1.7
    camera_tilt_deg: Annotated[float, Field(ge=0.0, le=60.0)] = 2.0
    fov_deg: Annotated[float, Field(ge=10.0, le=120.0)] = 30.0
    max_gain: Annotated[float, Field(ge=1.0, le=64.0)] = 8.0
    sensor_noise: Annotated[float, Field(ge=0.0, le=255.0)] = 3.0
    jpeg_quality: Annotated[int, Field(ge=1, le=100)] = 70
    skin_reflectance: dict[str, Annotated[float, Field(gt=0.0, le=1.0)]] = Field(
        default_factory=lambda: {DEFAULT_KEY: 0.3}
    )
    cap: dict[str, Share] = Field(default_factory=lambda: {DEFAULT_KEY: 0.1})
    mask: dict[str, Share] = Field(default_factory=lambda: {DEFAULT_KEY: 0.05})
    glasses: dict[str, Share] = Field(default_factory=lambda: {DEFAULT_KEY: 0.15})
    tolerance: Annotated[float, Field(gt=0.0, le=2.0)] = 0.6
    detector: Literal["hog", "cnn"] = "hog"

    @model_validator(mode="after")
    def _face_px_ordered(self) -> VideoSettings:
        if self.face_px[0] > self.face_px[1]:
            raise ValueError("face_px is (low, high): the first must not exceed the second")
        return self


_SWEEP_OFFSETS = (-0.04, -0.02, 0.0, 0.04)


class ReportSettings(_Strict):
    """What `riskclass report` computes, and what the run keeps so that it can.

    ``thresholds``: the threshold sweep (default: the algorithm's threshold and
    -0.04, -0.02, +0.04 around it). Every 1:N comparison scoring at or above the
    lowest of these is kept in ``hits.parquet`` for impostor rates, FNMR and the
    gallery-size sweep: each search first keeps up to ``hits_per_search``, and a
    search that reaches it is searched again with a larger limit until none does
    (within a memory bound; searches still cut then are counted in the manifest as
    ``searches_cut``, and their impostor rates are too low). ``gallery_fractions``: shares of
    each gallery for the gallery-size sweep. ``reference``: per attribute, the
    reference value of disparity ratios (default: the attribute's largest group). ``costs``:
    per consequence, its weight in the risk burden (default 1, at most 10^6). At
    most 50 thresholds and 20 fractions: each is a bootstrap of its own.
    """

    thresholds: (
        Annotated[
            list[Annotated[float, Field(gt=-1.0, lt=1.0)]], Field(min_length=1, max_length=50)
        ]
        | None
    ) = None
    gallery_fractions: Annotated[
        list[Annotated[float, Field(gt=0.0, le=1.0)]], Field(min_length=1, max_length=20)
    ] = Field(default_factory=lambda: [0.1, 0.25, 0.5, 1.0])
    reference: dict[str, str] = Field(default_factory=dict)
    costs: dict[str, Weight] = Field(default_factory=dict)
    hits_per_search: Annotated[int, Field(gt=0, le=256)] = 16

    def sweep_thresholds(self, threshold: float) -> list[float]:
        if self.thresholds is not None:
            return sorted(self.thresholds)
        return [round(threshold + offset, 6) for offset in _SWEEP_OFFSETS]


class Scenario(_Strict):
    """A whole scenario: the city, its people and their movements.

    ``days``: at most `MAX_DAYS` (366); ``seed``: a 64-bit integer; at most
    `MAX_DISTRICTS` (64) districts, 16 camera kinds, and `MAX_DEPLOYMENTS` (16)
    galleries and deployments.
    """

    name: Annotated[str, Field(min_length=1)]
    seed: Annotated[int, Field(ge=0, lt=2**63)]
    days: Annotated[int, Field(gt=0, le=MAX_DAYS)]
    start_date: dt.date = dt.date(2026, 1, 5)
    population: Population
    camera_kinds: Annotated[dict[str, CameraKind], Field(max_length=16)] = Field(
        default_factory=_default_camera_kinds
    )
    districts: Annotated[list[District], Field(min_length=1, max_length=MAX_DISTRICTS)]
    mobility: Mobility = Field(default_factory=Mobility)
    algorithm: Algorithm = Field(default_factory=Algorithm)
    galleries: Annotated[list[Gallery], Field(max_length=MAX_DEPLOYMENTS)] = Field(
        default_factory=list
    )
    deployments: Annotated[list[Deployment], Field(max_length=MAX_DEPLOYMENTS)] = Field(
        default_factory=list
    )
    mechanisms: Mechanisms = Field(default_factory=Mechanisms)
    matching: Matching = Field(default_factory=Matching)
    video: VideoSettings = Field(default_factory=VideoSettings)
    report: ReportSettings = Field(default_factory=ReportSettings)
    dynamics: Dynamics | None = None

    @property
    def periods(self) -> int:
        """Periods of a run with ``dynamics`` (the whole run is one period without)."""
        return 1 if self.dynamics is None else self.days // self.dynamics.period_days

    def reference_problems(self) -> Iterable[tuple[str, str]]:
        """``(field, message)`` for each name that refers to nothing in this scenario."""
        values = self.population.values_by_attribute
        names = [district.name for district in self.districts]
        for i, district in enumerate(self.districts):
            if names.index(district.name) != i:
                yield f"districts.{i}.name", f"district name {district.name!r} is used twice"
            for kind in district.camera_mix:
                if kind not in self.camera_kinds:
                    yield (
                        f"districts.{i}.camera_mix.{kind}",
                        f"unknown camera kind; camera_kinds are {sorted(self.camera_kinds)}",
                    )
            yield from _group_table_problems(
                f"districts.{i}.resident_bias", district.resident_bias, values
            )
        yield from _group_table_problems("mobility.activity", self.mobility.activity, values)
        yield from _group_table_problems("mobility.employed", self.mobility.employed, values)
        yield from _group_table_problems(
            "algorithm.error_rates", self.algorithm.error_rates, values
        )
        gallery_names = [POPULATION_GALLERY]
        for i, gallery in enumerate(self.galleries):
            if gallery.name in gallery_names:
                yield (
                    f"galleries.{i}.name",
                    f"gallery name {gallery.name!r} is used twice or reserved",
                )
            gallery_names.append(gallery.name)
            field = f"galleries.{i}.over_representation"
            yield from _group_table_problems(field, gallery.over_representation, values)
        deployment_names: list[str] = []
        for i, deployment in enumerate(self.deployments):
            if deployment.name in deployment_names:
                yield f"deployments.{i}.name", f"deployment name {deployment.name!r} is used twice"
            deployment_names.append(deployment.name)
            if deployment.gallery not in gallery_names:
                yield f"deployments.{i}.gallery", f"unknown gallery; galleries are {gallery_names}"
            if deployment.info.search == "claim" and deployment.gallery != POPULATION_GALLERY:
                yield f"deployments.{i}.gallery", "1:1 kinds verify against 'population'"
            if deployment.info.searches_gallery and deployment.gallery == POPULATION_GALLERY:
                yield (
                    f"deployments.{i}.gallery",
                    f"{deployment.kind} searches a watchlist or blacklist: name one of the "
                    f"galleries {gallery_names[1:]}",
                )
            for kind in deployment.camera_kinds or []:
                if kind not in self.camera_kinds:
                    yield f"deployments.{i}.camera_kinds", f"unknown camera kind {kind!r}"
            for district_name in deployment.districts or []:
                if district_name not in names:
                    yield f"deployments.{i}.districts", f"unknown district {district_name!r}"
            batch = deployment.batch_settings
            problem = None if batch.probes is None else check_group_key(batch.probes, values)
            if problem is not None:
                yield f"deployments.{i}.batch.probes", problem
            if batch.camera_kind is not None and batch.camera_kind not in self.camera_kinds:
                yield (
                    f"deployments.{i}.batch.camera_kind",
                    f"unknown camera kind; camera_kinds are {sorted(self.camera_kinds)}",
                )
        for name in ("skin_reflectance", "cap", "mask", "glasses"):
            yield from _group_table_problems(f"video.{name}", getattr(self.video, name), values)
        consequences = sorted(
            {c for d in self.deployments for c in d.outcome_consequences.values()}
        )
        for consequence in self.report.costs:
            if consequence not in consequences:
                yield (
                    f"report.costs.{consequence}",
                    f"no deployment has this consequence; consequences are {consequences}",
                )
        if self.dynamics is not None:
            yield from self._dynamics_problems(self.dynamics, gallery_names[1:], values)
        for attribute, value in self.report.reference.items():
            if attribute not in values:
                yield (
                    f"report.reference.{attribute}",
                    f"unknown attribute; attributes are {sorted(values)}",
                )
            elif value not in values[attribute]:
                yield (
                    f"report.reference.{attribute}",
                    f"unknown value {value!r}; values are {values[attribute]}",
                )

    def _dynamics_problems(
        self, dynamics: Dynamics, galleries: list[str], values: Mapping[str, list[str]]
    ) -> Iterable[tuple[str, str]]:
        if self.days % dynamics.period_days:
            yield (
                "dynamics.period_days",
                f"days ({self.days}) must be a whole number of periods of {dynamics.period_days}",
            )
        by_name = {d.name: d for d in self.deployments}
        for index, deployment in enumerate(self.deployments):
            if deployment.info.search == "captures":
                yield (
                    f"deployments.{index}.kind",
                    f"dynamics runs searches of galleries and gates, not {deployment.kind}",
                )
        for name, outcomes in dynamics.records.items():
            if name not in by_name:
                yield (
                    f"dynamics.records.{name}",
                    f"unknown deployment; deployments are {list(by_name)}",
                )
                continue
            search = by_name[name].info.search
            for outcome in outcomes:
                fits = (outcome in ("true_alert", "false_alert")) == (search == "gallery")
                if not fits:
                    yield (
                        f"dynamics.records.{name}.{outcome}",
                        f"a {by_name[name].kind} deployment makes no {outcome}",
                    )
        for index, rule in enumerate(dynamics.listings):
            if rule.gallery not in galleries:
                yield (
                    f"dynamics.listings.{index}.gallery",
                    f"unknown gallery; galleries that can list persons are {galleries}",
                )
        if dynamics.fast_lane is not None:
            for name in dynamics.fast_lane.deployments:
                if name not in by_name:
                    yield (
                        "dynamics.fast_lane.deployments",
                        f"unknown deployment {name!r}; deployments are {list(by_name)}",
                    )
        if dynamics.escape is not None:
            yield from _group_table_problems("dynamics.escape.share", dynamics.escape.share, values)

    def threshold_of(self, deployment: Deployment) -> float:
        """The score at or above which ``deployment`` counts a comparison as a match.

        Raises
        ------
        ConfigError
            For a deployment with an ``fpir`` target whose threshold has not been
            resolved yet (see `with_thresholds`).
        """
        if deployment.threshold is not None:
            return deployment.threshold
        if deployment.fpir is not None:
            raise ConfigError(
                SCENARIO,
                [(f"deployments.{deployment.name}.fpir", "resolved only once galleries exist")],
            )
        return self.algorithm.threshold

    def with_thresholds(self, resolved: Mapping[str, float]) -> Scenario:
        """This scenario with the thresholds that ``fpir`` targets resolved to, by deployment.

        The targets stay beside their thresholds, as a record of where they came from.
        """
        deployments = [
            d.model_copy(update={"threshold": resolved[d.name]}) if d.name in resolved else d
            for d in self.deployments
        ]
        return self.model_copy(update={"deployments": deployments})

    @property
    def sweep(self) -> list[float]:
        """The thresholds a report sweeps (``report.thresholds``, or around the algorithm's)."""
        return self.report.sweep_thresholds(self.algorithm.threshold)

    def capacity_problems(self) -> Iterable[tuple[str, str]]:
        """``(field, message)`` for each size the population cannot meet or memory not hold."""
        persons = self.population.size
        for i, gallery in enumerate(self.galleries):
            wanted = gallery.members_wanted(persons)
            field = f"galleries.{i}.{'size' if gallery.size is not None else 'share'}"
            if wanted > persons:
                yield field, f"{wanted:,} members, but the population has {persons:,} persons"
            elif wanted == 0:
                yield field, f"less than one member in a population of {persons:,}"
            else:
                yield from _eligibility_problems(field, wanted, self.population, gallery)
        activity = self.mobility.activity
        # Persons no key of the activity table matches get 1.0.
        most_active = max([*activity.values(), *([] if DEFAULT_KEY in activity else [1.0])])
        densest = max(district.cameras_per_1000 for district in self.districts)
        sightings = self.mobility.passes_per_camera_density * most_active * densest
        scrutiny = self.dynamics.scrutiny if self.dynamics is not None else None
        if scrutiny is not None and sightings * scrutiny.exposure_factor > MAX_SIGHTINGS_PER_DAY:
            yield (
                "dynamics.scrutiny.exposure_factor",
                f"the most active persons under scrutiny in the densest district would be seen "
                f"{sightings * scrutiny.exposure_factor:,.4g} times a day; at most "
                f"{MAX_SIGHTINGS_PER_DAY} fit in memory",
            )
        if sightings > MAX_SIGHTINGS_PER_DAY:
            yield (
                "mobility.passes_per_camera_density",
                f"the most active persons in the densest district would be seen {sightings:,.4g} "
                f"times a day (passes x activity x cameras_per_1000); at most "
                f"{MAX_SIGHTINGS_PER_DAY} fit in memory",
            )

    @property
    def hit_floor(self) -> float:
        """The lowest score a report may apply as a threshold: hits are kept from here."""
        return min([*self.sweep, *(self.threshold_of(d) for d in self.deployments)])

    @property
    def district_names(self) -> list[str]:
        return [district.name for district in self.districts]

    def with_mechanisms_applied(self) -> Scenario:
        """This scenario with the mechanisms switched off in ``mechanisms`` removed."""
        switches = self.mechanisms
        update: dict[str, Any] = {}
        if switches.equal_error_rates:
            rates = {DEFAULT_KEY: self.algorithm.error_rates[DEFAULT_KEY]}
            update["algorithm"] = self.algorithm.model_copy(update={"error_rates": rates})
        if switches.equal_camera_density:
            total = math.fsum(d.population_share for d in self.districts)
            mean = (
                math.fsum(d.population_share * d.cameras_per_1000 for d in self.districts) / total
            )
            update["districts"] = [
                d.model_copy(update={"cameras_per_1000": mean}) for d in self.districts
            ]
        if switches.proportional_watchlists:
            update["galleries"] = [
                g.model_copy(update={"over_representation": {}}) for g in self.galleries
            ]
        if self.dynamics is not None:
            dropped: dict[str, None] = {}
            if not switches.scrutiny:
                dropped.update(scrutiny=None, fast_lane=None)
            if not switches.escape:
                dropped["escape"] = None
            update["dynamics"] = self.dynamics.model_copy(update=dropped)
        return self.model_copy(update=update)


def _eligibility_problems(
    field: str, wanted: int, population: Population, gallery: Gallery
) -> Iterable[tuple[str, str]]:
    """A gallery that asks for more members than persons its weights allow."""
    weights = gallery.over_representation
    if any(check_group_key(key, population.values_by_attribute) for key in weights):
        return  # named by reference_problems
    eligible = population.eligible(weights)
    if eligible is None:
        return
    expected, sd, fixed = eligible
    where = "have a positive weight in its over_representation"
    if fixed and wanted > expected:
        yield field, f"{wanted:,} members, but only {expected:,.0f} persons {where}"
    elif not fixed and wanted > expected - _ELIGIBLE_MARGIN_SD * sd:
        yield (
            field,
            f"{wanted:,} members, but about {expected:,.0f} persons (sd {sd:,.1f}, drawn at "
            f"random) {where}: a run would often fail to fill it; ask for at most "
            f"{max(math.floor(expected - _ELIGIBLE_MARGIN_SD * sd), 0):,}, or give the "
            "attributes it names exact 'counts'",
        )


def _group_table_problems(
    field: str, table: Mapping[str, object], values: Mapping[str, list[str]]
) -> Iterable[tuple[str, str]]:
    for key in table:
        problem = check_group_key(key, values)
        if problem is not None:
            yield f"{field}.{key}", problem
