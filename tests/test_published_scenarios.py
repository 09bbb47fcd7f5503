"""Shipped scenarios that reproduce published field results, within the run's intervals."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
from scipy import stats
from scipy.optimize import brentq

from riskclass import Algorithm, Matching, Scenario, load_config, validate_config
from riskclass.analysis import cluster_bootstrap
from riskclass.commands import report_tables, run
from riskclass.pipeline.matching import make_matcher
from riskclass.synthetic import (
    ConditionDraws,
    EmbeddingModel,
    calibrate,
    condition_deficits,
)

from .conftest import CONFIGS, load_yaml, run_once

CONFIDENCE = 0.95


def _garwood(count: int) -> tuple[float, float]:
    """Exact 95% interval of a Poisson mean from one count (chi-square form)."""
    tail = (1 - CONFIDENCE) / 2
    low = stats.chi2.ppf(tail, 2 * count) / 2 if count else 0.0
    return float(low), float(stats.chi2.ppf(1 - tail, 2 * count + 2) / 2)


def _wilson(hits: int, n: int) -> tuple[float, float]:
    ci = stats.binomtest(hits, n).proportion_ci(confidence_level=CONFIDENCE, method="wilson")
    return float(ci.low), float(ci.high)


@pytest.fixture(scope="module")
def aclu(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_once(tmp_path_factory, "aclu", load_config(CONFIGS / "aclu_2018.yaml"))


def test_aclu_searches_each_member_of_congress_once_against_arrest_photos_only(
    aclu: Path,
) -> None:
    persons = pd.read_parquet(aclu / "persons.parquet")
    decisions = pd.read_parquet(aclu / "decisions.parquet")
    galleries = pd.read_parquet(aclu / "galleries.parquet")
    congress = persons.loc[persons["role"] == "congress", "person_id"]
    assert len(congress) == 535
    assert (persons.loc[congress, "ethnicity"] == "poc").sum() == 107
    assert sorted(decisions["person_id"]) == sorted(congress)
    assert not decisions["mated"].any() and decisions["event_id"].is_unique
    arrested = persons.loc[persons["role"] == "arrestee", "person_id"]
    assert sorted(galleries["person_id"]) == sorted(arrested)


def test_aclu_false_matches_and_their_share_of_people_of_colour(aclu: Path) -> None:
    per_group = pd.read_csv(aclu / "per_group.csv").set_index(["attribute", "value"])
    false_matches = int(per_group.loc[("all", "all"), "false_alerts"])
    of_colour = int(per_group.loc[("ethnicity", "poc"), "false_alerts"])
    # ACLU 2018: 28 members falsely matched, 11 of them (about 40%) people of colour.
    low, high = _garwood(false_matches)
    assert low <= 28 <= high, (false_matches, low, high)
    low, high = _wilson(of_colour, false_matches)
    assert low <= 0.4 <= high, (of_colour, false_matches, low, high)
    # One alert per search at most: false matches are members falsely matched.
    assert false_matches == int(per_group.loc[("all", "all"), "nonmated_alerts"])
    # The per-comparison rate is the operational regime's, about 2e-6.
    fmr = false_matches / (535 * 25_000)
    assert 1e-6 < fmr < 4e-6


def test_batch_searches_share_photos_across_thresholds_and_take_conditions_from_a_camera_kind(
    tmp_path: Path,
) -> None:
    data = load_yaml("aclu_2018.yaml")
    search = {"kind": "batch_search", "gallery": "arrest_photos"}
    arrestees = {"probes": "role=arrestee&ethnicity=poc"}
    data["deployments"] = [
        {"name": "everyone_off_the_list", **search},
        {"name": "lower", **search, "threshold": 0.78},
        {"name": "booked", **search, "batch": arrestees},
        {"name": "on_the_street", **search, "batch": {**arrestees, "camera_kind": "street"}},
    ]
    run(validate_config(data), tmp_path / "run")
    decisions = pd.read_parquet(tmp_path / "run" / "decisions.parquet")
    by = {name: rows for name, rows in decisions.groupby("deployment", observed=True)}
    # By default every person not on the gallery is searched: here the members of Congress.
    persons = pd.read_parquet(tmp_path / "run" / "persons.parquet")
    congress = persons.loc[persons["role"] == "congress", "person_id"]
    assert sorted(by["everyone_off_the_list"]["person_id"]) == sorted(congress)
    # Alternatives at another threshold search the same photos: the same events and scores.
    for column in ("event_id", "person_id", "score"):
        np.testing.assert_array_equal(
            by["everyone_off_the_list"][column].to_numpy(), by["lower"][column].to_numpy()
        )
    assert by["lower"]["alert"].sum() > by["everyone_off_the_list"]["alert"].sum()
    # Street photos (smaller, darker, turned faces) miss more listed faces than booking photos.
    per_group = pd.read_csv(tmp_path / "run" / "per_group.csv").set_index(
        ["deployment", "attribute"]
    )
    rows = per_group.xs("all", level="attribute")
    booked, street = rows.loc["booked"], rows.loc["on_the_street"]
    assert booked["mated_searches"] > 9_000 and street["mated_searches"] > 8_000
    missed = [int(r["mated_searches"] - r["true_alerts"]) for r in (booked, street)]
    _, booked_high = _wilson(missed[0], int(booked["mated_searches"]))
    street_low, _ = _wilson(missed[1], int(street["mated_searches"]))
    assert street_low > booked_high, missed


# NPL 2023 at threshold 0.60: false positives per non-mated search against each list,
# and the share of watchlisted passers-by identified.
NPL_FPIR = {"10k_at_0.60": 1 / 6_000, "1k_at_0.60": 1 / 60_000}
# NPL's 89% is rounded to a whole percent: anything from 88.5% to 89.5%.
NPL_TPIR = (0.885, 0.895)
NPL_THRESHOLDS = (0.56, 0.58, 0.60, 0.64)
NPL_LISTS = {"10k": 10_000, "1k": 1_000}
# Residents and days of the reduced copy that CI runs.
NPL_REDUCED = (40_000, 3)
# Significance as the report tests it: two-sided, 5%.
Z_CRITICAL = float(stats.norm.isf(0.025))
# Street captures over which the closed forms below are averaged: the averages'
# relative sampling error is under 1.5% (the captures' FPIR has a standard deviation
# of at most 1.8 times its mean, for any group, kind, list and threshold).
STREET_CAPTURES = 20_000


@dataclass(frozen=True)
class _Alerts:
    """Expected false alerts of one group in a run, and the variance of their log.

    ``sampling``: of the run's searches, given its list (what the report's test
    sees); ``listing``: of the list's draw, which differs from run to run.
    """

    searches: float
    fpir: float
    sampling: float
    listing: float

    @property
    def count(self) -> float:
        return self.searches * self.fpir


def _flag_chance(group: _Alerts, reference: _Alerts) -> float:
    """Chance that a run flags the FPIR ratio of ``group`` over ``reference`` at 5%.

    The run's log ratio is taken as normal around the model's, spread by both
    variances; its test divides by the sampling error alone, as the report's
    person-level bootstrap does, whose Benjamini-Hochberg adjustment only raises
    p-values: the report flags as often as this test or less.
    """
    shift = math.log(group.fpir / reference.fpir)
    sampling = math.sqrt(group.sampling + reference.sampling)
    spread = math.sqrt(sampling**2 + group.listing + reference.listing)
    cut = Z_CRITICAL * sampling
    return float(stats.norm.sf((cut - shift) / spread) + stats.norm.cdf((-cut - shift) / spread))


@dataclass(frozen=True)
class _Street:
    """A scenario's calibrated model and the conditions of a sample of its street captures."""

    scenario: Scenario
    model: EmbeddingModel
    deficits: dict[str, npt.NDArray[np.float64]]

    @classmethod
    def of(cls, scenario: Scenario) -> _Street:
        rng = np.random.default_rng(2023)
        profile = np.array(scenario.mobility.hour_profile)
        hours = rng.choice(24, STREET_CAPTURES, p=profile / profile.sum())
        kinds = np.zeros(STREET_CAPTURES, dtype=np.intp)
        captured = ConditionDraws([scenario.camera_kinds["street"]]).draw(rng, kinds, hours)
        years = rng.random(STREET_CAPTURES) * scenario.algorithm.enrollment_years_max
        deficits = condition_deficits(
            scenario.algorithm.reference_conditions, years=years, **asdict(captured)
        )
        return cls(scenario, calibrate(scenario.algorithm, seed=scenario.seed), deficits)

    def fpir_by_kind(self, group: int, size: int, threshold: float) -> list[tuple[float, float]]:
        """``(share, FPIR)`` of a group's family and the rest, searched against a list of
        ``size`` with each group a third of it, averaged over detected street captures.

        Given a probe, its scores against different list members are independent
        (their identities are), and each member's chance of being a family member
        is its group's share: so a probe of kind ``c`` under capture conditions
        ``i`` alerts with probability ``1 - prod over h of (1 - FMR(h, c; i))^(size/3)``,
        ``FMR`` averaged over the kinds of group ``h`` (`EmbeddingModel.impostor_fmr`).
        """
        model = self.model
        groups = np.full(STREET_CAPTURES, group)
        detected = 1.0 - model.fta_probability(groups, self.deficits)
        scale, drift = model.capture_conditions(groups, self.deficits)
        members = size / len(model.groups)
        found = []
        for share, kind in model.shape(group).kinds():
            log_clear = sum(
                members
                * np.log1p(
                    -model.impostor_fmr(
                        listed, group, threshold=threshold, scale=scale, drift=drift, kind=kind
                    )
                )
                for listed in range(len(model.groups))
            )
            found.append((share, float(np.average(-np.expm1(log_clear), weights=detected))))
        return found

    def alerts(self, group: int, size: int, threshold: float, *, persons: float) -> _Alerts:
        """False alerts of ``persons`` of a group over the scenario's days, from the model.

        Every resident passes the street cameras ``passes_per_camera_density x
        cameras_per_1000`` times a day (one district, street cameras only);
        searches are the detected passes, a Poisson number per person. A person's
        alerts are then Poisson given their kind, so over persons their variance is
        ``mean x (1 + searches per person x var(FPIR of the kinds) / FPIR)``: the
        family's alerts come from few persons. The family's members on the list
        are a binomial draw, and the group's FPIR grows at most in proportion to
        them, so its relative variance from the list is at most the draw's,
        ``(1 - share) / (members x share)``.
        """
        scenario, model = self.scenario, self.model
        (district,) = scenario.districts
        passes = scenario.mobility.passes_per_camera_density * district.cameras_per_1000
        groups = np.full(STREET_CAPTURES, group)
        detected = float(np.mean(1.0 - model.fta_probability(groups, self.deficits)))
        per_person = passes * scenario.days * detected
        shares, fpir = np.array(self.fpir_by_kind(group, size, threshold)).T
        mean = float(shares @ fpir)
        spread = float(shares @ (fpir - mean) ** 2)
        searches = persons * per_person
        family = float(model.family_share[group])
        listed = size / len(model.groups) * family
        return _Alerts(
            searches,
            mean,
            (1.0 + per_person * spread / mean) / (searches * mean),
            (1.0 - family) / listed if family else 0.0,
        )


