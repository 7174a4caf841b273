"""Results read from the typed getters: every member equals what the result document says,
the document is parsed only when asked (or when the result has what only it holds), and
replies the emulator does not make come through whole (a fake provider below)."""

from __future__ import annotations

import dataclasses
import json
import pickle
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

import llmsvc
from llmsvc import Client, Result, errors
from llmsvc._native import KIND_NAMES

from .conftest import Emulator


def assert_matches_document(r: Result) -> None:
    """Each member of `r` is the result document's (docs/schema.md, "Result")."""
    d = r.raw
    assert (r.id, r.ok, r.text, r.model, r.operation) == (d["id"], d["ok"], d.get("text", ""), d["model"], d["operation"])
    for name in ("finish_reason", "response_id", "response_model", "trace_id", "deployment", "service_tier", "thinking"):
        assert getattr(r, name) == (d.get(name) or None), name
    for name in ("json", "metadata", "logprobs", "cache", "thinking_signature"):
        assert getattr(r, name) == d.get(name), name
    assert (r.cost_nano_usd, r.usage_unreadable) == (d["cost_nano_usd"], d.get("usage_unreadable", False))
    u = d["usage"]
    assert (r.usage is None) == (u is None)
    if r.usage is not None:
        assert r.usage.estimated == u.get("estimated", False)
        for name in ("prompt_tokens", "completion_tokens", "total_tokens", "cached_tokens", "cache_write_tokens",
                     "cache_write_1h_tokens", "reasoning_tokens"):  # fmt: skip
            assert getattr(r.usage, name) == u.get(name, 0), name
    # Gate waits, the provider and the server are read from the typed getters alone (0.4).
    assert dataclasses.replace(r.timing, gate_wait_ms=None) == llmsvc.Timing(**d["timing"])
    assert len(r.attempts) == len(d["attempts"])
    for a, da in zip(r.attempts, d["attempts"]):
        assert dataclasses.replace(a, gate_wait_ms=None) == llmsvc.Attempt(**{"backoff_ms": None, **da}), (a, da)
    if llmsvc._native.HAS_04:
        assert r.timing.gate_wait_ms is not None and r.timing.gate_wait_ms >= 0
        assert all(a.gate_wait_ms is not None and a.gate_wait_ms >= 0 for a in r.attempts)
        assert r.timing.gate_wait_ms == pytest.approx(sum(a.gate_wait_ms or 0 for a in r.attempts))
        assert r.provider in ("openai", "anthropic", "azure.ai.openai", "ollama")
        assert r.server_address == "127.0.0.1" and r.server_port is not None and r.server_port > 0
    assert [(t.id, t.name, t.arguments, t.arguments_json, t.arguments_error, t.unknown_tool) for t in r.tool_calls] == [
        (t["id"], t["name"], t["arguments"], t.get("arguments_json"), t.get("arguments_error"), t.get("unknown_tool", False))
        for t in d.get("tool_calls", [])
    ]
    assert [(c.index, c.text, c.finish_reason, len(c.tool_calls), c.logprobs) for c in r.choices] == [
        (c["index"], c["text"], c.get("finish_reason"), len(c.get("tool_calls", [])), c.get("logprobs")) for c in d.get("choices", [])
    ]
    e = d.get("error")
    assert (r.error is None) == (e is None)
    if e is not None:
        assert r.error == llmsvc.ErrorInfo(**e)


def outcome(c: Client, **request: Any) -> Result:
    try:
        return c.generate(**request)
    except llmsvc.RequestError as e:
        assert isinstance(e, errors.BY_KIND[KIND_NAMES.index(e.kind)])
        return e.result


