"""The report's presentation: summary sentences, the HTML context, figures, formatting.

The numbers come from `riskclass.analysis`; this package only arranges and draws
them. What draws figures (matplotlib) is imported on first use, so that commands
which draw nothing start quickly.
"""

from typing import TYPE_CHECKING

from riskclass import lazy_exports

from ._format import fmt as fmt, with_interval as with_interval
from ._html import figure as figure, render_report as render_report

# Names whose modules draw figures (matplotlib loads only when a page is built) or
# compute (a report's figure processes import this package and need neither).
if TYPE_CHECKING:
    from ._colours import group_colours as group_colours
    from ._compare_page import compare_context as compare_context
    from ._context import (
        RunFigures as RunFigures,
        figure_pool as figure_pool,
        run_context as run_context,
        start_figure_server as start_figure_server,
        video_context as video_context,
    )
    from ._dynamics_page import dynamics_page as dynamics_page
    from ._summary import run_summary as run_summary, video_summary as video_summary
    from ._sweep import sweep_page as sweep_page

__getattr__, __dir__, __all__ = lazy_exports(__name__, __file__, globals())
