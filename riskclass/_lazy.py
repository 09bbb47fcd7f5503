"""Package exports that load their module on first use.

A package whose ``__init__`` imported every module eagerly would load numpy,
pandas, scipy, faiss and the rest for ``riskclass --help``. Packages list such
names here instead (and import them under ``TYPE_CHECKING`` for type checkers).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
from importlib import import_module
from typing import Any


def lazy_exports(
    package: str, namespace: MutableMapping[str, Any], modules: Mapping[str, tuple[str, ...]]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """A module ``__getattr__`` and ``__dir__`` that import names on first use.

    ``modules`` maps a submodule of ``package`` (``"_rundir"``) to the names it
    exports; a loaded name is stored in ``namespace`` (the package's globals), so
    it is looked up once.

    Examples
    --------
    >>> namespace: dict[str, object] = {}
    >>> getattr_, dir_ = lazy_exports("json", namespace, {"decoder": ("JSONDecoder",)})
    >>> getattr_("JSONDecoder").__name__, "JSONDecoder" in namespace
    ('JSONDecoder', True)
    """
    where = {name: module for module, names in modules.items() for name in names}

    def __getattr__(name: str) -> object:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(f".{module}", package), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted([*namespace, *where])

    return __getattr__, __dir__
