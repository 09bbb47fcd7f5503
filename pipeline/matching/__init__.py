"""1:N search backends behind one interface, `Matcher`.

``exact`` (`ExactMatcher`, with its int8 `Int8Bounds`), ``faiss`` (`FaissMatcher`:
flat, IVF, HNSW) and face_recognition's own loop (`FaceRecognitionLoop`), each in
its own module; `make_matcher` builds the one a scenario's ``matching:`` asks for.
"""

from typing import TYPE_CHECKING

from riskclass import lazy_exports

from ._base import Hits, Matcher
from ._bounds import SLICE, Int8Bounds, cpu_probe_levels
from ._exact import ExactMatcher
from ._factory import make_matcher

# faiss and face_recognition (dlib, OpenCV) take seconds to import: on first use only.
_LAZY = {"_face_recognition": ("FaceRecognitionLoop",), "_faiss": ("FaissMatcher",)}

if TYPE_CHECKING:
    from ._face_recognition import FaceRecognitionLoop
    from ._faiss import FaissMatcher

__getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY)

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
