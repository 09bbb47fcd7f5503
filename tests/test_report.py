"""`riskclass report`: every sampled number recomputes from the run's Parquet files."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from benchmarks import check_report_browser
from riskclass import validate_config
from riskclass.analysis import (
    Metric,
    VideoGroups,
    group_cells,
    overall,
    rates_by_group,
    report,
    stratified_disparities,
    video_group_metrics,
)
from riskclass.commands import EXIT_USAGE, build_report, main, report_tables, run

from .conftest import load_yaml, run_once
from .test_run_pipeline import _scenario

STREET = "street_watchlist"
THRESHOLD = 0.6


@pytest.fixture(scope="module")
def reported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = _scenario()
    data["report"] = {"thresholds": [0.56, 0.58, 0.6, 0.64], "costs": {"police_stop": 2.0}}
    out = run_once(tmp_path_factory, "report", validate_config(data))
    # As the command line draws them on two or more CPUs: in other processes.
    build_report(out, figure_processes=2)
    return out


def _read(run_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    decisions = pd.read_parquet(run_dir / "decisions.parquet")
    persons = pd.read_parquet(run_dir / "persons.parquet")
    hits = pd.read_parquet(run_dir / "hits.parquet")
    galleries = pd.read_parquet(run_dir / "galleries.parquet")
    return decisions, persons, hits, galleries


def _rows(table: pd.DataFrame, **where: object) -> pd.DataFrame:
    mask = np.ones(len(table), dtype=bool)
    for column, value in where.items():
        mask &= (table[column] == value).to_numpy()
    return table[mask]


def test_identification_rates_recompute_from_decisions(reported: Path) -> None:
    decisions, persons, _, _ = _read(reported)
    metrics = pd.read_csv(reported / "report" / "metrics.csv")
    street = decisions[decisions["deployment"] == STREET].merge(persons, on="person_id")
    for attribute in ("ethnicity", "age"):
        for value, group in street.groupby(attribute, observed=True):
            detected = group[group["detected"]]
            nonmated, mated = detected[~detected["mated"]], detected[detected["mated"]]
            expected = {
                "fta": ((~group["detected"]).sum(), len(group)),
                "fpir": (nonmated["alert"].sum(), len(nonmated)),
                "fnir": (
                    len(mated)
                    - (mated["alert"] & (mated["candidate_id"] == mated["person_id"])).sum(),
                    len(mated),
                ),
            }
            for metric, (count, n) in expected.items():
                row = _rows(
                    metrics, deployment=STREET, attribute=attribute, value=value, metric=metric
                )
                assert len(row) == 1
                assert row["count"].iloc[0] == count and row["n"].iloc[0] == n, (metric, value)
                assert row["ci_low"].iloc[0] <= row["rate"].iloc[0] <= row["ci_high"].iloc[0]


def test_fmr_and_impostor_heatmap_recompute_from_hits(reported: Path) -> None:
    decisions, persons, hits, galleries = _read(reported)
    members = galleries.loc[galleries["gallery"] == "police_watchlist", "person_id"]
    street = decisions[(decisions["deployment"] == STREET) & decisions["detected"]]
    street_hits = hits[(hits["deployment"] == STREET) & (hits["score"] >= THRESHOLD)]
    impostor = street_hits[street_hits["candidate_id"] != street_hits["person_id"]]
    group = persons.set_index("person_id")["residency"].astype(str)
    metrics = pd.read_csv(reported / "report" / "metrics.csv")
    heatmap = pd.read_csv(reported / "report" / "impostor_fmr.csv")
    for value in ("local", "migrant"):
        searches = street[group.loc[street["person_id"]].to_numpy() == value]
        comparisons = len(searches) * len(members) - searches["mated"].sum()
        count = (group.loc[impostor["person_id"]].to_numpy() == value).sum()
        row = _rows(metrics, deployment=STREET, attribute="residency", value=value, metric="fmr")
        assert row["count"].iloc[0] == count and row["n"].iloc[0] == comparisons
        for candidate_value in ("local", "migrant"):
            pairs = (group.loc[impostor["person_id"]].to_numpy() == value) & (
                group.loc[impostor["candidate_id"]].to_numpy() == candidate_value
            )
            cell = _rows(
                heatmap,
                deployment=STREET,
                attribute="residency",
                probe_value=value,
                candidate_value=candidate_value,
            )
            assert cell["hits"].iloc[0] == pairs.sum()
            assert cell["ci_low"].iloc[0] <= cell["fmr"].iloc[0] <= cell["ci_high"].iloc[0]


def test_sweeps_recompute_and_agree_at_the_run_threshold(reported: Path) -> None:
    decisions, _persons, _, _ = _read(reported)
    sweep = pd.read_csv(reported / "report" / "threshold_sweep.csv")
    gallery = pd.read_csv(reported / "report" / "gallery_sweep.csv")
    metrics = pd.read_csv(reported / "report" / "metrics.csv")
    street = decisions[(decisions["deployment"] == STREET) & decisions["detected"]]
    nonmated = street[~street["mated"]]
    for threshold in (0.56, 0.58, 0.6, 0.64):
        row = _rows(sweep, deployment=STREET, attribute="all", metric="fpir", threshold=threshold)
        assert row["count"].iloc[0] == (nonmated["score"] >= threshold).sum()
        assert row["n"].iloc[0] == len(nonmated)
    at_run = _rows(metrics, deployment=STREET, attribute="all", metric="fpir")["count"].iloc[0]
    full = _rows(gallery, deployment=STREET, attribute="all", gallery_fraction=1.0)
    assert full["count"].iloc[0] == at_run, "the whole gallery reproduces the run's FPIR"
    by_fraction = _rows(gallery, deployment=STREET, attribute="all").sort_values("gallery_fraction")
    assert np.all(np.diff(by_fraction["count"]) >= 0), "nested subsamples: FPIR grows with size"
    rates = _rows(sweep, deployment=STREET, attribute="all", metric="fpir").sort_values("threshold")
    assert np.all(np.diff(rates["rate"]) <= 0)


def test_burden_recomputes_from_decisions(reported: Path) -> None:
    decisions, persons, _, _ = _read(reported)
    wrongful = decisions[
        decisions["outcome"].isin(["false_alert", "false_reject", "not_detected"])
        & decisions["consequence"].notna()
    ]
    cost = wrongful["consequence"].map(lambda c: 2.0 if c == "police_stop" else 1.0).astype(float)
    expected = cost.groupby(wrongful["person_id"]).sum()
    burden = pd.read_parquet(reported / "report" / "person_burden.parquet").set_index("person_id")
    np.testing.assert_allclose(burden["burden"].loc[expected.index], expected.to_numpy())
    assert burden["burden"].drop(expected.index).eq(0).all()
    groups = pd.read_csv(reported / "report" / "burden_by_group.csv")
    merged = persons.merge(burden, left_on="person_id", right_index=True)
    for value, mine in merged.groupby("residency", observed=True):
        row = _rows(groups, attribute="residency", value=value)
        np.testing.assert_allclose(row["mean_burden"].iloc[0], mine["burden"].mean())
        np.testing.assert_allclose(row["burdened_share"].iloc[0], (mine["burden"] > 0).mean())


def test_disparity_ratios_divide_by_the_largest_group(reported: Path) -> None:
    metrics = pd.read_csv(reported / "report" / "metrics.csv")
    disparities = pd.read_csv(reported / "report" / "disparities.csv")
    persons = pd.read_parquet(reported / "persons.parquet")
    largest = persons["age"].value_counts().idxmax()
    rates = _rows(metrics, deployment=STREET, attribute="age", metric="fpir").set_index("value")[
        "rate"
    ]
    rows = _rows(disparities, deployment=STREET, attribute="age", metric="fpir")
    # Thresholds are a column, never part of a metric's name.
    assert not disparities["metric"].str.contains("@").any()
    assert rows["threshold"].nunique() > 1
    # Chosen before looking: the same reference at every threshold and for every metric.
    age = disparities[disparities["attribute"] == "age"]
    assert set(age["reference"]) == {largest}
    # At the deployment's own threshold (swept thresholds have their own rows).
    rows = rows[rows["threshold"].isna()]
    for row in rows.itertuples():
        assert row.ratio == pytest.approx(rates[row.value] / rates[largest], rel=1e-9)
        assert row.ci_low <= row.ratio <= row.ci_high
        # The adjusted interval is wider and agrees with the adjusted test.
        assert row.adjusted_low <= row.ci_low and row.adjusted_high >= row.ci_high
        if np.isnan(row.p_value):  # a group without false alerts is not tested
            assert not row.significant and row.ratio == 0
            continue
        assert row.p_adjusted >= row.p_value
        assert row.significant == (row.p_adjusted <= 0.05)
        assert row.significant == (row.adjusted_low > 1 or row.adjusted_high < 1)


def test_false_alert_shares_have_intervals(reported: Path) -> None:
    shares = pd.read_csv(reported / "report" / "false_alert_shares.csv")
    street = shares[(shares["deployment"] == STREET) & shares["false_alerts"].notna()]
    assert (street["share_ci_low"] <= street["false_alert_share"]).all()
    assert (street["false_alert_share"] <= street["share_ci_high"]).all()
    everyone = street[street["attribute"] == "all"].iloc[0]
    assert everyone["false_alert_share"] == everyone["share_ci_low"] == 1.0
    ethnicity = street[street["attribute"] == "ethnicity"]
    assert ethnicity["false_alert_share"].sum() == pytest.approx(1.0)
    assert (ethnicity["share_ci_high"] > ethnicity["share_ci_low"]).all()


def test_rates_per_resident_count_only_residents_the_cameras_reach(reported: Path) -> None:
    metrics = pd.read_csv(reported / "report" / "metrics.csv")
    persons = pd.read_parquet(reported / "persons.parquet")
    cameras = pd.read_parquet(reported / "cameras.parquet")
    per_resident = _rows(metrics, metric="false_alerts_per_1000_per_day", attribute="all")
    n = per_resident.set_index("deployment")["n"]
    # Street cameras are open to all: everyone passes them, at least elsewhere.
    assert n[STREET] == len(persons)
    # Access gates admit only the residents of their district.
    gated = cameras.loc[cameras["kind"] == "access_gate", "district"].astype(str).unique()
    assert 0 < n["rental_gates"] == persons["home_district"].astype(str).isin(gated).sum()
    assert n["rental_gates"] < len(persons)


def test_html_embeds_every_figure_as_a_png(reported: Path) -> None:
    html = (reported / "report" / "index.html").read_text(encoding="utf-8")
    sources = re.findall(r'<img alt="[^"]*" src="([^"]+)"', html)
    assert len(sources) >= 8
    for source in sources:
        assert source.startswith("data:image/png;base64,")
        assert base64.b64decode(source.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert "http://" not in html and "https://" not in html, "the report is self-contained"
    for deployment in (STREET, "transit_blacklist", "rental_gates", "trajectories"):
        assert f"Deployment {deployment}" in html


def test_figures_drawn_in_other_processes_are_those_drawn_here(reported: Path) -> None:
    """Figures drawn in a pool of processes (``figure_processes=2``, as the command
    line does on two or more CPUs) are each the PNG that drawing here gives, in its place."""
    html = (reported / "report" / "index.html").read_text(encoding="utf-8")
    found = report_tables(reported)
    context = report.run_context(
        run_dir=reported.name,
        scenario=found.scenario,
        version="",
        specs=found.specs,
        tables=found.tables,
        burden=found.burden,
        summary=[],
        persons=found.persons,
        cameras=pd.read_parquet(reported / "cameras.parquet"),
        alternatives=found.alternatives,
    )
    here = [f["png"] for d in context["deployments"] for f in d["figures"]]
    here += [f["png"] for f in context["burden_figures"]]
    assert re.findall(r'src="data:image/png;base64,([^"]+)"', html) == here


def test_report_is_reproducible(reported: Path, tmp_path: Path) -> None:
    before = {p.name: p.read_bytes() for p in (reported / "report").glob("*.csv")}
    build_report(reported)
    after = {p.name: p.read_bytes() for p in (reported / "report").glob("*.csv")}
    assert before == after


def test_report_does_not_record_where_the_run_directory_is(reported: Path) -> None:
    # Reports are byte-identical wherever they are made: only the folder's name shows.
    for name in ("index.html", "manifest.json"):
        text = (reported / "report" / name).read_text()
        assert str(reported.parent) not in text, name
    assert '"run": "run"' in (reported / "report" / "manifest.json").read_text()


def test_report_of_a_directory_that_is_not_a_run_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", str(tmp_path)]) == EXIT_USAGE
    message = capsys.readouterr().err
    assert str(tmp_path) in message and "manifest.json" in message
    assert "Traceback" not in message


def test_groups_without_trials_show_n_and_no_rate() -> None:
    persons = pd.DataFrame({"sex": ["f", "f", "m", "m"], "age": ["old", "young", "old", "young"]})
    cells = group_cells(persons, ["sex", "age"])
    # Only the young are ever searched: the old have no trials at all.
    trials = np.array([0.0, 5.0, 0.0, 7.0])
    errors = np.array([0.0, 1.0, 0.0, 2.0])
    table, disparities = rates_by_group(
        "gate",
        [Metric("fnir", errors, trials)],
        cells,
        reference={},
        rng=np.random.default_rng(0),
    )
    old = table[(table["attribute"] == "age") & (table["value"] == "old")].iloc[0]
    assert old["n"] == 0 and np.isnan(old["rate"]) and np.isnan(old["ci_high"])
    young = table[(table["attribute"] == "age") & (table["value"] == "young")].iloc[0]
    assert young["n"] == 12 and young["rate"] == pytest.approx(3 / 12)
    assert not disparities.loc[disparities["attribute"] == "age", "significant"].any()


def _first_screen(html: str) -> str:
    """What comes before the first deployment's section: the first screen and findings."""
    return html.split('<section id="deployment-', 1)[0]


