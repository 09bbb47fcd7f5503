"""The command line starts without the data stack: which modules `--help` and `validate` load.

Start-up time itself is measured by benchmarks/bench_startup.py, never here.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from .conftest import CONFIGS, REPO

# Loaded only by the commands that compute something.
HEAVY = {
    "numpy",
    "pandas",
    "pyarrow",
    "scipy",
    "sklearn",
    "matplotlib",
    "faiss",
    "onnx",
    "onnxruntime",
    "cv2",
    "face_recognition",
    "dlib",
    "jinja2",
    "rich",
    "platformdirs",
    "dask",
    "distributed",
}
# Prints the names of the modules loaded by the time the command returns.
_PROBE = """
import sys
from riskclass.commands import main
try:
    code = main(sys.argv[1:])
except SystemExit as exit:
    code = exit.code
print(code, *sorted({name.split(".")[0] for name in sys.modules}), file=sys.stderr)
"""


def _top_level_modules(*argv: str) -> tuple[int, set[str]]:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, *argv],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    code, *modules = result.stderr.split()
    return int(code), set(modules)


@pytest.mark.parametrize(
    ("argv", "allowed"),
    [
        (["--help"], set()),
        (["run", "--help"], set()),
        (["validate", str(CONFIGS / "default.yaml")], {"pydantic", "yaml"}),
    ],
)
def test_help_and_validate_load_no_heavy_library(argv: list[str], allowed: set[str]) -> None:
    code, modules = _top_level_modules(*argv)
    assert code == 0
    assert not modules & HEAVY, sorted(modules & HEAVY)
    assert ({"pydantic", "yaml"} - allowed) & modules == set()


def test_event_stream_commands_load_no_video_search_or_dask_library() -> None:
    code = (
        "import sys\n"
        "from riskclass.commands import build_report, calibrate_and_check, generate, run\n"
        "print(*sorted({name.split('.')[0] for name in sys.modules}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    modules = set(result.stdout.split())
    assert "pandas" in modules
    assert not modules & {
        "faiss",
        "cv2",
        "face_recognition",
        "dlib",
        "matplotlib",
        "sklearn",
        "dask",
        "distributed",
    }
