"""The import graph has three layers, and data flows one way between the stages.

Base (``riskclass``) < stages in flow order (``synthetic`` < ``pipeline`` <
``analysis``) < ``commands``: no module imports from a later one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Folder in the repository -> (installed package, rank in the layering).
FOLDERS = {
    "riskclass": ("riskclass", 0),
    "synthetic": ("riskclass.synthetic", 1),
    "pipeline": ("riskclass.pipeline", 2),
    "analysis": ("riskclass.analysis", 3),
    "commands": ("riskclass.commands", 4),
}
RANKS = {package: rank for package, rank in FOLDERS.values()}


def _rank(module: str) -> int | None:
    """The rank of a ``riskclass`` module, by its longest known package prefix."""
    if module != "riskclass" and not module.startswith("riskclass."):
        return None
    parts = module.split(".")
    for size in (2, 1):
        prefix = ".".join(parts[:size])
        if prefix in RANKS:
            return RANKS[prefix]
    return RANKS["riskclass"]


def _imports(path: Path, package: str) -> list[str]:
    """Absolute names of the modules that ``path`` (in ``package``) imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                names.append(node.module or "")
            else:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                names.append(".".join([*base, *([node.module] if node.module else [])]))
    return names


def _modules() -> list[tuple[Path, str, int]]:
    found = []
    for folder, (package, rank) in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            relative = path.parent.relative_to(ROOT / folder).parts
            found.append((path, ".".join([package, *relative]), rank))
    return found


def test_every_folder_is_a_known_layer() -> None:
    assert len(_modules()) > 40


@pytest.mark.parametrize(
    ("path", "package", "rank"), _modules(), ids=lambda v: str(v).split("/work/")[-1]
)
def test_no_module_imports_a_later_layer(path: Path, package: str, rank: int) -> None:
    later = [name for name in _imports(path, package) if (_rank(name) or 0) > rank]
    assert not later, f"{path.relative_to(ROOT)} imports {later}"


def test_the_check_sees_a_violation(tmp_path: Path) -> None:
    """A base module importing the commands would be caught (the check is not vacuous)."""
    bad = tmp_path / "bad.py"
    bad.write_text("from riskclass.commands import run\nfrom ..analysis import report\n")
    names = _imports(bad, "riskclass.synthetic")
    assert [_rank(name) for name in names] == [4, 3]
