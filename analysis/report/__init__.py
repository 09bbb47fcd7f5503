"""The report's presentation: summary sentences, the HTML context, figures, formatting.

The numbers come from `riskclass.analysis`; this package only arranges and draws
them. `plots` (matplotlib) is imported on first use, so that commands which draw
nothing start quickly.
"""

import importlib

from ._compare_page import compare_context
from ._format import fmt, with_interval
from ._html import figure, render_report
from ._summary import run_summary, video_summary

__all__ = [
    "compare_context",
    "dynamics_page",
    "figure",
    "fmt",
    "plots",
    "render_report",
    "run_context",
    "run_summary",
    "sweep_page",
    "video_context",
    "video_summary",
    "with_interval",
]


# Names whose modules draw figures: matplotlib loads only when a page is built.
_LAZY = {
    "run_context": "_context",
    "video_context": "_context",
    "sweep_page": "_sweep",
    "dynamics_page": "_dynamics_page",
    "plots": "_plots",
}


def __getattr__(name: str) -> object:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(f"{__name__}.{_LAZY[name]}")
    return module if name == "plots" else getattr(module, name)
