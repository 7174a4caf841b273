"""llmsvc.otel against the emulator, with the OpenTelemetry SDK's in-memory span exporter and
metric reader: the span tree of a request retried after a 429 (docs/telemetry.md), the
seven instruments, the traceparent the provider receives, content kept out unless asked
for (and API keys always), failures, streams, cancellation, and nothing at all when
telemetry is off. Sync and asyncio clients alike."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import llmsvc
from llmsvc import AsyncClient, Client, RequestError, Result
from llmsvc.otel import DURATION_BUCKETS, TOKEN_BUCKETS, WAIT_BUCKETS, Telemetry

from .conftest import EMULATOR, Emulator, start_emulator, stop

if not llmsvc._native.HAS_04:
    pytest.skip(f"llmsvc.otel needs libllmsvc 0.4 (this is {llmsvc.version()})", allow_module_level=True)

CANARY_KEY = "sk-canary-otel-0123456789"
CANARY_PROMPT = "CANARY-PROMPT-42"
INVALID_KEY = "sk-otel-invalid"
MODEL = "gpt-4o-mini"


@pytest.fixture(scope="module")
def rl_emu() -> Iterator[Emulator]:
    """The first arrival of each distinct body (per key) gets a 429 with retry-after 20 ms."""
    if not EMULATOR:
        pytest.skip("LLMSVC_EMULATOR is not set (path to llmsvc-emulator)")
    e = start_emulator("--rate-limit-first", "1", "--rate-limit-wait-ms", "20", "--invalid-keys", INVALID_KEY)
    yield e
    stop(e)


def port_of(emu: Emulator) -> int:
    return int(emu.url.rsplit(":", 1)[1])


@dataclass
class Otel:
    """An SDK of its own: spans to memory as they end, metrics read on demand."""

    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader
    tracer_provider: TracerProvider
    meter_provider: MeterProvider

    @classmethod
    def new(cls, delta: bool = False) -> Otel:
        exporter = InMemorySpanExporter()
        temporality = {Counter: AggregationTemporality.DELTA, Histogram: AggregationTemporality.DELTA}
        reader = InMemoryMetricReader(preferred_temporality=temporality if delta else None)  # type: ignore[arg-type]
        tp = TracerProvider()
        tp.add_span_processor(SimpleSpanProcessor(exporter))
        return cls(exporter, reader, tp, MeterProvider(metric_readers=[reader]))

    def telemetry(self, **kw: Any) -> Telemetry:
        return Telemetry(self.tracer_provider, self.meter_provider, **kw)

    def spans(self) -> tuple[ReadableSpan, ...]:
        return self.exporter.get_finished_spans()

    def metrics(self) -> dict[str, Any]:
        """name -> the metric (unit, data points) of scope llmsvc."""
        data = self.reader.get_metrics_data()
        out: dict[str, Any] = {}
        for rm in data.resource_metrics if data else ():
            for sm in rm.scope_metrics:
                if sm.scope.name == "llmsvc":
                    for m in sm.metrics:
                        out[m.name] = m
        return out

    def dump(self) -> str:
        """Everything exported, every attribute of every span and every metric point."""
        data = self.reader.get_metrics_data()
        return "\n".join([s.to_json() for s in self.spans()] + [data.to_json() if data else ""])


def points(metric: Any) -> list[Any]:
    return list(metric.data.data_points)


def run_request(kind: str, otel: Otel, config: dict[str, Any], telemetry: Any, **request: Any) -> tuple[Result, Any]:
    """One generate inside a span of the test: (its result, or a failure's, and that span)."""
    tracer = otel.tracer_provider.get_tracer("test")
    if kind == "sync":
        with Client(config, telemetry=telemetry) as c, tracer.start_as_current_span("test-parent") as parent:
            try:
                return c.generate(**request), parent
            except RequestError as e:
                return e.result, parent

    async def main() -> tuple[Result, Any]:
        async with AsyncClient(config, telemetry=telemetry) as c:
            with tracer.start_as_current_span("test-parent") as parent:
                try:
                    return await c.generate(**request), parent
                except RequestError as e:
                    return e.result, parent

    return asyncio.run(main())


def run_stream(kind: str, otel: Otel, config: dict[str, Any], telemetry: Any, **request: Any) -> tuple[Result, Any, int]:
    """One stream read to its end inside a span of the test: (result, span, pieces)."""
    tracer = otel.tracer_provider.get_tracer("test")
    if kind == "sync":
        with Client(config, telemetry=telemetry) as c, tracer.start_as_current_span("test-parent") as parent:
            s = c.stream(**request)
            n = len(list(s))
            assert otel.spans()[-1].name == f"chat {MODEL}"  # ended with the stream's end
            return s.result, parent, n

    async def main() -> tuple[Result, Any, int]:
        async with AsyncClient(config, telemetry=telemetry) as c:
            with tracer.start_as_current_span("test-parent") as parent:
                s = c.stream(**request)
                n = len([p async for p in s])
                return await s.result(), parent, n

    return asyncio.run(main())


def the_request_span(otel: Otel) -> ReadableSpan:
    spans = [s for s in otel.spans() if s.name == f"chat {MODEL}"]
    assert len(spans) == 1, [s.name for s in otel.spans()]
    return spans[0]


def check_retried_request(otel: Otel, r: Result, parent: Any, emu: Emulator, *, stream: bool, operation: str | None) -> ReadableSpan:
    """The span tree and metrics of a request answered 429 (retry-after 20 ms), then 200."""
    port = port_of(emu)
    req = the_request_span(otel)
    assert req.kind == SpanKind.CLIENT
    assert req.parent is not None and req.parent.span_id == parent.get_span_context().span_id
    assert req.context.trace_id == parent.get_span_context().trace_id
    assert req.status.status_code == StatusCode.UNSET
    a = req.attributes
    assert r.usage is not None and r.cost_nano_usd is not None
    expected = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": MODEL,
        "gen_ai.response.model": r.response_model,
        "gen_ai.response.id": r.response_id,
        "gen_ai.response.finish_reasons": (r.finish_reason,),
        "gen_ai.usage.input_tokens": r.usage.prompt_tokens,
        "gen_ai.usage.output_tokens": r.usage.completion_tokens,
        "gen_ai.request.stream": stream,
        "gen_ai.request.max_tokens": 12,
        "server.address": "127.0.0.1",
        "server.port": port,
        "llmsvc.attempts": 2,
        "llmsvc.cost.nano_usd": r.cost_nano_usd,
    }
    for k, v in expected.items():
        assert a.get(k) == v, (k, a.get(k), v)
    assert r.response_model and r.response_id and r.finish_reason
    assert a["llmsvc.gate.wait"] == pytest.approx(r.timing.gate_wait_ms / 1e3)
    assert a.get("llmsvc.operation") == operation
    assert "error.type" not in a
    assert "gen_ai.input.messages" not in a and "gen_ai.output.messages" not in a
    if stream:
        assert r.timing.first_token_ms is not None
        assert a["gen_ai.response.time_to_first_chunk"] == pytest.approx(r.timing.first_token_ms / 1e3)
    else:
        assert "gen_ai.response.time_to_first_chunk" not in a
    assert req.end_time - req.start_time == round(r.timing.total_ms * 1e6)

    children = [s for s in otel.spans() if s.parent is not None and s.parent.span_id == req.context.span_id]
    posts = sorted((s for s in children if s.name == "POST"), key=lambda s: s.start_time)
    assert len(posts) == 2 and all(p.kind == SpanKind.CLIENT for p in posts)
    assert all(s.name in ("POST", "llmsvc.gate.wait") for s in children)
    for g in (s for s in children if s.name == "llmsvc.gate.wait"):  # only waits of 1 ms or more
        assert g.kind == SpanKind.INTERNAL and g.end_time - g.start_time >= 1_000_000
    first, second = posts
    assert req.start_time <= first.start_time < first.end_time <= second.start_time < second.end_time <= req.end_time
    f = first.attributes
    assert f["http.request.method"] == "POST" and f["http.response.status_code"] == 429
    assert f["error.type"] == "rate_limited" and first.status.status_code == StatusCode.ERROR
    assert f["llmsvc.backoff.source"] == "retry_after" and f["llmsvc.backoff"] > 0
    assert "http.request.resend_count" not in f
    assert (f["server.address"], f["server.port"]) == ("127.0.0.1", port)
    s = second.attributes
    assert s["http.response.status_code"] == 200 and s["http.request.resend_count"] == 1
    assert "error.type" not in s and second.status.status_code == StatusCode.UNSET
    assert s["gen_ai.usage.input_tokens"] == r.usage.prompt_tokens and s["llmsvc.cost.nano_usd"] == r.cost_nano_usd
    assert first.end_time - first.start_time == round(r.attempts[0].duration_ms * 1e6)
    assert second.start_time - req.start_time == round(r.attempts[1].start_ms * 1e6)

    # --- metrics ---
    m = otel.metrics()
    base = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": MODEL}
    server = {"server.address": "127.0.0.1", "server.port": port, "gen_ai.response.model": r.response_model}
    expected_names = {"gen_ai.client.operation.duration", "gen_ai.client.token.usage", "llmsvc.client.attempts",
                      "llmsvc.client.gate.wait", "llmsvc.client.backoff", "llmsvc.client.cost"}  # fmt: skip
    if stream:
        expected_names.add("gen_ai.client.operation.time_to_first_chunk")
    assert set(m) == expected_names
    units = {"gen_ai.client.operation.duration": "s", "gen_ai.client.token.usage": "{token}", "llmsvc.client.attempts": "{attempt}",
             "llmsvc.client.gate.wait": "s", "llmsvc.client.backoff": "s", "llmsvc.client.cost": "{nano_usd}",
             "gen_ai.client.operation.time_to_first_chunk": "s"}  # fmt: skip
    for name in m:
        assert m[name].unit == units[name], name

    (d,) = points(m["gen_ai.client.operation.duration"])
    assert dict(d.attributes) == {**base, **server} and d.count == 1
    assert d.sum == pytest.approx(r.timing.total_ms / 1e3) and tuple(d.explicit_bounds) == DURATION_BUCKETS

    tokens = {p.attributes["gen_ai.token.type"]: p for p in points(m["gen_ai.client.token.usage"])}
    assert set(tokens) == {"input", "output"}
    assert dict(tokens["input"].attributes) == {**base, **server, "gen_ai.token.type": "input"}
    assert (tokens["input"].count, tokens["input"].sum) == (1, r.usage.prompt_tokens)
    assert (tokens["output"].count, tokens["output"].sum) == (1, r.usage.completion_tokens)
    assert tuple(tokens["input"].explicit_bounds) == TOKEN_BUCKETS

    attempts = {p.attributes["http.response.status_code"]: p for p in points(m["llmsvc.client.attempts"])}
    assert dict(attempts[429].attributes) == {**base, "http.response.status_code": 429, "error.type": "rate_limited"}
    assert dict(attempts[200].attributes) == {**base, "http.response.status_code": 200}
    assert attempts[429].value == 1 and attempts[200].value == 1 and len(attempts) == 2

    (g,) = points(m["llmsvc.client.gate.wait"])
    assert dict(g.attributes) == base and g.count == 2 and tuple(g.explicit_bounds) == WAIT_BUCKETS
    (b,) = points(m["llmsvc.client.backoff"])
    assert dict(b.attributes) == {**base, "llmsvc.backoff.source": "retry_after"} and b.count == 1
    assert b.sum == pytest.approx(r.attempts[0].backoff_ms / 1e3) and b.sum > 0
    (c,) = points(m["llmsvc.client.cost"])
    assert dict(c.attributes) == ({**base, "llmsvc.operation": operation} if operation else base)
    assert c.value == r.cost_nano_usd > 0
    if stream:
        (t,) = points(m["gen_ai.client.operation.time_to_first_chunk"])
        assert dict(t.attributes) == {**base, **server} and t.count == 1
        assert t.sum == pytest.approx(r.timing.first_token_ms / 1e3)
    return req


