"""The synchronous client.

Completions and stream pieces come through C callbacks on the engine thread; each
callback only puts the result on the waiting caller's queue.SimpleQueue, so any number of
threads may call one Client at once, each waiting for its own request. Events go to the
core's completion queue and are delivered to the hook on a caller's thread (see
Client.set_event_hook).
"""

from __future__ import annotations

import atexit
import ctypes
import itertools
import os
import queue
import threading
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

from . import _native
from ._core import (
    EventHook,
    Settings,
    dumps,
    event_bits,
    finish,
    load_config_file,
    log,
    make_piece,
    open_handle,
    outcome,
    prepare,
    prepare_doc,
    run_hook,
)
from ._native import lib
from .batch import BatchJob
from .errors import check
from .types import Config, Piece, Request, Result


# payload key -> the caller's queue; the callbacks below are the only ones ever passed to C.
_waiters: dict[int, queue.SimpleQueue[Any]] = {}
_keys = itertools.count(1)
# Clients still open at interpreter exit are closed while Python can still run their
# callbacks (a completion arriving during finalization could not take the GIL).
_live: weakref.WeakSet[Client] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for client in list(_live):
        client.close()


def _on_done(result: int, payload: int) -> None:
    """On the engine thread: hands the completion (a result pointer) to its waiter."""
    try:
        _waiters.pop(payload).put(ctypes.c_void_p(result))
    except BaseException:  # never into C; cannot happen: every key is registered before its submit
        log.exception("llmsvc: a completion for no waiter; it is dropped")
        _native.result_free(ctypes.c_void_p(result))


def _on_piece(_rid: int, kind: int, index: int, call_id: bytes | None, name: bytes | None, text: int, n: int, payload: int) -> None:
    """On the engine thread: hands a streamed piece to its waiter."""
    try:
        body = ctypes.string_at(text, n).decode("utf-8", "replace") if n else ""
        _waiters[payload].put(make_piece(kind, index, call_id, name, body))
    except BaseException:  # never into C
        log.exception("llmsvc: a streamed piece could not be delivered")


# The C function pointers: module-level, so they outlive every request.
_on_done_c = _native.COMPLETE_CB(_on_done)
_on_piece_c = _native.PIECE_CB(_on_piece)


def _wait(q: queue.SimpleQueue[Any], request_id: int) -> Result | BaseException:
    """The completion on `q`, skipping the pieces before it."""
    while True:
        item = q.get()
        if not isinstance(item, Piece):
            return outcome(item, request_id)


class Stream:
    """A streamed reply: iterate for its pieces; `result` is the completion once the
    iteration ended. close() (or leaving a `with` block) cancels a stream not finished."""

    def __init__(
        self, client: Client, q: queue.SimpleQueue[Any], request_id: int, model: type | None, call: Any = None
    ) -> None:
        self._client = client
        self._q = q
        self.id = request_id
        self._model = model
        self._result: Result | BaseException | None = None
        self._done = False
        self._call = call  # its telemetry (llmsvc.otel.Call), when the client has it

    def __iter__(self) -> Stream:
        return self

    def __next__(self) -> Piece:
        if self._done:
            raise StopIteration
        try:
            item = self._q.get()
        except BaseException:
            self.close()
            raise
        if isinstance(item, Piece):
            return item
        self._done = True
        self._result = outcome(item, self.id)  # kept when finish raises: `result` raises it again
        if self._call is not None:
            self._call.end(self._result)
        self._client.dispatch_events()
        self._result = finish(self._result, self._model)  # raises the RequestError of a failure
        raise StopIteration

    @property
    def result(self) -> Result:
        """The completion (the whole text, the assembled tool calls, usage); iterates the
        rest of the stream first when needed."""
        for _ in self:
            pass
        if self._result is None:
            raise RuntimeError(f"stream {self.id} was closed before its completion was read")
        return finish(self._result, None)

    def text(self) -> str:
        """The whole text, iterating the stream to its end."""
        return self.result.text

    def close(self) -> None:
        """Cancels the request if it is still running and waits for its completion."""
        if self._done:
            return
        self._done = True
        ptr = self._client._handle._ptr
        if ptr is not None:
            lib.llmsvc_client_cancel_async(ptr, self.id)
        out = _wait(self._q, self.id)  # a client closed meanwhile completes it with shut_down
        if self._call is not None:
            self._call.end(out)

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()  # a closed client has delivered its completion (shut_down) already


