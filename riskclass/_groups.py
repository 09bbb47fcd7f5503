"""Group keys: how configs name a group of persons.

A group is one attribute value (``residency=migrant``) or an intersection of values
joined by ``&`` (``sex=female&age=elderly``). Tables keyed by groups (error rates,
activity, residential bias) use one rule everywhere: the most specific matching key
wins (the one naming most attributes); among equally specific keys the one listed
first wins; ``default`` applies to everyone no other key matches.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pandas as pd

DEFAULT_KEY = "default"
# The ``attribute`` (and ``value``) of report rows about everyone.
ALL = "all"

T = TypeVar("T")

_BAD_TERM = "expected 'attribute=value' terms joined by '&', got {text!r}"
_REPEATED_ATTRIBUTE = "attribute {name!r} appears twice in {text!r}"


@dataclass(frozen=True, slots=True)
class GroupKey:
    """A parsed group key: ``(attribute, value)`` terms in a canonical order.

    Examples
    --------
    >>> key = GroupKey.parse("sex=female&age=elderly")
    >>> key.terms
    (('age', 'elderly'), ('sex', 'female'))
    >>> str(key)
    'age=elderly&sex=female'
    """

    terms: tuple[tuple[str, str], ...]

    @classmethod
    def parse(cls, text: str) -> GroupKey:
        if text == DEFAULT_KEY:
            return cls(())
        terms: dict[str, str] = {}
        for raw in text.split("&"):
            name, sep, value = (part.strip() for part in raw.partition("="))
            if not sep or not name or not value:
                raise ValueError(_BAD_TERM.format(text=text))
            if name in terms:
                raise ValueError(_REPEATED_ATTRIBUTE.format(name=name, text=text))
            terms[name] = value
        return cls(tuple(sorted(terms.items())))

    @property
    def attribute(self) -> str:
        """Attribute names joined by ``&`` (the ``attribute`` column of reports)."""
        return "&".join(name for name, _ in self.terms)

    @property
    def value(self) -> str:
        """Values joined by ``&`` (the ``value`` column of reports)."""
        return "&".join(value for _, value in self.terms)

    def __str__(self) -> str:
        if not self.terms:
            return DEFAULT_KEY
        return "&".join(f"{name}={value}" for name, value in self.terms)

    def mask(self, persons: pd.DataFrame) -> npt.NDArray[np.bool_]:
        """Which rows of ``persons`` belong to this group."""
        # numpy loads here, not with the module: config validation needs no arrays.
        import numpy as np

        selected = np.ones(len(persons), dtype=bool)
        for name, value in self.terms:
            selected &= (persons[name] == value).to_numpy()
        return selected


def group_label(attribute: str, value: str) -> str:
    """How reports name the group of an ``attribute``/``value`` row.

    Examples
    --------
    >>> group_label("residency", "migrant")
    'residency=migrant'
    >>> group_label("age&sex", "elderly&female")
    'age=elderly&sex=female'
    >>> group_label(ALL, ALL)
    'all'
    """
    if attribute == ALL:
        return ALL
    terms = zip(attribute.split("&"), value.split("&"), strict=True)
    return "&".join(f"{name}={part}" for name, part in terms)


def check_group_key(text: str, attributes: Mapping[str, list[str]]) -> str | None:
    """Return what is wrong with ``text`` as a group key, or None if it is valid."""
    try:
        key = GroupKey.parse(text)
    except ValueError as exc:
        return str(exc)
    for name, value in key.terms:
        if name not in attributes:
            return (
                f"unknown attribute {name!r} in group {text!r}; attributes are {sorted(attributes)}"
            )
        if value not in attributes[name]:
            return (
                f"attribute {name!r} has no value {value!r} (group {text!r}); "
                f"its values are {attributes[name]}"
            )
    return None


def resolve_by_group(table: Mapping[str, T], persons: pd.DataFrame, *, default: T) -> list[T]:
    """The table entry that applies to each person, by the most-specific-key rule.

    Returns a list of per-person entries (objects are shared, not copied).

    Examples
    --------
    >>> import pandas as pd
    >>> persons = pd.DataFrame({"sex": ["female", "male"], "age": ["elderly", "adult"]})
    >>> resolve_by_group({"sex=female": 2.0, "default": 1.0}, persons, default=0.0)
    [2.0, 1.0]
    """
    import numpy as np

    index = resolve_index(table, persons)
    # An object array's ``take`` shares the entries as the list comprehension did,
    # in a third of its time at 100,000 persons.
    entries = np.empty(len(table) + 1, dtype=object)
    # One by one: a slice assignment would unpack entries that are sequences.
    for position, entry in enumerate([default, *table.values()]):
        entries[position] = entry
    result: list[T] = entries.take(index).tolist()
    return result


def resolve_index(table: Mapping[str, object], persons: pd.DataFrame) -> npt.NDArray[np.intp]:
    """For each person, 1 + the position of the table key that applies, or 0 if none does."""
    import numpy as np

    keys = [GroupKey.parse(text) for text in table]
    chosen = np.zeros(len(persons), dtype=np.intp)
    # Assign the least specific first, so more specific keys overwrite; within one
    # specificity assign in reverse listing order so the first listed wins.
    order = sorted(range(len(keys)), key=lambda i: (len(keys[i].terms), -i))
    for position in order:
        chosen[keys[position].mask(persons)] = position + 1
    return chosen
