"""Client-side cost of AsyncClient against the official `openai` package (AsyncOpenAI) and
LiteLLM (litellm.acompletion), against the same emulator.

    python bench/bench.py once  --client llmsvc|openai|litellm --url URL --n N [--concurrency 64] [--telemetry off|api|sdk]
    python bench/bench.py limit --client llmsvc|litellm --url URL --n N --rpm R --window-ms W

`once` sends N requests (after a warm-up) with at most `concurrency` in flight and prints
the process CPU time, the CPU time of the thread running the event loop (for llmsvc: the
binding and the core's submit, without the engine thread) and the wall time they took,
as JSON; `--label` names the row (a baseline build of llmsvc, say). `limit` sends N requests with
the emulator's limits configured on the client's side too and prints the wall time and the
emulator's 429 count. bench/run.sh runs the rounds and takes the medians.

`--telemetry` (llmsvc only) turns on llmsvc.otel: `api` with the OpenTelemetry API alone
(no SDK: its no-op tracer and meter), `sdk` with the SDK recording every span (a batch
span processor to an exporter that drops them) and every metric (a reader never
collected); bench/otel.sh compares them with `off`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import urllib.request
from collections.abc import Awaitable, Callable
from typing import Any

MESSAGES = [{"role": "user", "content": "Say a number."}]
MAX_TOKENS = 16


def make_telemetry(mode: str) -> Any:
    if mode == "off":
        return None
    from llmsvc.otel import Telemetry

    if mode == "api":  # nothing configured: the API's no-op providers
        return Telemetry()
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class Drop(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    tp = TracerProvider()
    tp.add_span_processor(BatchSpanProcessor(Drop()))
    return Telemetry(tp, MeterProvider(metric_readers=[InMemoryMetricReader()]))


def make_llmsvc(
    url: str, key: str, limits: dict[str, Any] | None = None, telemetry: str = "off"
) -> tuple[Callable[[], Awaitable[Any]], Any]:
    import llmsvc

    client = llmsvc.AsyncClient(
        {"provider": "openai_chat", "base_url": url + "/v1", "api_key": key, "model": "gpt-4o-mini", **({"limits": limits} if limits else {})},
        **({"telemetry": make_telemetry(telemetry)} if telemetry != "off" else {}),  # a baseline build has no such argument
    )

    async def call() -> Any:
        r = await client.generate(messages=MESSAGES, max_output_tokens=MAX_TOKENS)
        return r.text

    return call, client


def make_openai(url: str, key: str) -> tuple[Callable[[], Awaitable[Any]], Any]:
    import openai

    client = openai.AsyncOpenAI(base_url=url + "/v1", api_key=key)

    async def call() -> Any:
        r = await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_completion_tokens=MAX_TOKENS)  # type: ignore[arg-type]
        return r.choices[0].message.content

    return call, client


def make_litellm(url: str, key: str, rpm: int | None = None) -> tuple[Callable[[], Awaitable[Any]], Any]:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no download of the price map
    import litellm

    litellm.telemetry = False
    litellm.suppress_debug_info = True
    if rpm is None:

        async def call() -> Any:
            r = await litellm.acompletion(
                model="openai/gpt-4o-mini", api_base=url + "/v1", api_key=key, messages=MESSAGES, max_tokens=MAX_TOKENS
            )
            return r.choices[0].message.content

        return call, None
    # Limit-bound: LiteLLM's own limit enforcement is its Router with a deployment's rpm.
    router = litellm.Router(
        model_list=[{
            "model_name": "gpt-4o-mini",
            "litellm_params": {"model": "openai/gpt-4o-mini", "api_base": url + "/v1", "api_key": key, "rpm": rpm},
        }],
        routing_strategy="usage-based-routing-v2",
        num_retries=5,
        retry_after=1,
    )  # fmt: skip

    async def routed() -> Any:
        r = await router.acompletion(model="gpt-4o-mini", messages=MESSAGES, max_tokens=MAX_TOKENS)
        return r.choices[0].message.content

    return routed, router


async def run(call: Callable[[], Awaitable[Any]], n: int, concurrency: int) -> tuple[int, int]:
    sem = asyncio.Semaphore(concurrency)
    ok = failed = 0

    async def one() -> None:
        nonlocal ok, failed
        async with sem:
            try:
                await call()
                ok += 1
            except Exception:
                failed += 1

    await asyncio.gather(*(one() for _ in range(n)))
    return ok, failed


def stats(url: str, key: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/_emulator/stats?key={key}", timeout=10) as r:
        return json.load(r)  # type: ignore[no-any-return]


async def once(args: argparse.Namespace) -> dict[str, Any]:
    key = f"sk-bench-{args.client}-{os.getpid()}"
    if args.client == "llmsvc":
        call, client = make_llmsvc(args.url, key, telemetry=args.telemetry)
    else:
        call, client = {"openai": make_openai, "litellm": make_litellm}[args.client](args.url, key)
    await run(call, min(200, args.n), args.concurrency)  # warm-up: connections, imports, caches
    cpu0, loop0, wall0 = time.process_time(), time.thread_time(), time.perf_counter()
    ok, failed = await run(call, args.n, args.concurrency)
    cpu, loop, wall = time.process_time() - cpu0, time.thread_time() - loop0, time.perf_counter() - wall0
    if args.client == "llmsvc":
        await client.close()
    return {"client": args.label or args.client, "n": args.n, "ok": ok, "failed": failed,
            "cpu_us_per_request": cpu / args.n * 1e6, "loop_thread_cpu_us_per_request": loop / args.n * 1e6,
            "requests_per_s": args.n / wall}  # fmt: skip


async def limit(args: argparse.Namespace) -> dict[str, Any]:
    key = f"sk-limit-{args.client}-{os.getpid()}"
    if args.client == "llmsvc":
        call, client = make_llmsvc(args.url, key, {"rpm": args.rpm, "window_ms": args.window_ms, "concurrency": args.concurrency})
    else:
        call, client = make_litellm(args.url, key, rpm=args.rpm)  # the Router counts per minute
    wall0 = time.perf_counter()
    ok, failed = await run(call, args.n, args.concurrency)
    wall = time.perf_counter() - wall0
    if args.client == "llmsvc":
        await client.close()
    allowance = args.rpm * args.window_ms // 60000
    bound = (-(-args.n // allowance) - 1) * args.window_ms / 1000  # the last window's start
    s = stats(args.url, key)
    return {"client": args.client, "n": args.n, "ok": ok, "failed": failed, "seconds": wall, "limit_bound_seconds": bound,
            "http_429": s.get("rate_limited", 0), "received": s.get("received", 0)}  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["once", "limit"])
    p.add_argument("--client", required=True, choices=["llmsvc", "openai", "litellm"])
    p.add_argument("--url", required=True)
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--rpm", type=int, default=0)
    p.add_argument("--window-ms", type=int, default=60000)
    p.add_argument("--label", default="")
    p.add_argument("--telemetry", choices=["off", "api", "sdk"], default="off")
    args = p.parse_args()
    out = asyncio.run(once(args) if args.mode == "once" else limit(args))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