TOOLS: list[Any] = [{"type": "function", "function": {
    "name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]  # fmt: skip


@pytest.mark.parametrize("provider", ["openai_chat", "openai_responses", "anthropic", "ollama"])
def test_results_equal_their_documents(emu: Emulator, provider: str) -> None:
    with Client(emu.config("sk-typed", provider)) as c:
        requests: list[dict[str, Any]] = [
            {"prompt": "hi", "max_output_tokens": 16, "metadata": {"row": 1}, "trace_id": "t-1", "operation": "op"},
            {"prompt": "Use get_weather", "tools": TOOLS, "max_output_tokens": 50},
            {"prompt": "A pet", "json_schema": {"name": "pet", "schema": {"type": "object", "properties": {"name": {"type": "string"}}}}},
        ]
        for request in requests:
            assert_matches_document(outcome(c, **request))
        s = c.stream(prompt="story", max_output_tokens=20)
        list(s)
        assert_matches_document(s.result)
    with Client(emu.config("sk-invalid", provider)) as c:
        assert_matches_document(outcome(c, prompt="x"))


def test_more_results_equal_their_documents(emu: Emulator) -> None:
    requests: list[dict[str, Any]] = [
        {"prompt": "hi", "n": 3}, {"prompt": "Use get_weather", "n": 2, "tools": TOOLS},
        {"prompt": "hi", "logprobs": True, "top_logprobs": 2}, {"prompt": "cached", "max_output_tokens": 3},
        {"prompt": "cached", "max_output_tokens": 3}, {"prompt": "x", "timeout_ms": 0},
    ]  # fmt: skip
    with Client(emu.config("sk-typed-more", cache={"policy": "all", "memory": True})) as c:
        for request in requests:
            assert_matches_document(outcome(c, **request))
    with Client(emu.config("sk-quota")) as c:
        assert_matches_document(outcome(c, prompt="x"))
    with Client(emu.config("sk-typed-budget", budgets=[{"name": "tiny", "max_tokens": 10}])) as c:
        assert_matches_document(outcome(c, prompt="x" * 100, max_output_tokens=50))


def test_the_document_is_parsed_only_when_asked(emu: Emulator) -> None:
    with Client(emu.config("sk-lazy")) as c:
        r = c.generate(prompt="x", max_output_tokens=2)
        assert r._raw is None  # built without parsing
        assert r.metadata is None and r.logprobs is None and r.json is None and r.cache is None
        assert r._raw is None  # the document has none of them: still not parsed
        assert r.raw["id"] == r.id and json.loads(r.raw_json) == r.raw
        m = c.generate(prompt="x", max_output_tokens=2, metadata={"row": 7, "note": '"metadata":'})
        assert m.metadata == {"row": 7, "note": '"metadata":'}
        copy = pickle.loads(pickle.dumps(m))
        assert copy == m and copy.metadata == m.metadata and copy.raw == m.raw


def test_every_kind_the_library_names_has_its_class() -> None:
    for k, name in enumerate(KIND_NAMES):
        if k:
            assert errors.BY_KIND[k].kind == name, name


class _Fake(BaseHTTPRequestHandler):
    """Replies the emulator does not make."""

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802
        prompt = self.rfile.read(int(self.headers["content-length"])).decode()
        code, out = 200, {"id": "c1", "model": "gpt-x", "usage": {"prompt_tokens": 3, "completion_tokens": 4}, "choices": [
            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "a\u0000b \u00e9"}}]}  # fmt: skip
        if self.path.endswith("/messages"):
            out = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x", "stop_reason": "end_turn",
                   "content": [{"type": "text", "text": "ok"}],
                   "usage": {"input_tokens": 10, "output_tokens": 2, "cache_creation_input_tokens": 7, "cache_read_input_tokens": 0,
                             "cache_creation": {"ephemeral_5m_input_tokens": 3, "ephemeral_1h_input_tokens": 4}}}  # fmt: skip
        elif "param400" in prompt:
            code, out = 400, {"error": {"message": "bad temperature", "type": "invalid_request_error", "param": "temperature", "code": "bad"}}
        elif "badargs" in prompt:
            calls = [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{not json"}},
                     {"id": "call_2", "type": "function", "function": {"name": "nope", "arguments": "[1]"}}]  # fmt: skip
            out["choices"] = [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": None, "tool_calls": calls}}]
        data = json.dumps(out).encode()
        self.send_response(code)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture(scope="module")
def fake() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Fake)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def test_what_only_the_document_holds_and_text_with_a_nul(fake: str) -> None:
    with Client({"provider": "anthropic", "base_url": fake, "api_key": "k", "model": "claude-x"}) as c:
        r = c.generate(prompt="x", max_output_tokens=5)
        assert r.usage is not None and (r.usage.cache_write_tokens, r.usage.cache_write_1h_tokens) == (7, 4)
        assert_matches_document(r)
    with Client({"provider": "openai_chat", "base_url": fake, "api_key": "k", "model": "gpt-x"}) as c:
        r = c.generate(prompt="nul")
        assert r.text == "a\x00b \u00e9"
        assert_matches_document(r)
        with pytest.raises(llmsvc.BadRequest) as e:
            c.generate(prompt="param400")
        assert e.value.result.error is not None and e.value.result.error.provider_param == "temperature"
        assert_matches_document(e.value.result)
        r = c.generate(prompt="badargs", tools=TOOLS)
        assert [(t.arguments_json, t.unknown_tool, bool(t.arguments_error)) for t in r.tool_calls] == [(None, False, True), (None, True, True)]
        assert_matches_document(r)
