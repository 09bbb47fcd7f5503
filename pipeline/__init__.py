"""Detection, encoding, matching and decisions. Imported as ``riskclass.pipeline``.

The 1:N search backends are in `riskclass.pipeline.matching`; the common ones are
re-exported here.
"""

from typing import TYPE_CHECKING

from riskclass import lazy_exports

from ._dynamics import (
    OUTCOME_COUNTS as OUTCOME_COUNTS,
    PERIOD_OUTCOME_SCHEMA as PERIOD_OUTCOME_SCHEMA,
    STANDING_SCHEMA as STANDING_SCHEMA,
    DynamicsRun as DynamicsRun,
    PeriodResult as PeriodResult,
)
from ._galleries import member_weights as member_weights, select_members as select_members
from ._investigation import Candidates as Candidates, TrajectorySearch as TrajectorySearch
from ._pipeline import (
    COUNTERS as COUNTERS,
    DECISION_SCHEMA as DECISION_SCHEMA,
    HITS_SCHEMA as HITS_SCHEMA,
    ChunkResult as ChunkResult,
    ChunkState as ChunkState,
    Pipeline as Pipeline,
    SharedEnrollment as SharedEnrollment,
    Tally as Tally,
    alike_key as alike_key,
    deployment_cameras as deployment_cameras,
    enroll_templates as enroll_templates,
    process_alike as process_alike,
    resolve_thresholds as resolve_thresholds,
    searchable_persons as searchable_persons,
    select_galleries as select_galleries,
)
from ._standing import CAUSES as CAUSES, LISTING_SCHEMA as LISTING_SCHEMA, Standing as Standing
from ._thresholds import expected_fpir as expected_fpir, threshold_for_fpir as threshold_for_fpir
from .matching import (
    ExactMatcher as ExactMatcher,
    Hits as Hits,
    Matcher as Matcher,
    make_matcher as make_matcher,
)

# Photos and video need OpenCV, face_recognition and scipy.stats, the other
# matchers faiss: loaded on first use, so that an event-stream run never imports them.
if TYPE_CHECKING:
    from ._enroll import (
        EnrolledPhotos as EnrolledPhotos,
        encode_photos as encode_photos,
        fit_profile as fit_profile,
        read_labels as read_labels,
    )
    from ._video import (
        VideoResults as VideoResults,
        encode_image as encode_image,
        frames as frames,
        iou as iou,
        load_face_recognition as load_face_recognition,
        read_image as read_image,
        run_on_video as run_on_video,
    )
    from .matching import FaceRecognitionLoop as FaceRecognitionLoop, FaissMatcher as FaissMatcher

__getattr__, __dir__, __all__ = lazy_exports(__name__, __file__, globals())
