"""Journal entries appended in one turn of the event loop are stored in one write, in order;
a failed write fails every append waiting on it."""
from __future__ import annotations

import asyncio

import pytest

from tiphys.runtime.journalbatch import Batcher


@pytest.mark.parametrize("inline", [True, False])
def test_one_write_per_turn_in_order(inline):
    writes: list[list[str]] = []

    async def go():
        batcher = Batcher(writes.append, inline=inline)
        await asyncio.gather(*(batcher.append(f"e{i}") for i in range(50)))
        await batcher.append("later")
    asyncio.run(go())
    assert writes == [[f"e{i}" for i in range(50)], ["later"]]


@pytest.mark.parametrize("inline", [True, False])
def test_a_failed_write_fails_its_appends(inline):
    def write(entries: list[str]) -> None:
        raise OSError("disk full")

    async def go():
        batcher = Batcher(write, inline=inline)
        return await asyncio.gather(batcher.append("a"), batcher.append("b"), return_exceptions=True)
    found = asyncio.run(go())
    assert [type(e) for e in found] == [OSError, OSError]
