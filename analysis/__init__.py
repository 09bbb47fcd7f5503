"""Per-group error measurement. Imported as ``riskclass.analysis``."""

from ._calibration_table import CALIBRATION_COLUMNS, calibration_holds, calibration_table
from ._intervals import pair_bootstrap_interval, wilson_interval

__all__ = [
    "CALIBRATION_COLUMNS",
    "calibration_holds",
    "calibration_table",
    "pair_bootstrap_interval",
    "wilson_interval",
]