def traceparent_of(span: ReadableSpan) -> str:
    c = span.context
    return f"00-{c.trace_id:032x}-{c.span_id:016x}-{int(c.trace_flags):02x}"


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_retried_request_span_tree_metrics_and_traceparent(rl_emu: Emulator, kind: str) -> None:
    otel = Otel.new()
    r, parent = run_request(
        kind, otel, rl_emu.config(CANARY_KEY), otel.telemetry(capture_content=False),
        prompt=f"{CANARY_PROMPT} {kind} generate", max_output_tokens=12, operation="otel-test",
    )  # fmt: skip
    assert r.ok and len(r.attempts) == 2
    req = check_retried_request(otel, r, parent, rl_emu, stream=False, operation="otel-test")
    # The provider received the request span's trace context, on both attempts.
    stats = rl_emu.stats(CANARY_KEY)
    assert stats["last_traceparent"] == traceparent_of(req)
    assert r.trace_id == f"{req.context.trace_id:032x}"
    # The canary: neither the prompt nor the key in anything exported.
    dump = otel.dump()
    assert CANARY_KEY not in dump and CANARY_PROMPT not in dump
    assert "gen_ai.client.operation.duration" in dump  # the dump is not empty


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_stream_span_covers_it_with_time_to_first_chunk(rl_emu: Emulator, kind: str) -> None:
    otel = Otel.new()
    r, parent, n = run_stream(
        kind, otel, rl_emu.config(CANARY_KEY), otel.telemetry(),
        prompt=f"{CANARY_PROMPT} {kind} stream", max_output_tokens=12,
    )  # fmt: skip
    assert r.ok and n > 1 and len(r.attempts) == 2
    req = check_retried_request(otel, r, parent, rl_emu, stream=True, operation=None)
    assert rl_emu.stats(CANARY_KEY)["last_traceparent"] == traceparent_of(req)
    dump = otel.dump()
    assert CANARY_KEY not in dump and CANARY_PROMPT not in dump


