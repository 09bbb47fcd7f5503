"""Every exception riskclass raises on purpose, documented in one place.

The hierarchy::

    RiskclassError            base class; the CLI turns it into a message and exit code 2
    ├── ConfigError           a scenario file or --set override is invalid
    ├── DataError             an input or output file is missing, unreadable or malformed
    └── OutputExistsError     the output directory exists and --force was not given

Each carries a message that names the file, the field and what was expected, so the
CLI can print it as is and never show a traceback.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path


class RiskclassError(Exception):
    """Base class of the errors that riskclass reports to its user."""


# The source of ConfigErrors that stages raise at run time: they get a validated
# Scenario, not its file. `naming_config_file` puts the file in its place.
SCENARIO = "<scenario>"
# A message lists at most this many problems, each cut to this many characters, so
# that input with thousands of bad or huge keys still gets a readable message.
MAX_PROBLEMS_SHOWN = 20
MAX_PROBLEM_CHARS = 1000


class ConfigError(RiskclassError):
    """A scenario config (or an override of it) failed validation.

    Parameters
    ----------
    source:
        The config file, or a description of where the values came from.
    problems:
        ``(field_path, what_was_expected)`` pairs, one per problem found. All are
        kept in ``problems``; the message shows the first `MAX_PROBLEMS_SHOWN`.
    """

    def __init__(self, source: str | Path, problems: Sequence[tuple[str, str]]) -> None:
        self.source = str(source)
        self.problems = list(problems)
        lines = [
            _cut(f"{self.source}: {field}: {message}")
            for field, message in self.problems[:MAX_PROBLEMS_SHOWN]
        ]
        if len(self.problems) > MAX_PROBLEMS_SHOWN:
            lines.append(f"... and {len(self.problems) - MAX_PROBLEMS_SHOWN:,} more problems")
        super().__init__("\n".join(lines))


class DataError(RiskclassError):
    """A data file (Parquet, image, video) is missing, unreadable or malformed."""


class OutputExistsError(RiskclassError):
    """The requested output directory already exists."""


@contextmanager
def naming_config_file(path: str | Path | None) -> Iterator[None]:
    """Within this block, ConfigErrors raised with the `SCENARIO` source name ``path``."""
    try:
        yield
    except ConfigError as exc:
        if path is None or exc.source != SCENARIO:
            raise
        raise ConfigError(path, exc.problems) from None


def _cut(line: str) -> str:
    if len(line) <= MAX_PROBLEM_CHARS:
        return line
    return f"{line[:MAX_PROBLEM_CHARS]}... ({len(line):,} characters)"