def test_first_screen_states_scenario_simulation_counts_and_headline(reported: Path) -> None:
    html = (reported / "report" / "index.html").read_text(encoding="utf-8")
    first = _first_screen(html)
    assert "Simulated, not measured" in first and "configured" in first
    assert 'href="#methods"' in first and f'href="#deployment-{STREET}"' in first
    decisions = pd.read_parquet(reported / "decisions.parquet")
    street = decisions[decisions["deployment"] == STREET]
    false_alerts = int((street["outcome"] == "false_alert").sum())
    days = validate_config(_scenario()).days
    assert f"{false_alerts:,} false alerts in {days} days" in first
    galleries = pd.read_parquet(reported / "galleries.parquet")
    listed = int((galleries["gallery"] == "police_watchlist").sum())
    assert f"police_watchlist: {listed:,} persons" in first
    # The headline: both rates, the reference named as such, the ratio's own interval,
    # then the adjusted one that decides significance.
    found = re.search(
        rf"{STREET}: false alerts per 1,000 residents per day was (\S+) for (\w+)=(\w+) against "
        r"(\S+) for \w+=(\w+) \(the reference group\): a ratio of (\S+) \(95% interval of the "
        r"ratio (\S+) to (\S+); (\S+) to (\S+) adjusted for the other ratios of "
        r"this rate in the deployment, (significant|not significant)\)",
        first,
    )
    assert found is not None, first[-3000:]
    _, attribute, value, _, reference, ratio, low, high, *adjusted, verdict = found.groups()
    disparities = pd.read_csv(reported / "report" / "disparities.csv")
    row = _rows(
        disparities,
        deployment=STREET,
        metric="false_alerts_per_1000_per_day",
        attribute=attribute,
        value=value,
    )
    row = row[row["threshold"].isna()].iloc[0]
    assert row["reference"] == reference
    assert float(ratio) == pytest.approx(row["ratio"], rel=5e-3)
    assert float(low) == pytest.approx(row["ci_low"], rel=5e-3)
    assert float(high) == pytest.approx(row["ci_high"], rel=5e-3)
    assert float(adjusted[0]) == pytest.approx(row["adjusted_low"], rel=5e-3)
    assert float(adjusted[1]) == pytest.approx(row["adjusted_high"], rel=5e-3)
    assert (verdict == "significant") == row["significant"]
    # A gate's key rate reads as a rate, never as a count of rejects.
    assert "share of genuine entry attempts falsely rejected (FNIR)" in first