@pytest.mark.parametrize("how", ["option", "env"])
def test_content_capture_records_the_conversation_never_the_key(
    rl_emu: Emulator, how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    otel = Otel.new()
    if how == "env":
        monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
        telemetry = otel.telemetry()
    else:
        monkeypatch.delenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", raising=False)
        telemetry = otel.telemetry(capture_content=True)
    prompt = f"{CANARY_PROMPT} captured by {how}"
    r, _ = run_request(
        "sync", otel, rl_emu.config(CANARY_KEY, headers={"x-extra": "header-canary"}), telemetry,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": prompt}], max_output_tokens=12,
    )  # fmt: skip
    a = the_request_span(otel).attributes
    assert json.loads(a["gen_ai.input.messages"]) == [
        {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},
        {"role": "user", "parts": [{"type": "text", "content": prompt}]},
    ]
    assert json.loads(a["gen_ai.output.messages"]) == [
        {"role": "assistant", "parts": [{"type": "text", "content": r.text}], "finish_reason": r.finish_reason}
    ]
    dump = otel.dump()
    assert prompt in dump
    assert CANARY_KEY not in dump and "header-canary" not in dump


def test_content_capture_of_tool_calls(rl_emu: Emulator) -> None:
    otel = Otel.new()
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]  # fmt: skip
    r, _ = run_request("sync", otel, rl_emu.config(CANARY_KEY), otel.telemetry(capture_content=True),
                       prompt="Use get_weather for Paris", tools=tools, max_output_tokens=50)  # fmt: skip
    assert r.tool_calls
    (out,) = json.loads(the_request_span(otel).attributes["gen_ai.output.messages"])
    calls = [p for p in out["parts"] if p["type"] == "tool_call"]
    assert [(c["id"], c["name"]) for c in calls] == [(t.id, t.name) for t in r.tool_calls]
    assert out["finish_reason"] == r.finish_reason


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_failed_request(rl_emu: Emulator, kind: str) -> None:
    otel = Otel.new()
    r, parent = run_request(kind, otel, rl_emu.config(INVALID_KEY), otel.telemetry(), prompt=f"auth fails {kind}")
    assert not r.ok and r.error is not None and r.error.kind == "auth"
    req = the_request_span(otel)
    assert req.parent is not None and req.parent.span_id == parent.get_span_context().span_id
    assert req.status.status_code == StatusCode.ERROR and req.status.description == r.error.message
    assert req.attributes["error.type"] == "auth" and req.attributes["llmsvc.attempts"] == 1
    assert "gen_ai.response.model" not in req.attributes
    (post,) = [s for s in otel.spans() if s.name == "POST"]
    assert post.attributes["http.response.status_code"] == 401 and post.attributes["error.type"] == "auth"
    assert post.status.status_code == StatusCode.ERROR
    m = otel.metrics()
    (d,) = points(m["gen_ai.client.operation.duration"])
    assert d.attributes["error.type"] == "auth" and d.count == 1
    assert "gen_ai.response.model" not in d.attributes
    (a,) = points(m["llmsvc.client.attempts"])
    assert a.attributes["error.type"] == "auth" and a.attributes["http.response.status_code"] == 401
    assert "llmsvc.client.cost" not in m and "gen_ai.client.token.usage" not in m
    assert INVALID_KEY not in otel.dump()


