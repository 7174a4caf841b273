"""1,000 requests from asyncio through the client's limits: they are paced by the core's
gates (no 429s), and the program does nothing but await them.

    OPENAI_BASE_URL=http://127.0.0.1:PORT/v1 OPENAI_API_KEY=sk-test python examples/async_batch.py [RPM]
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter

import llmsvc


async def main(rpm: int) -> None:
    config: llmsvc.Config = {"model": "gpt-4o-mini", "limits": {"rpm": rpm, "tpm": 2_000_000, "concurrency": 64}}
    async with llmsvc.AsyncClient(config) as client:
        start = time.monotonic()
        outcomes = await asyncio.gather(
            *(client.generate(prompt=f"Question {i}: say a number.", max_output_tokens=8, operation="batch")
              for i in range(1000)),
            return_exceptions=True,
        )  # fmt: skip
        elapsed = time.monotonic() - start
        kinds = Counter("ok" if isinstance(o, llmsvc.Result) else getattr(o, "kind", type(o).__name__) for o in outcomes)
        m = client.metrics()
        print(f"1000 requests in {elapsed:.2f} s: {dict(kinds)}")
        print(f"attempts {m['attempts']['total']}, 429s {m['attempts']['errors_by_kind'].get('rate_limited', 0)}, "
              f"gate waits {m['gates']['waits']}")
        print(f"tokens {m['usage']['total']['total_tokens']}, cost {m['usage']['total']['cost_nano_usd']} nano-USD")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 30_000))