def test_tables_name_metrics_and_fold_the_full_disparity_table(reported: Path) -> None:
    html = (reported / "report" / "index.html").read_text(encoding="utf-8")
    street = html.split(f'<section id="deployment-{STREET}">', 1)[1].split("</section>", 1)[0]
    assert "false alert rate (FPIR)" in street and "<th>fpir</th>" not in street
    significant, rest = street.split("<details><summary>All disparity ratios", 1)
    assert "ratio: the group's rate over the reference" in significant.lower()
    assert "reference over group" in rest, "alert precision's inverted ratio is named"
    # Each attribute's reference is stated once, before the tables.
    assert "fixed before looking at any rate: ethnicity: ethnicity=majority;" in significant
    assert "adjusted interval" in significant and "adjusted p" in rest
    assert "Intersections: every pair of attributes" in street
    # The significant table lists single attributes only, largest ratio first.
    ratios = [
        float(r.rstrip("†"))
        for r in re.findall(r'<td class="ratio"><strong>([^<]+)</strong>', significant)
    ]
    assert ratios and ratios == sorted(ratios, reverse=True)
    glossary = html.split('<section id="methods">', 1)[1]
    for term in ("burdened", "reference group", "Counted over", "Limits", "Benjamini-Hochberg"):
        assert term in glossary