def test_a_wait_at_the_gates_gets_its_span(rl_emu: Emulator) -> None:
    otel = Otel.new()

    async def main() -> list[Result]:
        config = rl_emu.config("sk-otel-gates", limits={"concurrency": 1})
        async with AsyncClient(config, telemetry=otel.telemetry()) as c:  # the second waits for the first
            return await asyncio.gather(c.generate(prompt="gate 1", max_output_tokens=5), c.generate(prompt="gate 2", max_output_tokens=5))

    results = asyncio.run(main())
    waited = max(results, key=lambda r: r.timing.gate_wait_ms or 0)
    assert waited.timing.gate_wait_ms is not None and waited.timing.gate_wait_ms >= 1
    gates = [s for s in otel.spans() if s.name == "llmsvc.gate.wait"]
    assert gates and all(g.kind == SpanKind.INTERNAL for g in gates)
    requests = {s.context.span_id: s for s in otel.spans() if s.name == f"chat {MODEL}"}
    for g in gates:
        req = requests[g.parent.span_id]  # type: ignore[union-attr]
        i = g.attributes["llmsvc.attempt"]
        (post,) = [s for s in otel.spans() if s.name == "POST" and s.parent.span_id == req.context.span_id  # type: ignore[union-attr]
                   and s.attributes.get("http.request.resend_count", 0) == i]  # fmt: skip
        assert g.end_time == post.start_time and g.end_time - g.start_time >= 1_000_000
        assert (g.end_time - g.start_time) / 1e9 == pytest.approx(post.attributes["llmsvc.gate.wait"], abs=1e-9)
    (g,) = points(otel.metrics()["llmsvc.client.gate.wait"])
    assert g.count == sum(len(r.attempts) for r in results) and g.sum >= waited.timing.gate_wait_ms / 1e3 - 1e-9


