"""Galleries: who is enrolled in each watchlist or blacklist, and their templates."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from riskclass import SCENARIO, ConfigError, Gallery, resolve_by_group

_TOO_LARGE = "asks for {wanted:,} members but only {eligible:,} persons have a positive weight"


def member_weights(
    gallery: Gallery, persons: pd.DataFrame, *, field: str
) -> npt.NDArray[np.float64]:
    """Each person's weight in ``gallery``'s draw (its over-representation).

    Raises
    ------
    ConfigError
        If fewer persons than the gallery's size have a positive weight. Whether
        they do depends on the drawn population, so the config cannot tell.
    """
    weights = np.array(resolve_by_group(gallery.over_representation, persons, default=1.0))
    wanted = gallery.members_wanted(len(persons))
    eligible = int(np.count_nonzero(weights > 0))
    if wanted > eligible:
        raise ConfigError(SCENARIO, [(field, _TOO_LARGE.format(wanted=wanted, eligible=eligible))])
    return weights


def select_members(
    gallery: Gallery, persons: pd.DataFrame, rng: np.random.Generator, *, field: str
) -> npt.NDArray[np.int64]:
    """Draw a gallery's members without replacement, weighted by over-representation.

    Uses weighted random keys (Efraimidis and Spirakis): each person gets
    ``log(u) / weight`` and the largest keys win, which draws with probability
    proportional to weight at each step, in one pass. Returns sorted person ids.
    """
    weights = member_weights(gallery, persons, field=field)
    wanted = gallery.members_wanted(len(persons))
    with np.errstate(divide="ignore"):
        keys = np.where(weights > 0, np.log(rng.random(len(persons))) / weights, -np.inf)
    chosen = (
        np.argpartition(-keys, wanted - 1)[:wanted]
        if wanted < len(persons)
        else np.arange(len(persons))
    )
    return np.sort(persons["person_id"].to_numpy()[chosen])
