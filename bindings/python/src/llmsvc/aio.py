"""The asyncio client.

Requests are submitted in completion-queue mode (no C callback): the core's eventfd
(llmsvc_client_fd) is watched with loop.add_reader, and when it is readable the loop takes
what is ready with llmsvc_client_poll(..., 0, ...) and resolves the futures and stream
queues it belongs to. No thread per request, no call that waits on the loop.
"""

from __future__ import annotations

import asyncio
import atexit
import ctypes
import inspect
import itertools
import os
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

from . import _native
from ._core import EventHook, Handle, Settings, event_bits, finish, load_config_file, log, prepare, run_hook, take_completion, take_piece
from ._native import lib
from .errors import ClosedError, check
from .types import Config, Piece, Request, Result

# Clients still open at interpreter exit are destroyed before Python finalizes.
_live: weakref.WeakSet[AsyncClient] = weakref.WeakSet()


@atexit.register
def _destroy_all() -> None:
    for client in list(_live):
        client._handle.destroy()


# Results taken per wake-up before the loop gets a turn; the fd stays readable for the rest.
_MAX_PER_WAKEUP = 512


class AsyncStream:
    """A streamed reply: `async for piece in stream` gives typed pieces; `await
    stream.result()` the completion. aclose() cancels a stream not finished; so does
    cancelling the task that iterates it."""

    def __init__(self, client: AsyncClient, key: int, request_id: int, model: type | None) -> None:
        self._client = client
        self._key = key
        self.id = request_id
        self._model = model
        self._queue: asyncio.Queue[Piece | bytes] = asyncio.Queue()
        self._result: Result | None = None
        self._error: BaseException | None = None
        self._done = False

    def __aiter__(self) -> AsyncStream:
        return self

    async def __anext__(self) -> Piece:
        if self._done:
            raise StopAsyncIteration
        try:
            item = await self._queue.get()
        except asyncio.CancelledError:
            self._abandon()
            raise
        if isinstance(item, Piece):
            return item
        self._done = True
        self._result = finish(item, self._model)  # raises the RequestError of a failure
        raise StopAsyncIteration

    async def result(self) -> Result:
        """The completion (whole text, assembled tool calls, usage), after the rest of the
        pieces."""
        async for _ in self:
            pass
        assert self._result is not None
        return self._result

    async def text(self) -> str:
        return (await self.result()).text

    def _abandon(self) -> None:
        if not self._done:
            self._done = True
            self._client._orphan(self._key)
            self._client.cancel(self.id)

    async def aclose(self) -> None:
        self._abandon()

    async def __aenter__(self) -> AsyncStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._abandon()


