"""A package's exports, read from its imports; those under ``TYPE_CHECKING`` load on first use.

A package whose ``__init__`` imported every module eagerly would load numpy,
pandas, scipy, faiss and the rest for ``riskclass --help``. So a package writes
each export once, as an explicit re-export (``from ._config import Scenario as
Scenario``, the form PEP 484 and mypy read as "public"), and puts those of heavy
modules under ``if TYPE_CHECKING:``, where type checkers see them and Python does
not. `lazy_exports` reads that import list back: the exports are ``__all__``, and
the ones Python skipped are imported by the package's ``__getattr__`` when first
asked for. A name is listed in one place, not in an import, a table and ``__all__``.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, MutableMapping
from importlib import import_module
from pathlib import Path
from typing import Any, TypeGuard


def exports(source: str) -> dict[str, str | None]:
    """The names a package's ``__init__`` source re-exports, each with where it loads from.

    A re-export is a ``from`` import that binds a public name to itself with
    ``as``. The value is the module (relative ones as written, with their dots)
    of one under ``if TYPE_CHECKING:``, None for one imported at once.

    Examples
    --------
    >>> exports('''
    ... from ._errors import ConfigError as ConfigError
    ... from ._lazy import exports
    ... if TYPE_CHECKING:
    ...     from ._config import Scenario as Scenario
    ... ''')
    {'ConfigError': None, 'Scenario': '._config'}
    """
    found: dict[str, str | None] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.ImportFrom):
            found |= dict.fromkeys(_reexports(node))
        elif _is_type_checking(node):
            for inner in node.body:
                if isinstance(inner, ast.ImportFrom):
                    module = "." * inner.level + (inner.module or "")
                    found |= dict.fromkeys(_reexports(inner), module)
    return found


def _reexports(node: ast.ImportFrom) -> list[str]:
    return [
        alias.name
        for alias in node.names
        if alias.asname == alias.name and not alias.name.startswith("_")
    ]


def _is_type_checking(node: ast.stmt) -> TypeGuard[ast.If]:
    return (
        isinstance(node, ast.If)
        and isinstance(node.test, ast.Name)
        and node.test.id == "TYPE_CHECKING"
    )


def lazy_exports(
    package: str, init_file: str, namespace: MutableMapping[str, Any]
) -> tuple[Callable[[str], object], Callable[[], list[str]], list[str]]:
    """A package's ``__getattr__``, ``__dir__`` and ``__all__``, read from its ``__init__``.

    See `exports`. ``init_file`` is the package's ``__file__``; a name loaded on first use is
    stored in ``namespace`` (the package's globals), so it is looked up once.
    """
    found = exports(Path(init_file).read_text(encoding="utf-8"))
    where = {name: source for name, source in found.items() if source is not None}

    def __getattr__(name: str) -> object:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(where[name], package), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted([*namespace, *where])

    return __getattr__, __dir__, sorted(found)
