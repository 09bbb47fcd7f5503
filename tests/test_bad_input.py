"""Hostile or careless input: a clean error (exit code 2) naming file and field, never a
traceback, a hang or exhausted memory."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from riskclass import ConfigError, load_config, validate_config
from riskclass.commands import EXIT_USAGE, main

# Generous: the CLI's imports alone take seconds on a busy 2-core machine.
_TIMEOUT_S = 120
_MEMORY_LIMIT = 1 << 30


def _limited_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The CLI in a subprocess with 1 GiB of address space and a timeout."""

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (_MEMORY_LIMIT, _MEMORY_LIMIT))

    code = "import sys; from riskclass.commands import main; sys.exit(main(sys.argv[1:]))"
    # One BLAS thread: each thread reserves address space the limit would count.
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=_TIMEOUT_S,
        preexec_fn=limit_memory,
        env=env,
        check=False,
    )


def _validate(path: Path, capsys: pytest.CaptureFixture[str], *overrides: str) -> str:
    sets = [arg for override in overrides for arg in ("--set", override)]
    assert main(["validate", str(path), *sets]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert str(path) in err and "Traceback" not in err
    return err


def test_alias_bomb_is_refused_within_bounded_memory(tmp_path: Path) -> None:
    # Ten levels of ten aliases each: 10^10 strings once expanded, from under 1.2 KB.
    lines = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, 10)]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    assert path.stat().st_size < 1200
    result = _limited_cli("validate", str(path))
    assert result.returncode == EXIT_USAGE, result.stderr
    assert f'{path}", line' in result.stderr
    assert "aliases are expanded" in result.stderr and "Traceback" not in result.stderr


def test_fifo_is_named_without_blocking(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    os.mkfifo(path)
    result = _limited_cli("validate", str(path))
    assert result.returncode == EXIT_USAGE
    assert f"{path}: (file): config file is a FIFO" in result.stderr


def test_directory_and_symlink_loop_are_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = tmp_path / "config.yaml"
    directory.mkdir()
    assert "is a directory" in _validate(directory, capsys)
    loop = tmp_path / "loop.yaml"
    loop.symlink_to(loop)
    assert "is a symbolic link loop" in _validate(loop, capsys)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: " + "[" * 5000 + "]" * 5000, "nested deeper than 50 levels"),
        ("seed: " + "9" * 5000, "a number of 5,000 characters"),
        ("name: a\nseed: 1\nname: b\n", "found duplicate key 'name'\n  in"),
        ("days: [1, 2\n", "line 2"),
    ],
    ids=["deep", "long-number", "duplicate-key", "syntax"],
)
def test_yaml_problems_name_file_line_and_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    err = _validate(path, capsys)
    assert expected in err
    assert f'in "{path}", line' in err
    assert len(err) < 2000


def test_duplicate_key_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("name: a\nseed: 1\nname: b\n")
    with pytest.raises(ConfigError, match=r"duplicate key 'name'\n  in \".*\", line 3"):
        load_config(path)


def test_oversized_file_is_refused_unread(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("# " + "x" * (2 << 20) + "\n")
    assert "larger than 1,048,576 bytes" in _validate(path, capsys)


def test_messages_quote_excerpts_and_list_a_bounded_number_of_problems(
    small_default: dict[str, Any],
) -> None:
    data = {**small_default, "name": "x" * 1_000_000, "days": "9" * 1_000_000}
    data.update({f"unknown_{i}": i for i in range(100_000)})
    with pytest.raises(ConfigError) as caught:
        validate_config(data, source="big.yaml")
    assert len(caught.value.problems) == 100_001
    message = str(caught.value)
    assert message.startswith("big.yaml: days: ")
    assert message.endswith("... and 99,981 more problems")
    assert len(message) < 10_000


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        *(
            (override, "Input should be a finite number")
            for override in (
                "districts.0.cameras_per_1000=.inf",
                "districts.0.population_share=1e99999",  # a string in YAML, inf as a float
                "mobility.passes_per_camera_density=.nan",
                "algorithm.enrollment_years_max=.inf",
                "algorithm.error_rates.default.fmr=.nan",
                "report.costs.police_stop=-.inf",
            )
        ),
        *(
            (override, "Input should be less than or equal to")
            for override in (
                "population.size=1000000000000",
                "days=1000000000000000000000000000000",
                "matching.threads=1000000",
                "galleries.0.size=1000000000",
                "report.hits_per_search=100000",
                "video.frames=100000000",
                "video.width=1000000",
                "districts.0.cameras_per_1000=1e9",
                "districts.0.population_share=2",
                "mobility.passes_per_camera_density=1e9",
                "mobility.activity.default=1e300",
                "algorithm.enrollment_years_max=1e9",
            )
        ),
    ],
)
def test_non_finite_and_oversized_numbers_are_refused(
    write_config: Callable[..., Path],
    small_default: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
    override: str,
    expected: str,
) -> None:
    field = override.partition("=")[0]
    err = _validate(write_config(small_default), capsys, override)
    assert f": {field}: {expected}" in err