@pytest.fixture(scope="module")
def npl_street() -> _Street:
    return _Street.of(load_config(CONFIGS / "npl_2023.yaml"))


def _npl_alerts(street: _Street, threshold: float, size: int) -> dict[str, _Alerts]:
    """Each ethnicity's expected false alerts in ``street``'s scenario, not counting
    its listed members (who make mated searches)."""
    scenario = street.scenario
    shares = scenario.population.attributes["ethnicity"].shares
    assert shares is not None
    listed = size / len(shares)
    return {
        value: street.alerts(
            street.model.groups.index(f"ethnicity={value}" if value != "white" else "default"),
            size,
            threshold,
            persons=scenario.population.size * share - listed,
        )
        for value, share in shares.items()
    }


def test_npl_model_gives_the_published_rates_at_0_60_and_black_subjects_an_excess_below(
    npl_street: _Street,
) -> None:
    """What the shipped scenario realizes in expectation, from the model's closed form.

    One run of it is one draw; this checks the draw's expectation against NPL,
    each claim with the spread of full runs (about 1 million non-mated searches
    per list, each run with its own draw of the list). The chance that a run
    flags a group's FPIR ratio against white subjects is at most 15% at 0.60 and
    0.64 (5% where groups are equal; about 13% for Black subjects at 0.60, from
    which members of their look-alike family the list happens to hold), and at
    least 95% for Black subjects' excess at 0.56 and 0.58 (the least, 98.7%,
    against 1,000 at 0.58).
    """
    for label, size in NPL_LISTS.items():
        for threshold in NPL_THRESHOLDS:
            alerts = _npl_alerts(npl_street, threshold, size)
            white = alerts.pop("white")
            chance = {value: _flag_chance(mine, white) for value, mine in alerts.items()}
            where = (label, threshold, chance, {v: a.fpir / white.fpir for v, a in alerts.items()})
            assert chance["asian"] <= 0.15, where
            if threshold < 0.6:
                assert alerts["black"].fpir > white.fpir and chance["black"] >= 0.95, where
            else:
                assert chance["black"] <= 0.15, where
            if threshold == 0.6:
                # NPL's figure lies within the full run's 95% interval of its expected count.
                count = white.count + sum(a.count for a in alerts.values())
                searches = white.searches + sum(a.searches for a in alerts.values())
                published = NPL_FPIR[f"{label}_at_0.60"] * searches
                assert abs(count - published) <= Z_CRITICAL * math.sqrt(count), where


