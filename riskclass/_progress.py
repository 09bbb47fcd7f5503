"""The progress callback through which library code reports long work.

Library functions accept ``progress: Progress | None`` and call it as
``progress(task, done, total)``; they never print. The CLI passes a callback that
drives a progress bar.
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str, int, int], None]


def report_progress(progress: Progress | None, task: str, done: int, total: int) -> None:
    if progress is not None:
        progress(task, done, total)
