"""What the synchronous and the asyncio client share: the handle, documents in, results out."""

from __future__ import annotations

import ctypes
import dataclasses
import json
import logging
import os
import struct
import threading
import weakref
from array import array
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from . import _native
from ._native import UNKNOWN, lib
from .errors import ClosedError, StatusError, check, error_for
from .types import Attempt, Budget, Choice, Config, Deployment, ErrorInfo, Event, Limits, Piece, Result, Timing, ToolCall, Usage

log = logging.getLogger("llmsvc")

EventHook = Callable[[Event], Any]

_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


def dumps(doc: object, what: str) -> bytes:
    """A document as the core reads it. Only type conversion here: the core validates."""
    if isinstance(doc, str):
        return doc.encode()
    try:
        return _encode(doc).encode()
    except (TypeError, ValueError) as e:
        raise TypeError(f"{what} is not JSON-serialisable: {e}") from e


def _pydantic_schema(model: type) -> dict[str, Any]:
    schema = getattr(model, "model_json_schema", None)
    if schema is None:
        raise TypeError(f"json_schema: {model!r} is not a pydantic model class (nor a JSON Schema object)")
    return {"name": model.__name__, "schema": schema()}


def prepare(request: Mapping[str, Any] | str | None, fields: Mapping[str, Any]) -> tuple[bytes, type | None]:
    """The request document and the pydantic model its structured output is parsed into."""
    doc, model = prepare_doc(request, fields)
    return dumps(doc, "request"), model


def prepare_doc(request: Mapping[str, Any] | str | None, fields: Mapping[str, Any]) -> tuple[dict[str, Any], type | None]:
    """prepare's document before it is serialised: a new dict the caller may add to."""
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
    return doc, model


def telemetry_for(telemetry: Any, config: Config | Mapping[str, Any] | str | None) -> tuple[Any, Any]:
    """The client's telemetry (llmsvc.otel.ClientTelemetry) for the constructor's `telemetry`
    argument, and the configuration to create the client with: None or False for none (the
    default: OpenTelemetry is not even imported), True for an llmsvc.otel.Telemetry on the
    global providers, or a Telemetry. With telemetry, the core's own OTLP exporter is turned
    off ("telemetry": {"otlp": {"enabled": false}}) unless the configuration sets it: the
    standard OTEL_EXPORTER_OTLP_* variables would otherwise turn it on too, and every request
    would be reported twice."""
    if telemetry is None or telemetry is False:
        return None, config
    try:
        from . import otel
    except ImportError as e:
        raise ImportError(f"llmsvc: telemetry needs opentelemetry-api (pip install 'llmsvc[otel]'): {e}") from e

    if telemetry is True:
        telemetry = otel.Telemetry()
    if not isinstance(telemetry, otel.Telemetry):
        raise TypeError(f"telemetry must be a bool or an llmsvc.otel.Telemetry, not {type(telemetry).__name__}")
    doc: Any = config
    if isinstance(config, str):
        try:
            doc = json.loads(config)
        except ValueError:
            return telemetry.for_client(None), config  # the core says what is wrong with it
    if doc is None:
        doc = {}
    if isinstance(doc, Mapping):
        section = doc.get("telemetry")
        if section is None or (isinstance(section, Mapping) and section.get("otlp") is None):
            doc = {**doc, "telemetry": {**(section or {}), "otlp": {"enabled": False}}}
            config = doc if not isinstance(config, str) else dumps(doc, "config").decode()
    return telemetry.for_client(doc), config


def open_handle(config: Config | Mapping[str, Any] | str | None, telemetry: Any) -> tuple[Handle, Any]:
    """The client's handle and its telemetry (see telemetry_for)."""
    tel, with_telemetry = telemetry_for(telemetry, config)
    if with_telemetry is config:
        return Handle(config), tel
    try:
        return Handle(with_telemetry), tel
    except StatusError as e:
        if "telemetry.otlp" not in e.message:
            raise
        return Handle(config), tel  # a library without an exporter of its own: none to turn off


