#!/usr/bin/env python3
"""CPU per request of `llmsvc run` (whole process, start-up included) against the project's
emulator with a reply latency and a delay between stream chunks, from 10 to 10,000
requests in flight, next to the official `openai` Node SDK in the same run.

  bench/event_loop.py [--rounds R] [--quick] [--regimes a,b,...] [--syscalls]
                      [--llmsvc NAME=PATH ...] [--no-node] [--json FILE]

Each regime starts its own emulator (no rate limits) and runs every client once per round,
in alternating order; the table holds the median CPU (user + system) per request and the
peak RSS of each client. `--llmsvc NAME=PATH` adds a build of the tool to compare (for
instance the code before a change); the default is build/release/llmsvc as "llmsvc".
`--syscalls` also runs each llmsvc build once per regime under `strace -f -c` and prints the
system calls per request by name.

Streamed requests ask for 24 output tokens, which the emulator sends as 16 chunks
(role, 13 content deltas, finish, usage), --stream-delay-ms apart.
"""
import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# name: (requests, in flight, latency ms, stream chunk delay ms or None for plain)
REGIMES = {
    "plain-20ms-10": (1000, 10, 20, None),
    "plain-20ms-100": (2000, 100, 20, None),
    "plain-500ms-100": (2000, 100, 500, None),
    "plain-2s-500": (2000, 500, 2000, None),
    "plain-5s-1000": (2000, 1000, 5000, None),
    "plain-3s-10000": (10000, 10000, 3000, None),
    "stream16-50ms-100": (4000, 100, 0, 50),
    "stream16-50ms-2000": (4000, 2000, 0, 50),
    "stream16-50ms-10000": (10000, 10000, 0, 50),
}
QUICK = ["plain-20ms-100", "plain-2s-500", "stream16-50ms-100"]
STREAM_TOKENS = 24  # 16 chunks
PLAIN_TOKENS = 16


