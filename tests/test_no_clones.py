"""No logic of six lines or more is written twice anywhere in the tree.

Checked with pylint's clone detector (``symilar``, the engine of its
``duplicate-code`` check) over every Python file of the repository: the package,
the tests and the benchmarks. Imports, docstrings, comments and function
signatures are left out of the comparison: they declare what a module uses, says
or takes, and two functions that take the same inputs are not the same logic.
A block it finds is one piece of code to factor out, not to reword.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MIN_LINES = 6
# symilar finds signatures and imports with astroid, whose dataclass plugin would
# otherwise infer every field's annotation and parse numpy and pandas to do so
# (35 s instead of 6 here): with the installed packages out of its reach it reads
# only the files it is given, which is all a comparison of lines needs.
_SYMILAR = """
import sys
from pylint.checkers.symilar import Run
sys.path[:] = [p for p in sys.path if "site-packages" not in p]
Run(sys.argv[1:])
"""


def _python_files() -> list[Path]:
    """Every ``.py`` file of the tree, without hidden folders (the virtual
    environment, caches) and compiled leftovers."""
    return sorted(
        path
        for path in ROOT.rglob("*.py")
        if not any(
            part.startswith(".") or part == "__pycache__" for part in path.relative_to(ROOT).parts
        )
    )


def test_no_block_of_six_lines_is_repeated() -> None:
    files = _python_files()
    assert len(files) > 100, f"found only {len(files)} Python files under {ROOT}"
    found = subprocess.run(
        [
            sys.executable,
            "-c",
            _SYMILAR,
            f"--duplicates={MIN_LINES}",
            "--ignore-comments",
            "--ignore-docstrings",
            "--ignore-imports",
            "--ignore-signatures",
            *map(str, files),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    total = re.search(r"TOTAL lines=(\d+) duplicates=(\d+)", found.stdout)
    assert total is not None, f"symilar printed no total:\n{found.stdout}\n{found.stderr}"
    lines, duplicates = map(int, total.groups())
    # Read every file: the tree has tens of thousands of lines.
    assert lines > 20_000, found.stdout
    assert duplicates == 0, f"blocks written more than once:\n{found.stdout}"
