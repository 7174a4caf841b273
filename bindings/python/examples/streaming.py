"""A streamed reply printed as it arrives, sync and asyncio; Ctrl-C cancels the request.

    OPENAI_BASE_URL=http://127.0.0.1:PORT/v1 OPENAI_API_KEY=sk-test python examples/streaming.py
"""

from __future__ import annotations

import asyncio

import llmsvc

CONFIG: llmsvc.Config = {"model": "gpt-4o-mini"}


def sync_stream() -> None:
    with llmsvc.Client(CONFIG) as client, client.stream(prompt="Tell a short story", max_output_tokens=60) as stream:
        for piece in stream:
            print(piece.text, end="", flush=True)
        print(f"\n[first token after {stream.result.timing.first_token_ms:.2f} ms]")


async def async_stream() -> None:
    async with llmsvc.AsyncClient(CONFIG) as client:
        stream = client.stream(prompt="Tell another story", max_output_tokens=60)
        async for piece in stream:
            print(piece.text, end="", flush=True)
        r = await stream.result()
        print(f"\n[{r.usage.completion_tokens if r.usage else '?'} tokens]")


if __name__ == "__main__":
    sync_stream()
    asyncio.run(async_stream())
