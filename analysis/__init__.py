"""Per-group error measurement. Imported as ``riskclass.analysis``.

Computing lives here; the report's presentation (summary, HTML, figures) is
`riskclass.analysis.report`.
"""

from typing import TYPE_CHECKING

from riskclass import lazy_exports

# Every name loads on first use: a report needs neither the dynamics nor the calibration
# table, and the report's figure processes need none of this (their imports are
# their start-up time).
if TYPE_CHECKING:
    from ._bootstrap import (
        BootstrapRates as BootstrapRates,
        cluster_bootstrap as cluster_bootstrap,
        cluster_shares as cluster_shares,
        pair_bootstrap_interval as pair_bootstrap_interval,
        poisson_interval as poisson_interval,
        wilson_interval as wilson_interval,
    )
    from ._burden import (
        BURDEN_COLUMNS as BURDEN_COLUMNS,
        alternative_burden as alternative_burden,
        alternative_deployments as alternative_deployments,
        burden_by_group as burden_by_group,
        counted_deployments as counted_deployments,
        gini as gini,
        lorenz_curve as lorenz_curve,
        person_burden as person_burden,
    )
    from ._calibration_table import (
        CALIBRATION_COLUMNS as CALIBRATION_COLUMNS,
        calibration_holds as calibration_holds,
        calibration_summary as calibration_summary,
        calibration_table as calibration_table,
    )
    from ._cells import GroupCells as GroupCells, group_cells as group_cells
    from ._compare import (
        COMPARE_COLUMNS as COMPARE_COLUMNS,
        RunData as RunData,
        compare_runs as compare_runs,
        config_differences as config_differences,
    )
    from ._det import (
        DET_COLUMNS as DET_COLUMNS,
        det_curve as det_curve,
        det_points as det_points,
    )
    from ._dynamics import (
        AMPLIFICATION_COLUMNS as AMPLIFICATION_COLUMNS,
        CLASS_COLUMNS as CLASS_COLUMNS,
        COMPOSITION_COLUMNS as COMPOSITION_COLUMNS,
        DOMAINS as DOMAINS,
        TRAJECTORY_COLUMNS as TRAJECTORY_COLUMNS,
        DynamicsTables as DynamicsTables,
        analyze_dynamics as analyze_dynamics,
    )
    from ._impostors import (
        IMPOSTOR_COLUMNS as IMPOSTOR_COLUMNS,
        ImpostorRates as ImpostorRates,
        impostor_heatmap as impostor_heatmap,
        impostor_rates as impostor_rates,
    )
    from ._metrics import (
        DISPARITY_COLUMNS as DISPARITY_COLUMNS,
        METRIC_COLUMNS as METRIC_COLUMNS,
        SHARE_COLUMNS as SHARE_COLUMNS,
        GroupMetrics as GroupMetrics,
        Metric as Metric,
        group_metrics as group_metrics,
        overall as overall,
        rates_by_group as rates_by_group,
    )
    from ._per_group import (
        PER_GROUP_COLUMNS as PER_GROUP_COLUMNS,
        per_group_table as per_group_table,
    )
    from ._run_counts import (
        SCORE_EDGES as SCORE_EDGES,
        DeploymentCounts as DeploymentCounts,
        DeploymentSpec as DeploymentSpec,
        count_run as count_run,
        count_type as count_type,
    )
    from ._significance import (
        FDR as FDR,
        RatioEvidence as RatioEvidence,
        adjust_ratios as adjust_ratios,
        benjamini_hochberg as benjamini_hochberg,
        reference_groups as reference_groups,
    )
    from ._video_table import (
        CONDITION_COLUMNS as CONDITION_COLUMNS,
        FACE_PX_BINS as FACE_PX_BINS,
        STANDARDISED_COLUMNS as STANDARDISED_COLUMNS,
        VIDEO_COLUMNS as VIDEO_COLUMNS,
        YAW_BINS as YAW_BINS,
        VideoGroups as VideoGroups,
        condition_bins as condition_bins,
        detection_by_condition as detection_by_condition,
        standardised_disparities as standardised_disparities,
        stratified_disparities as stratified_disparities,
        video_group_metrics as video_group_metrics,
        video_per_group as video_per_group,
    )

__getattr__, __dir__, __all__ = lazy_exports(__name__, __file__, globals())