_Numbers = ctypes.c_int64 * _native.NUM_COUNT
_AttemptNumbers = ctypes.c_int64 * _native.ATTEMPT_COUNT
_numbers = struct.Struct(f"{_native.NUM_COUNT}q").unpack_from
_attempt_numbers = struct.Struct(f"{_native.ATTEMPT_COUNT}q").unpack_from
_KINDS = _native.KIND_NAMES
_SCHEMA_MISMATCH = _KINDS.index("schema_mismatch")
_STRINGS: tuple[int, ...] = (_native.STR_TEXT, _native.STR_MODEL, _native.STR_OPERATION, _native.STR_FINISH_REASON,
            _native.STR_RESPONSE_ID, _native.STR_RESPONSE_MODEL, _native.STR_TRACE_ID, _native.STR_DEPLOYMENT,
            _native.STR_SERVICE_TIER, _native.STR_THINKING)  # fmt: skip
# 0.4's provider and server address (names: no NUL inside); a 0.3 library has no such keys.
_STR_PROVIDER = _native.STR_PROVIDER if _native.HAS_04 else -1
_STR_SERVER_ADDRESS = _native.STR_SERVER_ADDRESS if _native.HAS_04 else -1
_CACHE_HITS = _native.CACHE_HITS
_ERROR_STRINGS = (_native.STR_ERROR_MESSAGE, _native.STR_PROVIDER_MESSAGE, _native.STR_PROVIDER_ERROR_TYPE,
                  _native.STR_PROVIDER_ERROR_CODE)  # fmt: skip


def _strings(r: ctypes.c_void_p, keys: tuple[int, ...]) -> list[str]:
    """Strings of a result by key (llmsvc_result_str_t), whole even with a NUL inside."""
    n = ctypes.c_size_t()
    length = ctypes.byref(n)
    out = []
    for key in keys:
        b: bytes = _native.result_string(r, key, length)
        if len(b) != n.value:
            b = ctypes.string_at(_native.result_string_ptr(r, key, None), n.value)
        out.append(b.decode())
    return out


def _known(v: int) -> int | None:
    return None if v == UNKNOWN else v


def _kind(k: int) -> str:
    return _KINDS[k] if 0 <= k < len(_KINDS) else "unknown"  # a newer core's kind


def _embeddings(r: ctypes.c_void_p, n: int) -> list[array[float]]:
    """The n vectors of an embeddings result, copied out of it (llmsvc_result_embedding)."""
    dims = ctypes.c_size_t()
    ref = ctypes.byref(dims)
    out = []
    for i in range(n):
        v = array("f")
        p = _native.result_embedding(r, i, ref)
        if p:
            v.frombytes(ctypes.string_at(p, dims.value * v.itemsize))
        out.append(v)
    return out


_NO_BATCH: tuple[str | None, str | None] = (None, None)


