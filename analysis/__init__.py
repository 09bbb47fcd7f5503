"""Per-group error measurement. Imported as ``riskclass.analysis``."""

from ._calibration_table import CALIBRATION_COLUMNS, calibration_holds, calibration_table
from ._intervals import pair_bootstrap_interval, wilson_interval
from ._per_group import PER_GROUP_COLUMNS, per_group_table

__all__ = [
    "CALIBRATION_COLUMNS",
    "PER_GROUP_COLUMNS",
    "calibration_holds",
    "calibration_table",
    "pair_bootstrap_interval",
    "per_group_table",
    "wilson_interval",
]
