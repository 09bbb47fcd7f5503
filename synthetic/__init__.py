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
    "_faces": ("FaceParams", "background", "draw_face", "expose"),
    "_video": ("VideoSummary", "render_video"),
}

if TYPE_CHECKING:
    from ._faces import FaceParams, background, draw_face, expose
    from ._video import VideoSummary, render_video

__getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY)

__all__ = [
    "DIMENSIONS",
    "EVENT_SCHEMA",
    "WORSE",
    "WORSE_CONDITIONS",
    "ConditionDraws",
    "Conditions",
    "EmbeddingModel",
    "EventGenerator",
    "Exposure",
    "FaceParams",
    "GroupShape",
    "RateCount",
    "VideoSummary",
    "background",
    "calibrate",
    "condition_deficits",
    "cross_group_target",
    "draw_face",
    "expose",
    "generate_population",
    "genuine_fnmr",
    "measure_rates",
    "pair_fmr",
    "place_cameras",
    "render_video",
    "weighted_deficit",
]
