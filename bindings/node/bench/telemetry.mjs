// What the OpenTelemetry adapter costs per request: the same load with telemetry off and on.
//
//   LLMSVC_EMULATOR=<build>/llmsvc-emulator node bench/telemetry.mjs [--n 20000]
//       [--concurrency 32] [--rounds 5] [--modes off,on-noop,on-sdk]
//       [--base-url http://127.0.0.1:PORT/v1]
//
// Without --base-url an emulator is started from $LLMSVC_EMULATOR. Requests as bench.mjs's
// (one user message, 16 output tokens, each body distinct, one attempt each), `concurrency`
// in flight, n per round, the modes alternating within each round, each with its own client:
//
//   off       no telemetry (the binding as it is without the adapter)
//   on-noop   telemetry: true with no SDK registered: the adapter's own work (the request
//             document with its traceparent, reading the result into spans and metrics)
//             through the API's no-op tracer and meter
//   on-sdk    telemetry with @opentelemetry/sdk-trace-base (BatchSpanProcessor, an exporter
//             that drops what it gets) and @opentelemetry/sdk-metrics (a reader never
//             collected): the adapter plus the SDK recording 2 spans and 6 metric points
//             per request
//
// Figures: CPU time per request of the JavaScript thread (Linux: /proc/thread-self/schedstat)
// and of the whole process (process.cpuUsage(), every thread: the engine's too), in µs, the
// median over rounds; requests per second. Prints a table, then one line of JSON.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import process from 'node:process';

import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Client } from 'llmsvc';

const opts = { baseURL: null, n: 20000, concurrency: 32, rounds: 5, modes: 'off,on-noop,on-sdk' };
for (let i = 2; i < process.argv.length; i += 2) {
  const [name, value] = [process.argv[i], process.argv[i + 1]];
  if (value === undefined) throw new Error(`${name} needs a value`);
  if (name === '--base-url') opts.baseURL = value;
  else if (name === '--modes') opts.modes = value;
  else if (['--n', '--concurrency', '--rounds'].includes(name)) opts[name.slice(2)] = Number(value);
  else throw new Error(`unknown argument ${name}`);
}

let emulator = null;
if (!opts.baseURL) {
  if (!process.env.LLMSVC_EMULATOR) throw new Error('give --base-url or set LLMSVC_EMULATOR');
  emulator = spawn(process.env.LLMSVC_EMULATOR, ['--host', '127.0.0.1', '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise((resolve, reject) => {
    emulator.once('error', reject);
    emulator.stdout.once('data', (d) => resolve(String(d)));
  });
  opts.baseURL = `http://${/listening on (\S+)/.exec(line)[1]}/v1`;
}

const threadCpuUs = () => Number(fs.readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1e3;
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

class DropExporter {
  export(spans, done) { done({ code: 0 }); } // ExportResultCode.SUCCESS
  shutdown() { return Promise.resolve(); }
}
class IdleReader extends MetricReader {
  async onForceFlush() {}
  async onShutdown() {}
}

const config = { base_url: opts.baseURL, api_key: 'sk-bench-otel', model: 'gpt-4o-mini' };
const tracerProvider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(new DropExporter())] });
const meterProvider = new MeterProvider({ readers: [new IdleReader()] });
const clients = {
  off: new Client(config),
  'on-noop': new Client(config, { telemetry: true }),
  'on-sdk': new Client(config, { telemetry: { tracerProvider, meterProvider } }),
};

let seq = 0;
async function run(client, count) {
  let next = 0;
  const worker = async () => {
    while (next++ < count) {
      const r = await client.generate({ messages: [{ role: 'user', content: 'benchmark request ' + seq++ }], max_output_tokens: 16 });
      if (r.text.length === 0) throw new Error('an answer without text');
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
}

const modes = opts.modes.split(',');
for (const m of modes) if (!(m in clients)) throw new Error(`unknown mode ${m}`);
for (const m of modes) await run(clients[m], 2000); // warm up
const rounds = Object.fromEntries(modes.map((m) => [m, []]));
for (let r = 0; r < opts.rounds; r++) {
  const order = r % 2 ? [...modes].reverse() : modes;
  for (const m of order) {
    globalThis.gc?.();
    const js0 = threadCpuUs();
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    await run(clients[m], opts.n);
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    rounds[m].push({ js: (threadCpuUs() - js0) / opts.n, process: (cpu.user + cpu.system) / opts.n, rps: opts.n / wall });
  }
}
for (const c of Object.values(clients)) await c.close();
await tracerProvider.shutdown();
await meterProvider.shutdown();
emulator?.kill();

const summary = {};
for (const m of modes) {
  summary[m] = {
    js_thread_cpu_us_per_request: Number(median(rounds[m].map((x) => x.js)).toFixed(2)),
    cpu_us_per_request: Number(median(rounds[m].map((x) => x.process)).toFixed(2)),
    requests_per_s: Math.round(median(rounds[m].map((x) => x.rps))),
  };
}
process.stdout.write(`n=${opts.n} per round and mode, concurrency ${opts.concurrency}, median of ${opts.rounds} rounds\n`);
process.stdout.write('| mode | JS thread µs/request | process CPU µs/request | requests/s |\n|---|---:|---:|---:|\n');
for (const [m, s] of Object.entries(summary)) {
  process.stdout.write(`| ${m} | ${s.js_thread_cpu_us_per_request.toFixed(2)} | ${s.cpu_us_per_request.toFixed(2)} | ${s.requests_per_s} |\n`);
}
process.stdout.write(JSON.stringify({ n: opts.n, concurrency: opts.concurrency, rounds: opts.rounds, ...summary }) + '\n');
