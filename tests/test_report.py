"""`riskclass report`: every sampled number recomputes from the run's Parquet files."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from riskclass import validate_config
from riskclass.analysis import Metric, group_cells, rates_by_group
from riskclass.commands import EXIT_USAGE, build_report, main, run

from .test_run_pipeline import _scenario

STREET = "street_watchlist"
THRESHOLD = 0.6


@pytest.fixture(scope="module")
def reported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "run"
    data = _scenario()
    data["report"] = {"thresholds": [0.56, 0.58, 0.6, 0.64], "costs": {"police_stop": 2.0}}
    run(validate_config(data), out)
    build_report(out)
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


def test_disparity_ratios_use_the_best_off_group(reported: Path) -> None:
    metrics = pd.read_csv(reported / "report" / "metrics.csv")
    disparities = pd.read_csv(reported / "report" / "disparities.csv")
    rates = _rows(metrics, deployment=STREET, attribute="age", metric="fpir").set_index("value")[
        "rate"
    ]
    rows = _rows(disparities, deployment=STREET, attribute="age", metric="fpir")
    # Thresholds are a column, never part of a metric's name.
    assert not disparities["metric"].str.contains("@").any()
    assert rows["threshold"].nunique() > 1
    # At the deployment's own threshold (swept thresholds have their own rows).
    rows = rows[rows["threshold"].isna()]
    assert set(rows["reference"]) == {rates.idxmin()}
    for row in rows.itertuples():
        assert row.ratio == pytest.approx(rates[row.value] / rates.min(), rel=1e-9)
        assert row.ratio >= 1 and row.ci_low <= row.ratio <= row.ci_high
        assert row.significant == (row.ci_low > 1)


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


def test_report_is_reproducible(reported: Path, tmp_path: Path) -> None:
    before = {p.name: p.read_bytes() for p in (reported / "report").glob("*.csv")}
    build_report(reported)
    after = {p.name: p.read_bytes() for p in (reported / "report").glob("*.csv")}
    assert before == after


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
