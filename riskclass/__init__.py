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
    SCENARIO as SCENARIO,
    ConfigError as ConfigError,
    DataError as DataError,
    OutputExistsError as OutputExistsError,
    RiskclassError as RiskclassError,
    naming_config_file as naming_config_file,
)
from ._groups import (
    ALL as ALL,
    DEFAULT_KEY as DEFAULT_KEY,
    GroupKey as GroupKey,
    group_label as group_label,
    resolve_by_group as resolve_by_group,
    resolve_index as resolve_index,
)
from ._lazy import lazy_exports as lazy_exports
from ._progress import Progress as Progress, report_progress as report_progress

# Exports are written `X as X` (see `lazy_exports`). Names from modules that need
# pydantic, numpy, pandas or pyarrow load on first use, so that `riskclass --help`
# starts in a fraction of a second and `riskclass validate` loads pydantic and yaml only.
if TYPE_CHECKING:
    from ._config import (
        BOOKING_PHOTO as BOOKING_PHOTO,
        CROSS_GROUP_SEPARATOR as CROSS_GROUP_SEPARATOR,
        KINDS as KINDS,
        OUTCOMES as OUTCOMES,
        POPULATION_GALLERY as POPULATION_GALLERY,
        RECORDABLE_OUTCOMES as RECORDABLE_OUTCOMES,
        Algorithm as Algorithm,
        CameraKind as CameraKind,
        ConditionEffects as ConditionEffects,
        ConditionShifts as ConditionShifts,
        Deployment as Deployment,
        Dynamics as Dynamics,
        ErrorRates as ErrorRates,
        Gallery as Gallery,
        KindInfo as KindInfo,
        Matching as Matching,
        ReferenceConditions as ReferenceConditions,
        Scenario as Scenario,
        VideoLight as VideoLight,
        VideoSettings as VideoSettings,
    )
    from ._loading import load_config as load_config, validate_config as validate_config
    from ._parallel import (
        THREADS_VARIABLE as THREADS_VARIABLE,
        in_threads as in_threads,
        one_blas_thread as one_blas_thread,
        worker_threads as worker_threads,
    )
    from ._rundir import (
        CALIBRATION as CALIBRATION,
        CAMERAS as CAMERAS,
        DECISIONS as DECISIONS,
        EMBEDDING_MODEL as EMBEDDING_MODEL,
        EVENTS as EVENTS,
        GALLERIES as GALLERIES,
        HITS as HITS,
        LISTINGS as LISTINGS,
        MANIFEST as MANIFEST,
        PER_GROUP as PER_GROUP,
        PERIOD_OUTCOMES as PERIOD_OUTCOMES,
        PERSON_OUTCOMES as PERSON_OUTCOMES,
        PERSONS as PERSONS,
        REPORT_DIR as REPORT_DIR,
        SCHEMA_VERSION as SCHEMA_VERSION,
        STANDING as STANDING,
        VIDEO_RESULTS_DIR as VIDEO_RESULTS_DIR,
        ChunkWriter as ChunkWriter,
        atomic_output_dir as atomic_output_dir,
        check_run_against_config as check_run_against_config,
        config_digest as config_digest,
        manifest_scenario as manifest_scenario,
        package_versions as package_versions,
        parquet_writer as parquet_writer,
        provenance as provenance,
        read_manifest as read_manifest,
        write_file_atomically as write_file_atomically,
        write_manifest as write_manifest,
        write_parquet as write_parquet,
    )
    from ._seeds import Stream as Stream, rng_for as rng_for
    from ._tables import (
        CATEGORY as CATEGORY,
        DEPLOYMENT as DEPLOYMENT,
        EVENT_ID as EVENT_ID,
        PERIOD as PERIOD,
        PERSON_ID as PERSON_ID,
        category_array as category_array,
        records as records,
    )

__getattr__, __dir__, __all__ = lazy_exports(__name__, __file__, globals())

__version__ = "0.1.0"
