"""AsyncClient: generate, stream, a batch of 200 within limits, cancellation, events,
close and `async with`."""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest

import llmsvc
from llmsvc import AsyncClient

from .conftest import Emulator, start_emulator, stop

pytestmark = pytest.mark.asyncio


async def test_generate_and_stream(emu: Emulator) -> None:
    async with AsyncClient(emu.config("sk-async")) as c:
        r = await c.generate(prompt="Say hi", max_output_tokens=8)
        assert r.ok and r.usage is not None and r.usage.completion_tokens == 8
        s = c.stream(prompt="Tell a story", max_output_tokens=30)
        pieces = [p async for p in s]
        assert len(pieces) > 1 and "".join(p.text for p in pieces) == (await s.result()).text
        compat = await c.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        assert compat.choices[0].message.content
        chunks = [ch async for ch in await c.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], max_tokens=6, stream=True)]  # fmt: skip
        assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 6


async def test_batch_of_200_within_limits(emu: Emulator) -> None:
    # The emulator allows 100 requests per second; the client is told the same limit and
    # must keep within it: every request succeeds and none is answered 429.
    e = start_emulator("--rpm", "6000", "--window-ms", "1000")
    try:
        cfg = e.config("sk-batch", limits={"rpm": 6000, "window_ms": 1000, "concurrency": 32})
        async with AsyncClient(cfg) as c:
            results = await asyncio.gather(*(c.generate(prompt=f"q{i}", max_output_tokens=4) for i in range(200)))
            assert len(results) == 200 and all(r.ok for r in results)
            assert len({r.id for r in results}) == 200
            m = c.metrics()
            assert m["requests"]["succeeded"] == 200 and m["attempts"]["total"] == 200
        stats = e.stats("sk-batch")
        assert stats["ok"] == 200 and stats["rate_limited"] == 0
        assert stats["peak_window_requests"] <= 100
    finally:
        stop(e)


async def test_task_cancellation_cancels_the_request(slow_emu: Emulator) -> None:
    async with AsyncClient(slow_emu.config("sk-cancel")) as c:
        started = asyncio.Event()
        c.set_event_hook(lambda ev: started.set(), ["attempt_started"])
        task = asyncio.create_task(c.generate(prompt="slow"))
        await asyncio.wait_for(started.wait(), 10)  # in flight at the emulator
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # cancel() is a round trip to the engine: the snapshot after it counts the cancel.
        m = c.metrics()
        assert m["requests"]["completed"] == 1 and m["failures_by_kind"]["cancelled"] == 1


async def test_cancel_by_id_raises_cancelled(slow_emu: Emulator) -> None:
    async with AsyncClient(slow_emu.config("sk-cancel2")) as c:
        s = c.stream(prompt="slow")
        assert c.cancel(s.id)
        with pytest.raises(llmsvc.Cancelled):
            await s.result()
        assert not c.cancel(s.id)


async def test_events_in_order_and_a_raising_hook(emu: Emulator, caplog: pytest.LogCaptureFixture) -> None:
    async with AsyncClient(emu.config("sk-events")) as c:
        seen: list[str] = []
        c.set_event_hook(lambda ev: seen.append(ev["type"]))
        r = await c.generate(prompt="x", max_output_tokens=2)
        assert seen == ["queued", "admitted", "attempt_started", "attempt_finished", "completed"]

        def bad(ev: llmsvc.Event) -> None:
            raise RuntimeError("hook failure")

        c.set_event_hook(bad)
        with caplog.at_level(logging.ERROR, logger="llmsvc"):
            r2 = await c.generate(prompt="y", max_output_tokens=2)
        assert r2.ok and r2.id != r.id  # the completion is not lost
        assert "hook failure" in caplog.text
        c.set_event_hook(None)


async def test_close_completes_pending_with_shut_down(slow_emu: Emulator) -> None:
    c = AsyncClient(slow_emu.config("sk-close"))
    tasks = [asyncio.create_task(c.generate(prompt=f"slow {i}")) for i in range(5)]
    await asyncio.sleep(0)  # let the tasks submit
    await c.close()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(o, llmsvc.ShutDown) for o in outcomes), outcomes
    await c.close()  # idempotent
    with pytest.raises(llmsvc.ClosedError):
        await c.generate(prompt="x")


async def test_async_with_closes(emu: Emulator) -> None:
    async with AsyncClient(emu.config()) as c:
        await c.generate(prompt="x", max_output_tokens=1)
    assert c.closed


async def test_close_never_blocks_the_loop_and_takes_a_batch(slow_emu: Emulator) -> None:
    c = AsyncClient(slow_emu.config("sk-close-batch"))
    tasks = [asyncio.create_task(c.generate(prompt=f"slow {i}")) for i in range(50)]
    await asyncio.sleep(0.2)  # all in flight at the emulator
    taken: list[int] = []
    take = c._handle.take

    def counted() -> tuple[int, list[int], list[int | None]]:
        out = take()
        taken.append(len(out[1]))
        return out

    c._handle.take = counted  # type: ignore[method-assign]
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    threads = threading.active_count()
    t = asyncio.create_task(ticker())
    await c.close()
    t.cancel()
    assert c.closed and ticks > 0 and threading.active_count() == threads  # no thread waited for the engine
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(o, llmsvc.ShutDown) for o in outcomes), outcomes
    assert 50 in taken  # completed in one pass of the engine, taken in one call


async def test_pause_holds_admission(emu: Emulator) -> None:
    async with AsyncClient(emu.config("sk-pause")) as c:
        c.pause()
        task = asyncio.create_task(c.generate(prompt="x", max_output_tokens=2))
        await asyncio.sleep(0.3)
        assert not task.done() and c.metrics()["requests"]["completed"] == 0
        c.pause(False)
        assert (await asyncio.wait_for(task, 10)).ok


async def test_stream_pieces_and_events_in_order(emu: Emulator) -> None:
    async with AsyncClient(emu.config("sk-order")) as c:
        seen: list[str] = []
        c.set_event_hook(lambda ev: seen.append(ev["type"]), ["queued", "completed"])
        streams = [c.stream(prompt=f"story {i}", max_output_tokens=20) for i in range(10)]
        texts = [[p.text async for p in s] for s in streams]
        results = [await s.result() for s in streams]
        assert all("".join(t) == r.text and r.timing.first_token_ms is not None for t, r in zip(texts, results))
        assert seen.count("queued") == 10 and seen.count("completed") == 10
