"""Detection, encoding, matching and decisions. Imported as ``riskclass.pipeline``.

The 1:N search backends are in `riskclass.pipeline.matching`; the common ones are
re-exported here.
"""

from typing import TYPE_CHECKING

from riskclass import lazy_exports

from ._galleries import member_weights, select_members
from ._investigation import Candidates, TrajectorySearch
from ._pipeline import (
    COUNTERS,
    DECISION_SCHEMA,
    HITS_SCHEMA,
    ChunkResult,
    Pipeline,
    Tally,
    searchable_persons,
)
from ._thresholds import expected_fpir, threshold_for_fpir
from .matching import ExactMatcher, Hits, Matcher, make_matcher

# Photos and video need OpenCV, face_recognition and scipy.stats, the other
# matchers faiss: loaded on first use, so that an event-stream run never imports them.
_LAZY = {
    "_enroll": ("EnrolledPhotos", "encode_photos", "fit_profile", "read_labels"),
    "_video": (
        "VideoResults",
        "deployment_cameras",
        "encode_image",
        "frames",
        "iou",
        "load_face_recognition",
        "read_image",
        "run_on_video",
    ),
    "matching": ("FaceRecognitionLoop", "FaissMatcher"),
}

if TYPE_CHECKING:
    from ._enroll import EnrolledPhotos, encode_photos, fit_profile, read_labels
    from ._video import (
        VideoResults,
        encode_image,
        frames,
        iou,
        load_face_recognition,
        read_image,
        run_on_video,
    )
    from .matching import FaceRecognitionLoop, FaissMatcher

__getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY)

__all__ = [
    "COUNTERS",
    "DECISION_SCHEMA",
    "HITS_SCHEMA",
    "Candidates",
    "ChunkResult",
    "EnrolledPhotos",
    "ExactMatcher",
    "FaceRecognitionLoop",
    "FaissMatcher",
    "Hits",
    "Matcher",
    "Pipeline",
    "Tally",
    "TrajectorySearch",
    "VideoResults",
    "encode_image",
    "encode_photos",
    "expected_fpir",
    "fit_profile",
    "frames",
    "iou",
    "load_face_recognition",
    "make_matcher",
    "member_weights",
    "read_image",
    "read_labels",
    "run_on_video",
    "searchable_persons",
    "select_members",
    "threshold_for_fpir",
]
