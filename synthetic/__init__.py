"""The synthetic world: population, city, cameras, camera events, face embeddings
and rendered video.

Imported as ``riskclass.synthetic``.
"""

from typing import TYPE_CHECKING

from riskclass import lazy_exports

from ._calibration import (
    WORSE,
    WORSE_CONDITIONS,
    RateCount,
    calibrate,
    cross_group_target,
    measure_rates,
)
from ._city import place_cameras
from ._embeddings import DIMENSIONS, EmbeddingModel, condition_deficits, weighted_deficit
from ._events import EVENT_SCHEMA, ConditionDraws, Conditions, EventGenerator, Exposure
from ._population import generate_population
from ._scores import GroupShape, genuine_fnmr, pair_fmr

# Drawn faces and video need OpenCV: loaded on first use, not by event-stream runs.
_LAZY = {
    "_faces": ("FaceParams", "HeadModel", "head_model", "render_head", "rotation", "shadow_map"),
    "_camera": ("Camera",),
    "_scene": ("SCENE_TYPES", "colour_of_temperature", "make_light", "Sensor"),
    "_video": ("GROUND_TRUTH", "VideoSummary", "render_video"),
}

if TYPE_CHECKING:
    from ._camera import Camera
    from ._faces import FaceParams, HeadModel, head_model, render_head, rotation, shadow_map
    from ._scene import SCENE_TYPES, Sensor, colour_of_temperature, make_light
    from ._video import GROUND_TRUTH, VideoSummary, render_video

__getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY)

__all__ = [
    "DIMENSIONS",
    "EVENT_SCHEMA",
    "GROUND_TRUTH",
    "SCENE_TYPES",
    "WORSE",
    "WORSE_CONDITIONS",
    "Camera",
    "ConditionDraws",
    "Conditions",
    "EmbeddingModel",
    "EventGenerator",
    "Exposure",
    "FaceParams",
    "GroupShape",
    "HeadModel",
    "RateCount",
    "Sensor",
    "VideoSummary",
    "calibrate",
    "colour_of_temperature",
    "condition_deficits",
    "cross_group_target",
    "generate_population",
    "genuine_fnmr",
    "head_model",
    "make_light",
    "measure_rates",
    "pair_fmr",
    "place_cameras",
    "render_head",
    "render_video",
    "rotation",
    "shadow_map",
    "weighted_deficit",
]
