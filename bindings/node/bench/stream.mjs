// Streaming throughput of the binding: text pieces per second through client.stream() and
// what each piece costs on the JavaScript thread and on the engine thread.
//
//   node bench/stream.mjs --base-url http://127.0.0.1:PORT/v1 [--n 2000] [--concurrency 32]
//       [--max-tokens 16] [--provider openai_chat] [--model gpt-4o-mini] [--warmup 100]
//       [--mode stream|response|generate]
//
// --mode stream iterates every stream with for await. --mode response streams the same
// requests but only awaits each stream's .response: the pieces still cross to JavaScript
// and wait in the stream's buffer, but no loop takes them. --mode generate sends them with
// generate() and `stream: true` (the core streams; nothing crosses to JavaScript until the
// completion). The differences split what a piece costs: handing it over, and iterating. For --provider ollama give the server's root URL
// as --base-url.
//
// Output (stdout, one line of JSON): requests, pieces, wall_s, requests_per_s,
// pieces_per_s, cpu_us_per_piece (the whole process), js_thread_cpu_us_per_piece,
// engine_cpu_us_per_piece (Linux; null elsewhere) and first_token_ms_p50 (the core's
// metric). The exit status is non-zero if any request failed or a stream's pieces did not
// join to its response's text.

import fs from 'node:fs';
import process from 'node:process';
import { Client, coreVersion } from 'llmsvc';

function parseArgs(argv) {
  const opts = { baseURL: null, n: 2000, concurrency: 32, maxTokens: 16, provider: 'openai_chat',
    model: 'gpt-4o-mini', warmup: 100, mode: 'stream' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[++i];
    if (v === undefined) throw new Error(`${a} needs a value`);
    switch (a) {
      case '--base-url': opts.baseURL = v; break;
      case '--n': opts.n = Number(v); break;
      case '--concurrency': opts.concurrency = Number(v); break;
      case '--max-tokens': opts.maxTokens = Number(v); break;
      case '--provider': opts.provider = v; break;
      case '--model': opts.model = v; break;
      case '--warmup': opts.warmup = Number(v); break;
      case '--mode': opts.mode = v; break;
      default: throw new Error(`unknown argument ${a}`);
    }
  }
  if (!opts.baseURL) throw new Error('--base-url is required');
  if (!['stream', 'response', 'generate'].includes(opts.mode)) throw new Error('--mode is stream, response or generate');
  return opts;
}

function threadCpuUs(path) {
  try {
    return Number(fs.readFileSync(path, 'utf8').split(' ')[0]) / 1000;
  } catch {
    return null;
  }
}

function taskIds() {
  try {
    return new Set(fs.readdirSync('/proc/self/task'));
  } catch {
    return new Set();
  }
}

async function runPool(client, opts, first, count) {
  let next = 0;
  let pieces = 0;
  let errors = 0;
  let firstError = null;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= count) return;
      const request = { prompt: `streamed benchmark request ${first + i}`, max_output_tokens: opts.maxTokens };
      try {
        if (opts.mode === 'generate') {
          const r = await client.generate({ ...request, stream: true });
          if (r.text.length === 0) throw new Error('answer without text');
          continue;
        }
        const s = client.stream(request);
        if (opts.mode === 'response') {
          if ((await s.response).text.length === 0) throw new Error('answer without text');
          continue;
        }
        let text = '';
        for await (const piece of s) {
          text += piece;
          pieces++;
        }
        if (text !== (await s.response).text) throw new Error('the pieces do not join to the text');
      } catch (err) {
        errors++;
        firstError ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency, count) }, worker));
  return { pieces, errors, firstError };
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const before = taskIds();
  const client = new Client({ provider: opts.provider, base_url: opts.baseURL, api_key: 'sk-bench-stream',
    model: opts.model, retry: { max_attempts: 3 } });
  const engineTids = [...taskIds()].filter((t) => !before.has(t));
  const engineCpu = () => {
    let sum = 0;
    for (const tid of engineTids) {
      const us = threadCpuUs(`/proc/self/task/${tid}/schedstat`);
      if (us === null) return null;
      sum += us;
    }
    return engineTids.length ? sum : null;
  };

  let failed = 0;
  if (opts.warmup > 0) failed += (await runPool(client, opts, 0, opts.warmup)).errors;

  const js0 = threadCpuUs('/proc/thread-self/schedstat');
  const engine0 = engineCpu();
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const r = await runPool(client, opts, opts.warmup, opts.n);
  const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const js1 = threadCpuUs('/proc/thread-self/schedstat');
  const engine1 = engineCpu();
  const m = client.metrics();
  await client.close();

  // Pieces are counted by the loop only (--mode stream); the requests are the same in every
  // mode, so its count applies to the others.
  const pieces = opts.mode === 'stream' ? r.pieces : null;
  const per = (a, b, d) => (a === null || b === null || !d ? null : Number(((b - a) / d).toFixed(2)));
  const result = {
    client: 'llmsvc-node',
    version: coreVersion(),
    mode: opts.mode,
    provider: opts.provider,
    requests: opts.n,
    errors: r.errors,
    concurrency: opts.concurrency,
    max_tokens: opts.maxTokens,
    pieces,
    pieces_per_request: pieces === null ? null : Number((pieces / opts.n).toFixed(1)),
    wall_s: Number(wallS.toFixed(3)),
    requests_per_s: Number((opts.n / wallS).toFixed(1)),
    pieces_per_s: pieces === null ? null : Math.round(pieces / wallS),
    cpu_us_per_request: Number(((cpu.user + cpu.system) / opts.n).toFixed(1)),
    cpu_us_per_piece: pieces ? Number(((cpu.user + cpu.system) / pieces).toFixed(2)) : null,
    js_thread_cpu_us_per_request: per(js0, js1, opts.n),
    js_thread_cpu_us_per_piece: per(js0, js1, pieces),
    engine_cpu_us_per_request: per(engine0, engine1, opts.n),
    first_token_ms_p50: m.first_token_ms.p50,
  };
  process.stdout.write(JSON.stringify(result) + '\n');
  failed += r.errors;
  if (r.errors > 0) process.stderr.write(`stream.mjs: ${r.errors} request(s) failed; first: ${r.firstError}\n`);
  process.exitCode = failed > 0 ? 1 : 0;
}

main().catch((err) => {
  process.stderr.write(`stream.mjs: ${err.stack || err}\n`);
  process.exit(2);
});