def test_the_report_loads_in_a_browser_without_errors(reported: Path) -> None:
    if check_report_browser.browser() is None:
        pytest.skip("no Chromium on PATH (apt-get install -y chromium)")
    outcome = check_report_browser.check(reported / "report" / "index.html")
    assert outcome["problems"] == [] and outcome["images"] >= 8


def test_alternatives_are_side_by_side_and_never_summed(
    tmp_path: Path, small_default: dict[str, Any]
) -> None:
    small_default["population"]["size"] = 2000
    # Rates well above the operational regime, so 2,000 residents see false alerts
    # at both thresholds.
    small_default["algorithm"]["error_rates"] = {
        "default": {"fmr": 2.0e-4, "fnmr": 0.01, "fta": 0.02},
        "ethnicity=minority": {"fmr": 2.0e-3, "fnmr": 0.016, "fta": 0.04},
    }
    street = dict(small_default["deployments"][0])
    small_default["deployments"] = [street, {**street, "name": "street_strict", "threshold": 0.64}]
    out = tmp_path / "run"
    run(validate_config(small_default), out)
    build_report(out)
    burden = pd.read_parquet(out / "report" / "person_burden.parquet")
    assert burden[STREET].sum() > burden["street_strict"].sum() > 0
    np.testing.assert_allclose(burden["burden"], burden[STREET])
    alternative = pd.read_csv(out / "report" / "alternative_burden.csv")
    everyone = alternative[alternative["attribute"] == "all"].set_index("alternative")
    assert everyone.loc[STREET, "burdened_share"] > everyone.loc["street_strict", "burdened_share"]
    html = (out / "report" / "index.html").read_text(encoding="utf-8")
    assert "are alternatives of street_watchlist, not added to it" in _first_screen(html)
    assert "Share burdened under each alternative" in html


