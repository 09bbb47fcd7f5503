"""Per-group error measurement and reports. Imported as ``riskclass.analysis``.

``plots`` (matplotlib) is imported on first use, so that commands which draw
nothing start quickly.
"""

from types import ModuleType

from ._bootstrap import BootstrapRates, cluster_bootstrap
from ._burden import BURDEN_COLUMNS, burden_by_group, gini, lorenz_curve, person_burden
from ._calibration_table import (
    CALIBRATION_COLUMNS,
    calibration_holds,
    calibration_summary,
    calibration_table,
)
from ._cells import GroupCells, group_cells
from ._det import DET_COLUMNS, det_points
from ._html import figure, render_report
from ._impostors import IMPOSTOR_COLUMNS, ImpostorRates, impostor_heatmap, impostor_rates
from ._intervals import pair_bootstrap_interval, wilson_interval
from ._metrics import (
    DISPARITY_COLUMNS,
    METRIC_COLUMNS,
    GroupMetrics,
    Metric,
    group_metrics,
    rates_by_group,
)
from ._per_group import PER_GROUP_COLUMNS, per_group_table
from ._run_counts import DeploymentCounts, DeploymentSpec, count_run
from ._video_table import VIDEO_COLUMNS, video_group_metrics, video_per_group

__all__ = [
    "BURDEN_COLUMNS",
    "CALIBRATION_COLUMNS",
    "DET_COLUMNS",
    "DISPARITY_COLUMNS",
    "IMPOSTOR_COLUMNS",
    "METRIC_COLUMNS",
    "PER_GROUP_COLUMNS",
    "VIDEO_COLUMNS",
    "BootstrapRates",
    "DeploymentCounts",
    "DeploymentSpec",
    "GroupCells",
    "GroupMetrics",
    "ImpostorRates",
    "Metric",
    "burden_by_group",
    "calibration_holds",
    "calibration_summary",
    "calibration_table",
    "cluster_bootstrap",
    "count_run",
    "det_points",
    "figure",
    "gini",
    "group_cells",
    "group_metrics",
    "impostor_heatmap",
    "impostor_rates",
    "lorenz_curve",
    "pair_bootstrap_interval",
    "per_group_table",
    "person_burden",
    "plots",
    "rates_by_group",
    "render_report",
    "video_group_metrics",
    "video_per_group",
    "wilson_interval",
]


def __getattr__(name: str) -> ModuleType:
    if name == "plots":
        from . import _plots

        return _plots
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
