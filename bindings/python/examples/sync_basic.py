"""Several requests with the synchronous Client: text, usage and cost, errors by kind.

    $LLMSVC_EMULATOR --port 0      # prints: listening on 127.0.0.1:PORT
    OPENAI_BASE_URL=http://127.0.0.1:PORT/v1 OPENAI_API_KEY=sk-test python examples/sync_basic.py
"""

from __future__ import annotations

import llmsvc


def main() -> None:
    with llmsvc.Client({"model": "gpt-4o-mini", "limits": {"rpm": 500, "tpm": 200_000}}) as client:
        for prompt in ["Say hi", "Name three primary colours."]:
            try:
                r = client.generate(prompt=prompt, max_output_tokens=30, operation="demo")
            except llmsvc.RateLimited as e:
                print(f"rate limited after {len(e.attempts)} attempts; retry after {e.retry_after_ms} ms")
                continue
            except llmsvc.RequestError as e:
                print(f"{e.kind}: {e.provider_message or e.message}")
                continue
            cost = "unknown" if r.cost_usd is None else f"${r.cost_usd:.6f}"
            print(f"{r.text!r}\n  tokens {r.usage.total_tokens if r.usage else '?'}, cost {cost}, "
                  f"{len(r.attempts)} attempt(s), {r.timing.total_ms:.1f} ms")
        print(client.metrics()["usage"]["total"])


if __name__ == "__main__":
    main()
