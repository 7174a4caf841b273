"""A tool loop: the model asks for tools, the program runs them and sends the results
back, until the model answers in text. Each round is streamed as typed pieces.

    OPENAI_BASE_URL=http://127.0.0.1:PORT/v1 OPENAI_API_KEY=sk-test python examples/tool_loop.py [PROVIDER]

PROVIDER is openai_chat (default), openai_responses, anthropic (then set
ANTHROPIC_BASE_URL and ANTHROPIC_API_KEY) or ollama (OLLAMA_HOST).
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import llmsvc

TOOLS: list[llmsvc.Tool] = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Current weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}},
]  # fmt: skip


def get_weather(city: str = "?") -> str:
    return f"18 C and clear in {city}"


async def main(provider: str) -> None:
    model = {"anthropic": "claude-3-5-haiku-latest", "ollama": "llama3.2"}.get(provider, "gpt-4o-mini")
    async with llmsvc.AsyncClient({"provider": provider, "model": model}) as client:  # type: ignore[typeddict-item]
        messages: list[Any] = [{"role": "user", "content": "What is the weather in Paris? Use get_weather."}]
        for round_ in range(1, 5):
            stream = client.stream(messages=messages, tools=TOOLS, max_output_tokens=200)
            async for piece in stream:
                if piece.kind == "tool_call":
                    print(f"[round {round_}] calling {piece.name} ({piece.call_id}) ", end="")
                elif piece.kind == "tool_arguments":
                    print(piece.text, end="")
                else:
                    print(piece.text, end="")
            print()
            result = await stream.result()
            if not result.tool_calls:
                print(f"answered after {round_} round(s)")
                return
            messages.append({"role": "assistant", "content": None,
                             "tool_calls": [c.to_message_call() for c in result.tool_calls]})  # fmt: skip
            for call in result.tool_calls:
                args = call.arguments_json or {}
                output = get_weather(**args) if call.name == "get_weather" else json.dumps({"error": "unknown tool"})
                messages.append({"role": "tool", "tool_call_id": call.id, "content": output})


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "openai_chat"))