class AsyncClient(Settings):
    """An asyncio llmsvc client, bound to the event loop it is first used on. `config` is
    the configuration document (docs/schema.md). Use `async with` or `await close()`."""

    def __init__(self, config: Config | Mapping[str, Any] | str | None = None) -> None:
        self._handle = Handle(config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._fd = self._handle.fd()
        # payload key -> a Future (generate), an AsyncStream, or None (abandoned: the
        # completion is still taken and freed).
        self._pending: dict[int, asyncio.Future[bytes] | AsyncStream | None] = {}
        self._keys = itertools.count(1)
        self._hook: EventHook | None = None
        _live.add(self)
        from .openai_compat import AsyncChat

        self.chat = AsyncChat(self)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> "AsyncClient":
        """A client from a configuration file as the core reads it (see load_config_file)."""
        return cls(load_config_file(path)[0])

    def _attach(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
            loop.add_reader(self._fd, self._drain)
        elif self._loop is not loop:
            raise RuntimeError("this AsyncClient is bound to another event loop")
        return loop

    def _drain(self) -> None:
        """Takes what the completion queue holds and hands it to its waiters."""
        handle = self._handle
        if handle._ptr is None:
            return
        for _ in range(_MAX_PER_WAKEUP):
            rc, r, key = handle.poll()
            if rc != _native.OK:
                return
            kind = lib.llmsvc_result_type(r)
            if kind == _native.RESULT_EVENT:
                self._event(r)
                continue
            if kind == _native.RESULT_DELTA:
                piece = take_piece(r)
                waiter = self._pending.get(key or 0)
                if isinstance(waiter, AsyncStream):
                    waiter._queue.put_nowait(piece)
                continue
            data = take_completion(r)
            waiter = self._pending.pop(key or 0, None)
            if isinstance(waiter, AsyncStream):
                waiter._queue.put_nowait(data)
            elif waiter is not None and not waiter.done():
                waiter.set_result(data)

    def _event(self, r: int) -> None:
        try:
            hook = self._hook
            if hook is not None:
                ret = run_hook(hook, _native.result_json(r))
                if inspect.isawaitable(ret):
                    task = asyncio.ensure_future(ret)
                    task.add_done_callback(_log_task_error)
        finally:
            lib.llmsvc_result_free(r)

    def _orphan(self, key: int) -> None:
        if key in self._pending:
            self._pending[key] = None

    def _submit(self, body: bytes, waiter: Any, stream: bool) -> tuple[int, int]:
        key = next(self._keys)
        self._pending[key] = waiter
        rid = ctypes.c_uint64()
        err = ctypes.c_void_p()
        ptr = self._handle.ptr
        if stream:
            rc = lib.llmsvc_client_submit_stream_pieces(
                ptr, body, _native.NULL_PIECE, _native.NULL_COMPLETE, key, ctypes.byref(rid), ctypes.byref(err)
            )
        else:
            rc = lib.llmsvc_client_submit(ptr, body, _native.NULL_COMPLETE, key, ctypes.byref(rid), ctypes.byref(err))
        if rc != _native.OK:
            del self._pending[key]
            check("stream" if stream else "submit", rc, err)
        return key, rid.value

    # --- requests ---

    async def generate(self, request: Request | Mapping[str, Any] | str | None = None, /, **fields: Any) -> Result:
        """Sends a request and returns its completion. Cancelling the awaiting task cancels
        the request in the core. Raises StatusError when the core refuses it, a
        RequestError subclass when it fails."""
        body, model = prepare(request, fields)
        loop = self._attach()
        fut: asyncio.Future[bytes] = loop.create_future()
        key, rid = self._submit(body, fut, stream=False)
        try:
            data = await fut
        except asyncio.CancelledError:
            self._orphan(key)
            self.cancel(rid)
            raise
        return finish(data, model)

    def stream(self, request: Request | Mapping[str, Any] | str | None = None, /, **fields: Any) -> AsyncStream:
        """Sends a request whose reply is streamed as typed pieces; call it from a running
        event loop."""
        body, model = prepare(request, fields)
        self._attach()
        stream = AsyncStream(self, 0, 0, model)
        stream._key, stream.id = self._submit(body, stream, stream=True)
        return stream

    def cancel(self, request_id: int) -> bool:
        """Cancels a pending request (its awaiter gets Cancelled)."""
        if self._handle._ptr is None:
            return False
        return self._handle.cancel(request_id)


    def set_event_hook(
        self, hook: EventHook | None, events: Sequence[str] | int | None = None, *, with_content: bool = False
    ) -> None:
        """Lifecycle events ("queued", "admitted", ...; all by default) delivered to `hook`
        on the event loop, in order, before the completions they precede; None turns them
        off. A coroutine function is scheduled as a task. What the hook raises is logged."""
        self._hook = hook
        self._handle.queue_events(event_bits(events) if hook else 0, with_content)
        try:
            self._attach()  # deliver from now on, not only once a request is sent
        except RuntimeError:
            pass  # no running loop yet: the first request attaches

    # --- lifecycle ---

    async def close(self) -> None:
        """Completes every pending request with ShutDown (their awaiters see it), then frees
        the client. Idempotent."""
        handle = self._handle
        if handle._ptr is None:
            return
        # llmsvc_client_close joins the engine thread: off the loop.
        await asyncio.get_running_loop().run_in_executor(None, handle.close)
        while handle._ptr is not None:
            before = len(self._pending)
            self._drain()
            if len(self._pending) == before:
                break
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(self._fd)
        handle.destroy()
        for waiter in self._pending.values():
            if isinstance(waiter, asyncio.Future) and not waiter.done():
                waiter.set_exception(ClosedError("close", _native.ECLOSED, "the client was closed"))
        self._pending.clear()

    @property
    def closed(self) -> bool:
        return self._handle._ptr is None

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __del__(self) -> None:
        handle = getattr(self, "_handle", None)
        if handle is None or handle._ptr is None:
            return
        loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                loop.remove_reader(self._fd)
            except Exception:
                pass
        handle.destroy()


def _log_task_error(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("llmsvc: the event hook raised", exc_info=task.exception())


async def gather_results(client: AsyncClient, requests: Sequence[Mapping[str, Any]]) -> list[Result | BaseException]:
    """Sends every request at once and returns each completion or its exception, in order."""
    return await asyncio.gather(*(client.generate(r) for r in requests), return_exceptions=True)

