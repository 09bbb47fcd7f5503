"""Detection, encoding, matching and decisions. Imported as ``riskclass.pipeline``."""

from ._faiss import FaissMatcher, make_matcher
from ._galleries import select_members
from ._investigation import Candidates, TrajectorySearch
from ._matcher import ExactMatcher, Hits, Matcher
from ._pipeline import COUNTERS, DECISION_SCHEMA, HITS_SCHEMA, ChunkResult, Pipeline, Tally

__all__ = [
    "COUNTERS",
    "DECISION_SCHEMA",
    "HITS_SCHEMA",
    "Candidates",
    "ChunkResult",
    "ExactMatcher",
    "FaissMatcher",
    "Hits",
    "Matcher",
    "Pipeline",
    "Tally",
    "TrajectorySearch",
    "make_matcher",
    "select_members",
]
