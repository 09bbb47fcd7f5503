"""Detection, encoding, matching and decisions. Imported as ``riskclass.pipeline``.

The 1:N search backends are in `riskclass.pipeline.matching`; the common ones are
re-exported here.
"""

from typing import TYPE_CHECKING

from riskclass import lazy_exports

from ._dynamics import (
    OUTCOME_COUNTS,
    PERIOD_OUTCOME_SCHEMA,
    STANDING_SCHEMA,
    DynamicsRun,
    PeriodResult,
)
from ._galleries import member_weights, select_members
from ._investigation import Candidates, TrajectorySearch
from ._pipeline import (
    COUNTERS,
    DECISION_SCHEMA,
    HITS_SCHEMA,
    ChunkResult,
    ChunkState,
    Pipeline,
    Tally,
    deployment_cameras,
    enroll_templates,
    resolve_thresholds,
    searchable_persons,
    select_galleries,
)
from ._standing import CAUSES, LISTING_SCHEMA, Standing
from ._thresholds import expected_fpir, threshold_for_fpir
from .matching import ExactMatcher, Hits, Matcher, make_matcher

# Photos and video need OpenCV, face_recognition and scipy.stats, the other
# matchers faiss: loaded on first use, so that an event-stream run never imports them.
_LAZY = {
    "_enroll": ("EnrolledPhotos", "encode_photos", "fit_profile", "read_labels"),
    "_video": (
        "VideoResults",
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
    "CAUSES",
    "COUNTERS",
    "DECISION_SCHEMA",
    "HITS_SCHEMA",
    "LISTING_SCHEMA",
    "OUTCOME_COUNTS",
    "PERIOD_OUTCOME_SCHEMA",
    "STANDING_SCHEMA",
    "Candidates",
    "ChunkResult",
    "ChunkState",
    "DynamicsRun",
    "EnrolledPhotos",
    "ExactMatcher",
    "FaceRecognitionLoop",
    "FaissMatcher",
    "Hits",
    "Matcher",
    "PeriodResult",
    "Pipeline",
    "Standing",
    "Tally",
    "TrajectorySearch",
    "VideoResults",
    "deployment_cameras",
    "encode_image",
    "encode_photos",
    "enroll_templates",
    "expected_fpir",
    "fit_profile",
    "frames",
    "iou",
    "load_face_recognition",
    "make_matcher",
    "member_weights",
    "read_image",
    "read_labels",
    "resolve_thresholds",
    "run_on_video",
    "searchable_persons",
    "select_galleries",
    "select_members",
    "threshold_for_fpir",
]
