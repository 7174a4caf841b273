"""Tools on the four providers: a round trip, streamed calls assembled from typed pieces
equal to the completion's, n with choices, JSON mode, logprobs, and refused tool input."""

from __future__ import annotations

import json
from typing import Any

import pytest

from llmsvc import AsyncClient, Client, Piece, StatusError, ToolCall

from .conftest import Emulator

PROVIDERS = ["openai_chat", "openai_responses", "anthropic", "ollama"]
TOOLS: list[Any] = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
                       "additionalProperties": False}}},
    {"type": "function", "function": {
        "name": "get_time", "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]}}},
]  # fmt: skip


def assemble(pieces: list[Piece]) -> list[tuple[str, str, str]]:
    calls: list[list[str]] = []
    for p in pieces:
        if p.kind == "tool_call":
            assert p.index == len(calls) and p.text == ""
            calls.append([p.call_id or "", p.name or "", ""])
        elif p.kind == "tool_arguments":
            assert p.call_id is None and p.name is None
            calls[p.index][2] += p.text
    return [(c[0], c[1], c[2]) for c in calls]


@pytest.mark.asyncio
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_tool_round_trip(emu: Emulator, provider: str) -> None:
    async with AsyncClient(emu.config("sk-tools", provider)) as c:
        messages: list[Any] = [{"role": "user", "content": "What is the weather in Paris? Use get_weather."}]
        r = await c.generate(messages=messages, tools=TOOLS, max_output_tokens=50)
        assert r.finish_reason == "tool_calls" and len(r.tool_calls) == 1
        call = r.tool_calls[0]
        assert isinstance(call, ToolCall) and call.name == "get_weather"
        assert call.arguments_json == json.loads(call.arguments) and "city" in call.arguments_json
        messages += [
            {"role": "assistant", "content": None, "tool_calls": [call.to_message_call()]},
            {"role": "tool", "tool_call_id": call.id, "content": "18 C, clear"},
        ]
        final = await c.generate(messages=messages, tools=TOOLS, max_output_tokens=50)
        assert final.tool_calls == () and final.text == "Tool results: 18 C, clear"


@pytest.mark.asyncio
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_streamed_tool_calls_equal_the_completion(emu: Emulator, provider: str) -> None:
    async with AsyncClient(emu.config("sk-tools", provider)) as c:
        s = c.stream(prompt="Use get_weather and get_time, please.", tools=TOOLS, max_output_tokens=50)
        pieces = [p async for p in s]
        r = await s.result()
        assert [(t.id, t.name, t.arguments) for t in r.tool_calls] == assemble(pieces)
        assert {t.name for t in r.tool_calls} == {"get_weather", "get_time"}


def test_sync_stream_tool_pieces(emu: Emulator) -> None:
    with Client(emu.config("sk-tools")) as c:
        s = c.stream(prompt="get_weather please", tools=TOOLS, tool_choice="required")
        pieces = list(s)
        assert [(t.id, t.name, t.arguments) for t in s.result.tool_calls] == assemble(pieces)
        compat = c.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "get_time now"}], tools=TOOLS
        )
        msg = compat.choices[0].message
        assert compat.choices[0].finish_reason == "tool_calls" and msg.content is None
        assert msg.tool_calls and msg.tool_calls[0].function.name == "get_time"
        assert msg.model_dump()["tool_calls"][0]["type"] == "function"


def test_n_json_mode_and_logprobs(emu: Emulator) -> None:
    with Client(emu.config("sk-more")) as c:
        r = c.generate(prompt="say hi", n=3)
        assert [ch.index for ch in r.choices] == [0, 1, 2] and r.text == r.choices[0].text
        j = c.generate(prompt="Answer in JSON: a colour.", response_format={"type": "json_object"})
        assert isinstance(j.json, dict) and j.json == json.loads(j.text)
        lp = c.generate(prompt="say hi", logprobs=True, top_logprobs=2)
        assert isinstance(lp.logprobs, list) and len(lp.logprobs[0]["top_logprobs"]) == 2


def test_tool_input_refused_naming_the_field() -> None:
    with Client({"base_url": "http://127.0.0.1:9/v1", "api_key": "sk-x", "model": "gpt-4o-mini"}) as c:
        with pytest.raises(StatusError) as e:
            c.generate(tools=TOOLS, messages=[
                {"role": "user", "content": "Weather?"}, {"role": "tool", "tool_call_id": "call_9", "content": "18 C"}])  # fmt: skip
        assert e.value.code == "LLMSVC_ESCHEMA" and e.value.field == "request.messages[1].tool_call_id"
        with pytest.raises(StatusError) as e:
            c.stream(prompt="x", tools=[{"type": "function", "function": {"name": "bad name"}}])
        assert e.value.op == "stream" and e.value.field is not None and e.value.field.startswith("request.tools[0]")
        assert c.metrics()["requests"]["submitted"] == 0
