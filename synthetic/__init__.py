"""The synthetic world: population, city, cameras, camera events, face embeddings
and rendered video.

Imported as ``riskclass.synthetic``.
"""

from ._calibration import RateCount, calibrate, cross_group_target, measure_rates
from ._city import place_cameras
from ._embeddings import DIMENSIONS, EmbeddingModel, condition_deficits
from ._events import EVENT_SCHEMA, EventGenerator, Exposure
from ._faces import FaceParams, background, draw_face, expose
from ._population import generate_population
from ._video import VideoSummary, render_video

__all__ = [
    "DIMENSIONS",
    "EVENT_SCHEMA",
    "EmbeddingModel",
    "EventGenerator",
    "Exposure",
    "FaceParams",
    "RateCount",
    "VideoSummary",
    "background",
    "calibrate",
    "condition_deficits",
    "cross_group_target",
    "draw_face",
    "expose",
    "generate_population",
    "measure_rates",
    "place_cameras",
    "render_video",
]