def test_refused_request_ends_its_span(rl_emu: Emulator) -> None:
    otel = Otel.new()
    with Client(rl_emu.config(CANARY_KEY), telemetry=otel.telemetry()) as c:
        with pytest.raises(llmsvc.StatusError):
            c.generate(prompt="x", temperature="hot")
    (span,) = otel.spans()
    assert span.status.status_code == StatusCode.ERROR and span.attributes["error.type"] == "LLMSVC_ESCHEMA"
    assert otel.metrics() == {}


def test_request_attributes_from_the_request(rl_emu: Emulator) -> None:
    otel = Otel.new()
    run_request(
        "sync", otel, rl_emu.config(CANARY_KEY), otel.telemetry(),
        prompt="params as JSON", max_tokens=60, temperature=0.5, top_p=0.9, frequency_penalty=0.1, presence_penalty=0.2,
        seed=42, stop=["END"], n=2, response_format={"type": "json_object"},
    )  # fmt: skip
    a = the_request_span(otel).attributes
    assert a["gen_ai.request.max_tokens"] == 60 and a["gen_ai.request.temperature"] == 0.5
    assert a["gen_ai.request.top_p"] == 0.9 and a["gen_ai.request.frequency_penalty"] == 0.1
    assert a["gen_ai.request.presence_penalty"] == 0.2 and a["gen_ai.request.seed"] == 42
    assert a["gen_ai.request.stop_sequences"] == ("END",) and a["gen_ai.request.choice.count"] == 2
    assert a["gen_ai.output.type"] == "json" and a["gen_ai.request.stream"] is False
    assert len(a["gen_ai.response.finish_reasons"]) == 2


def test_a_given_traceparent_is_the_parent_without_a_current_span(rl_emu: Emulator) -> None:
    otel = Otel.new()
    given = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    key = "sk-otel-traceparent"
    with Client(rl_emu.config(key), telemetry=otel.telemetry()) as c:
        c.generate(prompt="remote parent", max_output_tokens=5, traceparent=given, tracestate="vendor=1")
    req = the_request_span(otel)
    assert f"{req.context.trace_id:032x}" == "0af7651916cd43dd8448eb211c80319c"
    assert req.parent is not None and req.parent.is_remote and f"{req.parent.span_id:016x}" == "b7ad6b7169203331"
    assert str(req.context.trace_state.to_header()) == "vendor=1"
    # The request named its own traceparent: the provider gets that one, unchanged.
    stats = rl_emu.stats(key)
    assert stats["last_traceparent"] == given and stats["last_tracestate"] == "vendor=1"