def outcome(r: ctypes.c_void_p, request_id: int, batch: tuple[str | None, str | None] = _NO_BATCH) -> Result | BaseException:
    """What a completion gives its caller: its Result, or the RequestError of its kind; the
    result is freed. Read from the typed getters; the JSON document is kept for the members
    read on demand (types.Result) and parsed here only when the result has what only it
    holds: tool calls (parsed arguments, unknown_tool, arguments_error), n > 1 choices
    (logprobs), 1-hour cache writes, an error's provider_param and schema details. `batch`
    is a batch job's line: its batch id and custom id."""
    try:
        buf = _Numbers()
        _native.result_numbers(r, buf, _native.NUM_COUNT)
        # llmsvc_result_num_t, in order
        (kind, http_status, prompt, completion, cached, cache_write, reasoning, usage_state, cost, n_attempts,
         retry_after, submit_ms, total_ns, first_ns, overhead_ns, n_choices, n_tools, cache_hit, _, port,
         gate_wait_ns, n_embeddings) = _numbers(buf)  # fmt: skip
        doc: bytes = _native.result_json(r, None)
        raw: dict[str, Any] | None = None
        if (n_tools or n_choices > 1 or (cache_write > 0 and b'"cache_write_1h_tokens":' in doc)
                or (kind and (kind == _SCHEMA_MISMATCH or b'"provider_param":' in doc))):  # fmt: skip
            raw = json.loads(doc)
        text, model, operation, finish_reason, response_id, response_model, trace_id, deployment, tier, thinking = (
            _strings(r, _STRINGS)
        )
        provider: bytes | None = _native.result_string(r, _STR_PROVIDER, None)  # None: a 0.3 library
        server_address: bytes | None = _native.result_string(r, _STR_SERVER_ADDRESS, None)
        attempts = []
        if n_attempts:
            a, request, dep = _AttemptNumbers(), ctypes.c_char_p(), ctypes.c_char_p()
            request_ref, dep_ref = ctypes.byref(request), ctypes.byref(dep)
            for i in range(n_attempts):
                _native.result_attempt(r, i, a, _native.ATTEMPT_COUNT, request_ref, dep_ref)
                status, k, start_ns, duration_ns, backoff_ns, source, ap, ac, acost, start_ms, gw = _attempt_numbers(a)
                attempts.append(Attempt(
                    start_ms, start_ns / 1e6, duration_ns / 1e6, status, _kind(k), backoff_ns / 1e6 if source else None,
                    _native.BACKOFF_SOURCES[min(source, 3)],
                    (request.value or b"").decode() or None, (dep.value or b"").decode() or None,
                    _known(ap), _known(ac), _known(acost), None if gw == UNKNOWN else gw / 1e6,
                ))  # fmt: skip
        usage = None
        if prompt != UNKNOWN:
            write_1h = (raw["usage"] or {}).get("cache_write_1h_tokens", 0) if raw else 0
            usage = Usage(prompt, completion, prompt + completion, cached, cache_write, write_1h, reasoning, usage_state == 2)
        error = None
        if kind:
            message, provider_message, provider_type, provider_code = _strings(r, _ERROR_STRINGS)
            e = raw["error"] if raw else {}
            error = ErrorInfo(
                _kind(kind), message, http_status, provider_message or None,
                provider_type or None, provider_code or None, e.get("provider_param"), _known(retry_after),
                e.get("pointer"), e.get("keyword"), e.get("output"),
            )  # fmt: skip
        result = Result(  # positional (a third cheaper than by keyword), in the order of types.Result's fields
            request_id, not kind, text, model, operation, finish_reason or None, response_id or None,
            response_model or None, None,
            tuple(ToolCall.from_dict(c) for c in raw["tool_calls"]) if raw and n_tools else (),
            tuple(Choice.from_dict(c) for c in raw["choices"]) if raw and n_choices > 1 else (),
            usage, usage_state == 3, _known(cost), tuple(attempts),
            Timing(submit_ms, total_ns / 1e6, overhead_ns / 1e3, None if first_ns == UNKNOWN else first_ns / 1e6,
                   None if gate_wait_ns == UNKNOWN else gate_wait_ns / 1e6),
            trace_id or None, deployment or None, tier or None, thinking or None, error,
            provider.decode() if provider else None, server_address.decode() if server_address else None,
            None if port == UNKNOWN else port,
            _CACHE_HITS[cache_hit] if 0 <= cache_hit < 3 else None, doc, raw,
            _embeddings(r, n_embeddings) if n_embeddings > 0 and _native.HAS_05 else None, *batch,
        )  # fmt: skip
        return error_for(result, kind) if kind else result
    except Exception as e:  # a failure to read it goes to the caller, not into the event loop or C
        return e
    finally:
        _native.result_free(r)


def finish(out: Result | BaseException, model: type | None) -> Result:
    """The Result a caller gets: raises a failure's exception, and parses structured output
    into the pydantic `model` when one was given."""
    if isinstance(out, BaseException):
        raise out
    if model is not None and out.ok and out.json is not None:
        return dataclasses.replace(out, parsed=model.model_validate(out.json))  # type: ignore[attr-defined]
    return out


def take_piece(r: ctypes.c_void_p) -> Piece:
    """A streamed piece from the completion queue; the result is freed."""
    try:
        kind, index, call_id, name = ctypes.c_int(), ctypes.c_uint32(), ctypes.c_char_p(), ctypes.c_char_p()
        _native.result_piece(r, ctypes.byref(kind), ctypes.byref(index), ctypes.byref(call_id), ctypes.byref(name))
        return make_piece(kind.value, index.value, call_id.value, name.value, _strings(r, (_native.STR_TEXT,))[0])
    finally:
        _native.result_free(r)


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


# Results taken from the completion queue per call into the library.
BATCH = 256


