"""What the synchronous and the asyncio client share: the handle, documents in, results out."""

from __future__ import annotations

import ctypes
import json
import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from . import _native
from ._native import lib
from .errors import ClosedError, check, error_for
from .types import Budget, Config, Deployment, Event, Limits, Metrics, Piece, Result

log = logging.getLogger("llmsvc")

EventHook = Callable[[Event], Any]


def dumps(doc: object, what: str) -> bytes:
    """A document as the core reads it. Only type conversion here: the core validates."""
    if isinstance(doc, str):
        return doc.encode()
    try:
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
    except (TypeError, ValueError) as e:
        raise TypeError(f"{what} is not JSON-serialisable: {e}") from e


def _pydantic_schema(model: type) -> dict[str, Any]:
    schema = getattr(model, "model_json_schema", None)
    if schema is None:
        raise TypeError(f"json_schema: {model!r} is not a pydantic model class (nor a JSON Schema object)")
    return {"name": model.__name__, "schema": schema()}


def prepare(request: Mapping[str, Any] | str | None, fields: Mapping[str, Any]) -> tuple[bytes, type | None]:
    """The request document and the pydantic model its structured output is parsed into."""
    if request is None:
        doc: dict[str, Any] = dict(fields)
    elif isinstance(request, Mapping):
        doc = {**request, **fields}
    elif isinstance(request, str):
        doc = {"prompt": request, **fields}
    else:
        raise TypeError(f"request must be a mapping or a prompt string, not {type(request).__name__}")
    model: type | None = None
    js = doc.get("json_schema")
    if isinstance(js, type):
        model = js
        doc["json_schema"] = _pydantic_schema(js)
    return dumps(doc, "request"), model


def finish(data: bytes, model: type | None) -> Result:
    """The Result of a completion document; raises its RequestError when it failed."""
    raw = json.loads(data)
    parsed = None
    if model is not None and raw.get("ok") and raw.get("json") is not None:
        parsed = model.model_validate(raw["json"])  # type: ignore[attr-defined]
    result = Result.from_dict(raw, parsed)
    if not result.ok:
        raise error_for(result)
    return result


def take_completion(r: int) -> bytes:
    """A completion's document; the result is freed."""
    try:
        return _native.result_json(r)
    finally:
        lib.llmsvc_result_free(r)


def take_piece(r: int) -> Piece:
    """A streamed piece from the completion queue; the result is freed."""
    try:
        kind = ctypes.c_int()
        index = ctypes.c_uint32()
        call_id = ctypes.c_char_p()
        name = ctypes.c_char_p()
        lib.llmsvc_result_piece(r, ctypes.byref(kind), ctypes.byref(index), ctypes.byref(call_id), ctypes.byref(name))
        return make_piece(kind.value, index.value, call_id.value, name.value, _native.result_text(r))
    finally:
        lib.llmsvc_result_free(r)


def make_piece(kind: int, index: int, call_id: bytes | None, name: bytes | None, text: str) -> Piece:
    k = _native.PIECE_KINDS[kind] if 0 <= kind < len(_native.PIECE_KINDS) else "text"
    if k == "tool_call":
        return Piece(k, text, index, (call_id or b"").decode(), (name or b"").decode())
    return Piece(k, text, index)


def run_hook(hook: EventHook, data: bytes) -> Any:
    """Calls an event hook; what it raises is logged, never propagated into the library."""
    try:
        return hook(json.loads(data))
    except Exception:
        log.exception("llmsvc: the event hook raised; the event is dropped")
        return None


def event_bits(events: Sequence[str] | int | None) -> int:
    if events is None:
        return _native.EVENT_ALL
    if isinstance(events, int):
        return events
    bits = 0
    for name in events:
        try:
            bits |= _native.EVENT_NAMES[name]
        except KeyError:
            raise ValueError(f"events: unknown event type {name!r} (known: {sorted(_native.EVENT_NAMES)})") from None
    return bits


def load_config_file(path: str | os.PathLike[str]) -> tuple[str, list[str]]:
    """A configuration file as the core reads it: YAML or JSON, in llmsvc's layout, the
    llm.yaml key-pool layout or LiteLLM's config.yaml, with ${NAME} environment references
    (docs/schema.md, "Configuration files"). Returns llmsvc's configuration document (JSON
    text; it holds the keys the file resolved) and what the file has that llmsvc does not
    use. Raises StatusError naming the file, line and column."""
    out = ctypes.c_void_p()
    warnings = ctypes.c_void_p()
    err = ctypes.c_void_p()
    check(
        "config_load",
        lib.llmsvc_config_load(os.fsencode(path), ctypes.byref(out), ctypes.byref(warnings), ctypes.byref(err)),
        err,
    )
    config = _native.take_string(out)
    return config, json.loads(_native.take_string(warnings))


