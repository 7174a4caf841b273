"""The asyncio client.

Requests are submitted in completion-queue mode (no C callback): the core's eventfd
(llmsvc_client_fd) is watched with loop.add_reader, and when it is readable the loop takes
what is ready, a batch per call (llmsvc_client_poll_batch), and resolves the futures and
stream queues it belongs to. Cancelling and closing post their work to the engine and
return (llmsvc_client_cancel_async, llmsvc_client_close_async): nothing waits on the loop,
and no thread is used per request.
"""

from __future__ import annotations

import asyncio
import atexit
import ctypes
import inspect
import os
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

from . import _native
from ._core import (
    BATCH,
    EventHook,
    Settings,
    dumps,
    event_bits,
    finish,
    load_config_file,
    log,
    open_handle,
    outcome,
    prepare,
    prepare_doc,
    run_hook,
    take_piece,
)
from ._native import lib
from .errors import check
from .types import Config, Piece, Request, Result

# Clients still open at interpreter exit are destroyed before Python finalizes.
_live: weakref.WeakSet[AsyncClient] = weakref.WeakSet()


@atexit.register
def _destroy_all() -> None:
    for client in list(_live):
        client._handle.destroy()


# Batches taken per wake-up before the loop gets a turn; the fd stays readable for the rest.
_BATCHES_PER_WAKEUP = 2
# The payload of every request: events come with none (NULL), which is how they are told apart.
_REQUEST = 1


class AsyncStream:
    """A streamed reply: `async for piece in stream` gives typed pieces; `await
    stream.result()` the completion. aclose() cancels a stream not finished; so does
    cancelling the task that iterates it."""

    def __init__(self, client: AsyncClient, model: type | None) -> None:
        self._client = client
        self.id = 0
        self._model = model
        self._queue: asyncio.Queue[Piece | Result | BaseException] = asyncio.Queue()
        self._result: Result | BaseException | None = None
        self._done = False
        self._call: Any = None  # its telemetry (llmsvc.otel.Call), when the client has it

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
        self._result = item  # kept when finish raises: result() raises it again
        if self._call is not None:
            self._call.end(item)
        self._result = finish(item, self._model)  # raises the RequestError of a failure
        raise StopAsyncIteration

    async def result(self) -> Result:
        """The completion (whole text, assembled tool calls, usage), after the rest of the
        pieces."""
        async for _ in self:
            pass
        if self._result is None:
            raise RuntimeError(f"stream {self.id} was closed before its completion was read")
        return finish(self._result, None)

    async def text(self) -> str:
        return (await self.result()).text

    def _abandon(self) -> None:
        if not self._done:
            self._done = True
            call = self._call
            if call is not None and self.id not in self._client._pending:
                # Its completion came already: it is in the queue, after the pieces.
                while not self._queue.empty():
                    item = self._queue.get_nowait()
                    if not isinstance(item, Piece):
                        call.end(item)
            self._client._abandon(self.id, call)

    async def aclose(self) -> None:
        self._abandon()

    async def __aenter__(self) -> AsyncStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._abandon()


class _Orphan:
    """Stands in the pending table for a traced request whose awaiter is gone: its
    completion, when it comes, still ends its span and records its metrics."""

    __slots__ = ("_call",)

    def __init__(self, call: Any) -> None:
        self._call = call

    @property
    def _queue(self) -> _Orphan:  # what _drain hands a stream's pieces and completion to
        return self

    def put_nowait(self, item: Any) -> None:
        if not isinstance(item, Piece):
            self._call.end(item)


