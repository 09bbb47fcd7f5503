"""The report's presentation: summary sentences, the HTML context, figures, formatting.

The numbers come from `riskclass.analysis`; this package only arranges and draws
them. `plots` (matplotlib) is imported on first use, so that commands which draw
nothing start quickly.
"""

from ._compare_page import compare_context
from ._format import fmt, with_interval
from ._html import figure, render_report
from ._summary import run_summary, video_summary

__all__ = [
    "compare_context",
    "figure",
    "fmt",
    "plots",
    "render_report",
    "run_context",
    "run_summary",
    "video_context",
    "video_summary",
    "with_interval",
]


def __getattr__(name: str) -> object:
    # The contexts draw figures: matplotlib loads only when a report is built.
    if name in ("run_context", "video_context"):
        from . import _context

        return getattr(_context, name)
    if name == "plots":
        from . import _plots

        return _plots
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
