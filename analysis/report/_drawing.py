"""Drawing one figure by name: what a report's figure processes run.

Kept apart from `._context` on purpose: a figure process unpickles the function it
is given by importing its module, and `._context` imports the report's statistics
(scipy, the bootstraps), which added half a second (at load 3.5) to the start of
every figure process and drew nothing. This module imports nothing until a figure
is drawn, and then only `._plots`, which the figure server has already loaded.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from importlib import import_module
from typing import Any

PLOTS = f"{__package__}._plots"


def ready() -> None:
    """Start a figure process (a process pool's initializer): import `._plots`, and
    leave the objects that importing made out of every later garbage collection
    (`gc.freeze`). A full collection otherwise walks all of matplotlib's and pandas's
    objects each time, and the report's figures set off several: a tenth of their
    drawing time."""
    import_module(PLOTS)
    gc.freeze()


def drawn(name: str, options: dict[str, Any], *args: Any) -> bytes:
    """The PNG bytes of `._plots`'s figure ``name`` drawn from ``args`` and ``options``."""
    # Matplotlib loads here, on first use: a process whose figures a pool draws
    # never loads it.
    draw: Callable[..., bytes] = getattr(import_module(PLOTS), name)
    # A figure makes hundreds of thousands of objects, nearly all freed by reference
    # counting as it is drawn; each collection they set off would walk the lot. With
    # collection paused, the first one after the figure frees its cycles in one walk.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return draw(*args, **options)
    finally:
        if collecting:
            gc.enable()