class AsyncClient(Settings):
    """An asyncio llmsvc client, bound to the event loop it is first used on. `config` is
    the configuration document (docs/schema.md). Use `async with` or `await close()`.
    `telemetry` turns on OpenTelemetry spans and metrics (llmsvc.otel): True for the
    global providers, or an llmsvc.otel.Telemetry; off by default."""

    def __init__(self, config: Config | Mapping[str, Any] | str | None = None, *, telemetry: Any = None) -> None:
        self._handle, self._telemetry = open_handle(config, telemetry)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._fd = self._handle.fd()
        # request id -> a Future (generate), an AsyncStream, or None (abandoned: its
        # completion is still taken and freed).
        self._pending: dict[int, asyncio.Future[Result | BaseException] | AsyncStream | None] = {}
        self._closed: asyncio.Future[None] | None = None  # set once the queue says LLMSVC_ECLOSED
        self._hook: EventHook | None = None
        _live.add(self)
        from .openai_compat import AsyncChat

        self.chat = AsyncChat(self)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], *, telemetry: Any = None) -> "AsyncClient":
        """A client from a configuration file as the core reads it (see load_config_file)."""
        return cls(load_config_file(path)[0], telemetry=telemetry)

    def _attach(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            if self._loop is not None and not self._loop.is_closed():
                raise RuntimeError("this AsyncClient is bound to another event loop, which is still open")
            self._loop = loop
            loop.add_reader(self._fd, self._drain)
        return loop

    def _drain(self) -> None:
        """Takes what the completion queue holds and hands it to its waiters."""
        handle = self._handle
        if handle._ptr is None:
            return
        pending = self._pending
        for _ in range(_BATCHES_PER_WAKEUP):
            rc, results, payloads = handle.take()
            if rc != _native.OK:
                if rc == _native.ECLOSED:  # closed, and everything was delivered
                    self._queue_closed()
                return
            for r, payload in zip(map(ctypes.c_void_p, results), payloads):
                if payload is None:
                    self._event(r)
                    continue
                rid = _native.result_id(r)
                waiter = pending.get(rid)
                if isinstance(waiter, asyncio.Future):  # generate: its completion is all that comes
                    del pending[rid]
                    if not waiter.done():  # else its task was cancelled a moment ago
                        waiter.set_result(outcome(r, rid))
                        continue
                elif _native.result_type(r) == _native.RESULT_DELTA:
                    if waiter is not None:
                        waiter._queue.put_nowait(take_piece(r))
                        continue
                else:
                    pending.pop(rid, None)
                    if waiter is not None:
                        waiter._queue.put_nowait(outcome(r, rid))
                        continue
                _native.result_free(r)  # no one waits for it any more
            if len(results) < BATCH:
                return

    def _event(self, r: ctypes.c_void_p) -> None:
        try:
            hook = self._hook
            if hook is not None:
                ret = run_hook(hook, _native.result_json(r, None))
                if inspect.isawaitable(ret):
                    task = asyncio.ensure_future(ret)
                    task.add_done_callback(_log_task_error)
        finally:
            _native.result_free(r)

    def _queue_closed(self) -> None:
        if self._loop is not None:
            self._loop.remove_reader(self._fd)  # it stays readable from now on
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(None)

    def _abandon(self, request_id: int, call: Any = None) -> None:
        """Cancels a request whose awaiter is gone; its completion is freed when it comes
        (after ending its span, when it has telemetry: `call`)."""
        if request_id in self._pending:
            self._pending[request_id] = None if call is None else _Orphan(call)  # type: ignore[assignment]
            ptr = self._handle._ptr
            if ptr is not None:
                lib.llmsvc_client_cancel_async(ptr, request_id)
        elif call is not None:
            call.cancelled()  # its completion was dropped a moment ago, unread

    def _submit(self, body: bytes, waiter: Any, stream: bool) -> int:
        rid, err = ctypes.c_uint64(), ctypes.c_void_p()
        ptr = self._handle.ptr
        if stream:
            rc = lib.llmsvc_client_submit_stream_pieces(ptr, body, _native.NULL_PIECE, _native.NULL_COMPLETE, _REQUEST, rid, err)
        else:
            rc = lib.llmsvc_client_submit(ptr, body, _native.NULL_COMPLETE, _REQUEST, rid, err)
        check("stream" if stream else "submit", rc, err)
        # Registered after the call: its completion is taken on this thread, not before this returns.
        self._pending[rid.value] = waiter
        return rid.value

    # --- requests ---

    async def generate(self, request: Request | Mapping[str, Any] | str | None = None, /, **fields: Any) -> Result:
        """Sends a request and returns its completion. Cancelling the awaiting task cancels
        the request in the core. Raises StatusError when the core refuses it, a
        RequestError subclass when it fails."""
        if self._telemetry is not None:
            return await self._generate_traced(request, fields)
        body, model = prepare(request, fields)
        loop = self._attach()
        fut: asyncio.Future[Result | BaseException] = loop.create_future()
        rid = self._submit(body, fut, stream=False)
        try:
            out = await fut
        except asyncio.CancelledError:
            self._abandon(rid)
            raise
        return finish(out, model)

    async def _generate_traced(self, request: Request | Mapping[str, Any] | str | None, fields: Mapping[str, Any]) -> Result:
        """generate with its span and metrics (llmsvc.otel)."""
        doc, model = prepare_doc(request, fields)
        loop = self._attach()
        call = self._telemetry.start(doc, stream=False)
        fut: asyncio.Future[Result | BaseException] = loop.create_future()
        try:
            rid = self._submit(dumps(doc, "request"), fut, stream=False)
        except BaseException as e:
            call.refused(e)
            raise
        try:
            out = await fut
        except asyncio.CancelledError:
            self._abandon(rid, call)
            raise
        call.end(out)
        return finish(out, model)

    def stream(self, request: Request | Mapping[str, Any] | str | None = None, /, **fields: Any) -> AsyncStream:
        """Sends a request whose reply is streamed as typed pieces; call it from a running
        event loop."""
        if self._telemetry is None:
            body, model = prepare(request, fields)
            self._attach()
            stream = AsyncStream(self, model)
            stream.id = self._submit(body, stream, stream=True)
            return stream
        doc, model = prepare_doc(request, fields)
        self._attach()
        stream = AsyncStream(self, model)
        call = self._telemetry.start(doc, stream=True)
        try:
            stream.id = self._submit(dumps(doc, "request"), stream, stream=True)
        except BaseException as e:
            call.refused(e)
            raise
        stream._call = call
        return stream

    def cancel(self, request_id: int) -> bool:
        """Cancels a pending request without waiting for the engine: its awaiter gets
        Cancelled (or its result, had it completed first). False when this client has no
        such request pending."""
        ptr = self._handle._ptr
        if ptr is None or request_id not in self._pending:
            return False
        return lib.llmsvc_client_cancel_async(ptr, request_id) == _native.OK  # type: ignore[no-any-return]

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
        the client. The loop is never blocked: the engine is told to close, and the last
        completions arrive through the loop like any other. Idempotent."""
        handle = self._handle
        if handle._ptr is None:
            return
        if self._closed is None:
            self._closed = self._attach().create_future()
            lib.llmsvc_client_close_async(handle._ptr, None, None)
        await asyncio.shield(self._closed)
        handle.destroy()  # returns at once: the engine has stopped

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

