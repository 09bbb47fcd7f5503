"""The report's presentation: summary sentences, the HTML context, figures, formatting.

The numbers come from `riskclass.analysis`; this package only arranges and draws
them. `plots` (matplotlib) is imported on first use, so that commands which draw
nothing start quickly.
"""

import importlib

from ._format import fmt, with_interval
from ._html import figure, render_report

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


# Names whose modules draw figures (matplotlib loads only when a page is built) or
# compute (the figure processes of a report import this package and need neither).
_LAZY = {
    "compare_context": "_compare_page",
    "run_summary": "_summary",
    "video_summary": "_summary",
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
