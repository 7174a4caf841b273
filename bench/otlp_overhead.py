#!/usr/bin/env python3
"""CPU per request that the core's OTLP exporter adds: `llmsvc run` (whole process, the
exporter's own thread included) with telemetry off and on, against the project's emulator,
which also receives the exports and checks each against the OTLP definitions.

  bench/otlp_overhead.py [--rounds R] [--requests N] [--inflight K] [--stream]
                         [--capture] [--llmsvc PATH]

Rounds alternate off / on; the table holds the median CPU (user + system) per request of
each and the difference. "on" is OTEL_EXPORTER_OTLP_ENDPOINT + OTEL_EXPORTER_OTLP_PROTOCOL=
http/json, spans every 5 s (the default) and metrics at the end; `--capture` also records
prompts and replies.
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from event_loop import ROOT, count_ok, llmsvc_args, run_measured, start_emulator, write_input  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--inflight", type=int, default=64)
    ap.add_argument("--latency-ms", type=int, default=0)
    ap.add_argument("--stream", action="store_true")
    ap.add_argument("--capture", action="store_true")
    build = os.environ.get("BUILD_DIR", os.path.join(ROOT, "build/release"))
    ap.add_argument("--llmsvc", default=os.path.join(build, "llmsvc"))
    ap.add_argument("--emulator", default=os.path.join(build, "llmsvc-emulator"))
    a = ap.parse_args()

    with tempfile.TemporaryDirectory() as work:
        write_input(os.path.join(work, "in.jsonl"), a.requests, a.stream)
        emu, port = start_emulator(a.emulator, work, a.latency_ms, 0 if a.stream else None)
        try:
            base = f"http://127.0.0.1:{port}"
            env_off = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
            env_off["OPENAI_API_KEY"] = "sk-bench"
            env_on = dict(env_off, OTEL_EXPORTER_OTLP_ENDPOINT=base,
                          OTEL_EXPORTER_OTLP_PROTOCOL="http/json", OTEL_SERVICE_NAME="bench")
            if a.capture:
                env_on["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = "true"
            cpu = {"off": [], "on": []}
            for r in range(a.rounds):
                for name, env in (("off", env_off), ("on", env_on)) if r % 2 == 0 else \
                        (("on", env_on), ("off", env_off)):
                    args, out = llmsvc_args(a.llmsvc, work, port, a.requests, a.inflight)
                    wall, used, rss, code = run_measured(args, env)
                    ok = count_ok(out) if code == 0 else 0
                    if ok != a.requests:
                        sys.exit(f"{name}: {ok} of {a.requests} requests succeeded")
                    cpu[name].append(used / a.requests * 1e6)
                    print(f"round {r + 1} {name:3}: {cpu[name][-1]:7.2f} µs/request, "
                          f"{wall:5.2f} s, peak RSS {rss / 1024:.1f} MiB", flush=True)
            with urllib.request.urlopen(base + "/_emulator/otlp") as resp:
                got = json.load(resp)
            spans = sum(len(ss["spans"]) for t in got["traces"] for rs in t["resourceSpans"]
                        for ss in rs["scopeSpans"])
            if got["rejected"]:
                sys.exit(f"the receiver refused exports: {got['rejected'][:3]}")
        finally:
            emu.terminate()
            emu.wait()
    off, on = statistics.median(cpu["off"]), statistics.median(cpu["on"])
    mode = "stream" if a.stream else "plain"
    print(f"\n{mode}, {a.requests} requests, {a.inflight} in flight, latency {a.latency_ms} ms"
          f"{', content captured' if a.capture else ''}")
    print(f"  off  {off:7.2f} µs/request (median of {len(cpu['off'])})")
    print(f"  on   {on:7.2f} µs/request (median of {len(cpu['on'])})")
    print(f"  cost {on - off:+7.2f} µs/request; {spans} spans received, none refused")


if __name__ == "__main__":
    main()
