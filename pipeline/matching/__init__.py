"""1:N search backends behind one interface, `Matcher`.

``exact`` (`ExactMatcher`, with its int8 `Int8Bounds`), ``faiss`` (`FaissMatcher`:
flat, IVF, HNSW) and face_recognition's own loop (`FaceRecognitionLoop`), each in
its own module; `make_matcher` builds the one a scenario's ``matching:`` asks for.
"""

from typing import TYPE_CHECKING

from riskclass import lazy_exports

from ._base import Hits as Hits, Matcher as Matcher
from ._bounds import SLICE as SLICE, Int8Bounds as Int8Bounds, cpu_probe_levels as cpu_probe_levels
from ._exact import ExactMatcher as ExactMatcher
from ._factory import make_matcher as make_matcher

# faiss and face_recognition (dlib, OpenCV) take seconds to import: on first use only.
if TYPE_CHECKING:
    from ._face_recognition import FaceRecognitionLoop as FaceRecognitionLoop
    from ._faiss import FaissMatcher as FaissMatcher

__getattr__, __dir__, __all__ = lazy_exports(__name__, __file__, globals())
