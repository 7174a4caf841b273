"""Provider batch jobs (libllmsvc 0.6): requests sent through OpenAI's Batch API or
Anthropic's Message Batches at batch prices, resumable from a state file."""

from __future__ import annotations

import ctypes
import json
import math
import os
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from . import _native
from ._core import _strings, dumps, finish, outcome, prepare
from ._native import lib
from .errors import ClosedError, RequestError, check
from .types import Request, Result

if TYPE_CHECKING:
    from .client import Client


class BatchJob:
    """A provider batch job, opened with Client.open_batch_job. Its calls block the calling
    thread (one provider call at a time, the GIL released) and run one at a time; the
    client's gates, retries and metrics are not involved. close() (or leaving a `with`
    block) closes it; its state file stays, to resume it. Closing the client closes it."""

    def __init__(self, client: Client, state_path: str | os.PathLike[str], options: Mapping[str, Any]) -> None:
        if not _native.HAS_06:
            raise NotImplementedError(
                f"llmsvc: batch jobs need libllmsvc 0.6 or newer; {lib._name} is {_native.version()}"
            )
        self._client = client  # kept alive while the job is
        self._lock = threading.Lock()
        self._models: dict[str, type] = {}  # custom id -> the pydantic model of its json_schema
        out, err = ctypes.c_void_p(), ctypes.c_void_p()
        handle = client._handle
        rc = lib.llmsvc_batch_job_open(
            handle.ptr, os.fsencode(state_path), dumps(dict(options), "options"), ctypes.byref(out), ctypes.byref(err)
        )
        check("batch_job_open", rc, err)
        self._ptr: int | None = out.value
        handle.jobs.add(self)

    def _live(self, op: str) -> int:
        """The job's pointer; the caller holds the lock."""
        if self._ptr is None or self._client._handle._ptr is None:
            raise ClosedError(op, _native.ECLOSED, "the batch job is closed")
        return self._ptr

    def add(self, custom_id: str, request: Request | Mapping[str, Any] | str | None = None, /, **fields: Any) -> bool:
        """Adds a request (as Client.generate takes it; not streamed) under `custom_id`,
        unique in the job, which its result carries. Returns True when the job already
        holds that id from its state file: nothing is added then, so a resumed job is given
        the same requests again. A request the provider's batch API cannot take raises
        StatusError with the reason."""
        body, model = prepare(request, fields)
        known, err = ctypes.c_int(), ctypes.c_void_p()
        with self._lock:
            rc = lib.llmsvc_batch_job_add(
                self._live("batch_job_add"), custom_id.encode(), body, len(body), ctypes.byref(known), ctypes.byref(err)
            )
        check("batch_job_add", rc, err)
        if model is not None:
            self._models[custom_id] = model
        return bool(known.value)

    def step(self, timeout: float = 1.0) -> bool:
        """Does the next piece of work: at most one call to the provider (an upload, a
        batch's creation, a poll, or a poll and the download of its results), or a wait of
        up to `timeout` seconds until one is due. Transient failures are tried again later.
        Returns True once every request's result has been handed over (next) and committed;
        raises StatusError with the reason of a failure (the job stays resumable)."""
        ms = min(max(math.ceil(timeout * 1000), 0), 2**31 - 1)
        err = ctypes.c_void_p()
        with self._lock:
            rc = lib.llmsvc_batch_job_step(self._live("batch_job_step"), ms, ctypes.byref(err))
        if rc < 0:
            check("batch_job_step", rc, err)
        return bool(rc == 0)

    def next(self) -> Result | None:
        """The next result ready, or None. Its `custom_id` and `batch_id` say which request it
        answers; a request that failed gives a Result with `ok` False and `error` set (not
        raised). Each result is handed over once, until a restart without commit()."""
        with self._lock:
            p = lib.llmsvc_batch_job_next(self._live("batch_job_next"))
        if not p:
            return None
        r = ctypes.c_void_p(p)
        try:
            batch_id, custom_id = _strings(r, (_native.STR_BATCH_ID, _native.STR_CUSTOM_ID))
        except BaseException:
            _native.result_free(r)
            raise
        out = outcome(r, _native.result_id(r), (batch_id or None, custom_id or None))
        if isinstance(out, RequestError):
            return out.result
        return finish(out, self._models.get(custom_id))

    def commit(self) -> None:
        """Records that every result taken with next() so far is stored: after a restart it
        is not handed over again. Call it once they are stored."""
        err = ctypes.c_void_p()
        with self._lock:
            rc = lib.llmsvc_batch_job_commit(self._live("batch_job_commit"), ctypes.byref(err))
        check("batch_job_commit", rc, err)

    def status(self) -> dict[str, Any]:
        """The job's progress: {"provider", "deployment", "requests", "batches": {"planned",
        "uploaded", "creating", "running", "ended", "delivered", "created"}, "results":
        {"ok", "failed", "cost_nano_usd"}} (results and created batches: this process's)."""
        out = ctypes.c_void_p()
        with self._lock:
            rc = lib.llmsvc_batch_job_status(self._live("batch_job_status"), ctypes.byref(out))
        check("batch_job_status", rc)
        return json.loads(_native.take_string(out))  # type: ignore[no-any-return]

    def run(self, callback: Callable[[Result], Any], *, stop: threading.Event | None = None) -> int:
        """Steps the job until it is done, hands each result to `callback` in turn and
        commits after each set of results taken; returns how many were handed over. What
        step() or `callback` raises propagates (the results handed over since the last
        commit are handed over again when the job is opened anew); so does
        KeyboardInterrupt. Setting `stop` (checked between steps) returns early; the job
        stays resumable."""
        n = 0
        while stop is None or not stop.is_set():
            done = self.step(0.25)
            while (r := self.next()) is not None:
                callback(r)
                n += 1
            self.commit()
            if done:
                break
        return n

    def _release(self) -> None:
        with self._lock:
            p, self._ptr = self._ptr, None
        if p is not None:
            lib.llmsvc_batch_job_close(p)

    def close(self) -> None:
        """Closes the job (its state file stays, to resume it); results not taken are
        dropped (a resumed job hands them over). Idempotent."""
        self._release()
        self._client._handle.jobs.discard(self)

    @property
    def closed(self) -> bool:
        return self._ptr is None

    def __enter__(self) -> BatchJob:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_ptr", None) is not None:
            self._release()