def test_a_sampled_out_traceparent_records_no_span(rl_emu: Emulator) -> None:
    otel = Otel.new()
    with Client(rl_emu.config("sk-otel-unsampled"), telemetry=otel.telemetry()) as c:
        c.generate(prompt="not sampled", max_output_tokens=5, traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00")
    assert otel.spans() == ()
    assert "gen_ai.client.operation.duration" in otel.metrics()  # metrics do not depend on sampling


@pytest.mark.asyncio
async def test_cancelled_requests_end_their_spans(slow_emu: Emulator) -> None:
    otel = Otel.new()
    async with AsyncClient(slow_emu.config("sk-otel-cancel"), telemetry=otel.telemetry()) as c:
        task = asyncio.ensure_future(c.generate(prompt="cancelled"))
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        s = c.stream(prompt="abandoned")
        await asyncio.sleep(0.2)
        await s.aclose()
        for _ in range(100):  # the completions come through the loop, a moment later
            if len([s for s in otel.spans() if s.name == f"chat {MODEL}"]) == 2:
                break
            await asyncio.sleep(0.05)
    spans = [s for s in otel.spans() if s.name == f"chat {MODEL}"]
    assert len(spans) == 2 and {s.name for s in otel.spans()} <= {f"chat {MODEL}", "POST", "llmsvc.gate.wait"}
    for s in spans:
        assert s.status.status_code == StatusCode.ERROR and s.attributes["error.type"] == "cancelled"
    assert {s.attributes["gen_ai.request.stream"] for s in spans} == {False, True}
    (d,) = points(otel.metrics()["gen_ai.client.operation.duration"])
    assert d.count == 2 and d.attributes["error.type"] == "cancelled"


@pytest.fixture(scope="module")
def global_otel() -> Otel:
    """The global providers, set once for the process (this module alone uses them); each
    reading of their metrics has what was recorded since the last."""
    otel = Otel.new(delta=True)
    trace.set_tracer_provider(otel.tracer_provider)
    metrics.set_meter_provider(otel.meter_provider)
    if trace.get_tracer_provider() is not otel.tracer_provider:
        pytest.skip("global OpenTelemetry providers were set already")
    return otel


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_telemetry_off_produces_nothing(rl_emu: Emulator, global_otel: Otel, kind: str) -> None:
    global_otel.exporter.clear()
    global_otel.metrics()
    key = f"sk-otel-off-{kind}"
    r, _ = run_request(kind, global_otel, rl_emu.config(key), None, prompt="off", max_output_tokens=5)
    assert r.ok
    assert [s.name for s in global_otel.spans()] == ["test-parent"]  # the test's own span only
    assert global_otel.metrics() == {}
    assert rl_emu.stats(key)["traced"] == 0  # and no traceparent was added to the request
    # telemetry=True reports through those same global providers.
    global_otel.exporter.clear()
    run_request(kind, global_otel, rl_emu.config(key), True, prompt="on", max_output_tokens=5)
    assert the_request_span(global_otel).attributes["gen_ai.provider.name"] == "openai"
    assert "gen_ai.client.operation.duration" in global_otel.metrics()


def test_the_cores_own_exporter_stays_off(rl_emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """The OTEL_* variables that turn the core's OTLP exporter on do not, with the adapter on:
    a request is reported once."""
    try:
        Client({"telemetry": {"otlp": {"enabled": False}}}).close()
    except llmsvc.StatusError:
        pytest.skip("this libllmsvc has no OTLP exporter of its own (telemetry.otlp)")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
    otel = Otel.new()
    with Client(rl_emu.config("sk-otel-env")) as c:
        assert "otlp" in c.metrics()  # the variables alone turn it on
    config = rl_emu.config("sk-otel-env")
    for cfg in (config, json.dumps(config)):
        with Client(cfg, telemetry=otel.telemetry()) as c:
            assert "otlp" not in c.metrics()
    assert "telemetry" not in config  # the caller's configuration is left as it was
    with Client({**config, "telemetry": {"otlp": {}}}, telemetry=otel.telemetry()) as c:
        assert "otlp" in c.metrics()  # one the configuration asks for is kept


def test_the_package_works_without_opentelemetry() -> None:
    code = """
import sys

class Blocked:
    def find_spec(self, name, path=None, target=None):
        if name == "opentelemetry" or name.startswith("opentelemetry."):
            raise ImportError("no module named " + name)

sys.meta_path.insert(0, Blocked())
import llmsvc
config = {"model": "m", "base_url": "http://127.0.0.1:9/v1", "api_key": "k"}
llmsvc.Client(config).close()
assert not [m for m in sys.modules if m.startswith("opentelemetry")]
try:
    llmsvc.Client(config, telemetry=True)
except ImportError as e:
    print("ImportError:", e)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=os.environ.copy())
    assert out.returncode == 0, out.stderr
    assert "ImportError: llmsvc: telemetry needs opentelemetry-api (pip install 'llmsvc[otel]')" in out.stdout