def start_emulator(emulator, work, latency, delay):
    port_file = os.path.join(work, "port")
    if os.path.exists(port_file):
        os.unlink(port_file)
    args = [emulator, "--host", "127.0.0.1", "--port", "0", "--port-file", port_file,
            "--latency-ms", str(latency)]
    if delay is not None:
        args += ["--stream-delay-ms", str(delay)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(500):
        if os.path.exists(port_file) and os.path.getsize(port_file) > 0:
            break
        time.sleep(0.01)
    with open(port_file) as f:
        return proc, int(f.read().strip())


def run_measured(args, env=None, stdout=subprocess.DEVNULL):
    """Runs a child to its end; returns (wall s, CPU s, peak RSS KiB, exit status)."""
    t0 = time.monotonic()
    proc = subprocess.Popen(args, env=env, stdout=stdout, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.monotonic() - t0
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.stderr.write(f"{args[0]} exited {code}: {err[-2000:]}\n")
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss, code


def write_input(path, n, stream):
    tokens = STREAM_TOKENS if stream else PLAIN_TOKENS
    with open(path, "w") as f:
        for i in range(n):
            doc = {"id": i, "prompt": f"benchmark request {i}", "max_output_tokens": tokens}
            if stream:
                doc["stream"] = True
            f.write(json.dumps(doc) + "\n")


def llmsvc_args(binary, work, port, n, inflight):
    out = os.path.join(work, "out.jsonl")
    if os.path.exists(out):
        os.unlink(out)
    return [binary, "run", os.path.join(work, "in.jsonl"), "-o", out, "--quiet",
            "--base-url", f"http://127.0.0.1:{port}/v1", "--concurrency", str(inflight),
            "--max-pending", str(max(n, 4096))], out


def count_ok(out):
    ok = 0
    with open(out) as f:
        for line in f:
            if '"error"' not in line or '"error":null' in line:
                ok += 1
    return ok


def node_args(port, n, inflight, stream):
    args = ["node", os.path.join(ROOT, "bench/peers/openai-node/bench.mjs"),
            "--base-url", f"http://127.0.0.1:{port}/v1", "--n", str(n),
            "--concurrency", str(inflight),
            "--max-tokens", str(STREAM_TOKENS if stream else PLAIN_TOKENS)]
    if stream:
        args.append("--stream")
    return args


def strace_counts(binary, work, port, n, inflight):
    args, _ = llmsvc_args(binary, work, port, n, inflight)
    trace = os.path.join(work, "strace.txt")
    subprocess.run(["strace", "-f", "-c", "-o", trace] + args, env=dict(os.environ,
                   OPENAI_API_KEY="sk-bench"), stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=False)
    counts = {}
    with open(trace) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 5 and parts[0][0].isdigit() and parts[-1] != "total":
                calls = int(parts[3])
                counts[parts[-1]] = calls
    return counts


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="three regimes, one round")
    ap.add_argument("--regimes", default="")
    ap.add_argument("--llmsvc", action="append", default=[], metavar="NAME=PATH")
    ap.add_argument("--no-node", action="store_true")
    ap.add_argument("--syscalls", action="store_true")
    ap.add_argument("--json", default="")
    opts = ap.parse_args()

    build = os.environ.get("BUILD_DIR", os.path.join(ROOT, "build/release"))
    emulator = os.path.join(build, "llmsvc-emulator")
    clients = {}
    for spec in opts.llmsvc or [f"llmsvc={build}/llmsvc"]:
        name, _, path = spec.partition("=")
        clients[name] = os.path.abspath(path)
    for path in list(clients.values()) + [emulator]:
        if not os.access(path, os.X_OK):
            sys.exit(f"event_loop.py: {path} is missing (build with cmake -DCMAKE_BUILD_TYPE=Release)")
    node = not opts.no_node
    if node and not os.path.isdir(os.path.join(ROOT, "bench/peers/openai-node/node_modules")):
        subprocess.run(["npm", "ci", "--silent"], cwd=os.path.join(ROOT, "bench/peers/openai-node"),
                       check=True)
    if node:
        clients["openai-node"] = None

    regimes = opts.regimes.split(",") if opts.regimes else (QUICK if opts.quick else list(REGIMES))
    rounds = 1 if opts.quick else opts.rounds
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # 10,000 sockets each side

    env = dict(os.environ, OPENAI_API_KEY="sk-bench")
    results = {}
    work = tempfile.mkdtemp(prefix="llmsvc-loop-")
    try:
        for regime in regimes:
            n, inflight, latency, delay = REGIMES[regime]
            stream = delay is not None
            write_input(os.path.join(work, "in.jsonl"), n, stream)
            emu, port = start_emulator(emulator, work, latency, delay)
            try:
                samples = {c: [] for c in clients}
                names = list(clients)
                for r in range(rounds):
                    order = names if r % 2 == 0 else list(reversed(names))
                    for c in order:
                        if clients[c] is None:
                            wall, cpu, rss, code = run_measured(node_args(port, n, inflight, stream))
                            ok = n if code == 0 else -1
                        else:
                            args, out = llmsvc_args(clients[c], work, port, n, inflight)
                            wall, cpu, rss, code = run_measured(args, env)
                            ok = count_ok(out) if os.path.exists(out) else 0
                        samples[c].append({"cpu_us": cpu * 1e6 / n, "rss_mb": rss / 1024,
                                           "wall_s": wall, "ok": ok, "exit": code})
                row = {}
                for c, s in samples.items():
                    row[c] = {k: statistics.median(x[k] for x in s) for k in ("cpu_us", "rss_mb", "wall_s")}
                    row[c]["ok"] = min(x["ok"] for x in s)
                    row[c]["exit"] = max(x["exit"] for x in s)
                if opts.syscalls and shutil.which("strace"):
                    for c, path in clients.items():
                        if path is not None:
                            counts = strace_counts(path, work, port, n, inflight)
                            row[c]["syscalls_per_request"] = {k: round(v / n, 2) for k, v in
                                                              sorted(counts.items(), key=lambda kv: -kv[1])[:12]}
                results[regime] = row
            finally:
                emu.terminate()
                emu.wait()
            print_row(regime, REGIMES[regime], results[regime], rounds)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump({"rounds": rounds, "results": results}, f, indent=1)


def print_row(regime, spec, row, rounds):
    n, inflight, latency, delay = spec
    what = f"{n} streamed (16 chunks {delay} ms apart)" if delay is not None else f"{n} plain, {latency} ms answers"
    print(f"\n{regime}: {what}, {inflight} in flight, median of {rounds}")
    node = row.get("openai-node")
    for c, v in row.items():
        ratio = f"  ({node['cpu_us'] / v['cpu_us']:.1f}x less than openai-node)" if node and c != "openai-node" else ""
        print(f"  {c:14s} {v['cpu_us']:8.1f} us/request  RSS {v['rss_mb']:7.1f} MB  wall {v['wall_s']:6.2f} s"
              f"  ok {v['ok']}/{n}{ratio}")
        if "syscalls_per_request" in v:
            print("  " + " " * 14 + " syscalls/request: " +
                  ", ".join(f"{k} {x}" for k, x in v["syscalls_per_request"].items()))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
