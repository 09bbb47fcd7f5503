"""Work in threads: `prefetched` yields what it is given, in order, one item ahead."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from riskclass import prefetched


def test_prefetched_yields_every_item_in_order_one_ahead() -> None:
    made: list[int] = []
    makers: set[threading.Thread] = set()

    def items() -> Iterator[int]:
        for item in range(5):
            made.append(item)
            makers.add(threading.current_thread())
            yield item

    seen = []
    for item in prefetched(items()):
        seen.append(item)
        # The next item is being made (or made) while this one is used, never two ahead.
        assert len(made) <= item + 2
    assert seen == list(range(5))
    assert threading.current_thread() not in makers


def test_an_error_in_making_an_item_reaches_the_caller() -> None:
    def items() -> Iterator[int]:
        yield 1
        raise ValueError("chunk 2 is broken")

    got = []
    with pytest.raises(ValueError, match="chunk 2 is broken"):
        for item in prefetched(items()):
            got.append(item)
    assert got == [1]