class Handle:
    """An llmsvc_client and the calls that are the same for both clients."""

    def __init__(self, config: Config | Mapping[str, Any] | str | None) -> None:
        if config is not None and not isinstance(config, (Mapping, str)):
            raise TypeError(f"config must be a mapping or a JSON string, not {type(config).__name__}")
        out = ctypes.c_void_p()
        err = ctypes.c_void_p()
        check("llmsvc_client_new", lib.llmsvc_client_new(ctypes.byref(out), dumps(config or {}, "config"), ctypes.byref(err)), err)
        self._ptr: int | None = out.value
        self._lock = threading.Lock()

    @property
    def ptr(self) -> int:
        p = self._ptr
        if p is None:
            raise ClosedError("client", _native.ECLOSED, "the client is closed")
        return p

    def _call(self, op: str, fn: Callable[..., int], doc: bytes) -> None:
        err = ctypes.c_void_p()
        check(op, fn(self.ptr, doc, ctypes.byref(err)), err)

    def set_limits(self, limits: Limits | Mapping[str, Any]) -> None:
        """Changes the limits at run time; fields not given keep their value."""
        self._call("set_limits", lib.llmsvc_client_set_limits, dumps(limits, "limits"))

    def set_budgets(self, budgets: Sequence[Budget | Mapping[str, Any]]) -> None:
        """Replaces the spending budgets ([] removes them)."""
        self._call("set_budgets", lib.llmsvc_client_set_budgets, dumps(list(budgets), "budgets"))

    def set_deployment(self, deployment: Deployment | Mapping[str, Any]) -> None:
        """Changes one deployment: enabled, weight, limits (by "name")."""
        self._call("set_deployment", lib.llmsvc_client_set_deployment, dumps(deployment, "deployment"))

    def metrics(self) -> Metrics:
        """One consistent snapshot of metrics, usage and cost."""
        return json.loads(self._string("metrics", lib.llmsvc_client_metrics))  # type: ignore[no-any-return]

    def metrics_prometheus(self) -> str:
        """The same snapshot in the Prometheus text format 0.0.4."""
        return self._string("metrics_prometheus", lib.llmsvc_client_metrics_prometheus)

    def _string(self, op: str, fn: Callable[..., int]) -> str:
        out = ctypes.c_void_p()
        err = ctypes.c_void_p()
        check(op, fn(self.ptr, ctypes.byref(out), ctypes.byref(err)), err)
        return _native.take_string(out)

    def cancel(self, request_id: int) -> bool:
        """Cancels a pending request; False when it is unknown or already complete."""
        rc: int = lib.llmsvc_client_cancel(self.ptr, request_id)
        return rc == _native.OK

    def queue_events(self, bits: int, with_content: bool) -> None:
        """Events to the completion queue (bits 0: off)."""
        err = ctypes.c_void_p()
        flags = _native.EVENTS_WITH_CONTENT if with_content else 0
        check("set_event_hook", lib.llmsvc_client_set_event_hook(self.ptr, bits, flags, None, None, ctypes.byref(err)), err)

    def poll(self) -> tuple[int, int, int | None]:
        """One result from the completion queue without waiting: (status, result, payload)."""
        r = ctypes.c_void_p()
        payload = ctypes.c_void_p()
        rc = lib.llmsvc_client_poll(self.ptr, 0, ctypes.byref(r), ctypes.byref(payload))
        return rc, r.value or 0, payload.value

    def fd(self) -> int:
        out = ctypes.c_int()
        check("llmsvc_client_fd", lib.llmsvc_client_fd(self.ptr, ctypes.byref(out)))
        return out.value

    def close(self) -> None:
        p = self._ptr
        if p is not None:
            lib.llmsvc_client_close(p)

    def destroy(self) -> None:
        with self._lock:
            p, self._ptr = self._ptr, None
        if p is not None:
            lib.llmsvc_client_destroy(p)


class Settings:
    """The run-time settings and metrics both clients forward to their Handle."""

    _handle: Handle

    def set_limits(self, limits: Mapping[str, Any]) -> None:
        """Changes the limits at run time; fields not given keep their value."""
        self._handle.set_limits(limits)

    def set_budgets(self, budgets: Sequence[Mapping[str, Any]]) -> None:
        self._handle.set_budgets(budgets)

    def set_deployment(self, deployment: Mapping[str, Any]) -> None:
        self._handle.set_deployment(deployment)

    def metrics(self) -> dict[str, Any]:
        return dict(self._handle.metrics())

    def metrics_prometheus(self) -> str:
        return self._handle.metrics_prometheus()
