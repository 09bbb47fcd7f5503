"""riskclass: simulate face-recognition surveillance and measure who bears its errors.

The stages live in subpackages: `riskclass.synthetic` (the synthetic world),
`riskclass.pipeline` (detection, encoding, matching, decisions) and
`riskclass.analysis` (per-group error measurement). This package holds what they
share: the scenario config, group keys, errors and output writing.
"""

from ._config import Scenario
from ._errors import ConfigError, DataError, OutputExistsError, RiskclassError
from ._groups import GroupKey
from ._loading import load_config, validate_config

__all__ = [
    "ConfigError",
    "DataError",
    "GroupKey",
    "OutputExistsError",
    "RiskclassError",
    "Scenario",
    "load_config",
    "validate_config",
]
__version__ = "0.1.0"
