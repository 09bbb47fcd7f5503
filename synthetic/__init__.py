"""The synthetic world: population, city, cameras, camera events, face embeddings
and rendered video.

Imported as ``riskclass.synthetic``.
"""

from typing import TYPE_CHECKING

from riskclass import lazy_exports

from ._calibration import (
    WORSE as WORSE,
    WORSE_CONDITIONS as WORSE_CONDITIONS,
    RateCount as RateCount,
    calibrate as calibrate,
    cross_group_target as cross_group_target,
    measure_rates as measure_rates,
)
from ._city import place_cameras as place_cameras
from ._embeddings import (
    DIMENSIONS as DIMENSIONS,
    EmbeddingModel as EmbeddingModel,
    condition_deficits as condition_deficits,
    weighted_deficit as weighted_deficit,
)
from ._events import (
    EVENT_CHUNK_PERSONS as EVENT_CHUNK_PERSONS,
    EVENT_SCHEMA as EVENT_SCHEMA,
    ConditionDraws as ConditionDraws,
    Conditions as Conditions,
    EventGenerator as EventGenerator,
    Exposure as Exposure,
    district_residents as district_residents,
)
from ._population import generate_population as generate_population
from ._scores import GroupShape as GroupShape, genuine_fnmr as genuine_fnmr, pair_fmr as pair_fmr

# Drawn faces and video need OpenCV: loaded on first use, not by event-stream runs.
if TYPE_CHECKING:
    from ._camera import Camera as Camera
    from ._faces import (
        FaceParams as FaceParams,
        HeadModel as HeadModel,
        draw_head as draw_head,
        head_model as head_model,
        render_head as render_head,
        rotation as rotation,
        shadow_map as shadow_map,
    )
    from ._scene import (
        SCENE_TYPES as SCENE_TYPES,
        Sensor as Sensor,
        colour_of_temperature as colour_of_temperature,
        make_light as make_light,
    )
    from ._video import (
        GROUND_TRUTH as GROUND_TRUTH,
        VideoSummary as VideoSummary,
        render_video as render_video,
        write_portrait as write_portrait,
    )

__getattr__, __dir__, __all__ = lazy_exports(__name__, __file__, globals())
