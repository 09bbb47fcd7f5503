"""1:N search backends behind one interface, `Matcher`.

``exact`` (`ExactMatcher`, with its int8 `Int8Bounds`), ``faiss`` (`FaissMatcher`:
flat, IVF, HNSW) and face_recognition's own loop (`FaceRecognitionLoop`), each in
its own module; `make_matcher` builds the one a scenario's ``matching:`` asks for.
"""

from ._base import Hits, Matcher
from ._bounds import SLICE, Int8Bounds, cpu_probe_levels
from ._exact import ExactMatcher
from ._face_recognition import FaceRecognitionLoop
from ._factory import make_matcher
from ._faiss import FaissMatcher

__all__ = [
    "SLICE",
    "ExactMatcher",
    "FaceRecognitionLoop",
    "FaissMatcher",
    "Hits",
    "Int8Bounds",
    "Matcher",
    "cpu_probe_levels",
    "make_matcher",
]
