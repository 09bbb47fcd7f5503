"""Drawing one figure by name: what a report's figure processes run.

Kept apart from `._context` on purpose: a figure process unpickles the function it
is given by importing its module, and `._context` imports the report's statistics
(scipy, the bootstraps), which added half a second (at load 3.5) to the start of
every figure process and drew nothing. This module imports nothing until a figure
is drawn, and then only `._plots`, which the figure server has already loaded.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any

PLOTS = f"{__package__}._plots"


def drawn(name: str, options: dict[str, Any], *args: Any) -> bytes:
    """The PNG bytes of `._plots`'s figure ``name`` drawn from ``args`` and ``options``."""
    # Matplotlib loads here, on first use: a process whose figures a pool draws
    # never loads it.
    draw: Callable[..., bytes] = getattr(import_module(PLOTS), name)
    return draw(*args, **options)