def test_investigation_sizes_are_bounded(
    write_config: Callable[..., Path],
    small_default: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    small_default["deployments"][0] = {
        "name": "trail",
        "kind": "investigation",
        "investigation": {"targets": 1_000_000, "candidates": 1_000_000},
    }
    err = _validate(write_config(small_default), capsys)
    for field in ("targets", "candidates"):
        assert f"deployments.0.investigation.{field}: Input should be less than" in err


@pytest.mark.parametrize(
    ("overrides", "field", "expected"),
    [
        (["galleries.0.size=4001"], "galleries.0.size", "4,001 members, but the population"),
        (["galleries.0={name: police_watchlist, share: 0.0001}"], "galleries.0.share",
         "less than one member"),
        (["mobility.passes_per_camera_density=20"], "mobility.passes_per_camera_density",
         "the most active persons in the densest district would be seen 224 times a day"),
        (["deployments.0.gallery=population"], "deployments.0.gallery",
         "watchlist_screening searches a watchlist or blacklist: name one of the galleries"),
    ],
    ids=["gallery-size", "gallery-share", "sightings", "watchlist-without-gallery"],
)  # fmt: skip
def test_cross_checks_at_validate_time(
    write_config: Callable[..., Path],
    small_default: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
    overrides: list[str],
    field: str,
    expected: str,
) -> None:
    err = _validate(write_config(small_default), capsys, *overrides)
    assert f": {field}: {expected}" in err


def test_watchlist_without_gallery_is_refused_but_investigation_searches_everyone(
    write_config: Callable[..., Path], small_default: dict[str, Any]
) -> None:
    deployment = small_default["deployments"][0]
    del deployment["gallery"]
    with pytest.raises(ConfigError, match=r"deployments\.0\.gallery: watchlist_screening"):
        load_config(write_config(small_default))
    deployment.update(kind="investigation", consequences=None)
    assert load_config(write_config(small_default)).deployments[0].gallery == "population"


@pytest.mark.parametrize(
    ("command", "change", "expected"),
    [
        ("generate", {"districts": {"resident_bias": {"residency=migrant": 0}}},
         "districts.*.resident_bias: "),
        # Only about a quarter of persons are migrants: 2,000 of 4,000 cannot be
        # found, which the config shows before any person is drawn.
        ("run", {"galleries": {"over_representation": {"default": 0, "residency=migrant": 1}}},
         "galleries.0.size: 2,000 members, but about 1,"),
    ],
    ids=["nowhere-to-live", "gallery-weights"],
)  # fmt: skip
def test_run_time_config_errors_name_the_config_file_before_calibration(
    tmp_path: Path,
    write_config: Callable[..., Path],
    small_default: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
    command: str,
    change: dict[str, dict[str, Any]],
    expected: str,
) -> None:
    for section, update in change.items():
        for item in small_default[section]:
            item.update(update)
    path = write_config(small_default)
    out = tmp_path / "out"
    assert main([command, str(path), "--out", str(out)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert f"{path}: {expected}" in err
    assert "<scenario>" not in err and "Traceback" not in err and not out.exists()


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["--gallery", str(10**12)], "--gallery: gallery 1,000,000,000,000, 2,000 probes"),
        (["--probes", str(10**12), "--gallery", "1000"], "--probes: gallery 1,000,"),
        (["--gallery", "100", "--k", "101"], "--k: 101 candidates per probe from a gallery"),
        (["--rounds", "0"], "--rounds: must be >= 1, got 0"),
        (["--rounds", "1000000"], "--rounds: at most 100"),
        (["--seed", "-1"], "--seed: must be >= 0"),
        (["--methods", " "], "--methods: no method given"),
        (["--methods", ""], "--methods: no method given"),
    ],
)
def test_bench_refuses_arguments_it_cannot_run(
    capsys: pytest.CaptureFixture[str], arguments: list[str], expected: str
) -> None:
    assert main(["bench", *arguments]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert f"bench: {expected}" in err and "Traceback" not in err


@pytest.mark.parametrize("command", [["bench", "--json"], ["calibrate", "x.yaml", "--out"]])
def test_output_file_that_is_a_directory_is_refused_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        main([*command, str(tmp_path)])
    assert caught.value.code == EXIT_USAGE
    assert f"{tmp_path} is a directory; give a file path" in capsys.readouterr().err


@pytest.mark.parametrize("tolerance", ["-1", "0", "2", "inf", "nan", "abc"])
def test_enroll_refuses_a_tolerance_out_of_range_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], tolerance: str
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["enroll", str(tmp_path), "--labels", "labels.csv", "--tolerance", tolerance])
    assert caught.value.code == EXIT_USAGE
    assert "argument --tolerance: " in capsys.readouterr().err


def test_enroll_names_binary_labels(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_bytes(bytes(range(256)) * 8)
    assert main(["enroll", str(tmp_path), "--labels", str(labels)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert f"{labels}: cannot read the labels" in err and "Traceback" not in err
