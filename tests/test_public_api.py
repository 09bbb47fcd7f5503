"""Each package's exports resolve, and the tests use only those.

A package lists its exports once, as ``from ._x import A as A`` (see
`riskclass.lazy_exports`); these tests hold both ends of that contract.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from riskclass import lazy_exports

from .conftest import REPO

PACKAGES = (
    "riskclass",
    "riskclass.synthetic",
    "riskclass.pipeline",
    "riskclass.pipeline.matching",
    "riskclass.analysis",
    "riskclass.analysis.report",
    "riskclass.commands",
)
TESTS = sorted((REPO / "tests").glob("*.py"))


@pytest.mark.parametrize("package", PACKAGES)
def test_every_export_resolves(package: str) -> None:
    module = importlib.import_module(package)
    assert len(module.__all__) > 5
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert not missing, f"{package} exports {missing}, which do not load"


def test_a_lazy_export_loads_from_its_module(tmp_path: Path) -> None:
    """The table is read from the imports, so a name cannot point at another module."""
    init = tmp_path / "__init__.py"
    init.write_text(
        "from typing import TYPE_CHECKING\n"
        "from json import JSONDecodeError as JSONDecodeError, loads\n"
        "if TYPE_CHECKING:\n"
        "    from json.decoder import JSONDecoder as JSONDecoder\n"
    )
    namespace: dict[str, object] = {}
    getattr_, dir_, all_ = lazy_exports("json", str(init), namespace)
    assert all_ == ["JSONDecodeError", "JSONDecoder"]
    assert getattr_("JSONDecoder").__name__ == "JSONDecoder"  # type: ignore[attr-defined]
    assert "JSONDecoder" in namespace
    assert "JSONDecoder" in dir_()
    with pytest.raises(AttributeError, match="loads"):
        getattr_("loads")


def _subpackages(package: str) -> list[str]:
    return [name.rpartition(".")[2] for name in PACKAGES if name.rpartition(".")[0] == package]


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _private_uses(path: Path) -> list[str]:
    """``module.name`` of each private riskclass module or name that ``path`` imports,
    then ``name._attribute`` of each private attribute of an imported riskclass name
    that it reads or patches (``name._attribute``, ``setattr(name, "_attribute", ...)``)."""
    found, imported = [], set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
            found += [m for m in modules if m.startswith("riskclass") and "._" in f".{m}"]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("riskclass"):
            module = node.module or ""
            imported |= {a.asname or a.name for a in node.names}
            if module not in PACKAGES:
                found.append(module)
                continue
            public = {*importlib.import_module(module).__all__, *_subpackages(module)}
            found += [f"{module}.{a.name}" for a in node.names if a.name not in public]
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            owner, attribute = node.value, node.attr
        elif isinstance(node, ast.Call) and len(node.args) >= 2:
            owner, name = node.args[:2]
            if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
                continue
            attribute = name.value
        else:
            continue
        if isinstance(owner, ast.Name) and owner.id in imported and _private(attribute):
            found.append(f"{owner.id}.{attribute}")
    return found


@pytest.mark.parametrize("path", TESTS, ids=lambda p: p.name)
def test_tests_import_only_public_names(path: Path) -> None:
    assert not _private_uses(path)


def test_the_check_sees_a_private_import(tmp_path: Path) -> None:
    bad = tmp_path / "test_bad.py"
    bad.write_text(
        "from riskclass._config import Scenario\n"
        "from riskclass.commands import main, _cli\n"
        "from riskclass import analysis, Scenario\n"
        "import riskclass.pipeline._pipeline\n"
        "capture = Scenario._capture\n"
        "monkeypatch.setattr(main, '_chunk', None)\n"
        "monkeypatch.setattr(main, '__doc__', None)\n"
        "Scenario.__doc__, Scenario.threshold_of\n"
    )
    assert _private_uses(bad) == [
        "riskclass._config",
        "riskclass.commands._cli",
        "riskclass.pipeline._pipeline",
        "Scenario._capture",
        "main._chunk",
    ]
