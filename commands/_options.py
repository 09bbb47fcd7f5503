"""`RunOptions`: how a command that writes a directory runs, shared by all of them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from riskclass import Progress, atomic_output_dir, naming_config_file


@dataclass(frozen=True)
class RunOptions:
    """How `generate`, `run`, `run_dynamics` and `render` write and report, not what.

    ``force``: replace the output directory if it exists (only once the new one is
    complete). ``config_path``: the YAML file the scenario came from, named in
    errors and recorded in the manifest. ``progress``: called as stages advance.
    ``cache``: reuse and store calibrations in the calibration cache; only the
    commands that calibrate (`run`, `run_dynamics`) consult it.

    >>> RunOptions(force=True)
    RunOptions(force=True, config_path=None, progress=None, cache=True)
    """

    force: bool = False
    config_path: str | Path | None = None
    progress: Progress | None = None
    cache: bool = True

    @contextmanager
    def staging(self, out: str | Path) -> Iterator[Path]:
        """A fresh directory that becomes ``out`` when the block succeeds.

        Config errors raised inside name ``config_path`` (see
        `riskclass.naming_config_file`); ``force`` as `riskclass.atomic_output_dir`.
        """
        with (
            atomic_output_dir(out, force=self.force) as staging,
            naming_config_file(self.config_path),
        ):
            yield staging