def test_npl_excess_below_0_60_comes_from_the_configured_tail() -> None:
    """The same scenario with Black subjects' FMR a number at 0.60 (the one-cluster tail
    that every other group has) gives them no excess at 0.56 or 0.58."""
    data = load_yaml("npl_2023.yaml")
    rates = data["algorithm"]["error_rates"]
    rates["ethnicity=black"]["fmr"] = rates["ethnicity=black"]["fmr"][0.6]
    plain = _Street.of(validate_config(data))
    for size in NPL_LISTS.values():
        for threshold in (0.56, 0.58):
            alerts = _npl_alerts(plain, threshold, size)
            assert _flag_chance(alerts["black"], alerts["white"]) <= 0.1, (size, threshold)


@pytest.fixture(scope="module")
def npl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A reduced copy of npl_2023.yaml: 40,000 residents for 3 days, at 0.60.

    FPIR 1/60,000 needs about 1.2 million non-mated searches for 20 expected false
    alerts: the shipped scenario makes them (200,000 residents, 4 days; minutes on
    this machine). CI runs the same model and lists against 40,000 residents for 3
    days, about 125,000 and 160,000 non-mated searches: 21 expected false alerts
    at 0.60 against the 10,000 list, under 3 against the 1,000 list, whose interval
    then tells 1/60,000 from 1/6,000 but not from 1/30,000. The report's default
    sweep takes each list's searches to 0.56, 0.58 and 0.64 as well: a
    deployment at each of them would make the same searches.
    """
    data = load_yaml("npl_2023.yaml")
    data["population"]["size"], data["days"] = NPL_REDUCED
    data["deployments"] = [d for d in data["deployments"] if d["threshold"] == 0.6]
    return run_once(tmp_path_factory, "npl", validate_config(data))


@pytest.mark.parametrize("deployment", sorted(NPL_FPIR))
def test_npl_fpir_and_tpir_at_0_60_hold_the_published_figures(npl: Path, deployment: str) -> None:
    outcomes = pd.read_parquet(npl / "person_outcomes.parquet")
    mine = outcomes[outcomes["deployment"] == deployment]
    counts = mine[["nonmated_alerts", "true_alerts"]].to_numpy(np.float64)
    trials = mine[["nonmated_searches", "mated_searches"]].to_numpy(np.float64)
    # The report's intervals: persons resampled with all their searches, widened to
    # the Wilson interval of the pooled counts.
    rates = cluster_bootstrap(
        counts,
        trials,
        np.zeros(len(mine), dtype=np.intp),
        np.ones((1, 1), dtype=bool),
        rng=np.random.default_rng(0),
    )
    (low,), (high,) = rates.interval(proportion=np.array([True, True]))
    (fpir, tpir) = rates.rate[0]
    assert trials[:, 0].sum() > 100_000 and trials[:, 1].sum() > 4_000
    assert low[0] <= NPL_FPIR[deployment] <= high[0], (fpir, low[0], high[0])
    assert low[1] <= NPL_TPIR[1] and NPL_TPIR[0] <= high[1], (tpir, low[1], high[1])


@pytest.fixture(scope="module")
def npl_reduced(npl: Path, npl_street: _Street) -> tuple[_Street, dict[str, pd.DataFrame]]:
    """The closed forms at the reduced copy's size, and its report's tables."""
    full = npl_street.scenario
    size = full.population.model_copy(update={"size": NPL_REDUCED[0]})
    reduced = replace(
        npl_street, scenario=full.model_copy(update={"population": size, "days": NPL_REDUCED[1]})
    )
    return reduced, report_tables(npl).tables


def test_npl_reduced_run_counts_what_the_closed_form_expects(
    npl_reduced: tuple[_Street, dict[str, pd.DataFrame]],
) -> None:
    """Each group's counted FPIR at each swept threshold against each list lies within
    3.3 spreads (99.9%) of the closed form's, the list's draw included, wherever 10 or
    more false alerts are expected: the closed form is what the simulator does."""
    reduced, tables = npl_reduced
    sweep = tables["threshold_sweep"]
    counted = sweep[(sweep["metric"] == "fpir") & (sweep["attribute"] == "ethnicity")]
    counted = counted.set_index(["deployment", "threshold", "value"])
    checked = 0
    for label, members in NPL_LISTS.items():
        for threshold in NPL_THRESHOLDS:
            for value, mine in _npl_alerts(reduced, threshold, members).items():
                if mine.count < 10:
                    continue
                row = counted.loc[(f"{label}_at_0.60", threshold, value)]
                gap = math.log(row["count"] / row["n"] / mine.fpir)
                spread = math.sqrt(mine.sampling + mine.listing)
                assert abs(gap) <= 3.3 * spread, (label, threshold, value, row["count"], mine)
                checked += 1
    assert checked >= 12


def test_npl_reduced_run_flags_black_subjects_excess_at_0_56_and_0_58_only(
    npl_reduced: tuple[_Street, dict[str, pd.DataFrame]],
) -> None:
    """The report's FPIR disparities against white subjects (the largest group):
    Black subjects' excess is significant below 0.60, and nothing else is.

    Each list's rows at the swept thresholds are tested in one family, as the
    shipped scenario's deployment at each threshold tests its own with the same
    sweep. Checked where the reduced run can tell, from the closed form
    (`_flag_chance`, over draws of the run and its list): where the chance of
    flagging Black subjects' excess is at least 99% (0.58 against 10,000 and 0.56
    against 1,000; 0.56 against 10,000 has 94%, 0.58 against 1,000 85%), and
    where the chance of flagging any other ratio is at most 10% (every other cell).
    """
    reduced, tables = npl_reduced
    disparities = tables["disparities"]
    rows = disparities[
        (disparities["metric"] == "fpir")
        & (disparities["attribute"] == "ethnicity")
        & disparities["threshold"].notna()
    ]
    assert set(rows["reference"]) == {"white"}
    assert set(rows["threshold"]) == set(NPL_THRESHOLDS)
    flagged = rows.set_index(["deployment", "threshold", "value"])["significant"]
    excesses = set()
    for label, members in NPL_LISTS.items():
        for threshold in NPL_THRESHOLDS:
            alerts = _npl_alerts(reduced, threshold, members)
            white = alerts.pop("white")
            for value, mine in alerts.items():
                chance = _flag_chance(mine, white)
                cell = (f"{label}_at_0.60", threshold, value)
                if value == "black" and threshold < 0.6:
                    if chance >= 0.99:
                        assert flagged[cell], (cell, chance)
                        excesses.add(threshold)
                else:
                    assert chance <= 0.1, (cell, chance)
                    assert not flagged[cell], (cell, chance)
    assert excesses == {0.56, 0.58}


# Daugman's scaling law at field FMRs: a search against N identities alerts falsely
# with probability 1 - (1 - FMR)^N. Every comparison of probes against one list of
# a million is kept; each run of N consecutive members of it is a list of N of its
# own (members are drawn independently), so the same 2 billion comparisons make
# 2 million searches against 1,000, 200,000 against 10,000, and so on. In every
# cell that is about 20 expected false alerts at FMR 1e-8, 200 at 1e-7 and 2,000 at
# 1e-6 (1,260 against a million, where FPIR is 0.63 and not N x FMR): FMR 1e-8 is
# checked within a factor of about 2, 1e-7 within about 30%, 1e-6 within 9%.
DAUGMAN_LIST = 1_000_000
DAUGMAN_PROBES = 2_000
DAUGMAN_SIZES = (1_000, 10_000, 100_000, 1_000_000)
FIELD_FMRS = (1e-6, 1e-7, 1e-8)
# Each cell's binomial test; 12 cells, so a false failure about once in 800 seeds.
DAUGMAN_LEVEL = 1e-4


def test_fpir_of_simulated_searches_follows_daugman_up_to_a_million_identities() -> None:
    model = calibrate(
        Algorithm.model_validate({"error_rates": {"default": {"fmr": 1e-7, "fnmr": 0.01}}}),
        seed=11,
    )
    # The thresholds at which the model's closed form gives each field FMR; the
    # searches below only compare scores, they never evaluate the formula.
    thresholds = np.array(
        [
            brentq(lambda t, f=fmr: math.log(model.impostor_fmr(0, 0, threshold=t) / f), 0.3, 0.95)
            for fmr in FIELD_FMRS
        ],
        dtype=np.float32,
    )
    rng = np.random.default_rng(12)
    listed = np.zeros(DAUGMAN_LIST, dtype=np.intp)
    gallery = model.observe(model.identities(listed, rng), listed, 1.0, rng, enrollment=True)
    searched = np.zeros(DAUGMAN_PROBES, dtype=np.intp)
    probes = model.observe(model.identities(searched, rng), searched, 1.0, rng)
    limit = 64
    hits = make_matcher(gallery, Matching(), seed=12).search_hits(
        probes, float(thresholds.min()), limit=limit
    )
    # About one comparison per probe reaches FMR 1e-6 against a million: none is cut.
    assert np.bincount(hits.probe, minlength=DAUGMAN_PROBES).max() < limit
    for size in DAUGMAN_SIZES:
        lists = DAUGMAN_LIST // size
        for fmr, threshold in zip(FIELD_FMRS, thresholds, strict=True):
            above = hits.score >= threshold
            alerted = np.unique(hits.probe[above] * lists + hits.position[above] // size).size
            expected = -math.expm1(size * math.log1p(-fmr))
            test = stats.binomtest(alerted, DAUGMAN_PROBES * lists, expected)
            assert test.pvalue >= DAUGMAN_LEVEL, (size, fmr, alerted, expected)
