"""Independent random streams derived from the scenario seed.

Each stage draws from its own stream, addressed by a fixed spawn key, so adding
draws to one stage never shifts the numbers of another, and a chunk of work can be
regenerated on its own.
"""

from __future__ import annotations

import enum

import numpy as np


class Stream(enum.IntEnum):
    POPULATION = 1
    CITY = 2
    EVENTS = 3
    IDENTITIES = 4
    CAPTURES = 5
    CALIBRATION = 6
    GALLERIES = 7
    REVIEW = 8
    IMPOSTORS = 9
    REPORT = 10
    VIDEO = 11
    BATCH = 12
    DYNAMICS = 13


def rng_for(seed: int, stream: Stream, *keys: int) -> np.random.Generator:
    """A generator for ``stream`` (and sub-keys such as day and chunk) of ``seed``."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(int(stream), *keys)))