class Handle:
    """An llmsvc_client: its pointer, what both clients call on it, and its destruction."""

    def __init__(self, config: Config | Mapping[str, Any] | str | None) -> None:
        if config is not None and not isinstance(config, (Mapping, str)):
            raise TypeError(f"config must be a mapping or a JSON string, not {type(config).__name__}")
        out = ctypes.c_void_p()
        err = ctypes.c_void_p()
        check("llmsvc_client_new", lib.llmsvc_client_new(ctypes.byref(out), dumps(config or {}, "config"), ctypes.byref(err)), err)
        self._ptr: int | None = out.value
        self._lock = threading.Lock()
        self._batch = ((ctypes.c_void_p * BATCH)(), (ctypes.c_void_p * BATCH)(), ctypes.c_size_t())
        self.jobs: weakref.WeakSet[Any] = weakref.WeakSet()  # batch jobs open on it, closed before it

    @property
    def ptr(self) -> int:
        p = self._ptr
        if p is None:
            raise ClosedError("client", _native.ECLOSED, "the client is closed")
        return p

    def call(self, op: str, fn: Callable[..., int], doc: bytes) -> None:
        err = ctypes.c_void_p()
        check(op, fn(self.ptr, doc, ctypes.byref(err)), err)

    def string(self, op: str, fn: Callable[..., int]) -> str:
        out = ctypes.c_void_p()
        err = ctypes.c_void_p()
        check(op, fn(self.ptr, ctypes.byref(out), ctypes.byref(err)), err)
        return _native.take_string(out)

    def queue_events(self, bits: int, with_content: bool) -> None:
        """Events to the completion queue, with a NULL payload (bits 0: off)."""
        err = ctypes.c_void_p()
        flags = _native.EVENTS_WITH_CONTENT if with_content else 0
        check("set_event_hook", lib.llmsvc_client_set_event_hook(self.ptr, bits, flags, None, None, ctypes.byref(err)), err)

    def take(self) -> tuple[int, list[int], list[int | None]]:
        """Up to BATCH results from the completion queue in one call, without waiting:
        (status, results, their payloads). One thread at a time."""
        results, payloads, n = self._batch
        rc = _native.poll_batch(ctypes.c_void_p(self.ptr), 0, results, payloads, BATCH, ctypes.byref(n))
        return rc, results[: n.value], payloads[: n.value]  # type: ignore[return-value]

    def fd(self) -> int:
        out = ctypes.c_int()
        check("llmsvc_client_fd", lib.llmsvc_client_fd(self.ptr, ctypes.byref(out)))
        return out.value

    def destroy(self) -> None:
        with self._lock:
            p, self._ptr = self._ptr, None
        if p is not None:
            for job in list(self.jobs):
                job._release()  # waits for a call of its in progress
            lib.llmsvc_client_destroy(p)


class Settings:
    """The run-time settings and metrics both clients have."""

    _handle: Handle

    def set_limits(self, limits: Limits | Mapping[str, Any]) -> None:
        """Changes the limits at run time; fields not given keep their value."""
        self._handle.call("set_limits", lib.llmsvc_client_set_limits, dumps(limits, "limits"))

    def set_budgets(self, budgets: Sequence[Budget | Mapping[str, Any]]) -> None:
        """Replaces the spending budgets ([] removes them)."""
        self._handle.call("set_budgets", lib.llmsvc_client_set_budgets, dumps(list(budgets), "budgets"))

    def set_deployment(self, deployment: Deployment | Mapping[str, Any]) -> None:
        """Changes one deployment: enabled, weight, limits (by "name")."""
        self._handle.call("set_deployment", lib.llmsvc_client_set_deployment, dumps(deployment, "deployment"))

    def pause(self, paused: bool = True) -> None:
        """Pauses admission (nothing more is sent; what is in flight goes on, the rest waits
        in the queue, deadlines still apply), or resumes it with False."""
        check("pause", lib.llmsvc_client_pause(self._handle.ptr, int(paused)))

    def metrics(self) -> dict[str, Any]:
        """One consistent snapshot of metrics, usage and cost (docs/schema.md)."""
        return json.loads(self._handle.string("metrics", lib.llmsvc_client_metrics))  # type: ignore[no-any-return]

    def metrics_prometheus(self) -> str:
        """The same snapshot in the Prometheus text format 0.0.4."""
        return self._handle.string("metrics_prometheus", lib.llmsvc_client_metrics_prometheus)
