"""Detection, encoding, matching and decisions. Imported as ``riskclass.pipeline``."""

from ._galleries import select_members
from ._matcher import ExactMatcher, Matcher
from ._pipeline import COUNTERS, DECISION_SCHEMA, Pipeline, Tally

__all__ = [
    "COUNTERS",
    "DECISION_SCHEMA",
    "ExactMatcher",
    "Matcher",
    "Pipeline",
    "Tally",
    "select_members",
]