def _confounded_detections(within_ratio: float, seed: int) -> pd.DataFrame:
    """Faces of two skin tones where most medium faces meet the camera at night and
    light faces in daylight; within each light, medium faces are missed
    ``within_ratio`` times as often as light ones (per-face miss chances vary, so
    frames of one face are correlated)."""
    rng = np.random.default_rng(seed)
    miss = {"day": 0.08, "night": 0.4}
    rows = []
    for face in range(600):
        tone = "medium" if face % 2 else "light"
        night_share = 0.8 if tone == "medium" else 0.2
        lighting = "night" if rng.random() < night_share else "day"
        chance = miss[lighting] * (within_ratio if tone == "medium" else 1.0)
        chance = float(np.clip(rng.beta(4, 4 * (1 - chance) / chance), 0, 1))
        for frame in range(8):
            rows.append(
                {
                    "video": f"{lighting}_{face // 50}",
                    "lighting": lighting,
                    "frame": frame,
                    "person_id": face,
                    "skin_tone": tone,
                    "skin_reflectance": 0.75 if tone == "light" else 0.55,
                    "hog": rng.random() >= chance,
                }
            )
    return pd.DataFrame(rows)


@pytest.mark.parametrize("within_ratio", [1.0, 1.8])
def test_video_headline_compares_within_light(within_ratio: float) -> None:
    detections = _confounded_detections(within_ratio, seed=15)
    scenario = validate_config(load_yaml("video_lighting.yaml"))
    groups = VideoGroups(["skin_tone"], {})
    metrics, crude = video_group_metrics(detections, groups, rng=np.random.default_rng(1))
    stratified = stratified_disparities(detections, groups, rng=np.random.default_rng(2))
    row = _rows(stratified, deployment="hog", attribute="skin_tone").iloc[0]
    assert (row["value"], row["reference"]) == ("medium", "light")
    # Lighting mix alone makes the crude ratio large: 0.8 x 0.4 + 0.2 x 0.08 against
    # 0.2 x 0.4 + 0.8 x 0.08 is 2.3 times, times the within-light ratio.
    crude_row = overall(_rows(crude, deployment="hog", attribute="skin_tone")).iloc[0]
    assert crude_row["ratio"] > 1.8 * within_ratio and crude_row["significant"]
    # Compared within light levels, the pooled ratio finds the within-light ratio.
    assert row["ci_low"] <= within_ratio <= row["ci_high"]
    assert row["ci_high"] < crude_row["ratio"]
    assert row["significant"] == (within_ratio > 1)
    summary = report.video_summary(metrics, crude, stratified)
    headline = next(line for line in summary if "ratio of" in line)
    assert "at the same light" in headline and "Mantel-Haenszel" in headline
    assert f"a ratio of {report.fmt(row['ratio'])}" in headline
    assert f"a ratio of {report.fmt(crude_row['ratio'])}" not in headline
    html = report.render_report(
        report.video_context(
            run_dir="video",
            scenario=scenario,
            version="test",
            tables={"metrics": metrics, "disparities": crude, "stratified_disparities": stratified},
            summary=summary,
            faces=detections["person_id"].nunique(),
            scenes=detections["video"].nunique(),
        )
    )
    assert headline in html and "compare groups within each light level" in html
    # One row per stratified disparity: the per-light rates must not multiply them.
    shown = stratified[(stratified["deployment"] == "hog") & stratified["significant"]]
    significant = html.split("<h3>Significant disparities", 1)[1].split("<details>", 1)[0]
    assert significant.count('<td class="ratio"><strong>') == len(shown)
