"""The synthetic world: population, city, cameras, camera events and face embeddings.

Imported as ``riskclass.synthetic``.
"""

from ._calibration import RateCount, calibrate, cross_group_target, measure_rates
from ._city import place_cameras
from ._embeddings import DIMENSIONS, EmbeddingModel, condition_deficits
from ._events import EVENT_SCHEMA, EventGenerator, Exposure
from ._population import generate_population

__all__ = [
    "DIMENSIONS",
    "EVENT_SCHEMA",
    "EmbeddingModel",
    "EventGenerator",
    "Exposure",
    "RateCount",
    "calibrate",
    "condition_deficits",
    "cross_group_target",
    "generate_population",
    "measure_rates",
    "place_cameras",
]
