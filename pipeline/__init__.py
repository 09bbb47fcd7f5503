"""Detection, encoding, matching and decisions. Imported as ``riskclass.pipeline``."""

from ._galleries import select_members
from ._investigation import Candidates, TrajectorySearch
from ._matcher import ExactMatcher, Matcher
from ._pipeline import COUNTERS, DECISION_SCHEMA, Pipeline, Tally

__all__ = [
    "COUNTERS",
    "DECISION_SCHEMA",
    "Candidates",
    "ExactMatcher",
    "Matcher",
    "Pipeline",
    "Tally",
    "TrajectorySearch",
    "select_members",
]
