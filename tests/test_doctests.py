"""Every docstring example in the package runs and prints what it shows."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import riskclass
from riskclass import analysis, commands, pipeline, synthetic


def _modules() -> list[str]:
    # Each layer installs from its own folder, so each is walked on its own.
    return sorted(
        info.name
        for package in (riskclass, synthetic, pipeline, analysis, commands)
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{package.__name__}.")
        if not info.name.endswith("__main__")
    )


def test_every_module_is_collected() -> None:
    assert len(_modules()) > 40


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
