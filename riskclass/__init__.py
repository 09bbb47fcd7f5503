"""riskclass: simulate face-recognition surveillance and measure who bears its errors.

The package is built in three layers, each importing only from the layers below:

- this package, the base: the scenario schema and its loading, groups, random
  streams, errors, progress reporting and the run-directory contract;
- the stages, in data-flow order: `riskclass.synthetic` (the synthetic world),
  `riskclass.pipeline` (detection, encoding, matching, decisions) and
  `riskclass.analysis` (per-group error measurement and reports);
- `riskclass.commands`: what the command line runs (run, report, bench, video)
  and the command line itself.

What this module exports is the base's public API; the stages use nothing else.
"""

from typing import TYPE_CHECKING

from ._errors import (
    SCENARIO,
    ConfigError,
    DataError,
    OutputExistsError,
    RiskclassError,
    naming_config_file,
)
from ._groups import (
    ALL,
    DEFAULT_KEY,
    GroupKey,
    group_label,
    resolve_by_group,
    resolve_index,
)
from ._lazy import lazy_exports
from ._progress import Progress, report_progress

# Names from modules that need pydantic, numpy, pandas or pyarrow load on first use,
# so that `riskclass --help` starts in a fraction of a second and `riskclass
# validate` loads pydantic and yaml only.
_LAZY = {
    "_config": (
        "CROSS_GROUP_SEPARATOR",
        "KINDS",
        "OUTCOMES",
        "POPULATION_GALLERY",
        "Algorithm",
        "ConditionEffects",
        "ConditionShifts",
        "Deployment",
        "ErrorRates",
        "Gallery",
        "KindInfo",
        "Matching",
        "ReferenceConditions",
        "Scenario",
        "VideoLight",
        "VideoSettings",
    ),
    "_loading": ("load_config", "validate_config"),
    "_rundir": (
        "CALIBRATION",
        "CAMERAS",
        "DECISIONS",
        "EMBEDDING_MODEL",
        "EVENTS",
        "GALLERIES",
        "HITS",
        "MANIFEST",
        "PER_GROUP",
        "PERSON_OUTCOMES",
        "PERSONS",
        "REPORT_DIR",
        "VIDEO_RESULTS_DIR",
        "atomic_output_dir",
        "package_versions",
        "parquet_writer",
        "provenance",
        "read_manifest",
        "write_file_atomically",
        "write_json",
        "write_parquet",
    ),
    "_seeds": ("Stream", "rng_for"),
    "_tables": ("CATEGORY", "category_array", "records"),
}

if TYPE_CHECKING:
    from ._config import (
        CROSS_GROUP_SEPARATOR,
        KINDS,
        OUTCOMES,
        POPULATION_GALLERY,
        Algorithm,
        ConditionEffects,
        ConditionShifts,
        Deployment,
        ErrorRates,
        Gallery,
        KindInfo,
        Matching,
        ReferenceConditions,
        Scenario,
        VideoLight,
        VideoSettings,
    )
    from ._loading import load_config, validate_config
    from ._rundir import (
        CALIBRATION,
        CAMERAS,
        DECISIONS,
        EMBEDDING_MODEL,
        EVENTS,
        GALLERIES,
        HITS,
        MANIFEST,
        PER_GROUP,
        PERSON_OUTCOMES,
        PERSONS,
        REPORT_DIR,
        VIDEO_RESULTS_DIR,
        atomic_output_dir,
        package_versions,
        parquet_writer,
        provenance,
        read_manifest,
        write_file_atomically,
        write_json,
        write_parquet,
    )
    from ._seeds import Stream, rng_for
    from ._tables import CATEGORY, category_array, records

__getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY)

__all__ = [
    "ALL",
    "CALIBRATION",
    "CAMERAS",
    "CATEGORY",
    "CROSS_GROUP_SEPARATOR",
    "DECISIONS",
    "DEFAULT_KEY",
    "EMBEDDING_MODEL",
    "EVENTS",
    "GALLERIES",
    "HITS",
    "KINDS",
    "MANIFEST",
    "OUTCOMES",
    "PERSONS",
    "PERSON_OUTCOMES",
    "PER_GROUP",
    "POPULATION_GALLERY",
    "REPORT_DIR",
    "SCENARIO",
    "VIDEO_RESULTS_DIR",
    "Algorithm",
    "ConditionEffects",
    "ConditionShifts",
    "ConfigError",
    "DataError",
    "Deployment",
    "ErrorRates",
    "Gallery",
    "GroupKey",
    "KindInfo",
    "Matching",
    "OutputExistsError",
    "Progress",
    "ReferenceConditions",
    "RiskclassError",
    "Scenario",
    "Stream",
    "VideoLight",
    "VideoSettings",
    "atomic_output_dir",
    "category_array",
    "group_label",
    "lazy_exports",
    "load_config",
    "naming_config_file",
    "package_versions",
    "parquet_writer",
    "provenance",
    "read_manifest",
    "records",
    "report_progress",
    "resolve_by_group",
    "resolve_index",
    "rng_for",
    "validate_config",
    "write_file_atomically",
    "write_json",
    "write_parquet",
]
__version__ = "0.1.0"
