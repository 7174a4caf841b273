"""OpenTelemetry for llmsvc clients: the spans and metrics of docs/telemetry.md (the GenAI
semantic conventions plus llmsvc's attempts, gate waits, backoffs and cost), reported
through the OpenTelemetry API, so they go to whatever SDK, sampler and exporters the
application configured.

Off unless asked for, per client:

    from llmsvc import Client
    from llmsvc.otel import Telemetry

    client = Client(config, telemetry=True)                 # the global providers
    client = Client(config, telemetry=Telemetry(tracer_provider=tp, meter_provider=mp,
                                                capture_content=False))

This module needs opentelemetry-api (`pip install 'llmsvc[otel]'`) and libllmsvc 0.4; the
rest of the package imports neither, and a client without telemetry never calls it.

Every request gets a CLIENT span "chat {model}" started when it is submitted, as a child of
the span current then (or of the request's own "traceparent" when no span is current), and
ended at its completion; its attempts ("POST", CLIENT) and gate waits
("llmsvc.gate.wait", INTERNAL, 1 ms or more) are added at the completion with the times the
core measured. A request without a "traceparent" is sent with the span's, so the provider
sees the trace. Prompts and replies are recorded only with capture_content=True or
OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true; API keys and headers never.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from typing import Any, TypeGuard

from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from . import _native
from ._core import log
from .errors import RequestError, StatusError
from .types import Attempt, Result, ToolCall

__all__ = ["Telemetry", "ClientTelemetry", "CAPTURE_CONTENT_ENV", "DURATION_BUCKETS", "TOKEN_BUCKETS", "WAIT_BUCKETS"]

CAPTURE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"

# The bucket boundaries the conventions advise (docs/telemetry.md, "Metrics").
DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)
WAIT_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60)

_SCOPE = "llmsvc"
_OPERATION = "chat"
_GATE_SPAN_MIN_NS = 1_000_000  # shorter waits are only the attempt's llmsvc.gate.wait
# Attempt.backoff_source -> llmsvc.backoff.source
_BACKOFF_SOURCE = {"client": "client", "server": "retry_after"}
_propagator = TraceContextTextMapPropagator()
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str).encode


def _histogram(meter: metrics.Meter, name: str, unit: str, description: str, buckets: Sequence[float]) -> metrics.Histogram:
    try:
        return meter.create_histogram(name, unit, description, explicit_bucket_boundaries_advisory=list(buckets))
    except TypeError:  # an API older than the advice (1.30): the SDK's default buckets, or a View
        return meter.create_histogram(name, unit, description)


def _env_capture() -> bool:
    return os.environ.get(CAPTURE_CONTENT_ENV, "").strip().lower() == "true"


class Telemetry:
    """Where a client's spans and metrics go: `tracer_provider` and `meter_provider` (None:
    the global ones, as set by opentelemetry.trace.set_tracer_provider and
    opentelemetry.metrics.set_meter_provider, or by the SDK's auto-configuration; looked up
    when the first span or measurement is made, so this may be created before them).
    `capture_content` records prompts and replies (gen_ai.input.messages,
    gen_ai.output.messages); None reads OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT.
    One Telemetry may serve any number of clients; pass it as their `telemetry=`."""

    def __init__(
        self,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
        *,
        capture_content: bool | None = None,
    ) -> None:
        if not _native.HAS_04:
            raise ImportError(
                f"llmsvc.otel needs libllmsvc 0.4 or newer (it reads the provider, server and gate waits "
                f"of each result); {_native.lib._name} is {_native.version()}"
            )
        from . import __version__

        self.capture_content = _env_capture() if capture_content is None else bool(capture_content)
        self.tracer = trace.get_tracer(_SCOPE, __version__, tracer_provider)
        meter = metrics.get_meter(_SCOPE, __version__, meter_provider)
        self.duration = _histogram(meter, "gen_ai.client.operation.duration", "s", "GenAI operation duration.", DURATION_BUCKETS)
        self.tokens = _histogram(meter, "gen_ai.client.token.usage", "{token}", "Number of input and output tokens used.", TOKEN_BUCKETS)
        self.first_chunk = _histogram(
            meter, "gen_ai.client.operation.time_to_first_chunk", "s",
            "Time from the request to the first chunk of a streamed reply.", DURATION_BUCKETS,
        )  # fmt: skip
        self.attempts = meter.create_counter("llmsvc.client.attempts", "{attempt}", "Attempts sent to providers.")
        self.gate_wait = _histogram(meter, "llmsvc.client.gate.wait", "s", "Time an attempt was held by the gates.", WAIT_BUCKETS)
        self.backoff = _histogram(meter, "llmsvc.client.backoff", "s", "Backoff between attempts.", WAIT_BUCKETS)
        self.cost = meter.create_counter("llmsvc.client.cost", "{nano_usd}", "Cost of priced requests, in nano-dollars.")

    def for_client(self, config: Mapping[str, Any] | str | None) -> ClientTelemetry:
        """What a client with this configuration reports through (the client calls it)."""
        model = None
        try:
            cfg = json.loads(config) if isinstance(config, str) else config
            if isinstance(cfg, Mapping) and isinstance(cfg.get("model"), str):
                model = cfg["model"]
        except ValueError:
            pass  # the core said what is wrong with it already
        return ClientTelemetry(self, model or None)


class ClientTelemetry:
    """A Telemetry bound to one client (its default model names spans of requests that name
    none). Its `start` is called with the request document before it is submitted."""

    __slots__ = ("telemetry", "default_model")

    def __init__(self, telemetry: Telemetry, default_model: str | None) -> None:
        self.telemetry = telemetry
        self.default_model = default_model

    def start(self, doc: dict[str, Any], stream: bool) -> Call:
        """Starts the request span (parent: the current span, else the request's own
        traceparent) and puts its traceparent into `doc` when it has none."""
        ctx = otel_context.get_current()
        tp = doc.get("traceparent")
        if tp and isinstance(tp, str) and not trace.get_current_span(ctx).get_span_context().is_valid:
            carrier = {"traceparent": tp}
            ts = doc.get("tracestate")
            if ts and isinstance(ts, str):
                carrier["tracestate"] = ts
            ctx = _propagator.extract(carrier, ctx)
        model = doc.get("model") or self.default_model
        if not isinstance(model, str):
            model = None
        stream = stream or doc.get("stream") is True
        attributes = _request_attributes(doc, model, stream)
        t0 = time.time_ns()
        span = self.telemetry.tracer.start_span(
            f"{_OPERATION} {model}" if model else _OPERATION, ctx, SpanKind.CLIENT, attributes, start_time=t0
        )
        if not tp:
            sc = span.get_span_context()
            if sc.is_valid:
                doc["traceparent"] = f"00-{sc.trace_id:032x}-{sc.span_id:016x}-{sc.trace_flags:02x}"
                if sc.trace_state:
                    doc["tracestate"] = sc.trace_state.to_header()
        return Call(self.telemetry, span, t0, doc, model)


def _number(v: Any) -> TypeGuard[int | float]:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


_FLOAT_PARAMS = (
    ("temperature", "gen_ai.request.temperature"),
    ("top_p", "gen_ai.request.top_p"),
    ("frequency_penalty", "gen_ai.request.frequency_penalty"),
    ("presence_penalty", "gen_ai.request.presence_penalty"),
)


def _request_attributes(doc: Mapping[str, Any], model: str | None, stream: bool) -> dict[str, Any]:
    """What the request itself says: known when the span starts, so samplers see it."""
    a: dict[str, Any] = {"gen_ai.operation.name": _OPERATION, "gen_ai.request.stream": stream}
    if model:
        a["gen_ai.request.model"] = model
    mt = doc.get("max_output_tokens")
    if mt is None:
        mt = doc.get("max_tokens")
    if _int(mt):
        a["gen_ai.request.max_tokens"] = mt
    for key, name in _FLOAT_PARAMS:
        v = doc.get(key)
        if _number(v):
            a[name] = float(v)
    v = doc.get("seed")
    if _int(v):
        a["gen_ai.request.seed"] = v
    v = doc.get("stop")
    if v is None:
        v = doc.get("stop_sequences")
    if isinstance(v, str):
        a["gen_ai.request.stop_sequences"] = [v]
    elif isinstance(v, Sequence) and all(isinstance(s, str) for s in v):
        a["gen_ai.request.stop_sequences"] = list(v)
    v = doc.get("n")
    if _int(v) and v != 1:
        a["gen_ai.request.choice.count"] = v
    rf = doc.get("response_format")
    if doc.get("json_schema") is not None or (
        isinstance(rf, Mapping) and rf.get("type") in ("json_object", "json_schema")
    ):
        a["gen_ai.output.type"] = "json"
    v = doc.get("operation")
    if v and isinstance(v, str):
        a["llmsvc.operation"] = v
    return a


class Call:
    """One request's span from submit to completion; `end` (or `refused`, `cancelled`)
    ends it once and records the metrics."""

    __slots__ = ("telemetry", "span", "t0", "doc", "model", "ended")

    def __init__(self, telemetry: Telemetry, span: trace.Span, t0: int, doc: dict[str, Any], model: str | None) -> None:
        self.telemetry = telemetry
        self.span = span
        self.t0 = t0
        self.doc = doc
        self.model = model
        self.ended = False

    def refused(self, e: BaseException) -> None:
        """The core refused the request at submit (or it could not be serialised)."""
        if self.ended:
            return
        self.ended = True
        if isinstance(e, StatusError):
            kind, message = e.code, e.message
        else:  # never str(e): it may quote the document
            kind = message = type(e).__qualname__
        self.span.set_attribute("error.type", kind)
        self.span.set_status(Status(StatusCode.ERROR, message))
        self.span.end()

    def cancelled(self) -> None:
        """Its awaiter went away and its completion was dropped before it could be read."""
        if self.ended:
            return
        self.ended = True
        self.span.set_attribute("error.type", "cancelled")
        self.span.set_status(Status(StatusCode.ERROR, "cancelled"))
        self.span.end()

    def end(self, out: Result | BaseException) -> None:
        """The completion: a Result, the RequestError of a failure, or what reading it raised."""
        if self.ended:
            return
        self.ended = True
        if isinstance(out, RequestError):
            r = out.result
        elif isinstance(out, Result):
            r = out
        else:  # the result could not be read: nothing to measure
            self.span.set_attribute("error.type", type(out).__qualname__)
            self.span.set_status(Status(StatusCode.ERROR, type(out).__qualname__))
            self.span.end()
            return
        try:
            self._report(r)
        except Exception:  # telemetry never fails a request
            log.exception("llmsvc.otel: reporting request %s failed", r.id)
            if self.span.is_recording():
                self.span.end()

    def _report(self, r: Result) -> None:
        t = self.telemetry
        span = self.span
        t0 = self.t0
        ok = r.ok
        error_type = None if ok else (r.error.kind if r.error is not None else "unknown")
        model = r.model or self.model
        base: dict[str, Any] = {"gen_ai.operation.name": _OPERATION}
        if r.provider:
            base["gen_ai.provider.name"] = r.provider
        if model:
            base["gen_ai.request.model"] = model
        server: dict[str, Any] = {}
        if r.server_address:
            server["server.address"] = r.server_address
        if r.server_port:
            server["server.port"] = r.server_port
        total_ms = r.timing.total_ms
        total_ns = round(total_ms * 1e6) if total_ms is not None else time.time_ns() - t0
        end_ns = t0 + total_ns

        # --- metrics ---
        usage_attrs = {**base, **server}
        if ok and r.response_model:
            usage_attrs["gen_ai.response.model"] = r.response_model
        duration_attrs = usage_attrs if error_type is None else {**usage_attrs, "error.type": error_type}
        t.duration.record(total_ns / 1e9, duration_attrs)
        u = r.usage
        if u is not None and u.prompt_tokens is not None:
            t.tokens.record(u.prompt_tokens, {**usage_attrs, "gen_ai.token.type": "input"})
            t.tokens.record(u.completion_tokens or 0, {**usage_attrs, "gen_ai.token.type": "output"})
        first_ms = r.timing.first_token_ms
        if first_ms is not None:
            t.first_chunk.record(first_ms / 1e3, duration_attrs)
        for a in r.attempts:
            attempt_attrs = dict(base)
            if a.http_status:
                attempt_attrs["http.response.status_code"] = a.http_status
            if a.kind != "none":
                attempt_attrs["error.type"] = a.kind
            t.attempts.add(1, attempt_attrs)
            t.gate_wait.record((a.gate_wait_ms or 0.0) / 1e3, base)
            if a.backoff_source is not None and a.backoff_ms is not None:
                source = _BACKOFF_SOURCE.get(a.backoff_source, a.backoff_source)
                t.backoff.record(a.backoff_ms / 1e3, {**base, "llmsvc.backoff.source": source})
        operation = self.doc.get("operation")  # the result says "default" when the request named none
        if not (operation and isinstance(operation, str)):
            operation = None
        if r.cost_nano_usd is not None and u is not None:
            t.cost.add(r.cost_nano_usd, {**base, "llmsvc.operation": operation} if operation else base)

        # --- spans ---
        if not span.is_recording():
            span.end(end_time=end_ns)
            return
        if model and model != self.model:
            span.update_name(f"{_OPERATION} {model}")
        attrs: dict[str, Any] = {**base, **server, "llmsvc.attempts": len(r.attempts),
                                 "llmsvc.gate.wait": (r.timing.gate_wait_ms or 0.0) / 1e3}  # fmt: skip
        if ok:
            if r.response_model:
                attrs["gen_ai.response.model"] = r.response_model
            if r.response_id:
                attrs["gen_ai.response.id"] = r.response_id
            if r.choices:
                attrs["gen_ai.response.finish_reasons"] = [c.finish_reason or "" for c in r.choices]
            elif r.finish_reason:
                attrs["gen_ai.response.finish_reasons"] = [r.finish_reason]
        else:
            attrs["error.type"] = error_type
        if u is not None and u.prompt_tokens is not None:
            attrs["gen_ai.usage.input_tokens"] = u.prompt_tokens
            attrs["gen_ai.usage.output_tokens"] = u.completion_tokens or 0
            attrs["gen_ai.usage.cache_read.input_tokens"] = u.cached_tokens
            attrs["gen_ai.usage.cache_creation.input_tokens"] = u.cache_write_tokens
            attrs["gen_ai.usage.reasoning.output_tokens"] = u.reasoning_tokens
        if first_ms is not None:
            attrs["gen_ai.response.time_to_first_chunk"] = first_ms / 1e3
        if operation:
            attrs["llmsvc.operation"] = operation
        if r.deployment:
            attrs["llmsvc.deployment"] = r.deployment
        if r.cost_nano_usd is not None and u is not None:
            attrs["llmsvc.cost.nano_usd"] = r.cost_nano_usd
        if r.cache_hit:
            attrs["llmsvc.cache.hit"] = r.cache_hit
        if t.capture_content:
            attrs["gen_ai.input.messages"] = _dumps(input_messages(self.doc))
            if ok:
                attrs["gen_ai.output.messages"] = _dumps(output_messages(r))
        span.set_attributes(attrs)

        ctx = trace.set_span_in_context(span)
        tracer = t.tracer
        for i, a in enumerate(r.attempts):
            start = t0 + round((a.start_ms or 0.0) * 1e6)
            gate_ns = round((a.gate_wait_ms or 0.0) * 1e6)
            if gate_ns >= _GATE_SPAN_MIN_NS:
                gate = tracer.start_span("llmsvc.gate.wait", ctx, SpanKind.INTERNAL, {"llmsvc.attempt": i}, start_time=start - gate_ns)
                gate.end(end_time=start)
            child = tracer.start_span("POST", ctx, SpanKind.CLIENT, _attempt_attributes(i, a, server), start_time=start)
            if a.kind != "none":
                child.set_status(Status(StatusCode.ERROR))
            child.end(end_time=start + round((a.duration_ms or 0.0) * 1e6))

        if not ok:
            span.set_status(Status(StatusCode.ERROR, r.error.message if r.error is not None else error_type))
        span.end(end_time=end_ns)


def _attempt_attributes(i: int, a: Attempt, server: Mapping[str, Any]) -> dict[str, Any]:
    attrs: dict[str, Any] = {"http.request.method": "POST", **server, "llmsvc.gate.wait": (a.gate_wait_ms or 0.0) / 1e3}
    if a.http_status:
        attrs["http.response.status_code"] = a.http_status
    if i:
        attrs["http.request.resend_count"] = i
    if a.kind != "none":
        attrs["error.type"] = a.kind
    if a.deployment:
        attrs["llmsvc.deployment"] = a.deployment
    if a.backoff_source is not None and a.backoff_ms is not None:
        attrs["llmsvc.backoff"] = a.backoff_ms / 1e3
        attrs["llmsvc.backoff.source"] = _BACKOFF_SOURCE.get(a.backoff_source, a.backoff_source)
    if a.request_id:
        attrs["llmsvc.provider.request_id"] = a.request_id
    if a.prompt_tokens is not None:
        attrs["gen_ai.usage.input_tokens"] = a.prompt_tokens
        attrs["gen_ai.usage.output_tokens"] = a.completion_tokens or 0
        if a.cost_nano_usd is not None:
            attrs["llmsvc.cost.nano_usd"] = a.cost_nano_usd
    return attrs


# --- content, in the conventions' "parts" shape (only with capture_content) -----------------


def _text(s: str) -> dict[str, Any]:
    return {"type": "text", "content": s}


def _arguments(v: Any) -> Any:
    if isinstance(v, str):
        try:
            return json.loads(v)
        except ValueError:
            return v
    return v


def _parts(content: Any) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [_text(content)] if content else []
    parts: list[dict[str, Any]] = []
    if isinstance(content, Sequence):
        for p in content:
            if not isinstance(p, Mapping):
                continue
            kind = p.get("type")
            if kind == "text":
                parts.append(_text(p.get("text") or ""))
            elif kind == "image_url":
                img = p.get("image_url")
                url = img.get("url") if isinstance(img, Mapping) else img
                parts.append({"type": "uri", "modality": "image", "uri": url})
            elif kind == "image":
                parts.append({"type": "blob", "modality": "image", "mime_type": p.get("media_type"), "content": p.get("data")})
            elif kind == "audio":
                parts.append({"type": "blob", "modality": "audio", "mime_type": f"audio/{p.get('format')}", "content": p.get("data")})
            elif kind == "thinking":
                parts.append({"type": "reasoning", "content": p.get("thinking") or ""})
            else:
                parts.append({"type": str(kind)})
    return parts


def _content_text(content: Any) -> Any:
    if isinstance(content, str) or content is None:
        return content
    return "".join(p.get("text") or "" for p in content if isinstance(p, Mapping) and p.get("type") == "text")


def input_messages(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The request's conversation: instructions (or system), then its messages (or prompt)."""
    out: list[dict[str, Any]] = []
    system = doc.get("instructions") or doc.get("system")
    if isinstance(system, str) and system:
        out.append({"role": "system", "parts": [_text(system)]})
    messages = doc.get("messages")
    if isinstance(messages, Sequence) and not isinstance(messages, str):
        for m in messages:
            if not isinstance(m, Mapping):
                continue
            role = m.get("role") or "user"
            content = m.get("content")
            if role == "tool":
                parts = [{"type": "tool_call_response", "id": m.get("tool_call_id"), "response": _content_text(content)}]
            else:
                parts = _parts(content)
            for call in m.get("tool_calls") or ():
                if not isinstance(call, Mapping):
                    continue
                fn = call.get("function")
                fn = fn if isinstance(fn, Mapping) else {}
                parts.append({"type": "tool_call", "id": call.get("id"), "name": fn.get("name"),
                              "arguments": _arguments(fn.get("arguments"))})  # fmt: skip
            msg: dict[str, Any] = {"role": role, "parts": parts}
            if m.get("name"):
                msg["name"] = m["name"]
            out.append(msg)
    else:
        prompt = doc.get("prompt")
        if isinstance(prompt, str):
            out.append({"role": "user", "parts": [_text(prompt)]})
    return out


def _reply(text: str, calls: Sequence[ToolCall], finish_reason: str | None, thinking: str | None = None) -> dict[str, Any]:
    parts: list[dict[str, Any]] = []
    if thinking:
        parts.append({"type": "reasoning", "content": thinking})
    if text:
        parts.append(_text(text))
    for c in calls:
        parts.append({"type": "tool_call", "id": c.id, "name": c.name,
                      "arguments": c.arguments_json if c.arguments_json is not None else c.arguments})  # fmt: skip
    return {"role": "assistant", "parts": parts, "finish_reason": finish_reason or ""}


def output_messages(r: Result) -> list[dict[str, Any]]:
    """The reply, one message per choice."""
    if r.choices:
        return [_reply(c.text, c.tool_calls, c.finish_reason) for c in r.choices]
    return [_reply(r.text, r.tool_calls, r.finish_reason, r.thinking)]