class Client(Settings):
    """A synchronous llmsvc client. `config` is the configuration document
    (docs/schema.md) as a dict or JSON text. Thread-safe; close() (or `with`) ends it.
    `telemetry` turns on OpenTelemetry spans and metrics (llmsvc.otel): True for the
    global providers, or an llmsvc.otel.Telemetry; off by default."""

    def __init__(self, config: Config | Mapping[str, Any] | str | None = None, *, telemetry: Any = None) -> None:
        self._handle, self._telemetry = open_handle(config, telemetry)
        self._hook: EventHook | None = None
        self._hook_lock = threading.Lock()
        _live.add(self)
        from .openai_compat import Chat

        self.chat = Chat(self)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], *, telemetry: Any = None) -> "Client":
        """A client from a configuration file as the core reads it (see load_config_file)."""
        return cls(load_config_file(path)[0], telemetry=telemetry)

    # --- requests ---

    def generate(self, request: Request | Mapping[str, Any] | str | None = None, /, **fields: Any) -> Result:
        """Sends a request and waits for its completion. `request` is the request document
        (or a prompt); keyword arguments are merged into it. Raises StatusError when the
        core refuses it, a RequestError subclass when it fails."""
        if self._telemetry is not None:
            return self._generate_traced(request, fields)
        body, model = prepare(request, fields)
        q: queue.SimpleQueue[Any] = queue.SimpleQueue()
        rid = self._submit(body, q, stream=False)
        try:
            out = _wait(q, rid)
        except BaseException:  # KeyboardInterrupt: cancel, and still take the completion
            self.cancel(rid)
            _wait(q, rid)
            raise
        self.dispatch_events()
        return finish(out, model)

    def _generate_traced(self, request: Request | Mapping[str, Any] | str | None, fields: Mapping[str, Any]) -> Result:
        """generate with its span and metrics (llmsvc.otel)."""
        doc, model = prepare_doc(request, fields)
        call = self._telemetry.start(doc, stream=False)
        q: queue.SimpleQueue[Any] = queue.SimpleQueue()
        try:
            rid = self._submit(dumps(doc, "request"), q, stream=False)
        except BaseException as e:
            call.refused(e)
            raise
        try:
            out = _wait(q, rid)
        except BaseException:
            self.cancel(rid)
            call.end(_wait(q, rid))
            raise
        call.end(out)
        self.dispatch_events()
        return finish(out, model)

    def stream(self, request: Request | Mapping[str, Any] | str | None = None, /, **fields: Any) -> Stream:
        """Sends a request whose reply is streamed: a Stream of typed pieces (text,
        tool_call, tool_arguments), then its `result`."""
        q: queue.SimpleQueue[Any] = queue.SimpleQueue()
        if self._telemetry is None:
            body, model = prepare(request, fields)
            return Stream(self, q, self._submit(body, q, stream=True), model)
        doc, model = prepare_doc(request, fields)
        call = self._telemetry.start(doc, stream=True)
        try:
            rid = self._submit(dumps(doc, "request"), q, stream=True)
        except BaseException as e:
            call.refused(e)
            raise
        return Stream(self, q, rid, model, call)

    def _submit(self, body: bytes, q: queue.SimpleQueue[Any], *, stream: bool) -> int:
        key = next(_keys)
        _waiters[key] = q
        rid, err = ctypes.c_uint64(), ctypes.c_void_p()
        if stream:
            rc = lib.llmsvc_client_submit_stream_pieces(self._handle.ptr, body, _on_piece_c, _on_done_c, key, rid, err)
        else:
            rc = lib.llmsvc_client_submit(self._handle.ptr, body, _on_done_c, key, rid, err)
        if rc != _native.OK:
            _waiters.pop(key, None)
            check("stream" if stream else "submit", rc, err)
        return rid.value

    def cancel(self, request_id: int) -> bool:
        """Cancels a pending request (it then fails with Cancelled); False when it is
        unknown or already complete."""
        ptr = self._handle._ptr
        return ptr is not None and lib.llmsvc_client_cancel(ptr, request_id) == _native.OK

    # --- provider batch jobs ---

    def open_batch_job(self, state_path: str | os.PathLike[str], **options: Any) -> BatchJob:
        """Opens the provider batch job whose state is the file `state_path`, or starts one
        there (libllmsvc 0.6; NotImplementedError before). `options` (BatchJobOptions):
        deployment, max_requests, max_bytes, max_enqueued_tokens, poll_ms, max_poll_ms,
        completion_window. A job stopped at any moment, even killed, resumes when opened again
        with the same file: no request is sent twice, and results handed over but not
        committed are handed over again."""
        return BatchJob(self, state_path, options)

    # --- events ---

    def set_event_hook(
        self, hook: EventHook | None, events: Sequence[str] | int | None = None, *, with_content: bool = False
    ) -> None:
        """Lifecycle events ("queued", "admitted", ...; all by default) for `hook`, or off
        with None. Events are queued by the core and delivered on a caller's thread: when
        a request of this client completes (before generate returns) and on
        dispatch_events(); one at a time, in order. What the hook raises is logged."""
        self._hook = hook
        self._handle.queue_events(event_bits(events) if hook else 0, with_content)
        if hook is None:
            self.dispatch_events()

    def dispatch_events(self) -> int:
        """Delivers the events waiting in the core's queue to the hook; returns how many."""
        if self._handle._ptr is None:
            return 0
        n = 0
        with self._hook_lock:
            while True:
                rc, results, _ = self._handle.take()
                if rc != _native.OK:
                    return n
                for r in map(ctypes.c_void_p, results):  # only events come to this client's queue
                    try:
                        if self._hook is not None:
                            run_hook(self._hook, _native.result_json(r, None))
                            n += 1
                    finally:
                        _native.result_free(r)

    # --- lifecycle ---

    def close(self) -> None:
        """Completes every pending request with ShutDown, delivers the last events and
        frees the client. Idempotent."""
        ptr = self._handle._ptr
        if ptr is None:
            return
        lib.llmsvc_client_close(ptr)
        self.dispatch_events()
        self._handle.destroy()

    @property
    def closed(self) -> bool:
        return self._handle._ptr is None

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        handle = getattr(self, "_handle", None)
        if handle is not None:
            handle.destroy()
