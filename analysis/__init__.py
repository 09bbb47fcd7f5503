"""Per-group error measurement. Imported as ``riskclass.analysis``.

Computing lives here; the report's presentation (summary, HTML, figures) is
`riskclass.analysis.report`.
"""

from typing import TYPE_CHECKING

from riskclass import lazy_exports

# Names load on first use: a report needs neither the dynamics nor the calibration
# table, and the report's figure processes need none of this (their imports are
# their start-up time).
_LAZY = {
    "_bootstrap": (
        "BootstrapRates",
        "cluster_bootstrap",
        "cluster_shares",
        "pair_bootstrap_interval",
        "poisson_interval",
        "wilson_interval",
    ),
    "_burden": (
        "BURDEN_COLUMNS",
        "alternative_burden",
        "alternative_deployments",
        "burden_by_group",
        "counted_deployments",
        "gini",
        "lorenz_curve",
        "person_burden",
    ),
    "_calibration_table": (
        "CALIBRATION_COLUMNS",
        "calibration_holds",
        "calibration_summary",
        "calibration_table",
    ),
    "_cells": (
        "GroupCells",
        "group_cells",
    ),
    "_compare": (
        "COMPARE_COLUMNS",
        "RunData",
        "compare_runs",
        "config_differences",
    ),
    "_det": (
        "DET_COLUMNS",
        "det_points",
    ),
    "_dynamics": (
        "AMPLIFICATION_COLUMNS",
        "CLASS_COLUMNS",
        "COMPOSITION_COLUMNS",
        "DOMAINS",
        "TRAJECTORY_COLUMNS",
        "DynamicsTables",
        "analyze_dynamics",
    ),
    "_impostors": (
        "IMPOSTOR_COLUMNS",
        "ImpostorRates",
        "impostor_heatmap",
        "impostor_rates",
    ),
    "_metrics": (
        "DISPARITY_COLUMNS",
        "METRIC_COLUMNS",
        "SHARE_COLUMNS",
        "GroupMetrics",
        "Metric",
        "group_metrics",
        "overall",
        "rates_by_group",
    ),
    "_per_group": (
        "PER_GROUP_COLUMNS",
        "per_group_table",
    ),
    "_run_counts": (
        "DeploymentCounts",
        "DeploymentSpec",
        "count_run",
    ),
    "_significance": (
        "FDR",
        "RatioEvidence",
        "adjust_ratios",
        "reference_groups",
    ),
    "_video_table": (
        "CONDITION_COLUMNS",
        "FACE_PX_BINS",
        "STANDARDISED_COLUMNS",
        "VIDEO_COLUMNS",
        "YAW_BINS",
        "condition_bins",
        "detection_by_condition",
        "standardised_disparities",
        "stratified_disparities",
        "video_group_metrics",
        "video_per_group",
    ),
}

if TYPE_CHECKING:
    from ._bootstrap import (
        BootstrapRates,
        cluster_bootstrap,
        cluster_shares,
        pair_bootstrap_interval,
        poisson_interval,
        wilson_interval,
    )
    from ._burden import (
        BURDEN_COLUMNS,
        alternative_burden,
        alternative_deployments,
        burden_by_group,
        counted_deployments,
        gini,
        lorenz_curve,
        person_burden,
    )
    from ._calibration_table import (
        CALIBRATION_COLUMNS,
        calibration_holds,
        calibration_summary,
        calibration_table,
    )
    from ._cells import GroupCells, group_cells
    from ._compare import COMPARE_COLUMNS, RunData, compare_runs, config_differences
    from ._det import DET_COLUMNS, det_points
    from ._dynamics import (
        AMPLIFICATION_COLUMNS,
        CLASS_COLUMNS,
        COMPOSITION_COLUMNS,
        DOMAINS,
        TRAJECTORY_COLUMNS,
        DynamicsTables,
        analyze_dynamics,
    )
    from ._impostors import IMPOSTOR_COLUMNS, ImpostorRates, impostor_heatmap, impostor_rates
    from ._metrics import (
        DISPARITY_COLUMNS,
        METRIC_COLUMNS,
        SHARE_COLUMNS,
        GroupMetrics,
        Metric,
        group_metrics,
        overall,
        rates_by_group,
    )
    from ._per_group import PER_GROUP_COLUMNS, per_group_table
    from ._run_counts import DeploymentCounts, DeploymentSpec, count_run
    from ._significance import FDR, RatioEvidence, adjust_ratios, reference_groups
    from ._video_table import (
        CONDITION_COLUMNS,
        FACE_PX_BINS,
        STANDARDISED_COLUMNS,
        VIDEO_COLUMNS,
        YAW_BINS,
        condition_bins,
        detection_by_condition,
        standardised_disparities,
        stratified_disparities,
        video_group_metrics,
        video_per_group,
    )

__getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY)

__all__ = [
    "AMPLIFICATION_COLUMNS",
    "BURDEN_COLUMNS",
    "CALIBRATION_COLUMNS",
    "CLASS_COLUMNS",
    "COMPARE_COLUMNS",
    "COMPOSITION_COLUMNS",
    "CONDITION_COLUMNS",
    "DET_COLUMNS",
    "DISPARITY_COLUMNS",
    "DOMAINS",
    "FACE_PX_BINS",
    "FDR",
    "IMPOSTOR_COLUMNS",
    "METRIC_COLUMNS",
    "PER_GROUP_COLUMNS",
    "SHARE_COLUMNS",
    "STANDARDISED_COLUMNS",
    "TRAJECTORY_COLUMNS",
    "VIDEO_COLUMNS",
    "YAW_BINS",
    "BootstrapRates",
    "DeploymentCounts",
    "DeploymentSpec",
    "DynamicsTables",
    "GroupCells",
    "GroupMetrics",
    "ImpostorRates",
    "Metric",
    "RatioEvidence",
    "RunData",
    "adjust_ratios",
    "alternative_burden",
    "alternative_deployments",
    "analyze_dynamics",
    "burden_by_group",
    "calibration_holds",
    "calibration_summary",
    "calibration_table",
    "cluster_bootstrap",
    "cluster_shares",
    "compare_runs",
    "condition_bins",
    "config_differences",
    "count_run",
    "counted_deployments",
    "det_points",
    "detection_by_condition",
    "gini",
    "group_cells",
    "group_metrics",
    "impostor_heatmap",
    "impostor_rates",
    "lorenz_curve",
    "overall",
    "pair_bootstrap_interval",
    "per_group_table",
    "person_burden",
    "poisson_interval",
    "rates_by_group",
    "reference_groups",
    "standardised_disparities",
    "stratified_disparities",
    "video_group_metrics",
    "video_per_group",
    "wilson_interval",
]
