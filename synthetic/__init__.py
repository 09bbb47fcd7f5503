"""The synthetic world: population, city, cameras and camera events.

Imported as ``riskclass.synthetic``.
"""

from ._city import place_cameras
from ._events import EVENT_SCHEMA, EventGenerator, Exposure
from ._population import generate_population

__all__ = ["EVENT_SCHEMA", "EventGenerator", "Exposure", "generate_population", "place_cameras"]
